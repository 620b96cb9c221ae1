/**
 * The hub's options, their defaults, and per-channel policy lookup. `undefined` means the
 * default; `null` disables a limit where that is allowed.
 */
import type { Broker } from '../broker/types.js';
import {
  compileChannelPatterns,
  createOpenAuthenticator,
  type Authenticator,
} from '../core/auth.js';
import { SluiceError } from '../core/errors.js';
import { OUTBOUND_DEFAULTS, OVERFLOW_POLICIES, type OverflowPolicy } from './outbound-queue.js';
import type { StandardSchemaV1 } from './standard-schema.js';

export interface ChannelPolicy {
  /** Channel pattern (`*` wildcard, see core/auth.ts). The first matching policy applies. */
  pattern: string;
  /** What a slow connection meets on this channel (default `disconnect`). */
  overflow?: OverflowPolicy;
  /** With `conflate`: the key whose latest value wins (default: one value per channel). */
  conflateKey?: (data: unknown) => string;
  /** Validates what clients publish here (zod, valibot, arktype: any Standard Schema). */
  schema?: StandardSchemaV1;
}

export interface RateLimitOptions {
  /** Sustained client messages per second. */
  messagesPerSecond: number;
  /** Messages allowed at once after a quiet period. */
  burst: number;
}

export interface WebSocketHubOptions {
  broker: Broker;
  /** Default: open mode (everyone may do everything). Use a JWT authenticator in production. */
  authenticator?: Authenticator;
  /** The upgrade path (default `/v1/ws`); other paths are left to other listeners. */
  path?: string;
  /**
   * Origins allowed to connect besides the server's own (same host). `'*'` in the list
   * allows any origin. Requests without an Origin header (non-browser clients) are allowed:
   * the check defends browsers against cross-site WebSocket hijacking.
   */
  allowedOrigins?: readonly string[];
  /** Largest inbound frame in bytes; larger closes with 1009. */
  maxPayload?: number;
  /** Server ping interval in ms; a connection silent for a whole interval is terminated. */
  heartbeatInterval?: number | null;
  /**
   * Per-connection outbound budget: socket buffer plus queue, in bytes; at least the notice
   * and control reserves plus 1 KiB.
   */
  maxBufferedBytes?: number;
  /**
   * How long a `disconnect`-policy channel waits for room in a full connection before the
   * connection is closed with 4008 (ms). `0`: at once. `null`: no time limit (the broker's
   * per-subscriber queue limit still applies).
   */
  slowConsumerTimeout?: number | null;
  channelPolicies?: readonly ChannelPolicy[];
  /** Per-connection limit on client messages (each message of a batch counts). */
  rateLimit?: RateLimitOptions | null;
  /** Invalid messages tolerated per minute before closing with 4500. */
  maxInvalidMessages?: number | null;
  maxConnections?: number | null;
  maxSubscriptions?: number;
  /** Client messages waiting to be handled before the socket stops reading (backpressure). */
  maxPendingMessages?: number;
  /** Grace for a close handshake before the socket is destroyed (ms). */
  closeTimeout?: number;
  /** How long the authenticator may take before the handshake is refused with 503 (ms). */
  authTimeout?: number;
  /** Aborting it closes the hub (as `hub.close()`). */
  signal?: AbortSignal;
  /** Unexpected errors (never tokens or payloads), for logging. */
  onError?: (error: unknown, context: { clientId?: string }) => void;
}

export const WEBSOCKET_HUB_DEFAULTS = Object.freeze({
  path: '/v1/ws',
  allowedOrigins: Object.freeze<string[]>([]),
  maxPayload: 64 * 1024,
  heartbeatInterval: 25_000,
  maxBufferedBytes: OUTBOUND_DEFAULTS.maxBytes,
  slowConsumerTimeout: 5_000,
  rateLimit: Object.freeze({ messagesPerSecond: 100, burst: 200 }),
  maxInvalidMessages: 10,
  maxConnections: 10_000,
  maxSubscriptions: 100,
  maxPendingMessages: 64,
  closeTimeout: 1_000,
  authTimeout: 10_000,
});

export interface ResolvedChannelPolicy {
  overflow: OverflowPolicy;
  conflateKey: ((data: unknown) => string) | undefined;
  schema: StandardSchemaV1 | undefined;
}

