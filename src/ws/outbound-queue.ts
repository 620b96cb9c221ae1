/**
 * One connection's outbound path: a byte-accounted queue in front of the socket, with a
 * named policy per message for when it is full. The invariant, for any consumer speed:
 *
 *     sink.bufferedAmount + queued bytes <= maxBytes
 *
 * Frames move from the queue to the socket only while the socket's own buffer is below
 * `socketHighWaterMark`, so most of a slow connection's backlog stays here, where the
 * policies can still act on it (data handed to the socket can no longer be dropped or
 * conflated). Policies when a message does not fit:
 * - `disconnect`: refused (`full`); the caller decides (the hub waits a grace period, then
 *   closes with 4008 and the client resumes from its cursor: nothing is lost);
 * - `drop-oldest`: the oldest queued droppable messages (any channel) are evicted to make
 *   room, else the new one is dropped; each channel's drops are counted and announced by
 *   one `gap` notice (reason `dropped`) sent just before that channel's next message;
 * - `conflate`: a queued message with the same channel and key is replaced in place
 *   (latest value wins, keeping its place in line); otherwise like `drop-oldest`.
 * No I/O here: the sink is injected, so tests drive it directly.
 */
import { Backlog, type BacklogEntry } from './outbound-backlog.js';
import { OUTBOUND_DEFAULTS, OutboundLimits, type OutboundQueueOptions } from './outbound-limits.js';

export { OUTBOUND_DEFAULTS, OutboundLimits, type OutboundQueueOptions };

export type OverflowPolicy = 'disconnect' | 'drop-oldest' | 'conflate';

export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = [
  'disconnect',
  'drop-oldest',
  'conflate',
];

export interface OutboundSink {
  /** Bytes accepted but not yet written to the kernel (ws `bufferedAmount`). */
  readonly bufferedAmount: number;
  /**
   * Writes one complete frame, in order. `done`, when given, runs once the frame left user
   * space (or the write failed). An empty frame sends nothing: with `done` it is a fence
   * whose callback runs once everything written before it has left.
   */
  writeFrame(data: Uint8Array, done?: () => void): void;
}

/** The fence (see `OutboundSink.writeFrame`). */
const FENCE = new Uint8Array(0);

export interface OutboundItem {
  data: Uint8Array;
  channel?: string;
  /** Default `disconnect`: control messages (acks, errors) are never dropped. */
  policy?: OverflowPolicy;
  /** Required with `conflate`. */
  key?: string | undefined;
  /** A control message: may use the control reserve (see outbound-limits.ts). */
  control?: boolean;
}

export type OfferResult = 'queued' | 'conflated' | 'dropped' | 'full';

export interface OutboundStats {
  /** Socket buffer plus queue: the number the invariant bounds. */
  bufferedBytes: number;
  queuedBytes: number;
  queuedMessages: number;
  dropped: number;
  conflated: number;
  /**
   * Slots held by the queue's indexes (send order, eviction order, conflation keys), live
   * or awaiting trimming: at most about 4 × `queuedMessages` + a small constant, whatever
   * the policy. A number that grows while `queuedMessages` does not is a leak.
   */
  indexedEntries: number;
}

interface Waiter {
  bytes: number;
  resolve: (ok: boolean) => void;
}

/** Cumulative drop and conflation counts, created with the first of either. */
interface Counts {
  dropped: number;
  conflated: number;
}

const FLUSHING = 1;
const CLOSED = 2;

export class OutboundQueue {
  readonly #sink: OutboundSink;
  readonly #limits: OutboundLimits;
  /** Created on the first message that has to wait: idle connections hold none of it. */
  #backlog: Backlog | undefined;
  #waiters: Set<Waiter> | undefined;
  #counts: Counts | undefined;
  /** FLUSHING | CLOSED bits: one field for two rarely set booleans. */
  #state = 0;
  /**
   * Runs after a frame the socket wrote (`#sent`, bound: smaller than a closure), for the
   * frames written while a backlog, a waiter or the socket's own buffer needs to hear of it.
   */
  readonly #onSent: () => void;
  /** Writes with `#onSent` not yet called back. */
  #signalled = 0;

  constructor(sink: OutboundSink, options: OutboundQueueOptions | OutboundLimits) {
    this.#sink = sink;
    this.#limits = options instanceof OutboundLimits ? options : new OutboundLimits(options);
    this.#onSent = this.#sent.bind(this);
  }

