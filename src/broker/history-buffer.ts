import { formatEventId, parseEventId } from '../core/event-id.js';
import { ByteLog } from './byte-log.js';
import type { BrokerMessage, GapReason } from './types.js';

/** A retained message with its position parsed once, so lookups never re-parse ids. */
export interface HistoryEntry {
  position: number;
  /** The item every subscriber receives: built once per message, not once per delivery. */
  item: { type: 'message'; message: BrokerMessage };
}

export function historyEntry(position: number, message: BrokerMessage): HistoryEntry {
  return { position, item: { type: 'message', message } };
}

/**
 * One channel's retained messages, bounded by count and by age (trimmed from the old end
 * against an injected clock). It remembers the highest position it has dropped
 * (`trimmedThrough`), which is what makes gap detection exact: a cursor at or after it has
 * lost nothing, a cursor before it has.
 *
 * Stored as columns in a ring (position, time, where the data is, event), not as message
 * objects, and the data itself as bytes in a ByteLog (byte-log.ts): a retained message costs
 * the garbage collector nothing of its own, where it cost five objects (entry, item,
 * message, id string, data), and then still one string or one JSON tree per message. History
 * is mostly retained and rarely read (a resume), so messages are built again on read; the
 * live path hands subscribers the entry built at publish time and never reads it back from
 * here. With thousands of finished LLM generations kept for resuming, the objects per token
 * were what made collections long (see docs/benchmarks.md).
 *
 * Data goes into the log as its text when it is a string (well formed: a lone surrogate
 * has no UTF-8 form), else as its JSON text, so a replayed message's `data` is the JSON
 * round trip of the published value, as it must be with any broker outside the process.
 * A value JSON cannot represent (undefined, a BigInt, a cycle, binary data) is kept as it is.
 */
export class HistoryBuffer {
  readonly #limit: number;
  readonly #maxAge: number | null;
  readonly #channel: string;
  readonly #epoch: string;
  /**
   * Plain arrays filled with numbers (V8 keeps them as unboxed doubles on the heap): a
   * typed array is an off-heap buffer plus two objects, costlier to allocate and grow for
   * the short histories of LLM generations.
   */
  #positions: number[];
  #times: number[];
  /** The data's bytes in `#log`, and how to read them back (DATA_*). */
  #starts: number[];
  #ends: number[];
  #kinds: number[];
  readonly #log = new ByteLog();
  /** Values kept as they are (DATA_VALUE); created the first time one is. */
  #values: unknown[] | undefined;
  /** Parallel to `#data`; stays a holey array of `undefined` on channels without names. */
  #events: (string | undefined)[];
  #head = 0;
  #size = 0;
  #trimmedThrough: number;
  #last: number;

  /**
   * @param floor Positions at or below it are unknown to this buffer (issued before the
   *   channel's state was created, or to other channels): cursors there get an `expired` gap.
   */
  constructor(options: {
    limit: number;
    maxAge: number | null;
    floor: number;
    channel: string;
    epoch: string;
  }) {
    this.#limit = options.limit;
    this.#maxAge = options.maxAge;
    this.#channel = options.channel;
    this.#epoch = options.epoch;
    this.#trimmedThrough = options.floor;
    this.#last = options.floor;
    // Grown lazily (doubling) up to the limit, so a large limit costs nothing until used.
    const initial = Math.min(options.limit, 16);
    this.#positions = doubles(initial);
    this.#times = doubles(initial);
    this.#starts = doubles(initial);
    this.#ends = doubles(initial);
    this.#kinds = doubles(initial);
    this.#events = new Array<string | undefined>(initial);
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
    return this.#size;
  }

  /** Publish time of the newest retained message, if any. */
  get newestTime(): number | undefined {
    return this.#size === 0 ? undefined : this.#times[this.#slot(this.#size - 1)];
  }

