/**
 * Memory per idle WebSocket connection: the sluice hub against a bare `ws` server and
 * socket.io, each connection subscribed to one channel (in one room), nothing published.
 * Goal: sluice at most 1.3× a bare `ws` server and under half of socket.io.
 *
 * Measured in the server process after full collections (`--expose-gc`), as the marginal
 * cost of 2,000 connections: memory at 200 connections is subtracted from memory at 2,200,
 * so start-up and first-connection costs (code loaded lazily, JIT) do not count.
 */
import os from 'node:os';
import { fmt, median, table, type BenchSection } from './harness.js';
import { Child, stopInOrder } from './fanout/child.js';
import { DIALECT, type MemorySample, type WsServerKind } from './ws/protocol.js';
import { COMPILED_NOTE, startServer, waitForReceivers, type WsClientProcess } from './ws/pair.js';

export const WS_MEMORY_DEFAULTS = Object.freeze({
  /** Connections open before the first reading. */
  base: 200,
  /** Connections added between the two readings. */
  connections: 2000,
  /** Fresh processes per server (median). */
  runs: 3,
  kinds: Object.freeze<WsServerKind[]>(['sluice', 'ws-loop', 'socketio']),
  /** Goal: sluice at most this multiple of the bare `ws` server... */
  vsWs: 1.3,
  /** ...and under this multiple of socket.io. */
  vsSocketIo: 0.5,
});

const LABEL: Partial<Record<WsServerKind, string>> = {
  sluice: 'sluice hub',
  'ws-loop': 'bare `ws` server',
  socketio: 'socket.io',
};

interface PerConnection {
  rss: number;
  heap: number;
  arrayBuffers: number;
}

async function once(kind: WsServerKind): Promise<PerConnection> {
  const d = WS_MEMORY_DEFAULTS;
  // Defaults as in production (sluice's heartbeat on, socket.io's pings on).
  const server = startServer(kind, { heartbeat: true });
  const client: WsClientProcess = new Child('../ws/client-process.ts');
  try {
    const { url } = await server.ask(null, 'listening');
    /** Opens `clients` more connections, waits until `total` are registered, reads. */
    const reading = async (clients: number, total: number): Promise<MemorySample> => {
      await client.ask({ type: 'connect', url, dialect: DIALECT[kind], clients }, 'connected');
      await waitForReceivers(server, total, kind);
      // Let handshake leftovers (timers, buffers) settle before the collections.
      await new Promise((resolve) => setTimeout(resolve, 500));
      return (await server.ask({ type: 'memory' }, 'memory')).sample;
    };
    const before = await reading(d.base, d.base);
    const after = await reading(d.connections, d.base + d.connections);
    return {
      rss: (after.rss - before.rss) / d.connections,
      heap: (after.heapUsed - before.heapUsed) / d.connections,
      arrayBuffers: (after.arrayBuffers - before.arrayBuffers) / d.connections,
    };
  } finally {
    await stopInOrder([client, server]);
  }
}

export async function runMemory(
  runs = WS_MEMORY_DEFAULTS.runs,
): Promise<Partial<Record<WsServerKind, PerConnection[]>>> {
  const kinds = WS_MEMORY_DEFAULTS.kinds;
  const results: Partial<Record<WsServerKind, PerConnection[]>> = {};
  for (let run = 0; run < runs; run++) {
    const shift = run % kinds.length;
    for (const kind of [...kinds.slice(shift), ...kinds.slice(0, shift)]) {
      (results[kind] ??= []).push(await once(kind));
    }
  }
  return results;
}

const kib = (bytes: number) => fmt(bytes / 1024, 1);

export function report(results: Partial<Record<WsServerKind, PerConnection[]>>, runs: number) {
  const d = WS_MEMORY_DEFAULTS;
  const med = (kind: WsServerKind): PerConnection => {
    const list = results[kind] ?? [];
    return {
      rss: median(list.map((r) => r.rss)),
      heap: median(list.map((r) => r.heap)),
      arrayBuffers: median(list.map((r) => r.arrayBuffers)),
    };
  };
  const ws = med('ws-loop');
  const io = med('socketio');
  const rows = d.kinds.map((kind) => {
    const m = med(kind);
    const bold = (text: string) => (kind === 'sluice' ? `**${text}**` : text);
    return [
      LABEL[kind] ?? kind,
      kib(m.rss),
      kib(m.heap),
      kib(m.arrayBuffers),
      bold(`${fmt(m.rss / ws.rss)}× / ${fmt(m.heap / ws.heap)}×`),
      bold(`${fmt(m.rss / io.rss)}× / ${fmt(m.heap / io.heap)}×`),
    ];
  });
  const sluice = med('sluice');
  const verdict = (met: boolean) => (met ? 'met' : '**not met**');
  const rssWs = sluice.rss / ws.rss;
  const heapWs = sluice.heap / ws.heap;
  const rssIo = sluice.rss / io.rss;
  const heapIo = sluice.heap / io.heap;
  return [
    `Goal: memory per idle connection at most ${d.vsWs}× a bare \`ws\` server and under ${d.vsSocketIo}× socket.io (RSS and heap).`,
    '',
    table(
      [
        'server',
        'RSS/connection (KiB)',
        'heap/connection (KiB)',
        'array buffers/connection (KiB)',
        'vs bare ws (RSS / heap)',
        'vs socket.io (RSS / heap)',
      ],
      rows,
    ),
    '',
    `- vs a bare \`ws\` server: ${fmt(rssWs)}× RSS, ${fmt(heapWs)}× heap (goal ≤ ${d.vsWs}×): ` +
      `RSS ${verdict(rssWs <= d.vsWs)}, heap ${verdict(heapWs <= d.vsWs)}.`,
    `- vs socket.io: ${fmt(rssIo)}× RSS, ${fmt(heapIo)}× heap (goal < ${d.vsSocketIo}×): ` +
      `RSS ${verdict(rssIo < d.vsSocketIo)}, heap ${verdict(heapIo < d.vsSocketIo)}.`,
    '',
    '**Method.** Each server in a fresh process started with `--expose-gc`, on a ' +
      '`node:http` server on 127.0.0.1, no compression, production defaults otherwise ' +
      "(sluice's 25 s heartbeat, socket.io's pings, which the clients answer). Clients, in a " +
      'separate process, are bare TCP sockets with a hand-written upgrade; every connection ' +
      'is a subscriber: to one sluice channel (`subscribe`), in one socket.io room, or simply ' +
      `open on the bare \`ws\` server. With ${d.base} connections open and registered, the ` +
      "server's `process.memoryUsage()` is read after three full collections; then " +
      `${d.connections.toLocaleString('en-US')} more connect, and the reading is repeated. ` +
      'Per connection is the difference divided by ' +
      `${d.connections.toLocaleString('en-US')}, so start-up costs do not count. Heap is ` +
      "`heapUsed`; array buffers (Buffers outside the heap, e.g. ws's receive buffers) are " +
      `shown apart; RSS includes both and native allocations. Medians of ${runs} runs, ` +
      `each in fresh processes, the servers taking turns. ${COMPILED_NOTE}`,
  ].join('\n');
}

export default async function (): Promise<BenchSection> {
  const runs = WS_MEMORY_DEFAULTS.runs;
  const before = os.loadavg()[0] ?? Number.NaN;
  const body = report(await runMemory(runs), runs);
  const after = os.loadavg()[0] ?? Number.NaN;
  return {
    id: 'ws-memory',
    title: 'WebSocket memory per idle connection',
    body: `${body}\n\n1-minute load average: ${before.toFixed(1)} at the start, ${after.toFixed(1)} at the end.`,
  };
}
