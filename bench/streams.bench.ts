/**
 * `npm run bench -- streams`: the stream utilities beside the plain Web Streams patterns
 * they replace.
 *
 * 1. Backpressure: a 10 000-item producer read by a consumer that takes 10 items and then
 *    stalls. The pattern from common tutorials fills a ReadableStream from a loop in
 *    `start()`; `fromAsyncIterable` pulls. Counted: items the producer made (= memory held).
 *    Also the time to read 100 000 items through each, for the cost of pulling.
 * 2. Compression of an LLM-style SSE stream (2 000 token events): Web `CompressionStream`
 *    against `compressStream` (one flush per event). Counted: compressed bytes, and how
 *    many events a client could decompress before the stream ended.
 *
 * Times are CPU time (user + system) of this process, medians of several runs.
 */
import { compressStream } from '../src/core/streams/compress-stream.js';
import { fromAsyncIterable } from '../src/core/streams/from-async-iterable.js';
import { fmt, median, table, type BenchSection } from './harness.js';

const RUNS = 7;
const encoder = new TextEncoder();

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function* counted(limit: number, counter: { made: number }): AsyncGenerator<number> {
  for (let i = 0; i < limit; i++) {
    counter.made += 1;
    yield i;
  }
}

/** The tutorial pattern: a start() loop that enqueues whatever the producer makes. */
function startLoop(source: AsyncIterable<number>): ReadableStream<number> {
  return new ReadableStream<number>({
    async start(controller) {
      for await (const item of source) controller.enqueue(item);
      controller.close();
    },
  });
}

type Make = (source: AsyncIterable<number>) => ReadableStream<number>;
const contenders: [string, Make][] = [
  ['ReadableStream filled in start()', startLoop],
  ['fromAsyncIterable (highWaterMark 1)', (s) => fromAsyncIterable(s)],
  ['fromAsyncIterable (highWaterMark 64)', (s) => fromAsyncIterable(s, { highWaterMark: 64 })],
];

async function stalledReader(make: Make): Promise<number> {
  const counter = { made: 0 };
  const reader = make(counted(10_000, counter)).getReader();
  for (let i = 0; i < 10; i++) await reader.read();
  await new Promise((resolve) => setTimeout(resolve, 50)); // the consumer stalls
  const made = counter.made;
  await reader.cancel();
  return made;
}

async function readAll(make: Make): Promise<number> {
  const counter = { made: 0 };
  const start = cpuMs();
  const reader = make(counted(100_000, counter)).getReader();
  while (!(await reader.read()).done);
  return cpuMs() - start;
}

function tokenEvents(n: number): Uint8Array[] {
  const words = ['the', ' stream', ' of', ' tokens', ' arrives', ' one', ' by', ' one', '.'];
  return Array.from({ length: n }, (_, i) =>
    encoder.encode(
      `id: gen-1:${i}\ndata: {"choices":[{"delta":{"content":"${words[i % words.length]}"}}]}\n\n`,
    ),
  );
}

async function compress(
  events: Uint8Array[],
  stream: TransformStream<Uint8Array, Uint8Array>,
): Promise<{ bytes: number; early: number; cpu: number }> {
  const start = cpuMs();
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  let bytes = 0;
  let chunksBeforeClose = 0;
  let closing = false;
  const reading = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      bytes += r.value.byteLength;
      if (!closing) chunksBeforeClose += 1;
    }
  })();
  for (const event of events) await writer.write(event);
  // Let anything already produced arrive before the stream is closed.
  await new Promise((resolve) => setTimeout(resolve, 10));
  closing = true;
  await writer.close();
  await reading;
  // compressStream emits one chunk per event; CompressionStream emits whole blocks.
  return { bytes, early: chunksBeforeClose, cpu: cpuMs() - start };
}

export default async function (): Promise<BenchSection> {
  const backpressureRows: (string | number)[][] = [];
  for (const [label, make] of contenders) {
    const made = await stalledReader(make);
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push(await readAll(make));
    backpressureRows.push([label, made, fmt(median(times))]);
  }

  const events = tokenEvents(2_000);
  const raw = events.reduce((sum, e) => sum + e.byteLength, 0);
  const makers: [string, () => TransformStream<Uint8Array, Uint8Array>][] = [
    [
      'Web CompressionStream gzip',
      () => new CompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>,
    ],
    ['compressStream gzip', () => compressStream('gzip')],
    ['compressStream deflate', () => compressStream('deflate')],
    ['compressStream br', () => compressStream('br')],
  ];
  const compressionRows: (string | number)[][] = [];
  for (const [label, make] of makers) {
    const results = [];
    for (let i = 0; i < RUNS; i++) results.push(await compress(events, make()));
    const last = results[results.length - 1]!;
    compressionRows.push([
      label,
      fmt(last.bytes, 0),
      fmt(raw / last.bytes),
      label.startsWith('Web') ? `${last.early} chunks` : `${last.early} of ${events.length}`,
      fmt(median(results.map((r) => r.cpu))),
    ]);
  }

  const body = `Backpressure: a 10 000-item async generator, a consumer that reads 10 items and stalls.

${table(['stream', 'items produced while stalled', 'CPU ms to read 100k items (median)'], backpressureRows)}

Compression: ${events.length} LLM token events as SSE (${fmt(raw, 0)} bytes raw), each written as one chunk.

${table(['compressor', 'bytes out', 'ratio', 'events decompressible before close', 'CPU ms (median)'], compressionRows)}

Goal: a stalled consumer holds at most the high-water mark (the start() loop buffers the whole
producer), and every compressed event is decompressible when written. Flushing per event costs
ratio and CPU against block compression; that is the price of live delivery, and the reason
compression should be offered, not forced, for token-sized events.`;
  return {
    id: 'streams',
    title: 'Stream utilities: pull-based streams and per-event compression',
    body,
  };
}
