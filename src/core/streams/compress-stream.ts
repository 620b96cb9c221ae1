/**
 * `compressStream`: gzip / deflate / brotli that flushes after every chunk, so each SSE
 * event (or NDJSON line) reaches the client decompressible at once.
 *
 * Web `CompressionStream` (and a plain zlib pipe) holds output back until it has a full
 * block: a compressed event stream then stalls for seconds and heartbeats never arrive.
 * Here every written chunk is followed by Z_SYNC_FLUSH (gzip, deflate) or
 * BROTLI_OPERATION_FLUSH (br), and the bytes that flush produced are emitted as one
 * chunk. The compressor keeps its window across chunks, so repetitive events still shrink.
 *
 * Node-only: node:zlib is loaded on first use (a dynamic import), so importing
 * `sluice/streams` stays harmless on other runtimes. Each stream holds one zlib context
 * (about 256 KiB for gzip/deflate with the defaults below), released at close, on cancel
 * and on abort.
 */
import type * as Zlib from 'node:zlib';
import { SluiceError } from '../errors.js';
import type { TransformerWithCancel } from './transformer-with-cancel.js';

export type CompressionEncoding = 'gzip' | 'deflate' | 'br';

export interface CompressStreamOptions {
  /** gzip/deflate level 0-9, or brotli quality 0-11. */
  level?: number;
  /** gzip/deflate: log2 of the window (9-15); brotli: BROTLI_PARAM_LGWIN (10-24). */
  windowBits?: number;
  /** gzip/deflate only: memory for the compression state (1-9). */
  memLevel?: number;
}

export const COMPRESS_STREAM_DEFAULTS = Object.freeze({
  /** zlib's own default: a good ratio at a cost small next to the network write. */
  gzipLevel: 6,
  /** Brotli's default 11 is meant for static files; 4-5 is the usual choice for live data. */
  brotliQuality: 4,
  windowBits: 15,
  /** 256 KiB window instead of brotli's default 4 MiB: this runs once per connection. */
  brotliWindowBits: 18,
  memLevel: 8,
});

export function compressStream(
  encoding: CompressionEncoding,
  options: CompressStreamOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  if (encoding !== 'gzip' && encoding !== 'deflate' && encoding !== 'br') {
    throw new SluiceError(
      'invalid_argument',
      `Unknown encoding ${String(encoding)}; use gzip, deflate or br`,
    );
  }
  let z: Zlib.Gzip | Zlib.Deflate | Zlib.BrotliCompress | undefined;
  let flushKind = 0;
  let output: Buffer[] = [];
  let failure: Error | undefined;

  /** Everything zlib produced since the last call, as one chunk. */
  const takeOutput = (): Uint8Array | undefined => {
    if (output.length === 0) return undefined;
    const bytes = output.length === 1 ? (output[0] as Buffer) : Buffer.concat(output);
    output = [];
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };

  const transformer: TransformerWithCancel<Uint8Array, Uint8Array> = {
    async start() {
      const zlib = await import('node:zlib');
      const { constants } = zlib;
      if (encoding === 'br') {
        z = zlib.createBrotliCompress({
          params: {
            [constants.BROTLI_PARAM_QUALITY]:
              options.level ?? COMPRESS_STREAM_DEFAULTS.brotliQuality,
            [constants.BROTLI_PARAM_LGWIN]:
              options.windowBits ?? COMPRESS_STREAM_DEFAULTS.brotliWindowBits,
          },
        });
        flushKind = constants.BROTLI_OPERATION_FLUSH;
      } else {
        const zlibOptions: Zlib.ZlibOptions = {
          level: options.level ?? COMPRESS_STREAM_DEFAULTS.gzipLevel,
          windowBits: options.windowBits ?? COMPRESS_STREAM_DEFAULTS.windowBits,
          memLevel: options.memLevel ?? COMPRESS_STREAM_DEFAULTS.memLevel,
        };
        z = encoding === 'gzip' ? zlib.createGzip(zlibOptions) : zlib.createDeflate(zlibOptions);
        flushKind = constants.Z_SYNC_FLUSH;
      }
      z.on('data', (chunk: Buffer) => output.push(chunk));
      z.on('error', (error) => {
        failure ??= error;
      });
    },

    async transform(chunk, controller) {
      const stream = z as NonNullable<typeof z>;
      // One write plus one flush per chunk; awaiting the flush callback is the
      // backpressure: the next chunk is not taken before this one is compressed.
      try {
        await new Promise<void>((resolve, reject) => {
          stream.write(chunk, (error) => {
            if (error) reject(error);
          });
          stream.flush(flushKind, () => (failure === undefined ? resolve() : reject(failure)));
        });
      } catch (error) {
        // The stream errors with this, and an errored stream gets no cancel(): release the
        // zlib context here or it lives on until the garbage collector finds it.
        stream.destroy();
        output = [];
        throw error;
      }
      const bytes = takeOutput();
      if (bytes !== undefined) controller.enqueue(bytes);
    },

    async flush(controller) {
      const stream = z as NonNullable<typeof z>;
      await new Promise<void>((resolve, reject) => {
        stream.once('end', resolve);
        stream.once('error', reject);
        stream.end();
      });
      const bytes = takeOutput();
      if (bytes !== undefined) controller.enqueue(bytes);
    },

    cancel() {
      z?.destroy();
      output = [];
    },
  };
  return new TransformStream<Uint8Array, Uint8Array>(transformer);
}
