/**
 * SSE fan-out: one channel, N subscribers in a separate process, the sluice server against
 * a raw `node:http` loop writing the same bytes. Per (server, N): deliveries per second,
 * p50/p99 publish-to-arrival latency, and server CPU time per delivery, which is the goal:
 * sluice at most 1.1× the raw loop.
 *
 * Three kinds of process (helpers in bench/fanout/; the run step and report pieces shared
 * with the WebSocket broadcast bench in bench/shared/): each server in its own process, so
 * `process.cpuUsage()` before and after the window is its CPU alone; one client-load process
 * per server holding the N connections; this process only orchestrates. Runs alternate
 * between the two servers (which one goes first swaps every run), so drift on the shared
 * machine hits both alike.
 */
import os from 'node:os';
import path from 'node:path';
import { fmt, table, type BenchSection } from './harness.js';
import { Child, stopInOrder } from './fanout/child.js';
import { waitForCount } from './shared/wait-for-count.js';
import type { ClientCommand, ClientReply, ServerCommand, ServerReply } from './fanout/protocol.js';
import {
  measureDelivery,
  type DeliveryRun,
  type DeliveryScenario,
} from './shared/measure-delivery.js';
import {
  describeScenarios,
  loadNote,
  ratioSpread,
  summarizeDeliveries,
  type LoadNote,
} from './shared/delivery-report.js';

export type FanoutScenario = DeliveryScenario;
export type { LoadNote };

export interface FanoutOptions {
  scenarios?: readonly FanoutScenario[];
  /** Measured runs per server and scenario (after one warm-up run each). */
  runs?: number;
  /** Directory for `--cpu-prof` profiles of the server processes (`<server>-<clients>/`). */
  profileDir?: string;
}

/**
 * Both scenarios offer the same 20,000 deliveries/s for 2 s: enough load that the
 * per-delivery cost dominates fixed costs (timers, IPC), low enough that the raw loop and
 * the client process keep up on a 2-core machine, so latency measures delivery and not an
 * ever-growing queue.
 */
export const SSE_FANOUT_DEFAULTS = Object.freeze({
  scenarios: Object.freeze([
    Object.freeze({ clients: 100, rate: 200, count: 400 }),
    Object.freeze({ clients: 1000, rate: 20, count: 40 }),
  ]),
  /**
   * Run-by-run ratios on the shared machine spread over ±20% (docs/benchmarks.md): with 7
   * runs the median moved by 0.1× between full bench runs, the size of the verdict's margin.
   * With 11 it still did: 1.12× at 100 clients in one full run, 1.02× with 9 runs on the
   * same day, while CPU profiles put sluice's main thread below the raw loop's per
   * delivery. 21 runs halve the median's variance.
   */
  runs: 21,
  /** Goal: sluice server CPU per delivery at most this multiple of the raw loop's. */
  goal: 1.1,
});

type Kind = 'sluice' | 'raw';
type Server = Child<ServerCommand, ServerReply>;
type Client = Child<ClientCommand, ClientReply>;

export type RunResult = DeliveryRun;

interface Pair {
  server: Server;
  client: Client;
}

