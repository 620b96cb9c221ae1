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
 * Two positions drive delivery. `#lastDelivered`: the last message handed out (or where the
 * subscription started). `#queueFrom`: the queue holds every message published after it
 * (set at registration, and moved forward when an overflow empties the queue). While
 * `#lastDelivered < #queueFrom` the subscription replays from history; then it drains the
 * queue. Publish appends to history and pushes to the queue in one synchronous step, so the
 * hand-over neither loses nor repeats a message. If history was trimmed past
 * `#lastDelivered` before the replay got there, a gap is signalled and the replay goes on
 * from the oldest retained message.
 *
 * Overflow (`queueLimit` live messages waiting): `resync` empties the queue but for the newest
 * message and replays the backlog from history (reason `overflow` if history no longer covers it); `error` fails
 * the stream with `slow_consumer`. Either way the queue never holds more than `queueLimit`
 * entries, and history is bounded by the broker's own limits.
 */
export class MemorySubscription extends QueueIterator<SubscriptionItem, HistoryEntry> {
  readonly #source: SubscriptionSource;
  readonly #policy: SubscriberOverflowPolicy;
  #lastDelivered: number;
  #queueFrom: number;
  #pendingGap: GapSignal | undefined;
  /** Why history being shorter than `#lastDelivered` is a gap, if it turns out to be. */
  #shortfall: GapReason = 'expired';

  constructor(source: SubscriptionSource, options: MemorySubscriptionOptions) {
    super(options);
    this.#source = source;
    this.#policy = options.overflow;
    const history = source.history;
    this.#queueFrom = history.last;
    this.#lastDelivered = history.last; // no cursor: start live, after the newest message
    if (options.since !== undefined) {
      history.expire(source.now());
      const resolved = resolveCursor(options.since, {
        epoch: source.epoch,
        last: history.last,
        trimmedThrough: history.trimmedThrough,
        holds: (position) => history.holds(position),
      });
      this.#lastDelivered = resolved.position;
      if (resolved.reason) this.#pendingGap = this.#gap(resolved.reason, options.since);
    }
  }

  protected override take(): SubscriptionItem | undefined {
    if (this.#pendingGap) {
      const gap = this.#pendingGap;
      this.#pendingGap = undefined;
      return gap;
    }
    if (this.#lastDelivered < this.#queueFrom) {
      const history = this.#source.history;
      history.expire(this.#source.now());
      if (this.#lastDelivered < history.trimmedThrough) {
        // What we were about to read was trimmed (by count, age, or while we overflowed).
        const requested = positionId(this.#source.epoch, this.#lastDelivered);
        this.#lastDelivered = Math.min(history.trimmedThrough, this.#queueFrom);
        return this.#gap(this.#shortfall, requested);
      }
      // History holds (trimmedThrough, last] and #queueFrom <= last: this entry exists.
      const entry = history.firstAfter(this.#lastDelivered);
      this.#lastDelivered = entry ? entry.position : this.#queueFrom;
      if (entry) return entry.item;
    }
    this.#shortfall = 'expired';
    for (let entry = this.queue.shift(); entry; entry = this.queue.shift()) {
      if (entry.position <= this.#lastDelivered) continue; // defensive: never deliver twice
      this.#lastDelivered = entry.position;
      return entry.item;
    }
    return undefined;
  }

  protected override overflow(item: HistoryEntry): void {
    if (this.#policy === 'error') {
      this.fail(
        new SluiceError('slow_consumer', 'The subscriber fell behind live delivery', {
          details: { channel: this.#source.channel, queueLimit: this.queue.capacity },
        }),
      );
      return;
    }
    // resync: drop the backlog (it is in history, or will be reported as a gap) but keep
    // the newest message, so a stalled consumer still ends up with the latest state.
    // The dropped entries were everything published after #queueFrom up to the newest.
    this.#queueFrom = this.queue.at(this.queue.size - 1)?.position ?? this.#queueFrom;
    this.queue.clear();
    this.queue.push(item);
    this.#shortfall = 'overflow';
  }

  /** A gap resuming after `#lastDelivered`, which the caller has already moved. */
  #gap(reason: GapReason, requested: string): GapSignal {
    return {
      type: 'gap',
      channel: this.#source.channel,
      reason,
      requested,
      resumeAfter: positionId(this.#source.epoch, this.#lastDelivered),
    };
  }
}