  /** Only a backlog or a waiter needs to know that a frame left. */
  #sent(): void {
    this.#signalled--;
    if (this.#backlog !== undefined) this.flush();
    if (!this.#hasWaiters()) return;
    this.#wake();
    // Still waiting, and this was the last callback due (a write callback runs a tick after
    // its bytes left, so unsignalled bytes may have been written since): fence them.
    if (this.#hasWaiters()) this.#ensureSignal();
  }

  #hasWaiters(): boolean {
    return this.#waiters !== undefined && this.#waiters.size > 0;
  }

  get bufferedBytes(): number {
    return this.#sink.bufferedAmount + (this.#backlog?.queuedBytes ?? 0);
  }

  stats(): OutboundStats {
    const backlog = this.#backlog;
    return {
      bufferedBytes: this.bufferedBytes,
      queuedBytes: backlog?.queuedBytes ?? 0,
      queuedMessages: backlog?.queuedMessages ?? 0,
      dropped: this.#counts?.dropped ?? 0,
      conflated: this.#counts?.conflated ?? 0,
      indexedEntries: backlog?.indexedEntries ?? 0,
    };
  }

  /** Whether a payload of `size` bytes fits now. */
  fits(size: number): boolean {
    return this.#admits(size + OUTBOUND_DEFAULTS.frameOverhead);
  }

  /**
   * A frame larger than the whole budget would otherwise never be deliverable (and a
   * resuming client would meet it again and again), so it is admitted alone, into an empty
   * connection: the bound is then max(maxBytes, largest message), and message size is
   * bounded where messages come in (HTTP body limit, WebSocket maxPayload).
   */
  #admits(bytes: number, control = false): boolean {
    const buffered = this.bufferedBytes;
    const limit = control ? this.#limits.controlLimit : this.#limits.limit;
    return buffered + bytes <= limit || (buffered === 0 && bytes > limit);
  }

