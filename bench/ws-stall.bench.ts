/**
 * One stalled WebSocket client among active ones: a subscriber that completes the handshake,
 * subscribes, then never reads again, while the publisher sends ~1 KiB messages at a high
 * rate. Goal: the sluice server's memory stays within the configured outbound budget
 * (`maxBufferedBytes`) plus a small constant, where a naive `ws` `send()` loop grows
 * without bound. sluice runs twice: with the default `disconnect` policy (the stalled
 * connection is closed with 4008 after `slowConsumerTimeout`) and with a `drop-oldest`
 * channel policy (it stays connected; its backlog is capped and the rest dropped).
 *
 * Memory is sampled inside the server process every second after full collections, so the
 * figures are what is retained, not garbage waiting for the collector.
 */
import os from 'node:os';
import { fmt, table, type BenchSection } from './harness.js';
import { WEBSOCKET_HUB_DEFAULTS } from '../src/ws/hub-options.js';
import type { MemorySample, WsServerKind, WsServerOptions } from './ws/protocol.js';
import { COMPILED_NOTE, startPair, stopPair } from './ws/pair.js';

export const WS_STALL_DEFAULTS = Object.freeze({
  /** Reading subscribers next to the stalled one. */
  active: 4,
  /** Messages per second and seconds per implementation. */
  rate: 5_000,
  seconds: 30,
  /** Payload padding: frames of about 1.1 KiB. */
  padBytes: 1000,
  interval: 1000,
  /**
   * The small constant the goal allows on top of the outbound budget: retained allocator
   * and broker state (history of 1,000 messages, encoded-frame cache) that is bounded too.
   */
  allowance: 4 * 2 ** 20,
});

interface Variant {
  id: string;
  label: string;
  kind: WsServerKind;
  options: WsServerOptions;
}

const VARIANTS: readonly Variant[] = [
  { id: 'disconnect', label: 'sluice, `disconnect` (default)', kind: 'sluice', options: {} },
  {
    id: 'drop-oldest',
    label: 'sluice, `drop-oldest` channel',
    kind: 'sluice',
    options: { policy: 'drop-oldest' },
  },
  { id: 'naive', label: 'naive `ws` send() loop', kind: 'ws-loop', options: {} },
];

interface StallResult {
  variant: Variant;
  samples: MemorySample[];
  delivered: number;
  expected: number;
  p99: number;
  activeClosed: number;
}

async function runVariant(variant: Variant): Promise<StallResult> {
  const d = WS_STALL_DEFAULTS;
  const pair = await startPair(variant.kind, {
    clients: d.active,
    stalled: 1,
    server: { ...variant.options, padBytes: d.padBytes },
  });
  try {
    const count = d.rate * d.seconds;
    const expected = d.active * count;
    // The client gives up (and reports what arrived) well before the parent does.
    const timeout = d.seconds * 1000 + 30_000;
    await pair.client.ask({ type: 'arm', expected, timeout: timeout - 15_000 }, 'armed');
    const [stalled, done] = await Promise.all([
      pair.server.ask(
        { type: 'stall', count, rate: d.rate, interval: d.interval },
        'stalled',
        timeout,
      ),
      pair.client.ask(null, 'done', timeout),
    ]);
    return {
      variant,
      samples: stalled.samples,
      delivered: done.delivered,
      expected,
      p99: done.p99,
      activeClosed: done.closed,
    };
  } finally {
    await stopPair(pair);
  }
}

export async function runStall(): Promise<StallResult[]> {
  const results: StallResult[] = [];
  for (const variant of VARIANTS) results.push(await runVariant(variant));
  return results;
}

const MiB = 2 ** 20;
const mib = (bytes: number) => fmt(bytes / MiB, 1);
/** Retained growth that a backlog shows up in: JS heap plus Buffers outside it. */
const retained = (s: MemorySample, base: MemorySample) =>
  s.heapUsed + s.arrayBuffers - (base.heapUsed + base.arrayBuffers);

function stalledGone(result: StallResult): string {
  const active = WS_STALL_DEFAULTS.active;
  const gone = result.samples.find((s) => s.connections <= active);
  return gone ? `closed by ${fmt(gone.at / 1000, 0)} s` : 'connected throughout';
}

