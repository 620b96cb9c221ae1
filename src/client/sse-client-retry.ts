/**
 * What follows a failed attempt: stop (and why) or wait how long.
 *
 * Delay = the server's `retry:` + a full-jitter backoff draw (1 s, ×2 per failure, 30 s
 * cap by default). The spec waits the reconnection time and allows backoff on top of it
 * (§9.2.3 step 3); adding rather than flooring keeps the jitter, so clients given the same
 * `retry:` do not all come back in the same instant. `retry:` is clamped to
 * `backoff.maxDelay` (F10: timers turn values above 2^31-1 ms into ~1 ms, a reconnect
 * storm). A `Retry-After` (delta-seconds) on a retried status is honoured as a minimum,
 * also clamped. A connection that stayed up `minUptime` resets the backoff and the count
 * of consecutive failures that `maxRetries` limits.
 */
import { BACKOFF_DEFAULTS, Backoff } from '../core/backoff.js';
import { checkCount, checkDelay } from '../core/check-options.js';
import { MAX_TIMER_MS } from '../core/timer-bound.js';
import { SSE_CLIENT_DEFAULTS, defaultShouldRetry } from './sse-client-policy.js';
import type { Failure } from './sse-client-request.js';
import type { SseClientOptions, SseRetryContext, SseStateCode } from './sse-client-types.js';

export type RetryDecision =
  | { attempt: number; stop: SseStateCode; delay?: undefined }
  | { attempt: number; stop?: undefined; delay: number };

export class ReconnectPolicy {
  readonly #backoff: Backoff;
  readonly #maxDelay: number;
  readonly #minUptime: number;
  readonly #maxRetries: number | null;
  readonly #shouldRetry: (context: SseRetryContext) => boolean;
  #failures = 0;
  #reconnectionTime = 0;

  constructor(options: SseClientOptions) {
    this.#backoff = new Backoff(options.backoff);
    this.#maxDelay = options.backoff?.maxDelay ?? BACKOFF_DEFAULTS.maxDelay;
    this.#minUptime = options.minUptime ?? SSE_CLIENT_DEFAULTS.minUptime;
    this.#maxRetries = options.maxRetries ?? SSE_CLIENT_DEFAULTS.maxRetries;
    checkDelay('minUptime', this.#minUptime);
    if (this.#maxRetries !== null) checkCount('maxRetries', this.#maxRetries);
    this.#shouldRetry = options.shouldRetry ?? defaultShouldRetry;
  }

  /** Consecutive failed attempts so far. */
  get failures(): number {
    return this.#failures;
  }

  /** The server's `retry:`, clamped; 0 until the server sends one. */
  get reconnectionTime(): number {
    return this.#reconnectionTime;
  }

  setReconnectionTime(ms: number): void {
    this.#reconnectionTime = Math.min(ms, this.#maxDelay);
  }

  /**
   * Counts the failure and decides. `uptime` is how long the connection was open (ms), or
   * `undefined` when it never opened. May throw if a custom `shouldRetry` does.
   */
  decide(failure: Failure, uptime: number | undefined): RetryDecision {
    if (uptime !== undefined && uptime >= this.#minUptime) {
      this.#failures = 0;
      this.#backoff.reset();
    }
    const attempt = (this.#failures += 1);
    const { code, status, error } = failure;
    // A wrong Content-Type is a misrouted URL or a proxy's error page: retrying won't heal it.
    if (code === 'bad_content_type') return { attempt, stop: 'bad_content_type' };
    // 204 is the server's "stop reconnecting" (C6), not a failure to weigh: a predicate
    // written for errors (retry all but 401, say) must not turn it into a reconnect loop.
    if (status === 204) return { attempt, stop: 'no_content' };
    if (!this.#shouldRetry({ code, status, error, attempt })) {
      return { attempt, stop: 'retry_stopped' };
    }
    if (this.#maxRetries !== null && attempt > this.#maxRetries) {
      return { attempt, stop: 'retries_exhausted' };
    }
    let delay = this.#reconnectionTime + this.#backoff.next();
    if (failure.retryAfter !== undefined) {
      delay = Math.max(delay, Math.min(failure.retryAfter, this.#maxDelay));
    }
    // A retry, a Retry-After and a backoff draw each fit a timer; their sum may not.
    return { attempt, delay: Math.min(delay, MAX_TIMER_MS) };
  }
}

/**
 * The wait before a reconnect. Deliberately not unref'd: a live client keeps a Node process
 * running during a backoff wait, as its socket does while connected (a process that exited
 * silently mid-stream was undici#4247). `cancel()` clears it and ends the wait at once.
 */
export class ReconnectTimer {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;

  wait(ms: number): Promise<void> {
    this.cancel();
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(() => this.cancel(), ms);
    });
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
