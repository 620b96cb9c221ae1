/**
 * Subscribes the server refused only for now (`ws_rate_limited`: the connection sent more
 * than its rate allows, the request was discarded), tried again together after a jittered
 * delay rather than ended: a subscription is long-lived and owned by the client, so one
 * refusal during a burst must not end it for good. One timer for all such channels; it dies
 * with `clear()` (the client closed) and does not hold a Node process open.
 */
export class SubscribeRetry {
  readonly #channels = new Set<string>();
  readonly #delayMs: number;
  readonly #retry: (channel: string) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `retry` subscribes one channel on the wire again (a no-op if that no longer applies). */
  constructor(delayMs: number, retry: (channel: string) => void) {
    this.#delayMs = delayMs;
    this.#retry = retry;
  }

  /** Retries `channel` after the delay (0.5–1.5 × `delayMs`, so clients refused together spread out). */
  add(channel: string): void {
    this.#channels.add(channel);
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.#fire(), this.#delayMs * (0.5 + Math.random()));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#channels.clear();
  }

  #fire(): void {
    this.#timer = undefined;
    const channels = [...this.#channels];
    this.#channels.clear();
    for (const channel of channels) this.#retry(channel);
  }
}
