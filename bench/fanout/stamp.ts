/**
 * Reading the publish stamp out of delivered bytes without parsing them: every bench
 * payload starts with `"t":<wall-clock ms>`, so a client load process finds deliveries by
 * scanning for the key and reads the number after it. Shared by the SSE and WebSocket
 * fan-out clients, so both measure latency the same way and stay equally cheap.
 */

/** The payload key that marks one delivery. */
export const STAMP_KEY = Buffer.from('"t":');

/**
 * Reads the decimal number that starts at `from` without allocating; NaN when it runs to
 * the end of `chunk` (the rest is in the next chunk).
 */
export function readNumber(chunk: Buffer, from: number): { value: number; end: number } {
  let whole = 0;
  let fraction = 0;
  let scale = 1;
  let dot = false;
  let end = from;
  for (; end < chunk.length; end++) {
    const c = chunk[end]!;
    if (c === 46) dot = true;
    else if (c >= 48 && c <= 57) {
      if (dot) fraction = fraction * 10 + (c - 48);
      else whole = whole * 10 + (c - 48);
      if (dot) scale *= 10;
    } else break;
  }
  if (end === chunk.length) return { value: Number.NaN, end };
  return { value: whole + fraction / scale, end };
}
