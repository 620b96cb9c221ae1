/**
 * WebSocket broadcast: one channel, N subscribers in a separate process, the sluice hub
 * against two bare `ws` servers (a `send()` loop, and one frame built once and written to
 * every socket) and socket.io (`io.to(room).emit`). Per (server, N): deliveries per second,
 * p50/p99 publish-to-arrival latency, and server CPU time per delivery, which is the goal:
 * sluice no worse than the `ws` loop and at most 0.75× socket.io.
 *
 * Processes and method as in the SSE fan-out bench (helpers in bench/fanout/, bench/ws/ and
 * bench/shared/): each server in its own process, one client-load process per server, runs
 * rotating the order of the four servers so drift on the shared machine hits all alike.
 */
import os from 'node:os';
import path from 'node:path';
import { fmt, table, type BenchSection } from './harness.js';
import type { WsServerKind } from './ws/protocol.js';
import { COMPILED_NOTE, startPair, stopPair, type WsPair } from './ws/pair.js';
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
  type DeliverySummary,
  type LoadNote,
} from './shared/delivery-report.js';

export type BroadcastScenario = DeliveryScenario;

/**
 * The SSE fan-out bench's load: 20,000 deliveries/s offered for 2 s in both scenarios, so
 * the two sections read side by side.
 */
export const WS_BROADCAST_DEFAULTS = Object.freeze({
  scenarios: Object.freeze([
    Object.freeze({ clients: 100, rate: 200, count: 400 }),
    Object.freeze({ clients: 1000, rate: 20, count: 40 }),
  ]),
  /**
   * Run-by-run ratios on the shared machine spread over ±20% (docs/benchmarks.md): with 5
   * runs the median against socket.io at 100 clients moved between 0.66× and 0.76× from one
   * full bench run to the next, more than the verdict's margin. With 11 runs it still moved
   * by about 0.05× (0.72–0.77×), the size of the margin left: 21 runs halve the median's
   * variance.
   */
  runs: 21,
  kinds: Object.freeze<WsServerKind[]>(['sluice', 'ws-loop', 'ws-frame', 'socketio']),
  /** Goal: sluice CPU per delivery at most this multiple of the `ws` send loop's... */
  vsLoop: 1,
  /** ...and at most this multiple of socket.io's. */
  vsSocketIo: 0.75,
});

export const KIND_LABEL: Record<WsServerKind, string> = {
  sluice: 'sluice hub',
  'ws-loop': '`ws`, send() loop',
  'ws-frame': '`ws`, frame built once',
  socketio: 'socket.io room emit',
};

interface ScenarioResult {
  scenario: BroadcastScenario;
  runs: Record<WsServerKind, DeliveryRun[]>;
}

export async function runBroadcast(
  options: {
    scenarios?: readonly BroadcastScenario[];
    runs?: number;
    kinds?: readonly WsServerKind[];
    profileDir?: string;
  } = {},
): Promise<ScenarioResult[]> {
  const d = WS_BROADCAST_DEFAULTS;
  const kinds = options.kinds ?? d.kinds;
  const results: ScenarioResult[] = [];
  for (const scenario of options.scenarios ?? d.scenarios) {
    const pairs = new Map<WsServerKind, WsPair>();
    try {
      for (const kind of kinds) {
        const profileDir =
          options.profileDir === undefined
            ? undefined
            : path.join(options.profileDir, `${kind}-${scenario.clients}`);
        pairs.set(
          kind,
          await startPair(kind, {
            clients: scenario.clients,
            ...(profileDir === undefined ? {} : { profileDir }),
          }),
        );
      }
      const result: ScenarioResult = {
        scenario,
        runs: { sluice: [], 'ws-loop': [], 'ws-frame': [], socketio: [] },
      };
      for (let run = -1; run < (options.runs ?? d.runs); run++) {
        // Rotate who goes first, so no server always runs right after the same one.
        const shift = (run + kinds.length) % kinds.length;
        const order = [...kinds.slice(shift), ...kinds.slice(0, shift)];
        for (const kind of order) {
          const { server, client } = pairs.get(kind)!;
          const measured = await measureDelivery(server, client, scenario);
          if (run >= 0) result.runs[kind].push(measured);
        }
      }
      results.push(result);
    } finally {
      for (const pair of pairs.values()) await stopPair(pair);
    }
  }
  return results;
}

/** Run-by-run spread of sluice's CPU ratio against `peer` (the peer's run in the same round). */
function spread(result: ScenarioResult, peer: WsServerKind): string {
  return ratioSpread(result.runs.sluice, result.runs[peer]);
}

