/**
 * LLM proxy overhead: what sluice adds as a proxy in front of an OpenAI-compatible model,
 * over calling that model directly. Time to first token and per-token latency at 1, 100
 * and 1,000 concurrent streaming generations, and sluice's CPU time per token. Goal: p99
 * added per-token latency under 2 ms at 100 concurrent generations.
 *
 * Three processes besides this one (helpers in bench/llm/): a stamping upstream (its
 * tokens carry the wall clock at which they were written), sluice proxying to it, and a
 * client-load process. Each run sends the same C generations either straight to the
 * upstream or through sluice; the two alternate (which goes first swaps every run), so
 * drift on the shared machine hits both alike.
 */
import os from 'node:os';
import path from 'node:path';
import { fmt, median, table, type BenchSection } from './harness.js';
import { Child } from './fanout/child.js';
import type {
  ClientCommand,
  ClientReply,
  Pacing,
  RunFigures,
  ServerCommand,
  ServerReply,
} from './llm/protocol.js';

export interface LlmProxyScenario extends Pacing {
  clients: number;
}

/**
 * 50 tokens/s per generation (a fast hosted model) for 1 and 100 generations; at 1,000 the
 * rate drops to 2 tokens/s (2,000 tokens/s in all), the most this 2-core machine carries
 * with upstream, proxy and clients on it (at 10 tokens/s sluice falls ever further behind).
 * No time to first token at the upstream: TTFT then shows only the path. Runs last 2 to 6 s.
 */
export const LLM_PROXY_DEFAULTS = Object.freeze({
  scenarios: Object.freeze([
    Object.freeze({ clients: 1, tokens: 100, tps: 50, ttftMs: 0 }),
    Object.freeze({ clients: 100, tokens: 100, tps: 50, ttftMs: 0 }),
    Object.freeze({ clients: 1000, tokens: 10, tps: 2, ttftMs: 0 }),
  ]),
  runs: 5,
  /** Requests started per second at most (a thousand at once would measure a SYN storm). */
  maxStartRate: 1000,
  /** Goal: p99 added per-token latency below this many ms at `goalClients`. */
  goalMs: 2,
  goalClients: 100,
  /** Quiet time between runs, so sockets close before the next one starts. */
  settleMs: 300,
});

/**
 * Requests start evenly over at least one token interval (so the model's token ticks are
 * spread) and no faster than `maxStartRate`.
 */
function startRateOf({ clients, tps }: LlmProxyScenario): number {
  return Math.min(clients * tps, LLM_PROXY_DEFAULTS.maxStartRate);
}

type Path = 'direct' | 'proxied';
type Server = Child<ServerCommand, ServerReply>;
type Client = Child<ClientCommand, ClientReply>;

export interface RunResult extends RunFigures {
  /** Proxy and upstream CPU time during the run, µs. */
  proxyCpu: number;
  upstreamCpu: number;
}

export interface ScenarioResult {
  scenario: LlmProxyScenario;
  runs: Record<Path, RunResult[]>;
}

interface Processes {
  upstream: Server;
  proxy: Server;
  client: Client;
  urls: Record<Path, string>;
}

async function cpu(server: Server): Promise<number> {
  const { user, system } = await server.ask({ type: 'cpu' }, 'cpu');
  return user + system;
}

