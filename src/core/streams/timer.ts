/**
 * A one-shot timer that never keeps the process alive (unref'd where the runtime has it)
 * and is cancelled by calling the function it returns. Every stream utility here arms its
 * timers through this so teardown is one call and a forgotten timer cannot pin Node.
 */
export function startTimer(callback: () => void, ms: number): () => void {
  const handle: unknown = setTimeout(callback, ms);
  if (typeof handle === 'object' && handle !== null && 'unref' in handle) {
    const unref = handle.unref;
    if (typeof unref === 'function') unref.call(handle);
  }
  return () => clearTimeout(handle as ReturnType<typeof setTimeout>);
}
