/**
 * TypeScript's DOM lib does not yet type `Transformer.cancel` (called when the readable
 * side is cancelled or the writable side aborted; Node 20 and current browsers run it).
 * Transforms that own a timer use it to clear the timer at once; where a runtime does not
 * call it, they also check the controller before enqueueing, and their timers are unref'd.
 */
export type TransformerWithCancel<I, O> = Transformer<I, O> & {
  cancel?: (reason: unknown) => void | Promise<void>;
};

/**
 * Enqueues from a timer callback. enqueue() throws only when the readable side is gone
 * (cancelled, errored, closed); the chunk then has no reader, and throwing from a timer
 * would crash the process, so it returns false instead.
 */
export function tryEnqueue<O>(controller: TransformStreamDefaultController<O>, chunk: O): boolean {
  try {
    controller.enqueue(chunk);
    return true;
  } catch {
    return false;
  }
}