export function report(results: StallResult[]): string {
  const d = WS_STALL_DEFAULTS;
  const budget = WEBSOCKET_HUB_DEFAULTS.maxBufferedBytes;
  const summaryRows = results.map((r) => {
    const base = r.samples[0]!;
    const peak = Math.max(...r.samples.map((s) => retained(s, base)));
    const peakRss = Math.max(...r.samples.map((s) => s.rss - base.rss));
    const last = r.samples[r.samples.length - 1]!;
    const backlog = Math.max(...r.samples.map((s) => s.maxConnectionBuffered));
    return [
      r.variant.label,
      mib(peak),
      mib(retained(last, base)),
      mib(peakRss),
      mib(backlog),
      stalledGone(r),
      `${fmt((100 * r.delivered) / r.expected, 1)}%`,
      `${r.activeClosed} of ${d.active}`,
      fmt(r.p99),
    ];
  });
  const seconds = results[0]?.samples.map((s) => Math.round(s.at / 1000)) ?? [];
  const timeRows = seconds
    .map((second, index) => [
      `${second} s`,
      ...results.map((r) => {
        const s = r.samples[index];
        return s ? `${mib(retained(s, r.samples[0]!))} / ${mib(s.rss - r.samples[0]!.rss)}` : '';
      }),
    ])
    .filter((_row, index) => index % 2 === 0 || index === seconds.length - 1);
  const verdicts = results
    .filter((r) => r.variant.kind === 'sluice')
    .map((r) => {
      const base = r.samples[0]!;
      const peak = Math.max(...r.samples.map((s) => retained(s, base)));
      const met = peak <= budget + d.allowance;
      const backlog = Math.max(...r.samples.map((s) => s.maxConnectionBuffered));
      // When the hub's own accounting stays in budget, the growth is memory it does not count.
      const where =
        !met && backlog <= budget
          ? ` The hub's accounted backlog stayed within budget (largest ${mib(backlog)} MiB), so ` +
            'the growth is memory held outside the outbound accounting.'
          : '';
      return `- ${r.variant.label}: peak retained growth ${mib(peak)} MiB against a budget of ${mib(budget)} MiB + ${mib(d.allowance)} MiB — goal ${met ? 'met' : '**not met**'}.${where}`;
    });
  const naive = results.find((r) => r.variant.id === 'naive');
  const naiveRate = naive
    ? retained(naive.samples[naive.samples.length - 1]!, naive.samples[0]!) /
      (naive.samples[naive.samples.length - 1]!.at / 1000)
    : NaN;
  return [
    `Goal: with one client that never reads, server memory stays within the outbound budget (\`maxBufferedBytes\`, ${mib(budget)} MiB by default) plus a small constant (${mib(d.allowance)} MiB here).`,
    '',
    table(
      [
        'server',
        'peak retained growth (MiB)',
        'retained growth at end (MiB)',
        'peak RSS growth (MiB)',
        'largest connection backlog (MiB)',
        'stalled client',
        'active deliveries',
        'active clients closed',
        'active p99 latency (ms)',
      ],
      summaryRows,
    ),
    '',
    ...verdicts,
    `- The naive loop's retained memory grew ${mib(naiveRate)} MiB per second and does not stop.`,
    '',
    'Over time (retained growth / RSS growth, MiB, since the first publish):',
    '',
    table(['time', ...results.map((r) => r.variant.label)], timeRows),
    '',
    `**Method.** Each server in its own process (\`--expose-gc\`), with ${d.active} reading ` +
      'subscribers and one stalled one in a separate client process (bare TCP sockets: ' +
      'the stalled one upgrades, subscribes, then pauses its socket so the kernel buffers ' +
      `fill). The publisher sends ${d.rate.toLocaleString('en-US')} messages of about 1.1 KiB ` +
      `per second for ${d.seconds} s (about ${fmt((d.rate * 1.1) / 1024, 1)} MiB/s per ` +
      'subscriber). sluice: the hub with default options (1 MiB budget, 5 s ' +
      '`slowConsumerTimeout`, heartbeat off) over the memory broker (history of 1,000 ' +
      "messages); the naive server `client.send()`s every message to every client. The server's " +
      '`process.memoryUsage()` is read every second after three full collections; retained ' +
      'growth is `heapUsed` + `arrayBuffers` minus the reading before the first publish ' +
      '(socket backlogs live in Buffers outside the heap). RSS also counts memory the ' +
      'allocator keeps after the collections. The backlog column is what the server itself ' +
      'counts for its worst connection (sluice: queue + socket buffer; ws: `bufferedAmount`). ' +
      'Active deliveries: of every message to every reading client, with their p99 ' +
      `publish-to-arrival latency. ${COMPILED_NOTE}`,
  ].join('\n');
}

export default async function (): Promise<BenchSection> {
  const before = os.loadavg()[0] ?? Number.NaN;
  const body = report(await runStall());
  const after = os.loadavg()[0] ?? Number.NaN;
  return {
    id: 'ws-stall',
    title: 'WebSocket: one stalled client',
    body: `${body}\n\n1-minute load average: ${before.toFixed(1)} at the start, ${after.toFixed(1)} at the end.`,
  };
}
