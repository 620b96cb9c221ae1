/**
 * `ConflatingQueue`: keeps only the latest value per key, in the order keys were first
 * queued. For tickers and presence: a slow consumer sees fewer, fresher updates instead of
 * a growing backlog. Memory is bounded by `maxKeys` (values replace each other, so there
 * is no separate size limit); a new key beyond it meets the overflow policy.
 *
 *   const prices = new ConflatingQueue<Tick>({ key: (t) => t.symbol, maxKeys: 500 });
 *   prices.offer(tick); // AAPL twice before the consumer reads: one (the newer) entry
 */
import { AsyncQueue, type AsyncQueueOptions } from './async-queue.js';

export interface ConflatingQueueOptions<T, K> extends AsyncQueueOptions<T> {
  /** The identity an update replaces; compared with SameValueZero (as Map keys are). */
  key: (item: T) => K;
  /** Most distinct keys queued at once. */
  maxKeys?: number;
}

export const CONFLATING_QUEUE_DEFAULTS = Object.freeze({
  maxKeys: 1024,
  /** New keys beyond maxKeys push out the stalest key: a feed prefers fresh data. */
  overflow: 'drop-oldest',
});

export class ConflatingQueue<T, K = unknown> extends AsyncQueue<T> {
  // A Map keeps first-insertion order and set() on a present key keeps its place.
  readonly #entries = new Map<K, { item: T; bytes: number }>();
  readonly #key: (item: T) => K;
  #conflated = 0;

  constructor(options: ConflatingQueueOptions<T, K>) {
    super(options.maxKeys ?? CONFLATING_QUEUE_DEFAULTS.maxKeys, Number.POSITIVE_INFINITY, {
      ...options,
      overflow: options.overflow ?? CONFLATING_QUEUE_DEFAULTS.overflow,
    });
    this.#key = options.key;
  }

  /** Queued values replaced by a newer one for the same key, in total. */
  get conflated(): number {
    return this.#conflated;
  }

  protected override replace(item: T, bytes: number): number | undefined {
    const key = this.#key(item);
    const queued = this.#entries.get(key);
    if (queued === undefined) return undefined;
    this.#entries.set(key, { item, bytes });
    this.#conflated += 1;
    return queued.bytes;
  }

  protected storeLength(): number {
    return this.#entries.size;
  }

  protected storeAdd(item: T, bytes: number): void {
    this.#entries.set(this.#key(item), { item, bytes });
  }

  protected storeShift(): { item: T; bytes: number } | undefined {
    const first = this.#entries.entries().next();
    if (first.done === true) return undefined;
    this.#entries.delete(first.value[0]);
    return first.value[1];
  }

  protected storeClear(): void {
    this.#entries.clear();
  }
}
