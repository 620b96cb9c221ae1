/**
 * `npm run bench -- broker-history`: what retained history costs the garbage collector.
 * The memory broker keeps each channel's history as bytes (src/broker/byte-log.ts); the
 * baseline keeps every message as a JS object holding its data, as an in-process history
 * does without that design. Each measurement runs in a fresh process (history-process.ts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fmt, median, table, type BenchSection } from './harness.js';

const run = promisify(execFile);
const RUNS = 3;
const SIZES = [
  { channels: 2_000, messages: 100 },
  { channels: 10_000, messages: 100 },
];
const SHAPES = {
  tokens: 'LLM delta payloads (strings of ~100 bytes)',
  objects: 'chat messages (JSON objects of 3 fields)',
} as const;
const STORES = {
  sluice: 'sluice memory broker',
  values: 'messages kept as JS objects (baseline)',
} as const;

interface Sample {
  publishMicros: number;
  gcMs: number[];
  heapMB: number;
  offHeapMB: number;
  retained: number;
}

async function sample(store: string, shape: string, channels: number, messages: number) {
  const { stdout } = await run(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      './bench/fanout/tsc-register.mjs',
      'bench/broker/history-process.ts',
      store,
      shape,
      String(channels),
      String(messages),
    ],
    { maxBuffer: 1 << 20 },
  );
  const result = JSON.parse(stdout) as Sample;
  if (result.retained !== channels * messages)
    throw new Error(`${store}: ${result.retained} retained, expected ${channels * messages}`);
  return result;
}

export default async function brokerHistoryBench(): Promise<BenchSection> {
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  for (const { channels, messages } of SIZES) {
    for (const [shape, shapeLabel] of Object.entries(SHAPES)) {
      const byStore: Record<
        string,
        { gc: number; heap: number; offHeap: number; publish: number }
      > = {};
      for (const store of Object.keys(STORES)) {
        const samples: Sample[] = [];
        for (let i = 0; i < RUNS; i++) samples.push(await sample(store, shape, channels, messages));
        byStore[store] = {
          gc: median(samples.map((s) => median(s.gcMs))),
          heap: median(samples.map((s) => s.heapMB)),
          offHeap: median(samples.map((s) => s.offHeapMB)),
          publish: median(samples.map((s) => s.publishMicros)),
        };
      }
      const base = byStore.values!;
      for (const [store, label] of Object.entries(STORES)) {
        const r = byStore[store]!;
        rows.push([
          label,
          `${(channels * messages).toLocaleString('en-US')} ${shape} (${channels.toLocaleString('en-US')} × ${messages})`,
          fmt(r.gc, 1),
          store === 'values' ? '1.00×' : `**${(r.gc / base.gc).toFixed(2)}×**`,
          fmt(r.heap, 1),
          fmt(r.offHeap, 1),
          fmt(r.publish),
        ]);
      }
      notes.push(
        `- ${(channels * messages).toLocaleString('en-US')} ${shapeLabel}: a full collection ` +
          `takes ${fmt(byStore.sluice!.gc, 1)} ms with sluice's history against ` +
          `${fmt(base.gc, 1)} ms with the messages as objects.`,
      );
    }
  }
  return {
    id: 'broker-history',
    title: 'Memory broker: what retained history costs the garbage collector',
    body: [
      table(
        [
          'history',
          'retained messages',
          'full GC (ms, median)',
          'vs baseline',
          'JS heap (MiB)',
          'off-heap (MiB)',
          'publish (µs/message, CPU)',
        ],
        rows,
      ),
      '',
      ...notes,
      '',
      '**Method.** Each row is a fresh Node process (`--expose-gc`) that publishes the ' +
        'messages round-robin over the channels (every channel keeps all of them: the ' +
        'history limit is the message count), collects twice, then times 7 more full ' +
        `collections (\`gc()\`, median); medians of ${RUNS} processes. Heap is ` +
        '`heapUsed` after those collections; off-heap is `arrayBuffers`. The baseline keeps ' +
        'each message as `{ id, data, time }` in an array per channel, the data as published ' +
        '(the string, or the object). sluice keeps ids and times as numbers in columns and ' +
        'the data as UTF-8 bytes, a string as its text and any other value as its JSON text, ' +
        'in one buffer per channel: the collector has a handful of objects per channel to ' +
        'visit instead of one or more per message. The price is paid at publish (encoding ' +
        'the text, and `JSON.stringify` for objects: the publish column, which for sluice ' +
        'also covers ids, fan-out and the channel registry) and at replay (decoding). A ' +
        'full collection stops the event loop: every stream the process serves waits for it.',
    ].join('\n'),
  };
}