export interface ResolvedHubOptions {
  broker: Broker;
  authenticator: Authenticator;
  path: string;
  allowedOrigins: readonly string[];
  maxPayload: number;
  heartbeatInterval: number | null;
  maxBufferedBytes: number;
  slowConsumerTimeout: number | null;
  rateLimit: RateLimitOptions | null;
  maxInvalidMessages: number | null;
  maxConnections: number | null;
  maxSubscriptions: number;
  maxPendingMessages: number;
  closeTimeout: number;
  authTimeout: number;
  onError: (error: unknown, context: { clientId?: string }) => void;
  policyFor: (channel: string) => ResolvedChannelPolicy;
}

const DEFAULT_POLICY: ResolvedChannelPolicy = Object.freeze({
  overflow: 'disconnect',
  conflateKey: undefined,
  schema: undefined,
});

function positive(name: string, value: number, min = 1): number {
  if (!Number.isFinite(value) || value < min) {
    throw new SluiceError('invalid_argument', `${name} must be a number >= ${min}, got ${value}`);
  }
  return value;
}

function nullable<T>(value: T | null | undefined, fallback: T, check: (v: T) => T): T | null {
  if (value === null) return null;
  return check(value === undefined ? fallback : value);
}

export function resolveHubOptions(options: WebSocketHubOptions): ResolvedHubOptions {
  const d = WEBSOCKET_HUB_DEFAULTS;
  const path = options.path ?? d.path;
  if (!path.startsWith('/')) throw new SluiceError('invalid_argument', 'path must start with "/"');
  const policies = (options.channelPolicies ?? []).map((policy) => {
    const overflow = policy.overflow ?? 'disconnect';
    if (!OVERFLOW_POLICIES.includes(overflow)) {
      throw new SluiceError('invalid_argument', `Unknown overflow policy "${String(overflow)}"`);
    }
    return {
      matches: compileChannelPatterns([policy.pattern]),
      resolved: Object.freeze({
        overflow,
        conflateKey: policy.conflateKey,
        schema: policy.schema,
      }),
    };
  });
  return {
    broker: options.broker,
    authenticator: options.authenticator ?? createOpenAuthenticator(),
    path,
    allowedOrigins: options.allowedOrigins ?? d.allowedOrigins,
    maxPayload: positive('maxPayload', options.maxPayload ?? d.maxPayload, 64),
    heartbeatInterval: nullable(options.heartbeatInterval, d.heartbeatInterval, (v) =>
      positive('heartbeatInterval', v, 10),
    ),
    maxBufferedBytes: positive(
      'maxBufferedBytes',
      options.maxBufferedBytes ?? d.maxBufferedBytes,
      OUTBOUND_DEFAULTS.noticeReserve + OUTBOUND_DEFAULTS.controlReserve + 1024,
    ),
    slowConsumerTimeout: nullable(options.slowConsumerTimeout, d.slowConsumerTimeout, (v) =>
      positive('slowConsumerTimeout', v, 0),
    ),
    rateLimit: nullable(options.rateLimit, d.rateLimit, (v) => {
      positive('rateLimit.messagesPerSecond', v.messagesPerSecond, Number.MIN_VALUE);
      positive('rateLimit.burst', v.burst);
      return v;
    }),
    maxInvalidMessages: nullable(options.maxInvalidMessages, d.maxInvalidMessages, (v) =>
      positive('maxInvalidMessages', v),
    ),
    maxConnections: nullable(options.maxConnections, d.maxConnections, (v) =>
      positive('maxConnections', v),
    ),
    maxSubscriptions: positive('maxSubscriptions', options.maxSubscriptions ?? d.maxSubscriptions),
    maxPendingMessages: positive(
      'maxPendingMessages',
      options.maxPendingMessages ?? d.maxPendingMessages,
    ),
    closeTimeout: positive('closeTimeout', options.closeTimeout ?? d.closeTimeout, 0),
    authTimeout: positive('authTimeout', options.authTimeout ?? d.authTimeout, 1),
    onError: options.onError ?? (() => undefined),
    policyFor: (channel) =>
      policies.find((policy) => policy.matches(channel))?.resolved ?? DEFAULT_POLICY,
  };
}
