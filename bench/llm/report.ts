/**
 * The LLM proxy bench's results and how they read in docs/benchmarks.md: per scenario, the
 * direct and proxied medians side by side, what sluice adds, the goal's verdict, and the
 * method in prose (so the figures can be judged without reading the code).
 */
import os from 'node:os';
import { fmt, median, table } from '../harness.js';
import type { GcPauses } from '../shared/gc-pauses.js';
import type { Hold, Pacing, RunFigures } from './protocol.js';
import { LLM_DEFAULTS } from '../../src/llm/options.js';

export interface LlmProxyScenario extends Pacing {
  clients: number;
  /**
   * Held concurrency: `clients` generations kept in flight for this long after a warm-up
   * of one generation's length (see client-process.ts); absent: one wave of `clients`.
   */
  holdMs?: number;
}

/** How long one generation streams, ms. */
export function generationMsOf({ tokens, tps, ttftMs }: LlmProxyScenario): number {
  return ttftMs + (tokens * 1000) / tps;
}

/** A held scenario's warm-up and measured window; undefined for a wave. */
export function holdOf(scenario: LlmProxyScenario): Hold | undefined {
  if (scenario.holdMs === undefined) return undefined;
  return { warmupMs: generationMsOf(scenario), windowMs: scenario.holdMs };
}

/** Straight to the model, through the bare pipe proxy (the floor), through sluice. */
export type Path = 'direct' | 'floor' | 'proxied';

export interface RunResult extends RunFigures {
  /** CPU time during the run of the path's proxy (sluice's on the direct path) and the upstream, µs. */
  proxyCpu: number;
  /** GC pauses of the path's proxy during the run. */
  proxyGc: GcPauses;
  upstreamCpu: number;
}

export interface ScenarioResult {
  scenario: LlmProxyScenario;
  runs: Record<Path, RunResult[]>;
}

/** The shared machine's 1-minute load average: at the start, at the end, the highest seen. */
export interface LoadNote {
  before: number;
  after: number;
  peak: number;
}

export interface ReportOptions {
  runs: number;
  goalMs: number;
  goalClients: number;
  maxStartRate: number;
  load?: LoadNote;
}

/**
 * Requests start evenly over at least one token interval (so the model's token ticks are
 * spread) and no faster than `maxStartRate` per second.
 */
export function startRateOf(scenario: LlmProxyScenario, maxStartRate: number): number {
  const { clients, tps } = scenario;
  // Held: the first generations start over one generation's length, as later ones will.
  if (scenario.holdMs !== undefined) return (clients * 1000) / generationMsOf(scenario);
  return Math.min(clients * tps, maxStartRate);
}

type Summary = ReturnType<typeof summary>;

function summary(runs: RunResult[]) {
  const pick = (f: (r: RunResult) => number) => median(runs.map(f));
  return {
    ttftP50: pick((r) => r.ttftP50),
    ttftP99: pick((r) => r.ttftP99),
    tokenP50: pick((r) => r.tokenP50),
    tokenP99: pick((r) => r.tokenP99),
    tokenP99Steady: pick((r) => r.tokenP99Steady),
    proxyCpu: pick((r) => r.proxyCpu / Math.max(1, r.tokens)),
    proxyCore: pick((r) => r.proxyCpu / 1000 / (r.endedAt - r.startedAt)),
    upstreamCpu: pick((r) => r.upstreamCpu / Math.max(1, r.tokens)),
    clientCpu: pick((r) => r.cpuMicros / Math.max(1, r.tokens)),
    gcPauses: pick((r) => r.proxyGc.count),
    gcMs: pick((r) => r.proxyGc.totalMs),
    gcAtLeast2Ms: pick((r) => r.proxyGc.atLeast2Ms),
    gcAtLeast5Ms: pick((r) => r.proxyGc.atLeast5Ms),
    measuredTokens: pick((r) => r.measuredTokens),
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
    firstError: runs.find((r) => r.firstError !== undefined)?.firstError,
  };
}

/** A path's GC pauses per run (medians): how many, how long in all, how many ≥ 2 and ≥ 5 ms. */
const gcNote = (s: Summary) =>
  `${fmt(s.gcPauses, 0)} (${fmt(s.gcMs, 1)} ms in all; ${fmt(s.gcAtLeast2Ms, 0)} of ≥ 2 ms, ` +
  `${fmt(s.gcAtLeast5Ms, 0)} of ≥ 5 ms)`;

