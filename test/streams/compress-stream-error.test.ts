import type * as Zlib from 'node:zlib';
import { expect, it, vi } from 'vitest';
import { compressStream } from '../../src/core/streams/compress-stream.js';

const created = vi.hoisted(() => [] as { destroyed: boolean }[]);

vi.mock('node:zlib', async (importOriginal) => {
  const actual = await importOriginal<typeof Zlib>();
  return {
    ...actual,
    createGzip: (options?: Zlib.ZlibOptions) => {
      const z = actual.createGzip(options);
      created.push(z);
      return z;
    },
  };
});

it('a chunk zlib refuses errors the stream and releases the zlib context', async () => {
  const stream = compressStream('gzip');
  const writer = stream.writable.getWriter();
  const reading = stream.readable
    .getReader()
    .read()
    .catch((error: unknown) => error);
  await expect(writer.write(42 as unknown as Uint8Array)).rejects.toThrow();
  expect(await reading).toBeInstanceOf(Error);
  expect(created).toHaveLength(1);
  expect(created[0]!.destroyed).toBe(true);
});
