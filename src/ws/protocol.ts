/**
 * The sluice WebSocket wire protocol, version 1: message types and the frame codec.
 * No I/O here, so the hub, the reconnecting client, tests and benchmarks all share it and
 * it runs in browsers. Validation of decoded values lives in protocol-parse.ts.
 * The normative description is docs/protocol.md ("WebSocket").
 *
 * A frame carries one message object, or an array of them (a batch). The subprotocol picks
 * the encoding: `sluice.v1.json` uses text frames with JSON, `sluice.v1.msgpack` binary
 * frames with MessagePack. A frame of the wrong kind for the negotiated subprotocol is a
 * bad message.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { GapReason, PresenceMember } from '../broker/types.js';
import { SluiceError } from '../core/errors.js';

export const PROTOCOL_VERSION = 1;
export const SUBPROTOCOL_JSON = 'sluice.v1.json';
export const SUBPROTOCOL_MSGPACK = 'sluice.v1.msgpack';
/** Subprotocols in order of server preference. */
export const SUBPROTOCOLS = [SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK] as const;
/**
 * A browser cannot set headers on a WebSocket, so it may carry its token as one extra
 * subprotocol entry `sluice.token.<jwt>` (a JWT only has token characters). The server never
 * selects or echoes it. Keeps the token out of URLs and access logs.
 */
export const TOKEN_SUBPROTOCOL_PREFIX = 'sluice.token.';

export type WireFormat = 'json' | 'msgpack';
/** Chosen by the client, echoed on the reply: a string (≤ 64 chars) or a safe integer. */
export type RequestId = string | number;

export const PROTOCOL_DEFAULTS = Object.freeze({
  /** Messages per batched frame. */
  maxBatch: 100,
  /** Nesting depth of `data`. */
  maxDepth: 32,
  maxRequestIdLength: 64,
  /** Longest `since` cursor accepted. */
  maxCursorLength: 256,
});

// ---- client → server -------------------------------------------------------------------

export interface SubscribeMessage {
  type: 'subscribe';
  channel: string;
  /** Resume after this event id: replay what was missed, or receive a `gap` first. */
  since?: string;
  /** Also receive a `presence` snapshot, then `join`/`leave` for this channel. */
  presence?: boolean;
  rid?: RequestId;
}

export interface UnsubscribeMessage {
  type: 'unsubscribe';
  channel: string;
  rid?: RequestId;
}

export interface PublishMessage {
  type: 'publish';
  channel: string;
  /** Any JSON value (MessagePack: the JSON-compatible subset). */
  data: unknown;
  event?: string;
  rid?: RequestId;
}

/** Asks who is in a channel; answered with a `presence` message. */
export interface PresenceQueryMessage {
  type: 'presence';
  channel: string;
  rid?: RequestId;
}

export interface PingMessage {
  type: 'ping';
  rid?: RequestId;
}

export type ClientMessage =
  SubscribeMessage | UnsubscribeMessage | PublishMessage | PresenceQueryMessage | PingMessage;

export const CLIENT_MESSAGE_TYPES: readonly ClientMessage['type'][] = [
  'subscribe',
  'unsubscribe',
  'publish',
  'presence',
  'ping',
];

// ---- server → client -------------------------------------------------------------------

/** First message on every connection. */
export interface WelcomeMessage {
  type: 'welcome';
  protocol: typeof PROTOCOL_VERSION;
  /** This connection's id, also its presence `clientId`. */
  clientId: string;
  /** The authenticated subject (`anonymous` in open mode). */
  subject: string;
  /** Server ping interval in ms (`null`: no server pings). */
  heartbeat: number | null;
  /** Largest frame the server accepts, in bytes. */
  maxPayload: number;
}

export interface EventMessage {
  type: 'event';
  channel: string;
  /** The broker's id: the same on SSE, usable as `since`. */
  id: string;
  data: unknown;
  event?: string;
}

/** Reply to a request that carried a `rid`. A publish ack carries the new event `id`. */
export interface AckMessage {
  type: 'ack';
  rid: RequestId;
  channel?: string;
  id?: string;
}

export interface ErrorMessage {
  type: 'error';
  rid?: RequestId;
  /** A SluiceError code (docs/errors.md). */
  code: string;
  message: string;
  channel?: string;
}

/**
 * Something was not delivered. With a broker reason (`expired`, `epoch`, `invalid`,
 * `overflow`) the `since` cursor could not be honoured: `resumeAfter` says where the stream
 * picks up. With `dropped`, a `drop-oldest` channel shed `count` messages for a slow
 * connection (volatile channels accept loss, but never silently).
 */
