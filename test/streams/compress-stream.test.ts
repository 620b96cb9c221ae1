import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  compressStream,
  type CompressionEncoding,
} from '../../src/core/streams/compress-stream.js';

const encoder = new TextEncoder();
const encodings: CompressionEncoding[] = ['gzip', 'deflate', 'br'];

function decompressor(
  encoding: CompressionEncoding,
): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress {
  if (encoding === 'gzip') return zlib.createGunzip();
  if (encoding === 'deflate') return zlib.createInflate();
  return zlib.createBrotliDecompress();
}

function decompressSync(encoding: CompressionEncoding, bytes: Buffer): string {
  if (encoding === 'gzip') return zlib.gunzipSync(bytes).toString();
  if (encoding === 'deflate') return zlib.inflateSync(bytes).toString();
  return zlib.brotliDecompressSync(bytes).toString();
}

/** An incremental decompressor whose output so far can be awaited to contain a text. */
function incremental(encoding: CompressionEncoding) {
  const z = decompressor(encoding);
  let text = '';
  const waiters: (() => void)[] = [];
  z.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of waiters.splice(0)) w();
  });
  return {
    feed: (bytes: Uint8Array) => z.write(bytes),
    /** Fails after a generous bound rather than hanging when the bytes never decompress. */
    async until(expected: string): Promise<string> {
      const deadline = Date.now() + 5_000;
      while (!text.includes(expected)) {
        if (Date.now() > deadline)
          throw new Error(`not decompressible yet: ${JSON.stringify(text)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return text;
    },
    close: () => z.destroy(),
  };
}

describe.each(encodings)('compressStream(%s)', (encoding) => {
  it('makes each event decompressible as soon as it is written', async () => {
    const stream = compressStream(encoding);
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    const client = incremental(encoding);
    const chunks: Uint8Array[] = [];
    for (const n of [1, 2, 3]) {
      const event = `id: ${n}\ndata: {"token":"hello ${n}"}\n\n`;
      const written = writer.write(encoder.encode(event));
      const { value, done } = await reader.read();
      await written;
      expect(done).toBe(false);
      chunks.push(value as Uint8Array);
      client.feed(value as Uint8Array);
      // The stream is still open: this only passes if the chunk was flushed.
      expect(await client.until(event)).toContain(event);
    }
    client.close();
    const closing = writer.close();
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    await closing;
    const all = decompressSync(encoding, Buffer.concat(chunks));
    expect(all).toBe([1, 2, 3].map((n) => `id: ${n}\ndata: {"token":"hello ${n}"}\n\n`).join(''));
  });

  it('keeps its window across chunks, so repetitive events shrink', async () => {
    const stream = compressStream(encoding);
    const event = 'event: price\ndata: {"symbol":"ACME","price":101.25,"currency":"USD"}\n\n';
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 100; i += 1) controller.enqueue(encoder.encode(event));
        controller.close();
      },
    });
    const chunks: Uint8Array[] = [];
    await source.pipeThrough(stream).pipeTo(
      new WritableStream({
        write: (chunk) => {
          chunks.push(chunk);
        },
      }),
    );
    const compressed = Buffer.concat(chunks);
    expect(compressed.byteLength).toBeLessThan((event.length * 100) / 4);
    expect(decompressSync(encoding, compressed)).toBe(event.repeat(100));
  });

  it('passes backpressure upstream: writes wait while nobody reads', async () => {
    const stream = compressStream(encoding);
    const writer = stream.writable.getWriter();
    const settled: number[] = [];
    const writes = [0, 1, 2, 3, 4].map((i) =>
      writer.write(encoder.encode(`data: ${i}\n\n`)).then(() => settled.push(i)),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled.length).toBeLessThanOrEqual(1);
    expect(writer.desiredSize).toBeLessThanOrEqual(0);
    await stream.readable.cancel();
    await Promise.allSettled(writes);
  });

  it('cancel releases the compressor and fails later writes', async () => {
    const stream = compressStream(encoding);
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    const written = writer.write(encoder.encode('data: x\n\n'));
    await reader.read();
    await written;
    await reader.cancel('client gone');
    await expect(writer.write(encoder.encode('data: y\n\n'))).rejects.toBeDefined();
  });
});

describe('compressStream options', () => {
  it('refuses an unknown encoding', () => {
    expect(() => compressStream('zstd' as CompressionEncoding)).toThrow(/Unknown encoding/);
  });

  it('level 0 stores instead of compressing (options reach zlib)', async () => {
    const stream = compressStream('gzip', { level: 0 });
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    const text = 'a'.repeat(1000);
    const written = writer.write(encoder.encode(text));
    const { value } = await reader.read();
    await written;
    expect((value as Uint8Array).byteLength).toBeGreaterThan(1000);
    await reader.cancel();
  });
});
