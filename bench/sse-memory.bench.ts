/**
 * Memory per idle SSE subscriber: the sluice server (`GET /v1/channels/{channel}/events`,
 * memory broker) against the bare `node:http` loop of the fan-out bench (a kept response
 * per client, nothing else), better-sse and Hono's SSE helper (fanout/peer-targets.ts). No
 * issue sets a goal; the figure is here so that what one more idle subscriber costs (the
 * live-notifications case: many clients, few events) is measured, not guessed.
 *
 * Measured in the server process after full collections (`--expose-gc`), as the marginal
 * cost of 2,000 subscribers: memory at 200 is subtracted from memory at 2,200, so start-up
 * and first-connection costs (code loaded lazily, JIT) do not count.
 */
import os from 'node:os';
import { fmt, median, table, type BenchSection } from './harness.js';
import { Child, stopInOrder } from './fanout/child.js';
import type {
  ClientCommand,
  ClientReply,
  MemoryUsage,
  ServerCommand,
  ServerReply,
} from './fanout/protocol.js';
import { waitForCount } from './shared/wait-for-count.js';

export const SSE_MEMORY_DEFAULTS = Object.freeze({
  /** Subscribers open before the first reading. */
  base: 200,
  /** Subscribers added between the two readings. */
  subscribers: 2000,
  /** Fresh processes per server (median). */
  runs: 3,
});

type Kind = 'sluice' | 'raw' | 'better-sse' | 'hono';
const KINDS: readonly Kind[] = ['sluice', 'raw', 'better-sse', 'hono'];
const LABEL: Record<Kind, string> = {
  sluice: 'sluice server',
  raw: 'bare `node:http` loop',
  'better-sse': 'better-sse (`createSession` + channel)',
  hono: "Hono's `streamSSE` on `@hono/node-server`",
};

async function once(kind: Kind): Promise<MemoryUsage> {
  const d = SSE_MEMORY_DEFAULTS;
  // Run as `tsc` emits the TypeScript (not tsx's output), as in the fan-out bench.
  const execArgv = ['--import', './bench/fanout/tsc-register.mjs', '--expose-gc'];
  const server = new Child<ServerCommand, ServerReply>('./server-process.ts', [kind], execArgv);
  const client = new Child<ClientCommand, ClientReply>('./client-process.ts');
  try {
    const { url } = await server.ask(null, 'listening');
    /** Opens `clients` more subscribers, waits until `total` are registered, reads. */
    const reading = async (clients: number, total: number): Promise<MemoryUsage> => {
      await client.ask({ type: 'connect', url, clients }, 'connected');
      await waitForCount(
        async () => (await server.ask({ type: 'subscribers' }, 'subscribers')).count,
        total,
        { maxPolls: 200, error: (count) => `${kind}: ${count} of ${total} subscribers registered` },
      );
      // Let connection leftovers (timers, buffers) settle before the collections.
      await new Promise((resolve) => setTimeout(resolve, 500));
      return (await server.ask({ type: 'memory' }, 'memory')).usage;
    };
    const before = await reading(d.base, d.base);
    const after = await reading(d.subscribers, d.base + d.subscribers);
    return {
      rss: (after.rss - before.rss) / d.subscribers,
      heapUsed: (after.heapUsed - before.heapUsed) / d.subscribers,
      arrayBuffers: (after.arrayBuffers - before.arrayBuffers) / d.subscribers,
    };
  } finally {
    await stopInOrder([client, server]);
  }
}

const kib = (bytes: number) => fmt(bytes / 1024, 1);

export default async function sseMemoryBench(): Promise<BenchSection> {
  const d = SSE_MEMORY_DEFAULTS;
  const loadBefore = os.loadavg()[0] ?? Number.NaN;
  const results: Record<Kind, MemoryUsage[]> = { sluice: [], raw: [], 'better-sse': [], hono: [] };
  for (let run = 0; run < d.runs; run++) {
    // The servers take turns going first.
    const shift = run % KINDS.length;
    for (const kind of [...KINDS.slice(shift), ...KINDS.slice(0, shift)]) {
      results[kind].push(await once(kind));
    }
  }
  const loadAfter = os.loadavg()[0] ?? Number.NaN;
  const med = (kind: Kind): MemoryUsage => ({
    rss: median(results[kind].map((r) => r.rss)),
    heapUsed: median(results[kind].map((r) => r.heapUsed)),
    arrayBuffers: median(results[kind].map((r) => r.arrayBuffers)),
  });
  const raw = med('raw');
  const sluice = med('sluice');
  const versus = (kind: Kind) => {
    const m = med(kind);
    return `${fmt(sluice.heapUsed / m.heapUsed)}× the heap and ${fmt(sluice.rss / m.rss)}× the RSS of ${LABEL[kind]}`;
  };
  const rows = KINDS.map((kind) => {
    const m = med(kind);
    return [
      LABEL[kind],
      kib(m.rss),
      kib(m.heapUsed),
      kib(m.arrayBuffers),
      kind === 'raw'
        ? '1.00× / 1.00×'
        : `${fmt(m.rss / raw.rss)}× / ${fmt(m.heapUsed / raw.heapUsed)}×`,
    ];
  });
  const body = [
    'No goal is set for this figure; it is measured so that the cost of an idle subscriber is known.',
    '',
    table(
      [
        'server',
        'RSS/subscriber (KiB)',
        'heap/subscriber (KiB)',
        'array buffers/subscriber (KiB)',
        'vs bare loop (RSS / heap)',
      ],
      rows,
    ),
    '',
    `- sluice takes ${versus('better-sse')}, and ${versus('hono')}.`,
    `- Against the bare loop, which keeps nothing but the response: ${fmt(sluice.heapUsed / raw.heapUsed)}× its heap and ${fmt(sluice.rss / raw.rss)}× its RSS.`,
    '',
    '**Method.** Each server in a fresh process started with `--expose-gc`, running the ' +
      'TypeScript as `tsc` emits it: the sluice server on the memory broker as the SSE fan-out ' +
      'bench runs it (defaults, with keepalive comments off: one timer less per stream), or ' +
      "that bench's bare loop (`res.writeHead()`, `: ok`, the response kept in a set), " +
      'better-sse 0.16 (`createSession(req, res, { keepAlive: null })` on `node:http`, each ' +
      "session registered with one `createChannel()`), or Hono 4's `streamSSE()` on " +
      '`@hono/node-server` 2 (each stream kept open until the client leaves). ' +
      'Clients, in a separate process, are bare TCP sockets that send ' +
      '`GET /v1/channels/bench/events` and stay idle (nothing is published). ' +
      `With ${d.base} subscribers registered, the server's \`process.memoryUsage()\` ` +
      `is read after three full collections; then ${d.subscribers.toLocaleString('en-US')} ` +
      'more subscribe, and the reading is repeated. Per subscriber is the difference divided ' +
      `by ${d.subscribers.toLocaleString('en-US')}, so start-up costs do not count. Medians of ` +
      `${d.runs} runs, each in fresh processes, the servers taking turns going first.`,
    '',
    `1-minute load average: ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end.`,
  ].join('\n');
  return { id: 'sse-memory', title: 'SSE memory per idle subscriber', body };
}
