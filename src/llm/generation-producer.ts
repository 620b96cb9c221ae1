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
  /** Publishes the pending delta; undefined when there was none. */
  flush(): Promise<unknown> | undefined;
}

type Next = IteratorResult<ModelEvent> | 'flush' | 'stop';

/**
 * A pollable model (the upstream reader): events already received are taken without a
 * promise each; the loop sleeps only when none is ready, until the model has more, the
 * generation is stopped, or a coalesced delta is due.
 */
export async function pollLoop(
  source: PollableIterator<ModelEvent>,
  step: ProducerStep,
): Promise<void> {
  const { signal } = step;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  signal.addEventListener('abort', notify, { once: true });
  source.onReadable(notify);
  try {
    for (;;) {
      // Checked first: a cancel wins over a token that is ready.
      if (signal.aborted) return;
      const result = source.poll();
      if (result === undefined) {
        const wait = step.flushDelay();
        if (wait === 0) {
          await step.flush();
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (wait === undefined) return;
          timer = setTimeout(notify, wait);
          timer.unref?.();
        });
        clearTimeout(timer);
        continue;
      }
      if ('error' in result) throw result.error;
      if (result.done) return;
      const stop = step.take(result.value);
      if (stop === true || (stop !== false && (await stop))) return;
    }
  } finally {
    clearTimeout(timer);
    source.onReadable(undefined);
    signal.removeEventListener('abort', notify);
  }
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
