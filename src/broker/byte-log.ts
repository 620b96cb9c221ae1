/**
 * Where a channel's history keeps its messages' data: UTF-8 bytes appended to one growing
 * `Uint8Array`, outside the JavaScript heap's object graph, instead of one string (or one
 * JSON object tree) per retained message.
 *
 * Why: retained history is most of what a long-running broker holds, and the garbage
 * collector visits every retained object on each full collection and copies each young one
 * on its way to the old generation. A thousand channels with a hundred messages each are
 * a hundred thousand strings to mark; as bytes they are a thousand buffers. Measured in
 * docs/benchmarks.md (broker history); the LLM proxy's retained generations are the case
 * that showed it.
 *
 * Offsets are logical: byte k of the log keeps offset k for its whole life, whatever the
 * log does with its buffer, so the history's columns never need rewriting. Released bytes
 * (messages trimmed from history) are reclaimed when they are at least as many as the live
 * ones: the live bytes then move to the front, or to a new buffer sized for them. Each byte
 * is therefore copied a bounded number of times on average, and the buffer stays within a
 * small multiple of the live bytes plus the message being appended: growth doubles what is
 * needed, and a buffer over 4× its snug size (twice the live bytes) shrinks to it.
 */

const encoder = new TextEncoder();
// ignoreBOM: a message that starts with U+FEFF keeps it (the default decoder strips it).
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** The first buffer's size, and the least worth reclaiming, bytes. */
const MIN_BYTES = 1024;
/** An emptied buffer larger than this is let go; a smaller one is kept for the next append. */
const KEEP_EMPTY_BYTES = 64 * 1024;
/** Up to this many UTF-16 units, room for a string is reserved at 3 bytes per unit. */
const ESTIMATE_BELOW = 4096;

export class ByteLog {
  #bytes = new Uint8Array(0);
  /** Logical offset of `#bytes[0]`. */
  #base = 0;
  /** Logical offsets of the first live byte and of the end. */
  #start = 0;
  #end = 0;

  /** Logical offset just past the last byte appended. */
  get end(): number {
    return this.#end;
  }

  /** Size of the buffer, bytes (for tests and stats). */
  get capacity(): number {
    return this.#bytes.length;
  }

  /** Bytes still live (appended and not released). */
  get liveBytes(): number {
    return this.#end - this.#start;
  }

  /** Appends `text` as UTF-8; it occupies [returned offset, `end`). */
  append(text: string): number {
    const start = this.#end;
    // Short strings reserve the worst case, 3 bytes per UTF-16 unit (a unit that is half
    // of a surrogate pair takes 2 of the pair's 4); long ones are measured exactly.
    const room = text.length < ESTIMATE_BELOW ? text.length * 3 : utf8Length(text);
    this.#makeRoom(room);
    const at = start - this.#base;
    const { read, written } = encoder.encodeInto(text, this.#bytes.subarray(at, at + room));
    // Cannot happen (the room is the worst case or exact): never store a message cut short.
    if (read !== text.length) throw new Error('ByteLog: a message did not fit its room');
    this.#end = start + written;
    return start;
  }

  /** The text stored at [start, end). */
  read(start: number, end: number): string {
    return decoder.decode(this.#bytes.subarray(start - this.#base, end - this.#base));
  }

  /** Everything before logical offset `offset` is no longer needed. */
  release(offset: number): void {
    this.#start = Math.min(Math.max(this.#start, offset), this.#end);
    if (this.#start === this.#end) {
      // Empty: start over at the front, no copy; a large buffer is let go (a history of
      // one message empties at every publish, and reuses its buffer).
      this.#base = this.#start;
      if (this.#bytes.length > KEEP_EMPTY_BYTES) this.#bytes = new Uint8Array(0);
      return;
    }
    const dead = this.#start - this.#base;
    const live = this.liveBytes;
    if (dead < MIN_BYTES || dead < live) return;
    // A buffer far larger than what is live (history trimmed by age) shrinks.
    const snug = Math.max(MIN_BYTES, live * 2);
    this.#relocate(this.#bytes.length > 4 * snug ? snug : this.#bytes.length);
  }

  #makeRoom(room: number): void {
    const used = this.#end - this.#base;
    if (used + room <= this.#bytes.length) return;
    const live = this.liveBytes;
    // Moving the live bytes to the front is enough when released bytes are the larger part.
    const fits = live + room <= this.#bytes.length && this.#start - this.#base >= live;
    this.#relocate(fits ? this.#bytes.length : Math.max(MIN_BYTES, (live + room) * 2));
  }

  /** Moves the live bytes to the front of a buffer of `size` bytes (this one if the same). */
  #relocate(size: number): void {
    const from = this.#start - this.#base;
    const to = this.#end - this.#base;
    if (size === this.#bytes.length) {
      this.#bytes.copyWithin(0, from, to);
    } else {
      const bytes = new Uint8Array(size);
      bytes.set(this.#bytes.subarray(from, to));
      this.#bytes = bytes;
    }
    this.#base = this.#start;
  }
}

/** UTF-8 length of a string (lone surrogates count as U+FFFD, 3 bytes, as encoded). */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2; // the pair: 2 units, 4 bytes
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
