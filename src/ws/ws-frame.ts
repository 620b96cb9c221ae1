/**
 * A complete, unmasked, unfragmented WebSocket frame (RFC 6455 §5.2) as one Buffer: what a
 * server writes for one message. The hub builds it once per (message, format) and writes the
 * same bytes to every subscriber's socket, so fan-out costs one `write` per socket instead
 * of a header, an options object and a corked pair of writes inside `ws` for each of them.
 * Only valid on connections without permessage-deflate (the hub never negotiates it), where
 * `ws` keeps no frame state of its own between messages.
 */
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const FIN = 0x80;

export function encodeWsFrame(payload: Uint8Array, binary: boolean): Buffer {
  const length = payload.byteLength;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = FIN | (binary ? OPCODE_BINARY : OPCODE_TEXT);
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.set(payload, headerLength);
  return frame;
}