async function start(kind: Kind, clients: number, profileDir?: string): Promise<Pair> {
  // Both servers run the TypeScript as `tsc` emits it, as users run it (not tsx's output).
  const execArgv = [
    '--import',
    './bench/fanout/tsc-register.mjs',
    ...(profileDir === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, `${kind}-${clients}`)}`]),
  ];
  const server: Server = new Child('./server-process.ts', [kind], execArgv);
  const client: Client = new Child('./client-process.ts');
  try {
    const { url } = await server.ask(null, 'listening');
    await client.ask({ type: 'connect', url, clients }, 'connected');
    // Headers arrive before the subscription is surely registered: wait for the server's count.
    await waitForCount(
      async () => (await server.ask({ type: 'subscribers' }, 'subscribers')).count,
      clients,
      { maxPolls: 200, error: (count) => `${kind}: ${count} of ${clients} subscribers registered` },
    );
  } catch (error) {
    await stop({ server, client });
    throw error;
  }
  return { server, client };
}

async function stop({ server, client }: Pair): Promise<void> {
  await stopInOrder([client, server]);
}

export interface ScenarioResult {
  scenario: FanoutScenario;
  runs: Record<Kind, RunResult[]>;
}

export async function runFanout(options: FanoutOptions = {}): Promise<ScenarioResult[]> {
  const scenarios = options.scenarios ?? SSE_FANOUT_DEFAULTS.scenarios;
  const runs = options.runs ?? SSE_FANOUT_DEFAULTS.runs;
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const pairs: Partial<Record<Kind, Pair>> = {};
    try {
      pairs.sluice = await start('sluice', scenario.clients, options.profileDir);
      pairs.raw = await start('raw', scenario.clients, options.profileDir);
      const result: ScenarioResult = { scenario, runs: { sluice: [], raw: [] } };
      for (let run = -1; run < runs; run++) {
        const order: Kind[] = run % 2 === 0 ? ['sluice', 'raw'] : ['raw', 'sluice'];
        for (const kind of order) {
          const { server, client } = pairs[kind]!;
          const measured = await measureDelivery(server, client, scenario);
          if (run >= 0) result.runs[kind].push(measured);
        }
      }
      results.push(result);
    } finally {
      for (const pair of Object.values(pairs)) await stop(pair);
    }
  }
  return results;
}

export function report(results: ScenarioResult[], runs: number, load?: LoadNote): string {
  const rows: (string | number)[][] = [];
  const verdicts: string[] = [];
  for (const { scenario, runs: byKind } of results) {
    const sluice = summarizeDeliveries(byKind.sluice);
    const raw = summarizeDeliveries(byKind.raw);
    // The goal's ratio is that of the medians in the table; the spread is shown run by run.
    const ratio = sluice.cpu / raw.cpu;
    for (const [name, s] of [
      ['sluice', sluice],
      ['raw node:http loop', raw],
    ] as const) {
      rows.push([
        name,
        scenario.clients.toLocaleString('en-US'),
        fmt(s.perSecond),
        fmt(s.p50),
        fmt(s.p99),
        fmt(s.cpu),
        name === 'sluice' ? `**${fmt(ratio)}×**` : '1.00×',
        fmt(s.clientCpu),
        s.lost,
      ]);
    }
    const met = ratio <= SSE_FANOUT_DEFAULTS.goal;
    verdicts.push(
      `- ${scenario.clients.toLocaleString('en-US')} clients: ${fmt(ratio)}× the raw loop's CPU per ` +
        `delivery (run by run: ${ratioSpread(byKind.sluice, byKind.raw)}) — goal ` +
        `${met ? 'met' : '**not met**'}.`,
    );
  }
  const scenarios = describeScenarios(results.map((r) => r.scenario));
  return [
    `Goal: server CPU time per delivery no more than ${SSE_FANOUT_DEFAULTS.goal}× a raw \`node:http\` loop writing the same bytes.`,
    '',
    table(
      [
        'server',
        'clients',
        'deliveries/s',
        'p50 latency (ms)',
        'p99 latency (ms)',
        'server CPU/delivery (µs)',
        'CPU vs raw',
        'client CPU/delivery (µs)',
        'lost',
      ],
      rows,
    ),
    '',
    ...verdicts,
    '',
    '**Method.** One channel. Each server runs in its own process; its CPU time (user + system, ' +
      'all threads, `process.cpuUsage()`) is read over IPC just before the first publish and ' +
      'just after the last delivery, and divided by the deliveries counted by the clients. ' +
      'The publisher is a timer inside the server process, at a fixed rate, stamping each ' +
      'message with the wall clock; sluice publishes with `broker.publish()` to the embedded ' +
      'memory broker and subscribers use `GET /v1/channels/{channel}/events` (keepalive ' +
      'comments off); the raw loop keeps every `ServerResponse` and, per message, encodes the ' +
      '`id:`/`data:` event once and `res.write()`s it to each (no backpressure handling). ' +
      'Both send the same headers and event bytes. Where the two differ besides the broker: ' +
      'on HTTP/1.1 sluice frames each event as a chunk once per message and writes that one ' +
      'Buffer to every socket (src/server/chunked-socket-writer.ts), where `res.write()` ' +
      'builds the chunk header, corks and `writev`s three pieces per delivery. The N clients live in a separate ' +
      'process as bare TCP sockets: each scans arriving bytes for the payload key and takes ' +
      'the latency as arrival time minus the stamp. Deliveries/s is deliveries over the time ' +
      'from the first publish to the last arrival; at a fixed offered rate it shows whether ' +
      `a server kept up. Scenarios: ${scenarios}. Medians of ${runs} runs per server (after ` +
      'one warm-up run), the two servers alternating; the CPU ratio divides the two ' +
      'medians, and its spread is given run by run. "lost" counts deliveries that never ' +
      'arrived, summed over the runs. Client CPU/delivery shows the load process stayed ' +
      'cheap next to the server.',
    ...(load ? ['', loadNote(load)] : []),
  ].join('\n');
}

export default async function (): Promise<BenchSection> {
  const runs = SSE_FANOUT_DEFAULTS.runs;
  const profileDir = process.env.SLUICE_BENCH_CPU_PROF;
  const before = os.loadavg()[0] ?? Number.NaN;
  const results = await runFanout({
    runs,
    ...(profileDir ? { profileDir: path.resolve(profileDir) } : {}),
  });
  const load = { before, after: os.loadavg()[0] ?? Number.NaN };
  return { id: 'sse-fanout', title: 'SSE fan-out', body: report(results, runs, load) };
}
