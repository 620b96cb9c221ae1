/**
 * LLM proxy overhead: what sluice adds as a proxy in front of an OpenAI-compatible model,
 * over calling that model directly. Time to first token and per-token latency at 1, 100
 * and 1,000 concurrent streaming generations, and sluice's CPU time per token. Goal: p99
 * added per-token latency under 2 ms at 100 concurrent generations.
 *
 * Four processes besides this one (helpers in bench/llm/): a stamping upstream (its
 * tokens carry the wall clock at which they were written), sluice proxying to it, a bare
 * `node:http` pipe proxy (the floor: what any Node proxy adds on this machine) and a
 * client-load process. Each run sends the same C generations straight to the upstream,
 * through the pipe proxy, or through sluice; which path goes first rotates every run, so
 * drift on the shared machine hits all three alike.
 *
 * `SLUICE_BENCH_CPU_PROF=<dir>` writes `--cpu-prof` profiles of the proxy and the upstream
 * (`<dir>/clients-<C>/proxy/`, `.../upstream/`) to see where the time goes.
 */
import os from 'node:os';
import path from 'node:path';
import type { BenchSection } from './harness.js';
import { Child, stopInOrder } from './fanout/child.js';
import type { ClientCommand, ClientReply, ServerCommand, ServerReply } from './llm/protocol.js';
import { gcPausesBetween, type GcPauses } from './shared/gc-pauses.js';
import { LLM_DEFAULTS } from '../src/llm/options.js';
import {
  generationMsOf,
  holdOf,
  report,
  startRateOf,
  type LlmProxyScenario,
  type Path,
  type RunResult,
  type ScenarioResult,
} from './llm/report.js';

export type { LlmProxyScenario, RunResult, ScenarioResult } from './llm/report.js';

/**
 * 50 tokens/s per generation (a fast hosted model) for 1 and 100 generations; at 1,000 the
 * rate drops to 2 tokens/s (2,000 tokens/s in all), a load the shared 2-core machine
 * carries with upstream, proxy and clients on it (at 10 tokens/s sluice fell behind: its
 * TTFT grew to seconds and the runs overran by several seconds).
 * No time to first token at the upstream: TTFT then shows only the path. Runs last 2 to 6 s.
 *
 * 100 generations twice: as one wave (all started within 100 ms, so they also end within
 * 100 ms of each other: a burst of setups and teardowns while tokens flow), and held
 * (`holdMs`): 100 in flight for 4 s after a warm-up of one generation's length, each
 * finished one replaced at once, so starts and ends are spread as under steady load.
 */
export const LLM_PROXY_DEFAULTS = Object.freeze({
  scenarios: Object.freeze([
    Object.freeze({ clients: 1, tokens: 100, tps: 50, ttftMs: 0 }),
    Object.freeze({ clients: 100, tokens: 100, tps: 50, ttftMs: 0 }),
    Object.freeze({ clients: 100, tokens: 100, tps: 50, ttftMs: 0, holdMs: 4000 }),
    Object.freeze({ clients: 1000, tokens: 10, tps: 2, ttftMs: 0 }),
  ] as LlmProxyScenario[]),
  runs: 5,
  /** Requests started per second at most (a thousand at once would measure a SYN storm). */
  maxStartRate: 1000,
  /** Goal: p99 added per-token latency below this many ms at `goalClients`. */
  goalMs: 2,
  goalClients: 100,
  /** Quiet time between runs, so sockets close before the next one starts. */
  settleMs: 300,
});

type Server = Child<ServerCommand, ServerReply>;
type Client = Child<ClientCommand, ClientReply>;

interface Processes {
  upstream: Server;
  /** The process behind each proxying path (the direct path has none). */
  proxies: Record<Exclude<Path, 'direct'>, Server>;
  client: Client;
  urls: Record<Path, string>;
}

/** Every path, in the order of the first run; later runs rotate it. */
const PATHS: readonly Path[] = ['direct', 'floor', 'proxied'];

/** A server's CPU time so far (µs) and its GC pauses (running totals). */
async function usage(server: Server): Promise<{ cpu: number; gc: GcPauses }> {
  const { user, system, gc } = await server.ask({ type: 'cpu' }, 'cpu');
  return { cpu: user + system, gc };
}

/**
 * The proxy and the model run the TypeScript as `tsc` emits it, as users run it, not with
 * the `__name()` wrappers tsx adds around every named function (see bench/fanout's hooks).
 * The path is relative to the repository root, the helper processes' working directory.
 */
const TSC_REGISTER = ['--import', './bench/fanout/tsc-register.mjs'];

/**
 * The proxy's `maxGenerations`: the default unless the concurrency needs more room (running
 * generations cannot be evicted; finished ones are, oldest first).
 */
