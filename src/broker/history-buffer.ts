import { formatEventId, parseEventId } from '../core/event-id.js';
import { RingBuffer } from './ring-buffer.js';
import type { BrokerMessage, GapReason } from './types.js';

/** A retained message with its position parsed once, so lookups never re-parse ids. */
export interface HistoryEntry {
  position: number;
  message: BrokerMessage;
  /** The item every subscriber receives: built once per message, not once per delivery. */
  item: { type: 'message'; message: BrokerMessage };
}

export function historyEntry(position: number, message: BrokerMessage): HistoryEntry {
  return { position, message, item: { type: 'message', message } };
}

/**
 * One channel's retained messages, bounded by count (a ring buffer) and by age (trimmed from
 * the old end against an injected clock). It remembers the highest position it has
 * dropped (`trimmedThrough`), which is what makes gap detection exact: a cursor at or after
 * it has lost nothing, a cursor before it has.
 */
export class HistoryBuffer {
  readonly #entries: RingBuffer<HistoryEntry>;
  readonly #maxAge: number | null;
  #trimmedThrough: number;
  #last: number;

  /**
   * @param floor Positions at or below it are unknown to this buffer (issued before the
   *   channel's state was created, or to other channels): cursors there get an `expired` gap.
   */
  constructor(options: { limit: number; maxAge: number | null; floor: number }) {
    this.#entries = new RingBuffer(options.limit);
    this.#maxAge = options.maxAge;
    this.#trimmedThrough = options.floor;
    this.#last = options.floor;
  }

  /** Highest position issued to this channel (or the floor when none was). */
  get last(): number {
    return this.#last;
  }

  /** Highest position no longer retained: everything after it is still here. */
  get trimmedThrough(): number {
    return this.#trimmedThrough;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Publish time of the newest retained message, if any. */
  get newestTime(): number | undefined {
    return this.#entries.at(this.#entries.size - 1)?.message.time;
  }

  append(entry: HistoryEntry): void {
    const position = entry.position;
    this.#last = position;
    if (this.#entries.capacity === 0) {
      this.#trimmedThrough = position; // history disabled: every message is "trimmed" at once
      return;
    }
    if (this.#entries.full) this.#dropOldest();
    this.#entries.push(entry);
  }

  /** Drops messages whose age reached `maxAge` at time `now`. */
  expire(now: number): void {
    if (this.#maxAge === null) return;
    const cutoff = now - this.#maxAge;
    for (let head = this.#entries.peek(); head && head.message.time <= cutoff;) {
      this.#dropOldest();
      head = this.#entries.peek();
    }
  }

  /** The first retained entry with a position greater than `position`. */
  firstAfter(position: number): HistoryEntry | undefined {
    return this.#entries.at(this.indexAfter(position));
  }

  /** Index of the first retained entry after `position` (binary search: positions ascend). */
  indexAfter(position: number): number {
    let lo = 0;
    let hi = this.#entries.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#entries.at(mid)!.position <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Up to `limit` entries after `position`, oldest first. */
  slice(position: number, limit: number): BrokerMessage[] {
    const out: BrokerMessage[] = [];
    const end = Math.min(this.#entries.size, this.indexAfter(position) + limit);
    for (let i = this.indexAfter(position); i < end; i++) out.push(this.#entries.at(i)!.message);
    return out;
  }

  /** The newest `limit` messages, oldest first. */
  tail(limit: number): BrokerMessage[] {
    const out: BrokerMessage[] = [];
    for (let i = Math.max(0, this.#entries.size - limit); i < this.#entries.size; i++) {
      out.push(this.#entries.at(i)!.message);
    }
    return out;
  }

  #dropOldest(): void {
    const dropped = this.#entries.shift();
    if (dropped) this.#trimmedThrough = dropped.position;
  }
}

/** Where a read resumes: after `position`, preceded by a gap when `reason` is set. */
export interface CursorResolution {
  position: number;
  reason?: GapReason;
}

const POSITION = /^(?:0|[1-9][0-9]{0,15})$/;

/**
 * Checks a client cursor against a channel's history. On any gap the read resumes from the
 * oldest retained message, i.e. after `trimmedThrough`, whose id becomes
 * `GapSignal.resumeAfter` (a cursor this channel honours without a gap):
 * - another epoch → `epoch`; not one of our ids → `invalid`;
 * - a position beyond the last one issued (a cursor from the future, e.g. a reused epoch
 *   after a restart, or an id from another channel) → `invalid` too;
 * - a position before `trimmedThrough` → `expired`. Exactly `trimmedThrough` is no gap:
 *   every message after it is still retained.
 */
export function resolveCursor(
  since: string,
  context: { epoch: string; last: number; trimmedThrough: number },
): CursorResolution {
  const fromOldest = (reason: GapReason): CursorResolution => ({
    position: context.trimmedThrough,
    reason,
  });
  const cursor = parseEventId(since);
  if (!cursor || !POSITION.test(cursor.position)) return fromOldest('invalid');
  if (cursor.epoch !== context.epoch) return fromOldest('epoch');
  const position = Number(cursor.position);
  if (!Number.isSafeInteger(position) || position > context.last) return fromOldest('invalid');
  if (position < context.trimmedThrough) return fromOldest('expired');
  return { position };
}

/** The id of a position in an epoch. */
export function positionId(epoch: string, position: number): string {
  return formatEventId({ epoch, position: String(position) });
}
