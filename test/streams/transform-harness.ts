/**
 * Drives a TransformStream from a test: a reader that keeps pulling, and a writer.
 * `finished` resolves at the end of the readable side, with its error if it failed.
 */
export function drive<I, O>(stream: TransformStream<I, O>) {
  const out: O[] = [];
  const reader = stream.readable.getReader();
  const writer = stream.writable.getWriter();
  const finished = (async (): Promise<unknown> => {
    for (;;) {
      const result = await reader.read();
      if (result.done) return undefined;
      out.push(result.value);
    }
  })().catch((error: unknown) => error);
  return { out, reader, writer, finished };
}
