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

export class InboundGuard {
  readonly #rate: TokenBucket | undefined;
  readonly #burst: number;
  /** Created on the first invalid message: most connections never send one. */
  #invalid: TokenBucket | undefined;
  readonly #maxInvalid: number | null;
  #violations = 0;

  constructor(options: { rateLimit: RateLimitOptions | null; maxInvalidMessages: number | null }) {
    const { rateLimit, maxInvalidMessages } = options;
    this.#rate = rateLimit
      ? new TokenBucket({ rate: rateLimit.messagesPerSecond, burst: rateLimit.burst })
      : undefined;
    this.#burst = rateLimit?.burst ?? 0;
    this.#maxInvalid = maxInvalidMessages;
  }

  /**
   * One client message arrives: `reject` it when over the rate, `close` when another whole
   * burst was sent while limited (the client is not backing off).
   */
  admit(): Admission {
    if (!this.#rate || this.#rate.take()) {
      this.#violations = 0;
      return 'accept';
    }
    return ++this.#violations > this.#burst ? 'close' : 'reject';
  }

  /** A message failed to decode or validate: `reject` (reply) or `close` (too many). */
  invalid(error: unknown): 'reject' | 'close' {
    if (isSluiceError(error) && !INVALID_MESSAGE_CODES.has(error.code)) return 'reject';
    const max = this.#maxInvalid;
    if (max === null) return 'reject';
    this.#invalid ??= new TokenBucket({ rate: max / 60, burst: max });
    return this.#invalid.take() ? 'reject' : 'close';
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
