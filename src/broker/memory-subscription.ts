import { SluiceError } from '../core/errors.js';
import {
  positionId,
  resolveCursor,
  type HistoryBuffer,
  type HistoryEntry,
} from './history-buffer.js';
import { QueueIterator, type QueueIteratorOptions } from './queue-iterator.js';
import type { GapReason, GapSignal, SubscriberOverflowPolicy, SubscriptionItem } from './types.js';

/** The channel a subscription reads from: its history and the broker's epoch and clock. */
export interface SubscriptionSource {
  readonly channel: string;
  readonly epoch: string;
  readonly history: HistoryBuffer;
  now(): number;
}

export interface MemorySubscriptionOptions extends QueueIteratorOptions {
  since?: string;
  overflow: SubscriberOverflowPolicy;
}

/**
 * One subscriber of the memory broker. It is registered by the broker the moment
 * `subscribe()` returns, so every message published afterwards reaches its queue.
 *
 * Delivery is driven by one number, `#lastDelivered` (the position of the last message
 * handed out, or where the subscription started). In replay mode messages come from history
 * after that position; when history has nothing newer the subscription switches to the live
 * queue and skips queued entries at or below it. Because publish appends to history and
 * pushes to the queue in the same synchronous step, the switch can neither lose nor repeat
 * a message, whenever it happens.
 *
 * Overflow (`queueLimit` live messages waiting): `resync` drops the queue and goes back to
 * replay mode from `#lastDelivered` (a gap `overflow` first if history no longer reaches
 * back); `error` fails the stream with `slow_consumer`. Either way the queue never holds more
 * than `queueLimit` entries, and history is bounded by the broker's own limits.
 */
export class MemorySubscription extends QueueIterator<SubscriptionItem, HistoryEntry> {
  readonly #source: SubscriptionSource;
  readonly #policy: SubscriberOverflowPolicy;
  #lastDelivered: number;
  #replaying = false;
  #pendingGap: GapSignal | undefined;
  /** Why history being shorter than `#lastDelivered` is a gap, if it turns out to be. */
  #shortfall: GapReason = 'expired';

  constructor(source: SubscriptionSource, options: MemorySubscriptionOptions) {
    super(options);
    this.#source = source;
    this.#policy = options.overflow;
    const history = source.history;
    this.#lastDelivered = history.last; // no cursor: start live, after the newest message
    if (options.since !== undefined) {
      history.expire(source.now());
      const resolved = resolveCursor(options.since, {
        epoch: source.epoch,
        last: history.last,
        trimmedThrough: history.trimmedThrough,
      });
      this.#lastDelivered = resolved.position;
      this.#replaying = true;
      if (resolved.reason) this.#pendingGap = this.#gap(resolved.reason, options.since);
    }
  }

  protected override take(): SubscriptionItem | undefined {
    if (this.#pendingGap) {
      const gap = this.#pendingGap;
      this.#pendingGap = undefined;
      return gap;
    }
    if (this.#replaying) {
      const history = this.#source.history;
      history.expire(this.#source.now());
      if (this.#lastDelivered < history.trimmedThrough) {
        // What we were about to read was trimmed (by count, age, or while we overflowed).
        const requested = positionId(this.#source.epoch, this.#lastDelivered);
        this.#lastDelivered = history.trimmedThrough;
        return this.#gap(this.#shortfall, requested);
      }
      const entry = history.firstAfter(this.#lastDelivered);
      if (entry) {
        this.#lastDelivered = entry.position;
        return { type: 'message', message: entry.message };
      }
      this.#replaying = false; // caught up with history: everything newer is in the queue
      this.#shortfall = 'expired';
    }
    for (let entry = this.queue.shift(); entry; entry = this.queue.shift()) {
      if (entry.position <= this.#lastDelivered) continue; // already replayed from history
      this.#lastDelivered = entry.position;
      return { type: 'message', message: entry.message };
    }
    return undefined;
  }

  protected override overflow(): void {
    if (this.#policy === 'error') {
      this.fail(
        new SluiceError('slow_consumer', 'The subscriber fell behind live delivery', {
          details: { channel: this.#source.channel, queueLimit: this.queue.capacity },
        }),
      );
      return;
    }
    // resync: the backlog is in history (or is reported as a gap); keep memory flat.
    this.queue.clear();
    this.#replaying = true;
    this.#shortfall = 'overflow';
  }

  #gap(reason: GapReason, requested: string): GapSignal {
    return { type: 'gap', channel: this.#source.channel, reason, requested, resumeAfter: null };
  }
}