export function report(results: ScenarioResult[], runs: number, load: LoadNote): string {
  const d = WS_BROADCAST_DEFAULTS;
  const rows: (string | number)[][] = [];
  const verdicts: string[] = [];
  for (const result of results) {
    const { scenario } = result;
    const s = Object.fromEntries(
      (Object.keys(result.runs) as WsServerKind[])
        .filter((kind) => result.runs[kind].length > 0)
        .map((kind) => [kind, summarizeDeliveries(result.runs[kind])]),
    ) as Partial<Record<WsServerKind, DeliverySummary>>;
    const loop = s['ws-loop']?.cpu ?? NaN;
    const io = s.socketio?.cpu ?? NaN;
    for (const [kind, v] of Object.entries(s) as [WsServerKind, DeliverySummary][]) {
      const bold = (text: string) => (kind === 'sluice' ? `**${text}**` : text);
      rows.push([
        KIND_LABEL[kind],
        scenario.clients.toLocaleString('en-US'),
        fmt(v.perSecond),
        fmt(v.p50),
        fmt(v.p99),
        `${fmt(v.cpu)} (${fmt(v.system)})`,
        bold(`${fmt(v.cpu / loop)}×`),
        bold(`${fmt(v.cpu / io)}×`),
        fmt(v.clientCpu),
        v.lost,
      ]);
    }
    const sluice = s.sluice?.cpu ?? NaN;
    const vsLoop = sluice / loop;
    const vsIo = sluice / io;
    const verdict = (met: boolean) => (met ? 'met' : '**not met**');
    verdicts.push(
      `- ${scenario.clients.toLocaleString('en-US')} clients: sluice ${fmt(vsLoop)}× the \`ws\` ` +
        `send() loop's CPU per delivery (run by run ${spread(result, 'ws-loop')}; goal ≤ ` +
        `${fmt(d.vsLoop)}×: ${verdict(vsLoop <= d.vsLoop)}) and ${fmt(vsIo)}× socket.io's ` +
        `(run by run ${spread(result, 'socketio')}; goal ≤ ${fmt(d.vsSocketIo)}×: ` +
        `${verdict(vsIo <= d.vsSocketIo)}); ${fmt(sluice / (s['ws-frame']?.cpu ?? NaN))}× the ` +
        'frame-built-once floor.',
    );
  }
  const scenarios = describeScenarios(results.map((r) => r.scenario));
  return [
    `Goal: server CPU time per delivery no more than a bare \`ws\` server's \`send()\` loop, and at most ${d.vsSocketIo}× socket.io's.`,
    '',
    table(
      [
        'server',
        'clients',
        'deliveries/s',
        'p50 latency (ms)',
        'p99 latency (ms)',
        'server CPU/delivery, µs (of which system)',
        'CPU vs ws loop',
        'CPU vs socket.io',
        'client CPU/delivery (µs)',
        'lost',
      ],
      rows,
    ),
    '',
    ...verdicts,
    '',
    "**Method.** One channel, ~100-byte JSON payloads (the SSE fan-out bench's), no " +
      'compression. Each server runs in its own process; its CPU time (user + system, all ' +
      'threads, `process.cpuUsage()`) is read over IPC just before the first publish and ' +
      'just after the last delivery, and divided by the deliveries the clients counted. The ' +
      'publisher is a timer inside the server process at a fixed rate, stamping each message ' +
      'with the wall clock. sluice: the hub (`attachWebSocketHub`, heartbeat off, default ' +
      'outbound budget and `disconnect` policy) on a `node:http` server, published to with ' +
      '`broker.publish()` on the embedded memory broker, clients subscribed with ' +
      '`sluice.v1.json`. `ws` send() loop: `JSON.stringify` once per message, then ' +
      '`client.send(text)` for every client. `ws` frame built once: `WebSocket.Sender.frame()` ' +
      "once per message, the same Buffer handed to every socket's sender (`_sender.sendFrame`, " +
      'what socket.io does). Both bare servers send the sluice event shape with ids of the ' +
      'same length and handle no backpressure. socket.io 4.8: websocket transport only, each ' +
      "client joins one room, `io.to(room).emit('event', { channel, id, data })`. The N " +
      'clients of each server live in one separate process as bare TCP sockets with a ' +
      'minimal frame reader (a sluice subscribe message; for socket.io the Engine.IO connect ' +
      'packet and answers to its pings), the same cost for every server; each scans text ' +
      'frames for the payload key and takes the latency as arrival time minus the stamp. ' +
      'Deliveries/s is deliveries over the time from the first publish to the last arrival. ' +
      `Scenarios: ${scenarios}. Medians of ${runs} runs per server (after one warm-up run), ` +
      'the four servers taking turns in rotating order; ratios divide medians, the spread ' +
      'compares runs of the same round. "lost" counts deliveries that never arrived, summed ' +
      'over the runs. System time, in brackets, is mostly the kernel sending on loopback ' +
      "(which also runs the receiving side's TCP processing): similar for every server, so " +
      `the differences between servers are mostly user time. ${COMPILED_NOTE}`,
    '',
    loadNote(load),
  ].join('\n');
}

export default async function (): Promise<BenchSection> {
  const runs = WS_BROADCAST_DEFAULTS.runs;
  const profileDir = process.env.SLUICE_BENCH_CPU_PROF;
  const before = os.loadavg()[0] ?? Number.NaN;
  const results = await runBroadcast({ runs, ...(profileDir ? { profileDir } : {}) });
  const load = { before, after: os.loadavg()[0] ?? Number.NaN };
  return { id: 'ws-broadcast', title: 'WebSocket broadcast', body: report(results, runs, load) };
}
