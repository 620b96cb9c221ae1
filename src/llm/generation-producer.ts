/**
 * The producer loops of a generation: pull model events and hand each to the generation
 * (`take`), publish coalesced deltas when due (`flush`), and stop as soon as the
 * generation's signal aborts (a cancel wins over a token that is ready).
 */
import type { PollableIterator } from '../core/pollable.js';
import type { ModelEvent } from './model.js';

/** What a loop needs from its generation. */
export interface ProducerStep {
  signal: AbortSignal;
  /** Takes one event; true (or a promise of it) when the generation must stop (its cap). */
  take(event: ModelEvent): boolean | Promise<boolean>;
  /** ms until the pending delta may be published; undefined when nothing is pending. */
  flushDelay(): number | undefined;
  /** Publishes the pending delta: a promise only when the broker publishes asynchronously. */
  flush(): unknown;
}

type Next = IteratorResult<ModelEvent> | 'flush' | 'stop';

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as Promise<unknown> | undefined)?.then === 'function';
}

/**
 * A pollable model (the upstream reader): driven by callbacks, not an async loop. When the
 * model has bytes (its `onReadable`), every event already received is taken at once; with
 * a broker that publishes synchronously, a token then goes from the upstream socket to the
 * readers' sockets in one call, with no promise and no microtask in between. The loop
 * waits (returns) when the model has nothing ready, and resumes on the model's call, on
 * the stop signal, on a coalesced delta falling due (a timer), or when a `take`/`flush`
 * that had to publish asynchronously settles.
 */
export function pollLoop(source: PollableIterator<ModelEvent>, step: ProducerStep): Promise<void> {
  const { signal } = step;
  return new Promise<void>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    /** Inside `run`, or waiting on an async publish: a wake-up now has nothing to add. */
    let busy = false;
    let finished = false;
    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      source.onReadable(undefined);
      signal.removeEventListener('abort', wake);
      if (error === undefined) resolve();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the failure as thrown, as an `await` would pass it on
      else reject(error);
    };
    const resumeAfter = (pending: Promise<unknown>, stopWhenTrue: boolean): void => {
      pending.then((value) => {
        busy = false;
        if (stopWhenTrue && value === true) finish();
        else wake();
      }, finish);
    };
    const run = (): void => {
      for (;;) {
        // Checked first: a cancel wins over a token that is ready.
        if (signal.aborted) return finish();
        const result = source.poll();
        if (result === undefined) {
          const wait = step.flushDelay();
          if (wait === 0) {
            const flushed = step.flush();
            if (isPromise(flushed)) return resumeAfter(flushed, false);
            continue;
          }
          if (wait !== undefined) {
            clearTimeout(timer);
            timer = setTimeout(wake, wait);
            timer.unref?.();
          }
          busy = false;
          return;
        }
        if ('error' in result) return finish(result.error);
        if (result.done) return finish();
        const stop = step.take(result.value);
        if (stop === true) return finish();
        if (stop !== false) return resumeAfter(stop, true);
      }
    };
    /** Every wake-up source calls this; re-entrant calls (from inside `run`) do nothing. */
    function wake(): void {
      if (busy || finished) return;
      busy = true;
      try {
        run();
      } catch (error) {
        finish(error);
      }
    }
    signal.addEventListener('abort', wake, { once: true });
    source.onReadable(wake);
    wake();
  });
}

/** Any other model: `next()` raced against the stop signal and the coalescing timer. */
export async function raceLoop(
  iterator: AsyncIterator<ModelEvent>,
  step: ProducerStep,
): Promise<void> {
  const { signal } = step;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<'stop'>((resolve) => {
    if (signal.aborted) resolve('stop');
    else signal.addEventListener('abort', (onAbort = () => resolve('stop')), { once: true });
  });
  let pending: Promise<IteratorResult<ModelEvent>> | undefined;
  try {
    for (;;) {
      pending ??= iterator.next();
      const wait = step.flushDelay();
      const timer = wait === undefined ? undefined : delay(wait);
      // `stopped` first: when both are settled, a cancel wins over a ready token.
      const races: Promise<Next>[] = [stopped, pending];
      if (timer) races.push(timer.promise.then(() => 'flush' as const));
      const next = await Promise.race(races);
      timer?.cancel();
      if (next === 'stop') return;
      if (next === 'flush') {
        await step.flush();
        continue;
      }
      pending = undefined;
      if (next.done) return;
      const stop = step.take(next.value);
      if (stop === true || (stop !== false && (await stop))) return;
    }
  } finally {
    pending?.catch(() => undefined);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** A cancellable unref'd delay: a coalescing wait cut short by a token leaves no timer behind. */
function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref?.();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
