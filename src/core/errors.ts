/**
 * One error class for the whole project. `code` is a string-literal union so callers can
 * switch on it exhaustively; `status` and `closeCode` say how a transport reports it.
 * The table of codes, statuses and close codes is docs/errors.md (kept in sync by a test).
 */
export type SluiceErrorCode =
  // core / streams
  | 'aborted'
  | 'buffer_overflow'
  | 'slow_consumer'
  | 'queue_closed'
  | 'invalid_argument'
  // sse codec
  | 'sse_event_too_large'
  | 'sse_invalid_field'
  // sse client
  | 'sse_bad_status'
  | 'sse_bad_content_type'
  | 'sse_inactivity_timeout'
  | 'sse_network_error'
  | 'sse_retries_exhausted'
  // broker
  | 'broker_closed'
  | 'invalid_cursor'
  // http server
  | 'bad_request'
  | 'headers_too_large'
  | 'request_timeout'
  | 'invalid_json'
  | 'payload_too_large'
  | 'invalid_channel'
  | 'invalid_event_name'
  | 'reserved_event_name'
  | 'not_found'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'unauthorized'
  | 'forbidden'
  | 'too_many_requests'
  | 'too_many_connections'
  | 'internal_error'
  | 'shutting_down'
  // websocket
  | 'ws_bad_message'
  | 'ws_unknown_type'
  | 'ws_payload_too_large'
  | 'ws_rate_limited'
  | 'ws_validation_failed'
  | 'ws_not_subscribed'
  | 'ws_subscription_limit'
  | 'ws_abuse'
  | 'ws_heartbeat_timeout'
  | 'ws_connect_timeout'
  // websocket client
  | 'ws_ack_timeout'
  | 'ws_connection_lost'
  | 'ws_client_closed'
  | 'ws_already_subscribed'
  // llm
  | 'llm_invalid_request'
  | 'llm_model_not_found'
  | 'llm_upstream_error'
  | 'llm_upstream_truncated'
  | 'llm_generation_not_found'
  | 'llm_cancelled'
  | 'llm_generation_abandoned'
  | 'llm_mock_error';

export interface SluiceErrorOptions {
  cause?: unknown;
  /** HTTP status the server answers with, where the error reaches an HTTP response. */
  status?: number;
  /** WebSocket close code, where the error closes a connection. */
  closeCode?: number;
  /** Small structured detail safe to send to a client. */
  details?: Record<string, unknown>;
}

/** Longest message we ever build from untrusted input: never echo a megabyte into a log. */
export const MAX_ERROR_MESSAGE_LENGTH = 300;

export class SluiceError extends Error {
  override readonly name = 'SluiceError';
  readonly code: SluiceErrorCode;
  readonly status: number | undefined;
  readonly closeCode: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: SluiceErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(truncate(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.closeCode = options.closeCode;
    this.details = options.details;
  }

  /** The JSON body every HTTP error response uses: `{ "error": { "code", "message" } }`. */
  toJSON(): { error: { code: SluiceErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isSluiceError(value: unknown, code?: SluiceErrorCode): value is SluiceError {
  return value instanceof SluiceError && (code === undefined || value.code === code);
}

/** Shortens text for use inside an error message (with an ellipsis when cut). */
export function truncate(text: string, max = MAX_ERROR_MESSAGE_LENGTH): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The error an AbortSignal carries, as a SluiceError when it is not one already. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new SluiceError('aborted', 'The operation was aborted');
}
