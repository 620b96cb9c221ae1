/**
 * The client load of the LLM proxy bench: C concurrent streaming
 * `POST /v1/chat/completions` requests, to the upstream directly or through sluice.
 *
 *   node --import tsx bench/llm/client-process.ts
 *
 * A thousand streams on a 2-core machine must cost next to nothing, and the same on both
 * paths: each request is a bare TCP socket with a hand-written request (no HTTP parser, no
 * SSE parser, no `openai` client). Tokens are found by scanning the bytes for the stamp
 * marker; a token's latency is the arrival time of its TCP chunk minus the stamp the
 * upstream wrote. Chunked-encoding size lines sit only between writes, and every write
 * holds whole events on both paths, so they never split a stamp.
 *
 * Requests start evenly at the rate the parent gives (never all in the same millisecond,
 * which no real load does), so the upstream's token ticks are spread too; a generation
 * counts once it has every token and `[DONE]`.
 *
 * Two shapes of run: one wave (C generations started once; every token counts), or held
 * concurrency (`hold`): each of the C slots starts its next generation when the last one
 * ends, so C stay in flight with starts and ends spread out as in a service under steady
 * load, and only the window after the warm-up is measured.
 */
import net from 'node:net';
import { percentile } from '../harness.js';
import { pace, wallClock } from '../fanout/protocol.js';
import { readNumber } from '../fanout/stamp.js';
import { sendReply, serveCommands } from '../shared/serve-commands.js';
import { ResponseHead, hasStatus } from '../shared/response-head.js';
import {
  BENCH_MODEL,
  STAMP_MARKER,
  type ClientCommand,
  type ClientReply,
  type Hold,
  type Pacing,
  type RunFigures,
} from './protocol.js';

const DONE = Buffer.from('data: [DONE]');
/** The end of a chunked body: the last event's chunk, then the zero-size one. */
const LAST_CHUNK = Buffer.from('\n\n\r\n0\r\n\r\n');
/** Bytes kept from the end of a response to find `[DONE]` in once it closes. */
const TAIL_BYTES = 48;
/** Cap on samples per run (bounded memory; runs need far fewer). */
const MAX_SAMPLES = 2_000_000;

const BODY = JSON.stringify({
  model: BENCH_MODEL,
  messages: [{ role: 'user', content: 'Count the tokens, please.' }],
  stream: true,
});

const send = sendReply<ClientReply>;

interface Run {
  expected: number;
  /** Time to first token per generation, and when that generation started. */
  ttft: Float64Array;
  ttftStart: Float64Array;
  ttftCount: number;
  latency: Float64Array;
  /** Arrival time of each latency sample (for the steady-state and window splits). */
  arrival: Float64Array;
  latencyCount: number;
  /** Latest first-token arrival over the generations, and the first generation's end. */
  lastFirstToken: number;
  firstEnd: number;
  tokens: number;
  /** Generations started; the run is over once no more will start and all have ended. */
  started: number;
  moreToStart: boolean;
  completed: number;
  failed: number;
  open: Set<net.Socket>;
  endedAt: number;
  firstError: string | undefined;
  /** The measured window (wall clock): everything for one wave, the held window else. */
  from: number;
  to: number;
}

function fail(run: Run, reason: string): void {
  run.failed++;
  run.firstError ??= reason;
}