async function startAll(profileDir?: string): Promise<Processes> {
  const execArgv = (name: string) =>
    profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, name)}`];
  const upstream: Server = new Child('../llm/upstream-process.ts', [], execArgv('upstream'));
  const client: Client = new Child('../llm/client-process.ts');
  let proxy: Server | undefined;
  try {
    const { url: upstreamUrl } = await upstream.ask(null, 'listening');
    proxy = new Child('../llm/proxy-process.ts', [`${upstreamUrl}/v1`], execArgv('proxy'));
    const { url: proxyUrl } = await proxy.ask(null, 'listening');
    return { upstream, proxy, client, urls: { direct: upstreamUrl, proxied: proxyUrl } };
  } catch (error) {
    await client.stop({ type: 'exit' });
    if (proxy) await proxy.stop({ type: 'exit' });
    await upstream.stop({ type: 'exit' });
    throw error;
  }
}

async function stopAll({ upstream, proxy, client }: Processes): Promise<void> {
  await client.stop({ type: 'exit' });
  await proxy.stop({ type: 'exit' });
  await upstream.stop({ type: 'exit' });
}

async function measure(
  processes: Processes,
  where: Path,
  scenario: LlmProxyScenario,
): Promise<RunResult> {
  const { upstream, proxy, client, urls } = processes;
  const { clients, ...pacing } = scenario;
  const startRate = startRateOf(scenario);
  const window = (clients * 1000) / startRate + pacing.ttftMs + (pacing.tokens * 1000) / pacing.tps;
  const timeout = window + 30_000;
  const [proxyBefore, upstreamBefore] = await Promise.all([cpu(proxy), cpu(upstream)]);
  const figures = await client.ask(
    { type: 'run', url: urls[where], clients, startRate, pacing, timeout },
    'done',
    timeout + 10_000,
  );
  const [proxyAfter, upstreamAfter] = await Promise.all([cpu(proxy), cpu(upstream)]);
  await new Promise((resolve) => setTimeout(resolve, LLM_PROXY_DEFAULTS.settleMs));
  const { type: _type, ...rest } = figures;
  return {
    ...rest,
    proxyCpu: proxyAfter - proxyBefore,
    upstreamCpu: upstreamAfter - upstreamBefore,
  };
}

export async function runLlmProxy(
  options: { scenarios?: readonly LlmProxyScenario[]; runs?: number; profileDir?: string } = {},
): Promise<ScenarioResult[]> {
  const scenarios = options.scenarios ?? LLM_PROXY_DEFAULTS.scenarios;
  const runs = options.runs ?? LLM_PROXY_DEFAULTS.runs;
  const processes = await startAll(options.profileDir);
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      const { clients: _clients, ...pacing } = scenario;
      await processes.upstream.ask({ type: 'configure', pacing }, 'configured');
      const result: ScenarioResult = { scenario, runs: { direct: [], proxied: [] } };
      for (let run = -1; run < runs; run++) {
        const order: Path[] = run % 2 === 0 ? ['proxied', 'direct'] : ['direct', 'proxied'];
        for (const where of order) {
          const measured = await measure(processes, where, scenario);
          if (run >= 0) result.runs[where].push(measured);
        }
      }
      results.push(result);
    }
  } finally {
    await stopAll(processes);
  }
  return results;
}

function summary(runs: RunResult[]) {
  const pick = (f: (r: RunResult) => number) => median(runs.map(f));
  return {
    ttftP50: pick((r) => r.ttftP50),
    ttftP99: pick((r) => r.ttftP99),
    tokenP50: pick((r) => r.tokenP50),
    tokenP99: pick((r) => r.tokenP99),
    proxyCpu: pick((r) => r.proxyCpu / Math.max(1, r.tokens)),
    proxyCore: pick((r) => r.proxyCpu / 1000 / (r.endedAt - r.startedAt)),
    upstreamCpu: pick((r) => r.upstreamCpu / Math.max(1, r.tokens)),
    clientCpu: pick((r) => r.cpuMicros / Math.max(1, r.tokens)),
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
    firstError: runs.find((r) => r.firstError !== undefined)?.firstError,
  };
}

/** The shared machine's 1-minute load average at the start and end of the section. */
export interface LoadNote {
  before: number;
  after: number;
  peak: number;
}

export function report(results: ScenarioResult[], runs: number, load?: LoadNote): string {
  const rows: (string | number)[][] = [];
  const verdicts: string[] = [];
  const errors: string[] = [];
  for (const { scenario, runs: byPath } of results) {
    const direct = summary(byPath.direct);
    const proxied = summary(byPath.proxied);
    const added = (f: (r: RunResult) => number) =>
      byPath.proxied.map((r, i) => f(r) - f(byPath.direct[i]!));
    const addedP99 = proxied.tokenP99 - direct.tokenP99;
    const addedRuns = added((r) => r.tokenP99);
    const label = `${scenario.clients.toLocaleString('en-US')} × ${scenario.tps}/s`;
    rows.push([
      'direct',
      label,
      fmt(direct.ttftP50),
      fmt(direct.ttftP99),
      fmt(direct.tokenP50),
      fmt(direct.tokenP99),
      '',
      '',
      fmt(direct.upstreamCpu),
      direct.failed,
    ]);
    rows.push([
      'via sluice',
      label,
      fmt(proxied.ttftP50),
      fmt(proxied.ttftP99),
      fmt(proxied.tokenP50),
      fmt(proxied.tokenP99),
      `${fmt(proxied.tokenP50 - direct.tokenP50)} / **${fmt(addedP99)}**`,
      `${fmt(proxied.proxyCpu)} (${fmt(proxied.proxyCore * 100, 0)}%)`,
      fmt(proxied.upstreamCpu),
      proxied.failed,
    ]);
    const goal = scenario.clients === LLM_PROXY_DEFAULTS.goalClients;
    verdicts.push(
      `- ${scenario.clients.toLocaleString('en-US')} generations: sluice adds ` +
        `${fmt(proxied.ttftP50 - direct.ttftP50)} ms to the median time to first token and ` +
        `${fmt(addedP99)} ms to the p99 per-token latency (run by run: ` +
        `${fmt(Math.min(...addedRuns))} to ${fmt(Math.max(...addedRuns))} ms)` +
        (goal
          ? ` — goal (under ${LLM_PROXY_DEFAULTS.goalMs} ms) ` +
            `${addedP99 < LLM_PROXY_DEFAULTS.goalMs ? 'met' : '**not met**'}.`
          : '.'),
    );
    for (const s of [direct, proxied]) if (s.firstError) errors.push(s.firstError);
  }
  const scenarios = results
    .map(
      ({ scenario: s }) =>
        `${s.clients.toLocaleString('en-US')} generation${s.clients === 1 ? '' : 's'} × ` +
        `${s.tokens} tokens at ${s.tps} tokens/s, started over ` +
        `${fmt((s.clients * 1000) / startRateOf(s), 0)} ms`,
    )
    .join('; ');
  return [
    `Goal: p99 added per-token latency under ${LLM_PROXY_DEFAULTS.goalMs} ms at ` +
      `${LLM_PROXY_DEFAULTS.goalClients} concurrent generations.`,
    '',
    table(
      [
        'path',
        'generations × tokens/s',
        'TTFT p50 (ms)',
        'TTFT p99 (ms)',
        'token p50 (ms)',
        'token p99 (ms)',
        'added p50 / p99 (ms)',
        'sluice CPU/token (µs) (core)',
        'upstream CPU/token (µs)',
        'failed',
      ],
      rows,
    ),
    '',
    ...verdicts,
    ...(errors.length > 0 ? ['', `First failure seen: ${errors[0]!.slice(0, 200)}`] : []),
    '',
    '**Method.** The model is a minimal OpenAI-compatible `node:http` server in its own ' +
      'process: per request it streams a role chunk, then `chat.completion.chunk` frames at a ' +
      'fixed pace (token k is due k/rate after the request), each content token carrying the ' +
      'wall clock at which it was written, then the finish chunk, the usage chunk when asked ' +
      'and `data: [DONE]`. sluice runs in another process: the runnable server ' +
      '(`createSluiceServer`) with `createLlmHandler({ upstream: { baseUrl } })` mounted, ' +
      'defaults everywhere (one chunk per token, every stream a resumable generation in the ' +
      'memory broker) except `maxGenerations: 2048`. A third process opens the C generations ' +
      '(`POST /v1/chat/completions`, `stream: true`) as bare TCP sockets, one per request ' +
      '(`Connection: close`; sluice keeps its pooled upstream connections), started evenly ' +
      '(over at least one token interval, at most ' +
      `${LLM_PROXY_DEFAULTS.maxStartRate.toLocaleString('en-US')} per second), either ` +
      'straight to the model ("direct") or through sluice. ' +
      'It scans the bytes for stamps: per-token latency is arrival minus stamp, so it covers ' +
      'everything after the model wrote the token; TTFT runs from just before connecting to ' +
      'the first content token (the model adds no delay of its own). "Added" is the ' +
      'difference of the two paths\u2019 medians. CPU time (user + system, ' +
      '`process.cpuUsage()` over IPC before and after each run) is divided by the tokens ' +
      'delivered; "core" is sluice\u2019s CPU time over the run\u2019s wall time. ' +
      `Scenarios: ${scenarios}. Medians of ${runs} runs per path (after one warm-up run ` +
      'each), the two paths alternating; "failed" counts generations that did not end with ' +
      'every token and `[DONE]`, summed over the runs. All processes share the same 2 ' +
      'cores, so through sluice the proxy also competes with the model and the clients ' +
      'for CPU: the added latency includes that contention.',
    ...(load
      ? [
          '',
          `1-minute load average: ${load.before.toFixed(1)} at the start, ` +
            `${load.after.toFixed(1)} at the end, ${load.peak.toFixed(1)} at most between ` +
            `scenarios (${os.cpus().length} cores; the machine is shared). Latency is ` +
            'wall-clock and suffers first on a busy machine; CPU time counts only time the ' +
            'process actually ran.',
        ]
      : []),
  ].join('\n');
}

export default async function (): Promise<BenchSection> {
  const runs = LLM_PROXY_DEFAULTS.runs;
  const profileDir = process.env.SLUICE_BENCH_CPU_PROF;
  const loads = [os.loadavg()[0] ?? Number.NaN];
  const results: ScenarioResult[] = [];
  for (const scenario of LLM_PROXY_DEFAULTS.scenarios) {
    results.push(
      ...(await runLlmProxy({
        scenarios: [scenario],
        runs,
        ...(profileDir
          ? { profileDir: path.resolve(profileDir, `clients-${scenario.clients}`) }
          : {}),
      })),
    );
    loads.push(os.loadavg()[0] ?? Number.NaN);
  }
  const load = { before: loads[0]!, after: loads.at(-1)!, peak: Math.max(...loads) };
  return { id: 'llm-proxy', title: 'LLM proxy overhead', body: report(results, runs, load) };
}