export interface GapMessage {
  type: 'gap';
  channel: string;
  reason: GapReason | 'dropped';
  requested?: string;
  resumeAfter?: string | null;
  count?: number;
}

export interface PongMessage {
  type: 'pong';
  rid?: RequestId;
}

/** Presence snapshot: answers a `presence` query, or follows a `subscribe` with `presence`. */
export interface PresenceStateMessage {
  type: 'presence';
  channel: string;
  members: PresenceMember[];
  rid?: RequestId;
}

export interface JoinMessage {
  type: 'join';
  channel: string;
  member: PresenceMember;
}

export interface LeaveMessage {
  type: 'leave';
  channel: string;
  member: PresenceMember;
}

export type ServerMessage =
  | WelcomeMessage
  | EventMessage
  | AckMessage
  | ErrorMessage
  | GapMessage
  | PongMessage
  | PresenceStateMessage
  | JoinMessage
  | LeaveMessage;

export const SERVER_MESSAGE_TYPES: readonly ServerMessage['type'][] = [
  'welcome',
  'event',
  'ack',
  'error',
  'gap',
  'pong',
  'presence',
  'join',
  'leave',
];

// ---- codec -----------------------------------------------------------------------------

export type Frame = string | Uint8Array;

export interface WireCodec {
  readonly format: WireFormat;
  readonly subprotocol: string;
  /** Whether frames are binary (MessagePack) or text (JSON). */
  readonly binary: boolean;
  /** One message, or a batch as an array. */
  encode(
    message: ServerMessage | ClientMessage | readonly (ServerMessage | ClientMessage)[],
  ): Frame;
  /**
   * The messages a frame carries, not yet validated (see protocol-parse.ts). Throws a
   * SluiceError `ws_bad_message` for undecodable input or a frame of the wrong kind.
   */
  decode(frame: Frame | ArrayBuffer): unknown[];
}

function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) return [value];
  if (value.length === 0 || value.length > PROTOCOL_DEFAULTS.maxBatch) {
    throw badMessage(`A batch holds 1-${PROTOCOL_DEFAULTS.maxBatch} messages`);
  }
  return value;
}

function badMessage(message: string, cause?: unknown): SluiceError {
  return new SluiceError('ws_bad_message', message, cause === undefined ? {} : { cause });
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

export const jsonCodec: WireCodec = Object.freeze({
  format: 'json' as const,
  subprotocol: SUBPROTOCOL_JSON,
  binary: false,
  encode: (message: unknown): Frame => JSON.stringify(message),
  decode(frame: Frame | ArrayBuffer): unknown[] {
    if (typeof frame !== 'string') {
      // Binary frames are not part of the JSON subprotocol.
      throw badMessage(`Binary frame on ${SUBPROTOCOL_JSON}: send text frames`);
    }
    let value: unknown;
    try {
      value = JSON.parse(frame);
    } catch (error) {
      throw badMessage('Malformed JSON', error);
    }
    return asArray(value);
  },
});

// One encoder and decoder per process: both are reusable and not re-entrant, and the codec
// never yields mid-call. Limits guard the decoder against length-prefix bombs.
const msgpackEncoder = new Encoder({ ignoreUndefined: true });
const msgpackDecoder = new Decoder({
  maxArrayLength: 100_000,
  maxMapLength: 100_000,
  maxExtLength: 0,
});

export const msgpackCodec: WireCodec = Object.freeze({
  format: 'msgpack' as const,
  subprotocol: SUBPROTOCOL_MSGPACK,
  binary: true,
  encode: (message: unknown): Frame => msgpackEncoder.encode(message),
  decode(frame: Frame | ArrayBuffer): unknown[] {
    if (typeof frame === 'string') {
      throw badMessage(`Text frame on ${SUBPROTOCOL_MSGPACK}: send binary frames`);
    }
    let value: unknown;
    try {
      value = msgpackDecoder.decode(frame);
    } catch (error) {
      throw badMessage('Malformed MessagePack', error);
    }
    return asArray(value);
  },
});

/** The codec for a negotiated subprotocol, or `undefined` when it is not one of ours. */
export function codecForSubprotocol(subprotocol: string): WireCodec | undefined {
  if (subprotocol === SUBPROTOCOL_JSON) return jsonCodec;
  if (subprotocol === SUBPROTOCOL_MSGPACK) return msgpackCodec;
  return undefined;
}

export function codecForFormat(format: WireFormat): WireCodec {
  return format === 'json' ? jsonCodec : msgpackCodec;
}

/** Decodes text bytes (e.g. a Node Buffer) strictly; invalid UTF-8 is a bad message. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return textDecoder.decode(bytes);
  } catch (error) {
    throw badMessage('Invalid UTF-8', error);
  }
}
