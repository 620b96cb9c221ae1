/**
 * The longest delay a timer takes: `setTimeout` turns anything above 2^31 - 1 ms (or
 * `Infinity`) into about 1 ms, so an unchecked huge delay becomes a tight loop.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
