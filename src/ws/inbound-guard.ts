/**
 * Per-connection limits on what a client sends: a token bucket on messages (each message
 * of a batch counts) and a decaying budget of invalid messages. It only decides; the
 * connection replies or closes.
 */
import { isSluiceError, type SluiceErrorCode } from '../core/errors.js';
import type { RateLimitOptions } from './hub-options.js';
import type { RequestId } from './protocol.js';
import { TokenBucket } from './rate-limit.js';

/** Errors of the message itself (decoding, shape): these count towards the abuse limit. */
const INVALID_MESSAGE_CODES: ReadonlySet<SluiceErrorCode> = new Set<SluiceErrorCode>([
  'ws_bad_message',
  'ws_unknown_type',
  'invalid_channel',
  'invalid_event_name',
  'reserved_event_name',
]);

export type Admission = 'accept' | 'reject' | 'close';

export interface InboundLimits {
  rateLimit: RateLimitOptions | null;
  maxInvalidMessages: number | null;
}

/**
 * The message bucket's state lives in the guard itself (tokens and the time of the last
 * refill), the limits in the hub's options: one small object per connection, not two.
 */
export class InboundGuard {
  readonly #limits: InboundLimits;
  /** Tokens left; refilled lazily from the clock (`rate` per second, up to `burst`). */
  #tokens: number;
  /** When `#tokens` was last refilled (performance.now()); 0: never (the bucket is full). */
  #refilledAt = 0;
  #violations = 0;
  /** Created on the first invalid message: most connections never send one. */
  #invalid: TokenBucket | undefined;

  constructor(limits: InboundLimits) {
    this.#limits = limits;
    this.#tokens = limits.rateLimit?.burst ?? 0;
  }

  /**
   * One client message arrives: `reject` it when over the rate, `close` when another whole
   * burst was sent while limited (the client is not backing off).
   */
  admit(): Admission {
    const rate = this.#limits.rateLimit;
    if (rate === null || this.#take(rate)) {
      this.#violations = 0;
      return 'accept';
    }
    return ++this.#violations > rate.burst ? 'close' : 'reject';
  }

  /** A message failed to decode or validate: `reject` (reply) or `close` (too many). */
  invalid(error: unknown): 'reject' | 'close' {
    if (isSluiceError(error) && !INVALID_MESSAGE_CODES.has(error.code)) return 'reject';
    const max = this.#limits.maxInvalidMessages;
    if (max === null) return 'reject';
    this.#invalid ??= new TokenBucket({ rate: max / 60, burst: max });
    return this.#invalid.take() ? 'reject' : 'close';
  }

  #take(rate: RateLimitOptions): boolean {
    const now = performance.now();
    if (this.#refilledAt !== 0) {
      const refill = ((now - this.#refilledAt) / 1000) * rate.messagesPerSecond;
      this.#tokens = Math.min(rate.burst, this.#tokens + refill);
    }
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** The request id of a raw value or a parse error, when one is readable. */
export function readableRequestId(source: unknown): RequestId | undefined {
  const rid = isSluiceError(source)
    ? source.details?.rid
    : typeof source === 'object' && source !== null && 'rid' in source
      ? source.rid
      : undefined;
  return typeof rid === 'string' || typeof rid === 'number' ? rid : undefined;
}