/** One generation; `onEnd` runs once its socket closed and it was counted. */
function generation(run: Run, url: URL, onEnd: () => void): void {
  const startedAt = wallClock();
  run.started++;
  const socket = net.connect({ host: url.hostname, port: Number(url.port) });
  socket.setNoDelay(true);
  run.open.add(socket);
  const response = new ResponseHead();
  let carry: Buffer | null = null;
  let tail = Buffer.alloc(0);
  let tokens = 0;
  let broken: string | undefined;

  /** Records every stamp in `chunk`; returns a cut-off marker to carry into the next one. */
  const scan = (chunk: Buffer, now: number): Buffer | null => {
    let at = chunk.indexOf(STAMP_MARKER);
    while (at >= 0) {
      const { value, end } = readNumber(chunk, at + STAMP_MARKER.length);
      if (Number.isNaN(value)) return chunk.subarray(at);
      if (tokens++ === 0) {
        if (run.ttftCount < run.ttft.length) {
          run.ttftStart[run.ttftCount] = startedAt;
          run.ttft[run.ttftCount++] = now - startedAt;
        }
        run.lastFirstToken = Math.max(run.lastFirstToken, now);
      }
      if (run.latencyCount < run.latency.length) {
        run.arrival[run.latencyCount] = now;
        run.latency[run.latencyCount++] = now - value;
      }
      run.tokens++;
      at = chunk.indexOf(STAMP_MARKER, end);
    }
    // The marker's first byte alone at the very end completes in the next chunk.
    return chunk[chunk.length - 1] === STAMP_MARKER[0] ? chunk.subarray(chunk.length - 1) : null;
  };

  socket.on('data', (chunk: Buffer) => {
    const now = wallClock();
    if (!response.done) {
      const parsed = response.feed(chunk);
      if (!parsed) return;
      if (!hasStatus(parsed.head, 200)) {
        broken = `HTTP ${parsed.head.subarray(0, 200).toString('latin1')}`;
        socket.destroy();
        return;
      }
      chunk = parsed.body;
    }
    carry = scan(carry ? Buffer.concat([carry, chunk]) : chunk, now);
    tail = Buffer.concat([tail, chunk.subarray(-TAIL_BYTES)]).subarray(-TAIL_BYTES);
    // The response is over at the last chunk of its chunked body: the socket is ours to
    // close (a server may keep it open despite `Connection: close`).
    if (tail.subarray(-LAST_CHUNK.length).equals(LAST_CHUNK)) socket.destroy();
  });
  socket.once('error', (error) => {
    broken ??= error.message;
  });
  socket.once('close', () => {
    run.open.delete(socket);
    if (broken !== undefined) fail(run, broken);
    else if (tokens !== run.expected) fail(run, `${tokens} of ${run.expected} tokens`);
    else if (tail.indexOf(DONE) < 0) fail(run, 'no [DONE]');
    else run.completed++;
    run.endedAt = wallClock();
    run.firstEnd = Math.min(run.firstEnd, run.endedAt);
    onEnd();
  });
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: ${url.host}\r\n` +
      'Content-Type: application/json\r\nAccept: text/event-stream\r\n' +
      `Content-Length: ${Buffer.byteLength(BODY)}\r\nConnection: close\r\n\r\n${BODY}`,
  );
}

/** Ends the run once no generation is left to start and every started one has ended. */
function settle(run: Run): void {
  if (!run.moreToStart && run.completed + run.failed === run.started) finish(run);
}

/** The samples of `values` whose time in `at` falls in (from, to]. */
function between(
  values: Float64Array,
  at: Float64Array,
  count: number,
  from: number,
  to: number,
): number[] {
  const kept: number[] = [];
  for (let i = 0; i < count; i++) if (at[i]! > from && at[i]! <= to) kept.push(values[i]!);
  return kept;
}

function finish(run: Run): void {
  if (!current || current.run !== run) return;
  const { startedAt, cpu, timer, wave } = current;
  current = null;
  clearTimeout(timer);
  for (const socket of run.open) socket.destroy();
  const used = process.cpuUsage(cpu);
  const ttft = between(run.ttft, run.ttftStart, run.ttftCount, run.from, run.to);
  const latency = between(run.latency, run.arrival, run.latencyCount, run.from, run.to);
  // One wave: the tokens that arrived while every generation was streaming (after the last
  // first token, before the first end), no setup or teardown under way. Held: the window.
  const steady = wave
    ? between(run.latency, run.arrival, run.latencyCount, run.lastFirstToken, run.firstEnd)
    : latency;
  const figures: RunFigures = {
    completed: run.completed,
    // Every generation that did not complete, even one that never started or ended.
    failed: (wave ?? run.started) - run.completed,
    tokens: run.tokens,
    ttftP50: percentile(ttft, 50),
    ttftP99: percentile(ttft, 99),
    tokenP50: percentile(latency, 50),
    tokenP99: percentile(latency, 99),
    tokenP99Steady: steady.length > 0 ? percentile(steady, 99) : Number.NaN,
    measuredTokens: latency.length,
    startedAt,
    endedAt: run.endedAt,
    cpuMicros: used.user + used.system,
    firstError: run.firstError,
  };
  send({ type: 'done', ...figures });
}

let current: {
  run: Run;
  startedAt: number;
  cpu: NodeJS.CpuUsage;
  timer: NodeJS.Timeout;
  /** The wave's size; undefined for held concurrency. */
  wave: number | undefined;
} | null = null;

function start(
  url: URL,
  clients: number,
  startRate: number,
  pacing: Pacing,
  timeout: number,
  hold: Hold | undefined,
): void {
  const startedAt = wallClock();
  const generationMs = pacing.ttftMs + (pacing.tokens * 1000) / pacing.tps;
  // Held: each slot runs about (warm-up + window) / generation length generations, and the
  // one it is in when starts stop; a wave: one per client.
  const perSlot = hold ? Math.ceil((hold.warmupMs + hold.windowMs) / generationMs) + 2 : 1;
  const capacity = Math.min(clients * perSlot * pacing.tokens, MAX_SAMPLES);
  const run: Run = {
    expected: pacing.tokens,
    ttft: new Float64Array(clients * perSlot),
    ttftStart: new Float64Array(clients * perSlot),
    ttftCount: 0,
    latency: new Float64Array(capacity),
    arrival: new Float64Array(capacity),
    latencyCount: 0,
    lastFirstToken: 0,
    firstEnd: Infinity,
    tokens: 0,
    started: 0,
    moreToStart: true,
    completed: 0,
    failed: 0,
    open: new Set(),
    endedAt: Number.NaN,
    firstError: undefined,
    from: hold ? startedAt + hold.warmupMs : -Infinity,
    to: hold ? startedAt + hold.warmupMs + hold.windowMs : Infinity,
  };
  current = {
    run,
    startedAt,
    cpu: process.cpuUsage(),
    // A run that stalls still ends, and reports what arrived.
    timer: setTimeout(() => {
      run.firstError ??= `timed out after ${timeout} ms`;
      finish(run);
    }, timeout),
    wave: hold ? undefined : clients,
  };
  const stopStartingAt = run.to;
  const slot = (): void =>
    generation(run, url, () => {
      if (hold && wallClock() < stopStartingAt) slot();
      else settle(run);
    });
  void pace(clients, startRate, slot).then(() => {
    // Held: the slots themselves stop starting at the end of the window.
    if (!hold) run.moreToStart = false;
    settle(run);
  });
  if (hold) {
    setTimeout(() => {
      run.moreToStart = false;
      settle(run);
    }, stopStartingAt - startedAt).unref();
  }
}

serveCommands<ClientCommand>(
  {
    run: (command) => {
      if (current) {
        send({ type: 'error', message: 'a run is already in progress' });
        return;
      }
      start(
        new URL(command.url),
        command.clients,
        command.startRate,
        command.pacing,
        command.timeout,
        command.hold,
      );
    },
  },
  () => {
    if (current) for (const socket of current.run.open) socket.destroy();
  },
);