const count = (n: number, noun: string) =>
  `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;

export function report(results: ScenarioResult[], options: ReportOptions): string {
  const { runs, goalMs, goalClients, maxStartRate, load } = options;
  const rows: (string | number)[][] = [];
  const verdicts: string[] = [];
  const errors: string[] = [];
  for (const { scenario, runs: byPath } of results) {
    const direct = summary(byPath.direct);
    const floor = summary(byPath.floor);
    const proxied = summary(byPath.proxied);
    const addedP99 = proxied.tokenP99 - direct.tokenP99;
    const floorP99 = floor.tokenP99 - direct.tokenP99;
    // Each proxied run against the direct run next to it in time: the spread of the verdict.
    const addedRuns = byPath.proxied.map((r, i) => r.tokenP99 - byPath.direct[i]!.tokenP99);
    const held = scenario.holdMs !== undefined;
    const label =
      `${scenario.clients.toLocaleString('en-US')} × ${scenario.tps}/s` + (held ? ', held' : '');
    const row = (name: string, s: Summary, proxyCpu: boolean) => [
      name,
      label,
      fmt(s.ttftP50),
      fmt(s.ttftP99),
      fmt(s.tokenP50),
      fmt(s.tokenP99),
      proxyCpu
        ? `${fmt(s.tokenP50 - direct.tokenP50)} / **${fmt(s.tokenP99 - direct.tokenP99)}**`
        : '',
      proxyCpu ? `${fmt(s.proxyCpu)} (${fmt(s.proxyCore * 100, 0)}%)` : '',
      fmt(s.upstreamCpu),
      fmt(s.clientCpu),
      s.failed,
    ];
    rows.push(row('direct', direct, false));
    rows.push(row('pipe proxy (floor)', floor, true));
    rows.push(row('via sluice', proxied, true));
    const goal = scenario.clients === goalClients;
    const what = held
      ? `${count(scenario.clients, 'generation')} held for ${fmt(scenario.holdMs! / 1000, 0)} s ` +
        `(${fmt(proxied.measuredTokens, 0)} tokens measured per run)`
      : scenario.clients === 1
        ? count(scenario.clients, 'generation')
        : `${count(scenario.clients, 'generation')} in one wave`;
    verdicts.push(
      `- ${what}: sluice adds ` +
        `${fmt(proxied.ttftP50 - direct.ttftP50)} ms to the median time to first token and ` +
        `${fmt(addedP99)} ms to the p99 per-token latency (run by run: ` +
        `${fmt(Math.min(...addedRuns))} to ${fmt(Math.max(...addedRuns))} ms)` +
        (goal
          ? ` — goal (under ${goalMs} ms) ${addedP99 < goalMs ? 'met' : '**not met**'}.`
          : '.') +
        ` The pipe proxy adds ${fmt(floorP99)} ms to the p99.` +
        (scenario.clients === 1 || held
          ? ''
          : ` Tokens while every generation was streaming (no start or end under way): ` +
            `p99 ${fmt(direct.tokenP99Steady)} ms direct, ${fmt(floor.tokenP99Steady)} ms ` +
            `via the pipe proxy, ${fmt(proxied.tokenP99Steady)} ms via sluice.`) +
        ` GC pauses per run: ${gcNote(proxied)} in sluice's process, ${gcNote(floor)} in the pipe proxy's.`,
    );
    for (const s of [direct, floor, proxied]) if (s.firstError) errors.push(s.firstError);
  }
  const scenarios = results
    .map(({ scenario: s }) => {
      const ramp = (s.clients * 1000) / startRateOf(s, maxStartRate);
      const hold = holdOf(s);
      return (
        `${count(s.clients, 'generation')} × ${s.tokens} tokens at ${s.tps} tokens/s` +
        (hold
          ? `, held: each of the ${s.clients} slots starts its next generation as soon as ` +
            `its last one ended (the first ones start over ${fmt(ramp, 0)} ms), and only ` +
            `tokens arriving, and generations starting, in the ${fmt(hold.windowMs, 0)} ms ` +
            `after a ${fmt(hold.warmupMs, 0)} ms warm-up are measured`
          : s.clients === 1
            ? ''
            : `, started over ${fmt(ramp, 0)} ms`)
      );
    })
    .join('; ');
  return [
    `Goal: p99 added per-token latency under ${goalMs} ms at ${goalClients} concurrent generations.`,
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
        'proxy CPU/token (µs) (core)',
        'upstream CPU/token (µs)',
        'client CPU/token (µs)',
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
      'memory broker) except `maxGenerations`, raised to twice the concurrency where that ' +
      `exceeds its default of ${LLM_DEFAULTS.maxGenerations}; both servers run the TypeScript as ` +
      '`tsc` emits it, not through tsx. A third process opens the C generations ' +
      '(`POST /v1/chat/completions`, `stream: true`) as bare TCP sockets, one per request ' +
      '(`Connection: close`; sluice keeps its pooled upstream connections), started evenly ' +
      `(over at least one token interval, at most ${maxStartRate.toLocaleString('en-US')} ` +
      'per second), either straight to the model ("direct"), through sluice, or through the ' +
      'floor: a bare `node:http` proxy in a fourth process that forwards each request over ' +
      'a keep-alive agent and pipes the response bytes back untouched (no parsing, no ids, ' +
      'no resumability), i.e. what any Node proxy adds on this machine. It scans ' +
      'the bytes for stamps: per-token latency is arrival minus stamp, so it covers ' +
      'everything after the model wrote the token; TTFT runs from just before connecting to ' +
      'the first content token (the model adds no delay of its own). "Added" is the ' +
      'difference from the direct path\u2019s median. The steady-state p99 of a wave ' +
      '(bullets) counts only tokens that arrived while every generation of the run was ' +
      'streaming (after the last first token, before the first generation ended), i.e. ' +
      'without the ramp and the end, during which the path also sets generations up and ' +
      'tears them down. ' +
      'CPU time (user + system, ' +
      '`process.cpuUsage()` over IPC before and after each run) is divided by the tokens ' +
      'delivered, so it includes each generation\u2019s setup (which weighs most at 10 ' +
      'tokens per generation) and, at 1 generation, mostly the fixed cost of waking up per ' +
      'token; "core" is the proxy\u2019s CPU time over the run\u2019s wall time. GC pauses ' +
      '(bullets) are the proxy process\u2019s `gc` performance entries during the run, ' +
      'counted over the same IPC readings; each one stops its event loop, so a pause of ' +
      'several ms delays every token that arrives in it. ' +
      `Scenarios: ${scenarios}. Medians of ${runs} runs per path (after one warm-up run ` +
      'each), the order of the three paths rotating every run; "failed" counts generations that did not end with ' +
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