  append(position: number, message: BrokerMessage): void {
    this.#last = position;
    if (this.#limit === 0) {
      this.#trimmedThrough = position; // history disabled: every message is "trimmed" at once
      return;
    }
    if (this.#size >= this.#limit) this.#dropOldest();
    if (this.#size === this.#positions.length) this.#grow();
    const slot = this.#slot(this.#size);
    this.#positions[slot] = position;
    this.#times[slot] = message.time;
    this.#store(slot, message.data);
    this.#events[slot] = message.event;
    this.#size++;
  }

  /** Retained bytes of message data (what the log holds for this channel). */
  get dataBytes(): number {
    return this.#log.liveBytes;
  }

  #store(slot: number, data: unknown): void {
    let text: string | undefined;
    let kind = DATA_TEXT;
    if (typeof data === 'string' && isWellFormed(data)) text = data;
    else if (!(data instanceof ArrayBuffer || ArrayBuffer.isView(data))) {
      // Binary data (not JSON, but a MessagePack user may hand it over) is kept as it is:
      // its JSON text would come back as an object of numbered keys.
      kind = DATA_JSON;
      try {
        text = JSON.stringify(data);
      } catch {
        text = undefined; // a BigInt or a cycle
      }
    }
    if (text === undefined) {
      (this.#values ??= [])[slot] = data;
      this.#kinds[slot] = DATA_VALUE;
      this.#starts[slot] = this.#ends[slot] = this.#log.end;
      return;
    }
    this.#kinds[slot] = kind;
    this.#starts[slot] = this.#log.append(text);
    this.#ends[slot] = this.#log.end;
  }

  #load(slot: number): unknown {
    const kind = this.#kinds[slot];
    if (kind === DATA_VALUE) return this.#values![slot];
    const text = this.#log.read(this.#starts[slot]!, this.#ends[slot]!);
    return kind === DATA_TEXT ? text : (JSON.parse(text) as unknown);
  }

  /** Drops messages whose age reached `maxAge` at time `now`. */
  expire(now: number): void {
    if (this.#maxAge === null) return;
    const cutoff = now - this.#maxAge;
    while (this.#size > 0 && this.#times[this.#head]! <= cutoff) this.#dropOldest();
  }

  /** The first retained entry with a position greater than `position`. */
  firstAfter(position: number): HistoryEntry | undefined {
    const index = this.indexAfter(position);
    if (index >= this.#size) return undefined;
    return historyEntry(this.#positions[this.#slot(index)]!, this.#message(index));
  }

  /** Whether a retained message of this channel has exactly this position. */
  holds(position: number): boolean {
    const index = this.indexAfter(position - 1);
    return index < this.#size && this.#positions[this.#slot(index)] === position;
  }

  /** Index of the first retained entry after `position` (binary search: positions ascend). */
  indexAfter(position: number): number {
    let lo = 0;
    let hi = this.#size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#positions[this.#slot(mid)]! <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Up to `limit` messages after `position`, oldest first. */
  slice(position: number, limit: number): BrokerMessage[] {
    const start = this.indexAfter(position);
    return this.#messages(start, Math.min(this.#size, start + limit));
  }

  /** The newest `limit` messages, oldest first. */
  tail(limit: number): BrokerMessage[] {
    return this.#messages(Math.max(0, this.#size - limit), this.#size);
  }

  #messages(start: number, end: number): BrokerMessage[] {
    const out: BrokerMessage[] = [];
    for (let i = start; i < end; i++) out.push(this.#message(i));
    return out;
  }

  /** The message at `index` (0 = oldest), built again from its columns. */
  #message(index: number): BrokerMessage {
    const slot = this.#slot(index);
    const message: BrokerMessage = {
      id: positionId(this.#epoch, this.#positions[slot]!),
      channel: this.#channel,
      data: this.#load(slot),
      time: this.#times[slot]!,
    };
    const event = this.#events[slot];
    if (event !== undefined) message.event = event;
    return message;
  }

  #slot(index: number): number {
    return (this.#head + index) % this.#positions.length;
  }

  #dropOldest(): void {
    const head = this.#head;
    this.#trimmedThrough = this.#positions[head]!;
    this.#log.release(this.#ends[head]!);
    if (this.#values) this.#values[head] = undefined; // let the GC have it
    this.#events[head] = undefined;
    this.#head = (head + 1) % this.#positions.length;
    this.#size--;
  }

  #grow(): void {
    const capacity = Math.min(this.#limit, this.#positions.length * 2 || 1);
    const positions = doubles(capacity);
    const times = doubles(capacity);
    const starts = doubles(capacity);
    const ends = doubles(capacity);
    const kinds = doubles(capacity);
    const values = this.#values && new Array<unknown>(capacity);
    const events = new Array<string | undefined>(capacity);
    for (let i = 0; i < this.#size; i++) {
      const slot = this.#slot(i);
      positions[i] = this.#positions[slot]!;
      times[i] = this.#times[slot]!;
      starts[i] = this.#starts[slot]!;
      ends[i] = this.#ends[slot]!;
      kinds[i] = this.#kinds[slot]!;
      if (values) values[i] = this.#values![slot];
      events[i] = this.#events[slot];
    }
    this.#positions = positions;
    this.#times = times;
    this.#starts = starts;
    this.#ends = ends;
    this.#kinds = kinds;
    this.#values = values;
    this.#events = events;
    this.#head = 0;
  }
}

function doubles(length: number): number[] {
  return new Array<number>(length).fill(0);
}

/** How a retained message's data is kept: its text, its JSON text, or the value itself. */
const DATA_TEXT = 0;
const DATA_JSON = 1;
const DATA_VALUE = 2;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a string has a UTF-8 form (no lone surrogate); the builtin where there is one. */
function isWellFormed(text: string): boolean {
  const builtin = (text as { isWellFormed?: () => boolean }).isWellFormed;
  return builtin ? builtin.call(text) : !LONE_SURROGATE.test(text);
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
 * - a position in between that this channel's history does not hold → `invalid`: positions
 *   come from one counter for every channel, so it is another channel's id, and reading
 *   on after it would skip this channel's messages between its position and ours.
 */
export function resolveCursor(
  since: string,
  context: {
    epoch: string;
    last: number;
    trimmedThrough: number;
    /** Whether the channel's history holds the position (omitted: nothing retained). */
    holds?: (position: number) => boolean;
  },
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
  if (position > context.trimmedThrough && !(context.holds?.(position) ?? false)) {
    return fromOldest('invalid');
  }
  return { position };
}

/** The id of a position in an epoch. */
export function positionId(epoch: string, position: number): string {
  return formatEventId({ epoch, position: String(position) });
}
