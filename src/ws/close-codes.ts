/**
 * WebSocket close codes the hub uses or that `ws` produces on its behalf, with whether a
 * client should reconnect. Application codes follow the convention centrifuge clients use:
 * 4000-4499 = reconnect (with backoff), 4500-4999 = do not reconnect (fix the client or its
 * credentials first). docs/protocol-ws.md shows this table; a test keeps them in sync.
 */
export const CLOSE_CODES = Object.freeze({
  /** Closed on purpose by the client. */
  NORMAL: 1000,
  /** The hub is shutting down (`hub.close()`); reconnect to another or the restarted server. */
  GOING_AWAY: 1001,
  /** Produced by `ws`: a frame broke RFC 6455. */
  PROTOCOL_ERROR: 1002,
  /** Produced by `ws`: a text frame was not valid UTF-8. */
  INVALID_PAYLOAD: 1007,
  /** Produced by `ws`: a frame was larger than `maxPayload`. */
  MESSAGE_TOO_BIG: 1009,
  /** An unexpected server error. */
  INTERNAL_ERROR: 1011,
  /** The token's `exp` passed while connected: reconnect with a fresh token. */
  TOKEN_EXPIRED: 4001,
  /** The connection's outbound buffer hit `maxBufferedBytes`: reconnect and resume with `since`. */
  SLOW_CONSUMER: 4008,
  /** Sustained sending above the rate limit: reconnect after a backoff. */
  RATE_LIMITED: 4029,
  /** Too many invalid messages (`abuseThreshold`): a client bug, do not reconnect blindly. */
  BAD_CLIENT: 4500,
});

export type CloseCodeName = keyof typeof CLOSE_CODES;

export interface CloseCodeInfo {
  code: number;
  name: CloseCodeName;
  reconnect: boolean;
  /** The close frame's reason text (also what the table in the docs says). */
  reason: string;
}

export const CLOSE_CODE_TABLE: readonly CloseCodeInfo[] = Object.freeze([
  { code: 1000, name: 'NORMAL', reconnect: false, reason: 'normal closure' },
  { code: 1001, name: 'GOING_AWAY', reconnect: true, reason: 'server shutting down' },
  { code: 1002, name: 'PROTOCOL_ERROR', reconnect: false, reason: 'WebSocket protocol error' },
  { code: 1007, name: 'INVALID_PAYLOAD', reconnect: false, reason: 'invalid UTF-8' },
  {
    code: 1009,
    name: 'MESSAGE_TOO_BIG',
    reconnect: true,
    reason: 'message larger than maxPayload',
  },
  { code: 1011, name: 'INTERNAL_ERROR', reconnect: true, reason: 'internal error' },
  { code: 4001, name: 'TOKEN_EXPIRED', reconnect: true, reason: 'token expired' },
  { code: 4008, name: 'SLOW_CONSUMER', reconnect: true, reason: 'slow consumer' },
  { code: 4029, name: 'RATE_LIMITED', reconnect: true, reason: 'rate limit exceeded' },
  { code: 4500, name: 'BAD_CLIENT', reconnect: false, reason: 'too many invalid messages' },
] satisfies CloseCodeInfo[]);

/**
 * Whether a client should reconnect after this close code. 1006 (no close frame: network
 * loss, or the server terminated a connection that missed its heartbeat) reconnects.
 * Unknown 4000-4499 codes reconnect, unknown 4500-4999 codes do not.
 */
export function shouldReconnect(code: number): boolean {
  const known = CLOSE_CODE_TABLE.find((entry) => entry.code === code);
  if (known) return known.reconnect;
  if (code >= 4000 && code <= 4499) return true;
  if (code >= 4500 && code <= 4999) return false;
  return code === 1006 || code === 1005 || code === 1012 || code === 1013 || code === 1014;
}

export function closeReason(code: number): string {
  return CLOSE_CODE_TABLE.find((entry) => entry.code === code)?.reason ?? '';
}
