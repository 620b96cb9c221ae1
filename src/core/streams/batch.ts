/**
 * `batch`: groups small messages into arrays, for transports where each write has a fixed
 * cost (one WebSocket frame, one SSE event, one Redis command). A batch is emitted when it
 * holds `maxItems` items or `maxBytes` size units, or `maxWaitMs` after its first item
 * arrived, whichever comes first, and at close. The timer is unref'd and cleared on every
 * flush, at close and on cancel/abort.
 *
 * Backpressure: the writable side waits while the readable side is full, so at most one
 * timer-flushed batch can sit beyond the readable high-water mark.
 */
import { SluiceError } from '../errors.js';
import { defaultSize } from './buffer-monitor.js';
import { startTimer } from './timer.js';
import { tryEnqueue, type TransformerWithCancel } from './transformer-with-cancel.js';

export interface BatchOptions<T> {
  /** Items per batch at most. */
  maxItems?: number;
  /** Longest an item waits for its batch to fill; `null` = only full batches and close. */
  maxWaitMs?: number | null;
  /** Size units per batch at most (a single larger item forms its own batch); `null` = none. */
  maxBytes?: number | null;
  /** Size of one item (default: binary length, string length, else 0). */
  size?: (item: T) => number;
}

export const BATCH_DEFAULTS = Object.freeze({
  maxItems: 100,
  maxWaitMs: 10,
  maxBytes: 64 * 1024,
});

export function batch<T>(options: BatchOptions<T> = {}): TransformStream<T, T[]> {
  const maxItems = options.maxItems ?? BATCH_DEFAULTS.maxItems;
  const maxWaitMs = options.maxWaitMs === undefined ? BATCH_DEFAULTS.maxWaitMs : options.maxWaitMs;
  const maxBytes =
    options.maxBytes === null ? Infinity : (options.maxBytes ?? BATCH_DEFAULTS.maxBytes);
  const size = options.size ?? defaultSize;
  if (!(maxItems >= 1) || !(maxBytes >= 1) || (maxWaitMs !== null && !(maxWaitMs >= 0))) {
    throw new SluiceError(
      'invalid_argument',
      'batch needs maxItems >= 1, maxBytes >= 1, maxWaitMs >= 0',
    );
  }

  let items: T[] = [];
  let bytes = 0;
  let cancelTimer: (() => void) | undefined;

  const clearTimer = (): void => {
    cancelTimer?.();
    cancelTimer = undefined;
  };

  const emit = (controller: TransformStreamDefaultController<T[]>): void => {
    clearTimer();
    if (items.length === 0) return;
    const full = items;
    items = [];
    bytes = 0;
    tryEnqueue(controller, full);
  };

  const transformer: TransformerWithCancel<T, T[]> = {
    transform(item, controller) {
      let itemBytes: number;
      try {
        itemBytes = size(item);
      } catch (error) {
        // The stream errors with this, and an errored stream gets no cancel(): the timer of
        // the batch in progress (and its items) would outlive it by up to maxWaitMs.
        clearTimer();
        items = [];
        bytes = 0;
        throw error;
      }
      // Emit first when this item would push the batch past maxBytes.
      if (items.length > 0 && bytes + itemBytes > maxBytes) emit(controller);
      items.push(item);
      bytes += itemBytes;
      if (items.length >= maxItems || bytes >= maxBytes) {
        emit(controller);
      } else if (cancelTimer === undefined && maxWaitMs !== null) {
        cancelTimer = startTimer(() => {
          cancelTimer = undefined;
          emit(controller);
        }, maxWaitMs);
      }
    },
    flush(controller) {
      emit(controller);
    },
    cancel() {
      clearTimer();
      items = [];
      bytes = 0;
    },
  };
  return new TransformStream<T, T[]>(transformer);
}
