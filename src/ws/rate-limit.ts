/**
 * A token bucket: `rate` tokens per second refill a bucket of `burst` tokens. Refill is
 * computed lazily from the clock on each `take`, so it needs no timer.
 */
export interface TokenBucketOptions {
  /** Tokens added per second. */
  rate: number;
  /** Bucket size: the most that can be taken at once after a quiet period. */
  burst: number;
  now?: () => number;
}

/** Shared by every bucket (a bound function per bucket would cost memory per connection). */
const monotonicNow = (): number => performance.now();

export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.rate > 0) || !(options.burst >= 1)) {
      throw new RangeError('TokenBucket: rate must be > 0 and burst >= 1');
    }
    this.#rate = options.rate;
    this.#burst = options.burst;
    this.#now = options.now ?? monotonicNow;
    this.#tokens = options.burst;
    this.#last = this.#now();
  }

  /** Takes `count` tokens if available. */
  take(count = 1): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }
}
