/**
 * `monitorBackpressure`: wraps a ReadableStream (an SSE body, a token stream) into one
 * that reads ahead into a bounded buffer, counts what is buffered, and disconnects a
 * consumer that stops reading.
 *
 * Flow: the wrapper reads the source while its buffer is under `maxItems`/`maxBytes`,
 * then stops, so the source meets backpressure. The outer stream has a high-water mark
 * of 0, so every `pull()` is a consumer read: that is how we know when an item was taken.
 * "Stalled" means data is waiting in the buffer and the consumer has not read for
 * `stallTimeoutMs`; then `onStall` runs, the stream errors with SluiceError
 * 'slow_consumer' and the source is cancelled with that error. A server writing the
 * stream to a socket sees the error on its next read and drops the connection.
 */
import { SluiceError, abortReason } from '../errors.js';
import { BufferMonitor, defaultSize, type BufferStats } from './buffer-monitor.js';
import { Fifo } from './fifo.js';
import { startTimer } from './timer.js';

export interface MonitorBackpressureOptions<T> {
  /** Items read ahead of the consumer at most; `null` = no count limit (keep maxBytes). */
  maxItems?: number | null;
  /** Size units read ahead at most (one item may cross it); `null` = no size limit. */
  maxBytes?: number | null;
  /** Size of one item (default: byte length of binary chunks, string length). */
  size?: (item: T) => number;
  /** How long data may wait unread before the consumer counts as stalled; `null` = never. */
  stallTimeoutMs?: number | null;
  /** Called once, before the stream errors, when the consumer stalls. */
  onStall?: (stats: BufferStats) => void;
  /** Where counts go; pass one monitor to many streams to aggregate them. */
  monitor?: BufferMonitor;
  /** Aborting errors the stream with the signal's reason and cancels the source. */
  signal?: AbortSignal;
}

export const MONITOR_BACKPRESSURE_DEFAULTS = Object.freeze({
  maxItems: 64,
  maxBytes: 1024 * 1024,
  stallTimeoutMs: 30_000,
});

export function monitorBackpressure<T>(
  source: ReadableStream<T>,
  options: MonitorBackpressureOptions<T> = {},
): ReadableStream<T> {
  const maxItems = limit(options.maxItems, MONITOR_BACKPRESSURE_DEFAULTS.maxItems, 'maxItems');
  const maxBytes = limit(options.maxBytes, MONITOR_BACKPRESSURE_DEFAULTS.maxBytes, 'maxBytes');
  if (maxItems === Number.POSITIVE_INFINITY && maxBytes === Number.POSITIVE_INFINITY) {
    throw new SluiceError(
      'invalid_argument',
      'maxItems and maxBytes cannot both be null: the buffer needs a limit',
    );
  }
  const stallTimeoutMs =
    options.stallTimeoutMs === undefined
      ? MONITOR_BACKPRESSURE_DEFAULTS.stallTimeoutMs
      : options.stallTimeoutMs;
  const size = options.size ?? defaultSize;
  const monitor = options.monitor ?? new BufferMonitor();
  const { signal, onStall } = options;

  const reader = source.getReader();
  const buffer = new Fifo<{ item: T; bytes: number }>();
  let bufferedBytes = 0;
  let sourceDone = false;
  let stopped = false;
  let pumping = false;
  /** Resolves the pending pull() once the pump has an item for it. */
  let waitingPull: (() => void) | undefined;
  let cancelStallTimer: (() => void) | undefined;
  let controller!: ReadableStreamDefaultController<T>;

  const hasRoom = (): boolean => buffer.length < maxItems && bufferedBytes < maxBytes;

  const clearStallTimer = (): void => {
    cancelStallTimer?.();
    cancelStallTimer = undefined;
  };

  const armStallTimer = (): void => {
    if (stallTimeoutMs === null || cancelStallTimer !== undefined || stopped) return;
    cancelStallTimer = startTimer(onStallTimeout, stallTimeoutMs);
  };

  /** Ends the wrapper: no timer, no listener, buffered items released from the monitor. */
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearStallTimer();
    signal?.removeEventListener('abort', onAbort);
    monitor.recordDiscard(buffer.length, bufferedBytes);
    buffer.drain();
    bufferedBytes = 0;
    waitingPull?.();
    waitingPull = undefined;
  };

  const failWith = (error: unknown, cancelSource: boolean): void => {
    if (stopped) return;
    stop();
    controller.error(error);
    if (cancelSource) reader.cancel(error).catch(() => undefined);
  };

  function onStallTimeout(): void {
    cancelStallTimer = undefined;
    if (stopped) return;
    monitor.recordStall();
    const stats = monitor.stats();
    const error = new SluiceError(
      'slow_consumer',
      `Consumer did not read for ${stallTimeoutMs} ms`,
      {
        details: { stallTimeoutMs, queuedItems: buffer.length, queuedBytes: bufferedBytes },
      },
    );
    try {
      onStall?.(stats);
    } finally {
      failWith(error, true);
    }
  }

  function onAbort(): void {
    failWith(abortReason(signal as AbortSignal), true);
  }

  /** Hands one buffered item to the waiting consumer; closes when the source is drained. */
  const deliver = (): void => {
    const entry = buffer.shift();
    if (entry !== undefined) {
      bufferedBytes -= entry.bytes;
      monitor.recordDequeue(entry.bytes);
      controller.enqueue(entry.item);
    }
    if (sourceDone && buffer.length === 0) {
      stop();
      controller.close();
    }
  };

  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      while (!stopped && !sourceDone && hasRoom()) {
        const result = await reader.read();
        if (stopped) return;
        if (result.done) {
          sourceDone = true;
        } else {
          let bytes: number;
          try {
            bytes = size(result.value);
          } catch (error) {
            // Our failure, not the source's: the source is still running and must be
            // cancelled (the catch below leaves it alone, as a source that threw is done).
            failWith(error, true);
            return;
          }
          buffer.push({ item: result.value, bytes });
          bufferedBytes += bytes;
          monitor.recordEnqueue(bytes);
        }
        if (waitingPull !== undefined) {
          const resolve = waitingPull;
          waitingPull = undefined;
          deliver();
          resolve();
        }
        if (buffer.length > 0 && waitingPull === undefined) armStallTimer();
      }
    } catch (error) {
      failWith(error, false);
    } finally {
      pumping = false;
    }
  };

  return new ReadableStream<T>(
    {
      start(c) {
        controller = c;
        if (signal !== undefined) {
          if (signal.aborted) {
            failWith(abortReason(signal), true);
            return;
          }
          signal.addEventListener('abort', onAbort, { once: true });
        }
        void pump();
      },

      pull() {
        if (stopped) return;
        // The consumer is reading: whatever waits is not stalled any more.
        clearStallTimer();
        if (buffer.length > 0 || sourceDone) {
          deliver();
          if (buffer.length > 0) armStallTimer();
          void pump();
          return;
        }
        const delivered = new Promise<void>((resolve) => {
          waitingPull = resolve;
        });
        void pump();
        return delivered;
      },

      async cancel(reason) {
        stop();
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

function limit(value: number | null | undefined, fallback: number, name: string): number {
  if (value === null) return Number.POSITIVE_INFINITY;
  const n = value ?? fallback;
  if (!(n >= 1)) throw new SluiceError('invalid_argument', `${name} must be at least 1 or null`);
  return n;
}
