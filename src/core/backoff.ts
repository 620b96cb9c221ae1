import { SluiceError } from './errors.js';
import { MAX_TIMER_MS } from './timer-bound.js';

/**
 * Reconnection delays: exponential growth, full jitter, a cap, and a reset once a
 * connection has stayed up long enough. Full jitter (a uniform draw in [0, ceiling]) is
 * what keeps a thousand clients from reconnecting in the same instant after a restart.
 */
export interface BackoffOptions {
  /** First ceiling, in ms. */
  initialDelay?: number;
  /** Largest ceiling, in ms. */
  maxDelay?: number;
  /** Growth factor per failed attempt. */
  multiplier?: number;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

export const BACKOFF_DEFAULTS = Object.freeze({
  initialDelay: 1_000,
  maxDelay: 30_000,
  multiplier: 2,
});

export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #multiplier: number;
  readonly #random: () => number;
  #attempt = 0;
  #floor = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialDelay ?? BACKOFF_DEFAULTS.initialDelay;
    this.#max = options.maxDelay ?? BACKOFF_DEFAULTS.maxDelay;
    this.#multiplier = options.multiplier ?? BACKOFF_DEFAULTS.multiplier;
    this.#random = options.random ?? Math.random;
    const ok =
      this.#initial >= 0 &&
      this.#max >= this.#initial &&
      this.#max <= MAX_TIMER_MS &&
      this.#multiplier >= 1;
    if (!ok) {
      throw new SluiceError(
        'invalid_argument',
        `backoff needs 0 <= initialDelay <= maxDelay <= ${MAX_TIMER_MS} ms and multiplier >= 1`,
      );
    }
  }

  /** Failed attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /**
   * A minimum delay that jitter never goes below, e.g. the server's SSE `retry:` value.
   * `undefined` clears it.
   */
  setFloor(ms: number | undefined): void {
    this.#floor = ms === undefined ? 0 : Math.max(0, ms);
  }

  /** The delay before the next attempt; counts the attempt. */
  next(): number {
    // The growth overflows to Infinity after enough attempts; 0 * Infinity is NaN, which
    // would become a NaN delay (a timer that fires at once), so a zero start stays zero.
    const grown = this.#initial === 0 ? 0 : this.#initial * this.#multiplier ** this.#attempt;
    const ceiling = Math.min(this.#max, grown);
    this.#attempt += 1;
    const jittered = Math.floor(this.#random() * ceiling);
    return Math.min(Math.max(this.#floor, jittered), Math.max(this.#max, this.#floor));
  }

  /**
   * A delay drawn uniformly from [0, window) ms, for a retry prompted by an event that many
   * clients see at the same moment (the network coming back): spread, not in lock-step.
   * Does not count as an attempt.
   */
  spread(window: number): number {
    return Math.floor(this.#random() * window);
  }

  /** Called after a connection stayed up long enough: the next delay starts small again. */
  reset(): void {
    this.#attempt = 0;
  }
}
