/**
 * `coalesce`: emits at most one item per `intervalMs`, merging what arrives in between.
 * For high token rates: an LLM producing 200 tokens/s to a client that renders at 20 fps
 * gets one merged delta per frame instead of ten events.
 *
 * The first item after a quiet period goes out at once (`leading`, so the first token is
 * not delayed); items arriving within the interval are merged with `merge` and emitted
 * when it ends; the timer stops when an interval passes with nothing to emit. A merged
 * item reaching `maxBytes` is emitted early, so a burst cannot grow it without bound.
 * The timer is unref'd and cleared at close and on cancel/abort.
 */
import { SluiceError } from '../errors.js';
import { defaultSize } from './buffer-monitor.js';
import { startTimer } from './timer.js';
import { tryEnqueue, type TransformerWithCancel } from './transformer-with-cancel.js';

export interface CoalesceOptions<T> {
  /** Combines the pending item with a newer one (e.g. `concatStrings` for text deltas). */
  merge: (pending: T, next: T) => T;
  /** Shortest time between two emitted items. */
  intervalMs?: number;
  /** Emit a merged item early once its size reaches this; `null` = no limit. */
  maxBytes?: number | null;
  /** Size of an item (default: binary length, string length, else 0). */
  size?: (item: T) => number;
  /** Emit the first item after a quiet period at once (default true). */
  leading?: boolean;
}

export const COALESCE_DEFAULTS = Object.freeze({
  intervalMs: 50,
  maxBytes: 64 * 1024,
  leading: true,
});

/** The merge for text deltas. */
export function concatStrings(pending: string, next: string): string {
  return pending + next;
}

export function coalesce<T>(options: CoalesceOptions<T>): TransformStream<T, T> {
  const { merge } = options;
  const intervalMs = options.intervalMs ?? COALESCE_DEFAULTS.intervalMs;
  const maxBytes =
    options.maxBytes === null ? Infinity : (options.maxBytes ?? COALESCE_DEFAULTS.maxBytes);
  const size = options.size ?? defaultSize;
  const leading = options.leading ?? COALESCE_DEFAULTS.leading;
  if (!(intervalMs >= 0) || !(maxBytes >= 1)) {
    throw new SluiceError('invalid_argument', 'coalesce needs intervalMs >= 0 and maxBytes >= 1');
  }

  // `has` rather than `pending !== undefined`: T may include undefined.
  let has = false;
  let pending: T | undefined;
  let cancelTimer: (() => void) | undefined;

  const clearTimer = (): void => {
    cancelTimer?.();
    cancelTimer = undefined;
  };

  const emitPending = (controller: TransformStreamDefaultController<T>): void => {
    if (!has) return;
    const item = pending as T;
    has = false;
    pending = undefined;
    tryEnqueue(controller, item);
  };

  const tick = (controller: TransformStreamDefaultController<T>): void => {
    cancelTimer = undefined;
    if (!has) return; // a quiet interval: stop until the next item
    emitPending(controller);
    cancelTimer = startTimer(() => tick(controller), intervalMs);
  };

  const transformer: TransformerWithCancel<T, T> = {
    transform(item, controller) {
      if (cancelTimer === undefined && leading) {
        controller.enqueue(item);
      } else {
        try {
          pending = has ? merge(pending as T, item) : item;
          has = true;
          if (size(pending) >= maxBytes) emitPending(controller);
        } catch (error) {
          // The stream errors with this, and an errored stream gets no cancel(): without
          // this the timer would keep ticking (and holding `pending`) past the error.
          clearTimer();
          has = false;
          pending = undefined;
          throw error;
        }
      }
      cancelTimer ??= startTimer(() => tick(controller), intervalMs);
    },
    flush(controller) {
      clearTimer();
      emitPending(controller);
    },
    cancel() {
      clearTimer();
      has = false;
      pending = undefined;
    },
  };
  return new TransformStream<T, T>(transformer);
}
