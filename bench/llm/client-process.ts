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
  ttft: Float64Array;
  ttftCount: number;
  latency: Float64Array;
  /** Arrival time of each latency sample (for the steady-state split). */
  arrival: Float64Array;
  latencyCount: number;
  /** Latest first-token arrival over the generations. */
  lastFirstToken: number;
  tokens: number;
  completed: number;
  failed: number;
  open: Set<net.Socket>;
  endedAt: number;
  firstError: string | undefined;
}

function fail(run: Run, reason: string): void {
  run.failed++;
  run.firstError ??= reason;
}

function generation(run: Run, url: URL): void {
  const startedAt = wallClock();
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
        if (run.ttftCount < run.ttft.length) run.ttft[run.ttftCount++] = now - startedAt;
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
    if (run.completed + run.failed === run.ttft.length) finish(run);
  });
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: ${url.host}\r\n` +
      'Content-Type: application/json\r\nAccept: text/event-stream\r\n' +
      `Content-Length: ${Buffer.byteLength(BODY)}\r\nConnection: close\r\n\r\n${BODY}`,
  );
}

let current: { run: Run; startedAt: number; cpu: NodeJS.CpuUsage; timer: NodeJS.Timeout } | null =
  null;

function finish(run: Run): void {
  if (!current || current.run !== run) return;
  const { startedAt, cpu, timer } = current;
  current = null;
  clearTimeout(timer);
  for (const socket of run.open) socket.destroy();
  const used = process.cpuUsage(cpu);
  const ttft = Array.from(run.ttft.subarray(0, run.ttftCount));
  const latency = Array.from(run.latency.subarray(0, run.latencyCount));
  const steady = latency.filter((_, i) => run.arrival[i]! > run.lastFirstToken);
  const figures: RunFigures = {
    completed: run.completed,
    failed: run.failed + (run.ttft.length - run.completed - run.failed),
    tokens: run.tokens,
    ttftP50: percentile(ttft, 50),
    ttftP99: percentile(ttft, 99),
    tokenP50: percentile(latency, 50),
    tokenP99: percentile(latency, 99),
    tokenP99Steady: steady.length > 0 ? percentile(steady, 99) : Number.NaN,
    startedAt,
    endedAt: run.endedAt,
    cpuMicros: used.user + used.system,
    firstError: run.firstError,
  };
  send({ type: 'done', ...figures });
}

function start(
  url: URL,
  clients: number,
  startRate: number,
  pacing: Pacing,
  timeout: number,
): void {
  const run: Run = {
    expected: pacing.tokens,
    ttft: new Float64Array(clients),
    ttftCount: 0,
    latency: new Float64Array(Math.min(clients * pacing.tokens, MAX_SAMPLES)),
    arrival: new Float64Array(Math.min(clients * pacing.tokens, MAX_SAMPLES)),
    latencyCount: 0,
    lastFirstToken: 0,
    tokens: 0,
    completed: 0,
    failed: 0,
    open: new Set(),
    endedAt: Number.NaN,
    firstError: undefined,
  };
  current = {
    run,
    startedAt: wallClock(),
    cpu: process.cpuUsage(),
    // A run that stalls still ends, and reports what arrived.
    timer: setTimeout(() => {
      run.firstError ??= `timed out after ${timeout} ms`;
      finish(run);
    }, timeout),
  };
  void pace(clients, startRate, () => generation(run, url));
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
      );
    },
  },
  () => {
    if (current) for (const socket of current.run.open) socket.destroy();
  },
);
