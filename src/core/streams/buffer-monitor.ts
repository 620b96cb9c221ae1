/**
 * `BufferMonitor`: counters for one buffer, or for many when several buffers share one
 * monitor (a server passes the same monitor to every connection and exports the sum).
 * Queues and stream wrappers in this folder record into it; a metrics endpoint reads
 * `stats()`. Counting only, no policy: limits live with the buffers themselves.
 */
export interface BufferStats {
  /** Items held right now. */
  readonly queuedItems: number;
  /** Size units (bytes by default) held right now. */
  readonly queuedBytes: number;
  /** Largest `queuedItems` seen since creation or `resetPeaks()`. */
  readonly peakItems: number;
  /** Largest `queuedBytes` seen since creation or `resetPeaks()`. */
  readonly peakBytes: number;
  /** Items accepted into the buffer, in total. */
  readonly enqueued: number;
  /** Items handed to the consumer, in total. */
  readonly dequeued: number;
  /** Items lost to an overflow policy (drop-oldest, drop-newest), in total. */
  readonly dropped: number;
  /** Size units lost to an overflow policy, in total. */
  readonly droppedBytes: number;
  /** Items replaced by a newer value for the same key (conflation), in total. */
  readonly conflated: number;
  /** Consumers found stalled past their timeout, in total. */
  readonly stalls: number;
}

type Counters = { -readonly [K in keyof BufferStats]: BufferStats[K] };

export class BufferMonitor {
  readonly #c: Counters = {
    queuedItems: 0,
    queuedBytes: 0,
    peakItems: 0,
    peakBytes: 0,
    enqueued: 0,
    dequeued: 0,
    dropped: 0,
    droppedBytes: 0,
    conflated: 0,
    stalls: 0,
  };

  /** A snapshot; later activity does not change it. */
  stats(): BufferStats {
    return Object.freeze({ ...this.#c });
  }

  get queuedItems(): number {
    return this.#c.queuedItems;
  }

  get queuedBytes(): number {
    return this.#c.queuedBytes;
  }

  /** An item of `bytes` entered the buffer. */
  recordEnqueue(bytes: number): void {
    const c = this.#c;
    c.enqueued += 1;
    c.queuedItems += 1;
    c.queuedBytes += bytes;
    if (c.queuedItems > c.peakItems) c.peakItems = c.queuedItems;
    if (c.queuedBytes > c.peakBytes) c.peakBytes = c.queuedBytes;
  }

  /** An item of `bytes` left the buffer for the consumer. */
  recordDequeue(bytes: number): void {
    const c = this.#c;
    c.dequeued += 1;
    c.queuedItems -= 1;
    c.queuedBytes -= bytes;
  }

  /**
   * An item of `bytes` was dropped by policy. `wasQueued` says it had been counted in
   * (drop-oldest) rather than refused at the door (drop-newest).
   */
  recordDrop(bytes: number, wasQueued: boolean): void {
    const c = this.#c;
    c.dropped += 1;
    c.droppedBytes += bytes;
    if (wasQueued) {
      c.queuedItems -= 1;
      c.queuedBytes -= bytes;
    }
  }

  /** A queued item of `oldBytes` was replaced in place by one of `newBytes`. */
  recordConflate(oldBytes: number, newBytes: number): void {
    const c = this.#c;
    c.conflated += 1;
    c.queuedBytes += newBytes - oldBytes;
    if (c.queuedBytes > c.peakBytes) c.peakBytes = c.queuedBytes;
  }

  /** Items discarded without delivery at teardown (cancel, failure): not drops, not deliveries. */
  recordDiscard(items: number, bytes: number): void {
    this.#c.queuedItems -= items;
    this.#c.queuedBytes -= bytes;
  }

  recordStall(): void {
    this.#c.stalls += 1;
  }

  /** Starts a new peak window (e.g. after each metrics scrape). */
  resetPeaks(): void {
    this.#c.peakItems = this.#c.queuedItems;
    this.#c.peakBytes = this.#c.queuedBytes;
  }
}

/**
 * The size used when a buffer is given none: byte length for binary chunks, UTF-16 code
 * units for strings (cheap, and within a factor of three of the UTF-8 size), else 0 so
 * such items are bounded by count alone.
 */
export function defaultSize(item: unknown): number {
  if (typeof item === 'string') return item.length;
  if (ArrayBuffer.isView(item)) return item.byteLength;
  if (item instanceof ArrayBuffer) return item.byteLength;
  return 0;
}