  /**
   * The fast path, nearly every delivery to a reader that keeps up: when nothing is queued
   * and the socket is below its mark, writes `data` at once and returns `true` (what `offer`
   * would do for any policy); otherwise does nothing and returns `false`. The socket's buffer
   * is read once; no entry, no index.
   */
  writeNow(data: Uint8Array): boolean {
    // A backlog exists only while something is queued or a drop is unannounced.
    if (this.#state !== 0 || this.#backlog !== undefined) return false;
    const buffered = this.#sink.bufferedAmount;
    if (buffered !== 0) {
      const total = buffered + data.byteLength + OUTBOUND_DEFAULTS.frameOverhead;
      if (total > this.#limits.highWaterMark || total > this.#limits.limit) return false;
    }
    if (buffered !== 0 || this.#hasWaiters()) {
      this.#writeSignalled(data);
    } else {
      // Nothing queued, nothing waiting, the socket empty: nobody needs to hear when this
      // frame leaves, and a write callback costs Node a tick per write (a fan-out writes to
      // every subscriber). Should it stay in the socket's buffer and a backlog or a waiter
      // come later, `#ensureSignal` fences it.
      this.#sink.writeFrame(data);
    }
    return true;
  }

  #writeSignalled(data: Uint8Array): void {
    this.#signalled++;
    this.#sink.writeFrame(data, this.#onSent);
  }

  /**
   * A backlog or a waiter is waiting for the socket to drain: make sure some write in
   * flight will call back. If the bytes in the socket's buffer were all written without a
   * callback, an empty frame with one follows them.
   */
  #ensureSignal(): void {
    if (this.#signalled === 0 && this.#sink.bufferedAmount > 0) this.#writeSignalled(FENCE);
  }

  offer(item: OutboundItem): OfferResult {
    if ((this.#state & CLOSED) !== 0) return 'dropped';
    if (this.writeNow(item.data)) return 'queued';
    const bytes = item.data.byteLength + OUTBOUND_DEFAULTS.frameOverhead;
    const policy = item.policy ?? 'disconnect';
    const mapKey =
      policy === 'conflate' ? `${item.channel ?? ''}\u0000${item.key ?? ''}` : undefined;
    const existing = mapKey === undefined ? undefined : this.#backlog?.keyed.get(mapKey);
    if (existing) {
      const delta = bytes - existing.bytes;
      if (delta <= 0 || this.#makeRoom(delta, existing)) {
        existing.data = item.data;
        existing.bytes = bytes;
        // The entry is queued, so the backlog that holds it is still there.
        if (this.#backlog) this.#backlog.queuedBytes += delta;
        (this.#counts ??= { dropped: 0, conflated: 0 }).conflated++;
        return 'conflated';
      }
    } else if (this.#makeRoom(bytes, undefined, item.control === true)) {
      const entry: BacklogEntry = {
        data: item.data,
        bytes,
        channel: item.channel,
        evictable: policy !== 'disconnect',
        mapKey,
        gone: false,
      };
      (this.#backlog ??= new Backlog()).add(entry);
      this.flush();
      return 'queued';
    }
    if (policy === 'disconnect') return 'full';
    this.#countDrop(item.channel);
    // The notice for this drop goes out as soon as the socket has room, not with the next
    // offer (a quiet channel may have none): now, or once the socket's bytes have left
    // (flush fences them, and the fence's callback flushes again).
    this.flush();
    return 'dropped';
  }

  /**
   * Resolves `true` once `size` bytes fit, `false` on timeout (`null`: none), abort or close.
   * The caller offers again afterwards (another writer may have taken the room first).
   */
  waitForRoom(size: number, timeout: number | null, signal?: AbortSignal): Promise<boolean> {
    if (this.fits(size)) return Promise.resolve(true);
    if ((this.#state & CLOSED) !== 0 || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (ok: boolean): void => {
        this.#waiters?.delete(waiter);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = (): void => finish(false);
      const waiter: Waiter = { bytes: size, resolve: finish };
      (this.#waiters ??= new Set()).add(waiter);
      this.#ensureSignal();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== null) {
        timer = setTimeout(() => finish(false), timeout);
        timer.unref();
      }
    });
  }

  /** Moves queued frames to the socket while it is below its high-water mark. */
  flush(): void {
    if (this.#state !== 0) return;
    const backlog = this.#backlog;
    if (backlog === undefined) return;
    this.#state |= FLUSHING;
    try {
      for (;;) {
        const entry = backlog.items.first();
        if (!entry) {
          for (const channel of [...backlog.pendingDrops.keys()]) {
            if (!this.#sendDropNotice(backlog, channel)) return;
          }
          // Caught up: the structures go until the next backlog (idle connections hold none).
          this.#backlog = undefined;
          return;
        }
        if (entry.channel !== undefined && backlog.pendingDrops.has(entry.channel)) {
          if (!this.#sendDropNotice(backlog, entry.channel)) return;
        }
        const buffered = this.#sink.bufferedAmount;
        if (buffered > 0 && buffered + entry.bytes > this.#limits.highWaterMark) return;
        const data = entry.data;
        backlog.remove(entry);
        this.#writeSignalled(data);
      }
    } finally {
      this.#state &= ~FLUSHING;
      if (this.#backlog !== undefined) this.#ensureSignal();
    }
  }

  /** Drops everything and fails the waiters; later offers are ignored. */
  close(): void {
    if ((this.#state & CLOSED) !== 0) return;
    this.#state |= CLOSED;
    this.#backlog = undefined;
    for (const waiter of [...(this.#waiters ?? [])]) waiter.resolve(false);
  }

  #sendDropNotice(backlog: Backlog, channel: string): boolean {
    const pendingDrops = backlog.pendingDrops;
    const data = this.#limits.encodeDropNotice(channel, pendingDrops.get(channel) ?? 0);
    // Notices may use the reserve that offers leave free, so with an empty socket one always
    // fits; otherwise wait for the socket to drain (its callback flushes again).
    const buffered = this.#sink.bufferedAmount;
    if (buffered > 0 && buffered + data.byteLength > this.#limits.highWaterMark) return false;
    const total = this.bufferedBytes + data.byteLength + OUTBOUND_DEFAULTS.frameOverhead;
    if (total > this.#limits.maxBytes) return false;
    pendingDrops.delete(channel);
    this.#writeSignalled(data);
    return true;
  }

  /** Evicts the oldest droppable entries (never `keep`) until `bytes` fit. */
  #makeRoom(bytes: number, keep: BacklogEntry | undefined, control = false): boolean {
    while (!this.#admits(bytes, control)) {
      const backlog = this.#backlog;
      const victim = backlog?.evictable.first(keep);
      if (!backlog || !victim) return false;
      backlog.remove(victim);
      this.#countDrop(victim.channel);
    }
    return true;
  }

  #countDrop(channel: string | undefined): void {
    (this.#counts ??= { dropped: 0, conflated: 0 }).dropped++;
    if (channel !== undefined) (this.#backlog ??= new Backlog()).countDrop(channel);
  }

  #wake(): void {
    if (this.#waiters === undefined || this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) {
      if (this.fits(waiter.bytes)) waiter.resolve(true);
    }
  }
}
