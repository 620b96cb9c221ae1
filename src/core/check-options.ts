/**
 * Checks for numeric options, with a coded error that names the option. A limit or a delay
 * that is NaN (an unset environment variable, say) would otherwise disable every comparison
 * made with it: an unbounded buffer, or a timer that fires at once.
 */
import { SluiceError } from './errors.js';
import { MAX_TIMER_MS } from './timer-bound.js';

/** A count or a size: an integer of at least `min`. */
export function checkCount(name: string, value: number, min = 0): number {
  if (!(Number.isInteger(value) && value >= min)) {
    throw new SluiceError('invalid_argument', `${name} must be an integer >= ${min}`);
  }
  return value;
}

/** A delay in ms that a timer can wait: from `min` to 2^31 - 1. */
export function checkDelay(name: string, value: number, min = 0): number {
  if (!(value >= min && value <= MAX_TIMER_MS)) {
    throw new SluiceError(
      'invalid_argument',
      `${name} must be between ${min} and ${MAX_TIMER_MS} ms`,
    );
  }
  return value;
}

/**
 * An SSE stream's timings as a handler takes them (`null`: off, `undefined`: the default),
 * checked when the handler is made, as every stream would check them: a bad value then
 * stops the server at startup with a coded error instead of failing each request.
 */
export function checkStreamTimings(options: {
  keepAlive?: number | null | undefined;
  stallTimeout?: number | null | undefined;
}): void {
  for (const name of ['keepAlive', 'stallTimeout'] as const) {
    const value = options[name];
    if (value !== undefined && value !== null) checkDelay(name, value, 1);
  }
}
