/**
 * The front end of the SSE parser: turns a stream of byte or string chunks into text,
 * stripping exactly one leading BOM (spec §9.2.6, rules P1–P7).
 *
 * Bytes are the canonical input, because they are what the network delivers:
 * - The BOM is the bytes EF BB BF at byte 0 of the stream only, matched even when they
 *   arrive split across chunks or after empty chunks (P6). A later EF BB BF is data (P5).
 * - Invalid UTF-8 becomes U+FFFD (the WHATWG decoder with `fatal: false`), never an error.
 * - `ignoreBOM: true`, so the decoder never strips a BOM of its own (P7: only one strip).
 *
 * Why not `decode(chunk, { stream: true })`: engines implement the streaming mode far more
 * slowly (Node 20 routes it through ICU and returns two-byte strings; the one-shot call is
 * about 4× faster). So each chunk is decoded one-shot, and an incomplete UTF-8 sequence at
 * its end (at most 3 bytes) is carried into the next chunk. The split point is always just
 * before a byte that is not a continuation byte (not 10xxxxxx); the WHATWG decoder is in its
 * initial state there, or emits exactly one U+FFFD and restarts at that byte, which is also
 * what a one-shot decode emits at end of input. So the output equals decoding the whole
 * stream at once, whatever the chunking.
 *
 * `bytes`: after a decode, the bytes it decoded when they map one to one onto the string's
 * UTF-16 code units, so the parser may read `bytes[i]` (a plain array load) instead of
 * `charCodeAt(i)` (a string access, several times slower in V8). Each byte decodes to at
 * most one code unit (one ASCII character, one U+FFFD for a lone invalid byte, or a share of
 * a multi-byte character: 2 bytes or more for 1 or 2 units), so equal lengths mean every
 * byte became exactly one unit, in order: where either is ASCII, both hold the same value.
 *
 * Strings: a string chunk is taken to be the raw stream already decoded WITHOUT stripping
 * a BOM, so one U+FEFF at string offset 0 of the stream is stripped. That is the spec-correct
 * reading (the parser sees the raw stream). Note the consequence: a default `TextDecoder` or
 * `TextDecoderStream` (ignoreBOM: false) already removed one BOM, so a stream that starts
 * with two BOMs loses both (WPT format-bom-2). To be exact, feed bytes (preferred), or decode
 * with `new TextDecoderStream('utf-8', { ignoreBOM: true })`.
 */

const BOM = new Uint8Array([0xef, 0xbb, 0xbf]);

export class Utf8StreamDecoder {
  readonly #decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  /** Incomplete UTF-8 sequence held back from the end of the last chunk (at most 3 bytes). */
  #carry: Uint8Array | null = null;
  /** Bytes of the BOM matched so far at stream start (0–2), or -1 once past the start. */
  #bom = 0;
  /** The last chunk decoded one to one (so, very likely, the stream is ASCII so far). */
  #aligned = true;
  /** The bytes of the last decode() result when aligned with it one to one (see above). */
  bytes: Uint8Array | null = null;

  /** Decodes the next chunk of the stream; may return '' while bytes are held back. */
  decode(chunk: string | Uint8Array): string {
    this.bytes = null;
    if (typeof chunk === 'string') return this.#text(chunk);
    let bytes = chunk;
    if (this.#bom >= 0) {
      let matched = this.#bom;
      let i = 0;
      while (matched < 3 && i < bytes.length && bytes[i] === BOM[matched]) {
        matched++;
        i++;
      }
      if (matched === 3) {
        this.#bom = -1;
        bytes = bytes.subarray(i);
      } else if (i === bytes.length) {
        this.#bom = matched; // still a BOM prefix (or an empty chunk): wait for more
        return '';
      } else {
        // Not a BOM after all: the matched bytes are data.
        this.#bom = -1;
        if (matched > 0) bytes = concat(BOM.subarray(0, matched), bytes.subarray(i));
      }
    }
    if (this.#carry !== null) {
      bytes = concat(this.#carry, bytes);
      this.#carry = null;
    }
    let text = '';
    let done = false;
    if (this.#aligned && bytes.length > 0) {
      // Decode first, then look at the end: read before the decode, the last byte of a fresh
      // network buffer is a cache miss per chunk; after it, the byte is in cache. A chunk cut
      // inside a character is then decoded again without its tail (rare while the stream is
      // ASCII; once it is not, the tail is checked first).
      text = this.#decoder.decode(bytes);
      done = bytes[bytes.length - 1]! < 0x80;
    }
    if (!done) {
      const end = completeEnd(bytes);
      if (end < bytes.length) {
        this.#carry = bytes.slice(end);
        bytes = bytes.subarray(0, end);
        text = end === 0 ? '' : this.#decoder.decode(bytes);
      } else if (!this.#aligned && end > 0) {
        text = this.#decoder.decode(bytes);
      }
    }
    this.#aligned = text.length === bytes.length;
    if (this.#aligned) this.bytes = bytes;
    return text;
  }

  /** Forgets everything: the next chunk is the start of a new stream. */
  reset(): void {
    this.#carry = null;
    this.#aligned = true;
    this.#bom = 0;
    this.bytes = null;
  }

  #text(chunk: string): string {
    // Bytes held back (a partial BOM or character) and then a string: decode them as they
    // are (U+FFFD); mixing input types mid-character has no better meaning.
    const held = this.#flush();
    if (this.#bom === 0 && chunk.length > 0) {
      this.#bom = -1;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    return held === '' ? chunk : held + chunk;
  }

  #flush(): string {
    let bytes: Uint8Array | null = null;
    if (this.#bom > 0) {
      bytes = BOM.subarray(0, this.#bom);
      this.#bom = -1;
    } else if (this.#carry !== null) {
      bytes = this.#carry;
      this.#carry = null;
    }
    return bytes === null ? '' : this.#decoder.decode(bytes);
  }
}

/** Length of the prefix of `bytes` that ends on a complete UTF-8 sequence (or garbage). */
function completeEnd(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let k = 1; k <= 3 && k <= n; k++) {
    const b = bytes[n - k]!;
    if ((b & 0xc0) !== 0x80) {
      // Not a continuation byte: a lead (or ASCII, or invalid). Hold it back if the
      // sequence it starts needs more bytes than the chunk has left.
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      return need > k ? n - k : n;
    }
  }
  // Three continuation bytes at the end: any lead before them has its sequence complete
  // (or broken), so the decoder holds nothing pending.
  return n;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
