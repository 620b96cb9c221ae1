/**
 * Just enough of RFC 6455 for a cheap client load process: an incremental reader of the
 * server's (unmasked) frames and a writer of the small masked frames a client sends. No
 * fragmentation or extensions: every server under test sends whole, uncompressed frames.
 */
import { randomFillSync } from 'node:crypto';

export const OPCODE = Object.freeze({ text: 0x1, close: 0x8, ping: 0x9, pong: 0xa });

/** Feeds TCP chunks, calls `onFrame` for each complete frame; carries a partial one over. */
export class FrameReader {
  readonly #onFrame: (opcode: number, payload: Buffer) => void;
  #carry: Buffer | null = null;

  constructor(onFrame: (opcode: number, payload: Buffer) => void) {
    this.#onFrame = onFrame;
  }

  feed(chunk: Buffer): void {
    const data = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
    this.#carry = null;
    let at = 0;
    for (;;) {
      const left = data.length - at;
      if (left < 2) break;
      let length = data[at + 1]! & 0x7f;
      let header = 2;
      if (length === 126) {
        if (left < 4) break;
        length = data.readUInt16BE(at + 2);
        header = 4;
      } else if (length === 127) {
        if (left < 10) break;
        length = data.readUInt32BE(at + 2) * 2 ** 32 + data.readUInt32BE(at + 6);
        header = 10;
      }
      if (left < header + length) break;
      this.#onFrame(data[at]! & 0x0f, data.subarray(at + header, at + header + length));
      at += header + length;
    }
    if (at < data.length) this.#carry = data.subarray(at);
  }
}

/** A masked client frame of at most 125 bytes of payload (all a bench client sends). */
export function clientFrame(opcode: number, payload: Buffer | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (bytes.length > 125) throw new RangeError('clientFrame: payload over 125 bytes');
  const frame = Buffer.alloc(6 + bytes.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | bytes.length;
  randomFillSync(frame, 2, 4);
  for (let i = 0; i < bytes.length; i++) frame[6 + i] = bytes[i]! ^ frame[2 + (i & 3)]!;
  return frame;
}
