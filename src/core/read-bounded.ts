/**
 * All of a byte stream, but never more than `limit` bytes in memory: once the bytes
 * received pass the limit, the stream is cancelled (the sender stops being read) and the
 * caller's error is thrown. A declared length can lie or be absent; this bound cannot.
 */
export async function readAllBounded(
  body: ReadableStream<Uint8Array>,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    parts.push(value);
  }
  if (parts.length === 1) return parts[0]!;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

/**
 * A request's own way to hand over its body, bounded like `readAllBounded`: undefined when
 * it cannot (the body is already a Web stream, or used). The Node adapter's request view
 * (server/node-request.ts) offers one that reads the Node stream without a Web stream.
 */
export type BoundedBodyReader = (
  limit: number,
  tooLarge: () => Error,
) => Promise<Uint8Array> | undefined;

export const READ_BOUNDED = Symbol.for('sluice.readBounded');

/**
 * A request body, at most `limit` bytes: straight from the runtime when the request offers
 * that (see `BoundedBodyReader`), else from `request.body`. An empty body gives no bytes.
 */
export function readBodyBounded(
  request: Request,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const own = (request as Request & { [READ_BOUNDED]?: BoundedBodyReader })[READ_BOUNDED];
  const direct = own?.(limit, tooLarge);
  if (direct) return direct;
  return request.body
    ? readAllBounded(request.body, limit, tooLarge)
    : Promise.resolve(new Uint8Array(0));
}
