import * as wsModule from 'ws';
import { describe, expect, it } from 'vitest';
import { encodeWsFrame } from '../../src/ws/ws-frame.js';

/** The frame `ws` itself writes for a server message (unmasked, final, uncompressed). */
function wsFrame(payload: Buffer, binary: boolean): Buffer {
  const parts = (
    (wsModule as unknown as { Sender: unknown }).Sender as {
      frame(data: Buffer, options: object): Buffer[];
    }
  ).frame(payload, {
    fin: true,
    opcode: binary ? 2 : 1,
    mask: false,
    readOnly: false,
    rsv1: false,
  });
  return Buffer.concat(parts);
}

describe('encodeWsFrame', () => {
  it('writes the bytes ws writes, at every length-encoding boundary', () => {
    for (const length of [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]) {
      const payload = Buffer.alloc(length, 0x61);
      for (const binary of [false, true]) {
        expect(Buffer.from(encodeWsFrame(payload, binary)).equals(wsFrame(payload, binary))).toBe(
          true,
        );
      }
    }
  });
});