function maxGenerationsFor(clients: number): number {
  return Math.max(LLM_DEFAULTS.maxGenerations, 2 * clients);
}

async function startAll(clients: number, profileDir?: string): Promise<Processes> {
  const execArgv = (name: string) => [
    ...TSC_REGISTER,
    ...(profileDir === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, name)}`]),
  ];
  const upstream: Server = new Child('../llm/upstream-process.ts', [], execArgv('upstream'));
  const client: Client = new Child('../llm/client-process.ts');
  let proxy: Server | undefined;
  let floor: Server | undefined;
  try {
    const { url: upstreamUrl } = await upstream.ask(null, 'listening');
    const base = [`${upstreamUrl}/v1`];
    proxy = new Child(
      '../llm/proxy-process.ts',
      [...base, String(maxGenerationsFor(clients))],
      execArgv('proxy'),
    );
    floor = new Child('../llm/pipe-proxy-process.ts', base, execArgv('floor'));
    const [{ url: proxyUrl }, { url: floorUrl }] = await Promise.all([
      proxy.ask(null, 'listening'),
      floor.ask(null, 'listening'),
    ]);
    return {
      upstream,
      proxies: { proxied: proxy, floor },
      client,
      urls: { direct: upstreamUrl, floor: floorUrl, proxied: proxyUrl },
    };
  } catch (error) {
    await stopInOrder([client, proxy, floor, upstream]);
    throw error;
  }
}

async function stopAll({ upstream, proxies, client }: Processes): Promise<void> {
  await stopInOrder([client, proxies.proxied, proxies.floor, upstream]);
}

async function measure(
  processes: Processes,
  where: Path,
  scenario: LlmProxyScenario,
): Promise<RunResult> {
  const { upstream, client, urls } = processes;
  // The direct path has no proxy: sluice's process stands in, idle, so the shapes match.
  const proxy = processes.proxies[where === 'direct' ? 'proxied' : where];
  const { clients, holdMs: _holdMs, ...pacing } = scenario;
  const startRate = startRateOf(scenario, LLM_PROXY_DEFAULTS.maxStartRate);
  const hold = holdOf(scenario);
  const generationMs = generationMsOf(scenario);
  const window = hold
    ? hold.warmupMs + hold.windowMs + generationMs
    : (clients * 1000) / startRate + generationMs;
  const timeout = window + 30_000;
  const [proxyBefore, upstreamBefore] = await Promise.all([usage(proxy), usage(upstream)]);
  const figures = await client.ask(
    {
      type: 'run',
      url: urls[where],
      clients,
      startRate,
      pacing,
      timeout,
      ...(hold ? { hold } : {}),
    },
    'done',
    timeout + 10_000,
  );
  const [proxyAfter, upstreamAfter] = await Promise.all([usage(proxy), usage(upstream)]);
  await new Promise((resolve) => setTimeout(resolve, LLM_PROXY_DEFAULTS.settleMs));
  const { type: _type, ...rest } = figures;
  return {
    ...rest,
    proxyCpu: proxyAfter.cpu - proxyBefore.cpu,
    proxyGc: gcPausesBetween(proxyBefore.gc, proxyAfter.gc),
    upstreamCpu: upstreamAfter.cpu - upstreamBefore.cpu,
  };
}

export async function runLlmProxy(
  options: { scenarios?: readonly LlmProxyScenario[]; runs?: number; profileDir?: string } = {},
): Promise<ScenarioResult[]> {
  const scenarios = options.scenarios ?? LLM_PROXY_DEFAULTS.scenarios;
  const runs = options.runs ?? LLM_PROXY_DEFAULTS.runs;
  const clients = Math.max(...scenarios.map((scenario) => scenario.clients));
  const processes = await startAll(clients, options.profileDir);
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      const { clients: _clients, holdMs: _holdMs, ...pacing } = scenario;
      await processes.upstream.ask({ type: 'configure', pacing }, 'configured');
      const result: ScenarioResult = { scenario, runs: { direct: [], floor: [], proxied: [] } };
      for (let run = -1; run < runs; run++) {
        const first = (run + 1) % PATHS.length;
        const order = [...PATHS.slice(first), ...PATHS.slice(0, first)];
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
          ? {
              profileDir: path.resolve(
                profileDir,
                `clients-${scenario.clients}${scenario.holdMs ? '-held' : ''}`,
              ),
            }
          : {}),
      })),
    );
    loads.push(os.loadavg()[0] ?? Number.NaN);
  }
  const load = { before: loads[0]!, after: loads.at(-1)!, peak: Math.max(...loads) };
  const { goalMs, goalClients, maxStartRate } = LLM_PROXY_DEFAULTS;
  return {
    id: 'llm-proxy',
    title: 'LLM proxy overhead',
    body: report(results, { runs, goalMs, goalClients, maxStartRate, load }),
  };
}
