/**
 * The client load of the SSE fan-out bench: one process holding N subscriber connections.
 *
 *   node --import tsx bench/fanout/client-process.ts
 *
 * The machine has few cores and the server under test needs one, so the clients must cost
 * as little as possible and the same for both servers: each connection is a bare TCP socket
 * with a hand-written `GET` (no HTTP parser, no SSE parser). A delivery is found by scanning
 * the bytes for the payload's `"t":` key; its latency is the arrival time of the TCP chunk
 * minus the publish time `t` read from the bytes after it. Chunked-encoding size lines only
 * ever sit between events (one write per event on both servers), so they never split a key.
 */
import net from 'node:net';
import { percentile } from '../harness.js';
import { STAMP_KEY, readNumber } from './stamp.js';
import { EVENTS_PATH, wallClock, type ClientCommand, type ClientReply } from './protocol.js';

const KEY = STAMP_KEY;
const HEADER_END = Buffer.from('\r\n\r\n');
/** Connections opened at a time, so the server's accept backlog never overflows. */
const CONNECT_CONCURRENCY = 64;
/** Cap on latency samples kept per run (bounded memory; runs ask for far fewer). */
const MAX_SAMPLES = 1_000_000;

function send(reply: ClientReply): void {
  process.send?.(reply);
}

const sockets: net.Socket[] = [];
let armed: {
  expected: number;
  delivered: number;
  lastAt: number;
  samples: Float64Array;
  cpu: NodeJS.CpuUsage;
  timer: NodeJS.Timeout;
} | null = null;

/** Scans one chunk; returns the tail to carry into the next chunk (a key cut in two). */
function scan(chunk: Buffer, now: number): Buffer | null {
  let at = chunk.indexOf(KEY);
  while (at >= 0) {
    const { value, end } = readNumber(chunk, at + KEY.length);
    if (Number.isNaN(value)) return chunk.subarray(at);
    if (armed) {
      if (armed.delivered < MAX_SAMPLES) armed.samples[armed.delivered] = now - value;
      armed.delivered++;
      armed.lastAt = now;
    }
    at = chunk.indexOf(KEY, end);
  }
  // A key prefix at the very end ('"', '"t' or '"t:') completes in the next chunk.
  for (let keep = KEY.length - 1; keep > 0; keep--) {
    if (chunk.length >= keep && chunk.subarray(chunk.length - keep).equals(KEY.subarray(0, keep))) {
      return chunk.subarray(chunk.length - keep);
    }
  }
  return null;
}

function connect(url: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    socket.setNoDelay(true);
    let head: Buffer | null = Buffer.alloc(0);
    let carry: Buffer | null = null;
    socket.on('data', (chunk: Buffer) => {
      const now = wallClock();
      if (head !== null) {
        // Until the end of the response headers: check the status line, then start scanning.
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf(HEADER_END);
        if (end < 0) return;
        if (!head.subarray(0, 12).toString('latin1').endsWith(' 200')) {
          reject(new Error(`Subscribe failed: ${head.subarray(0, 40).toString('latin1')}`));
          socket.destroy();
          return;
        }
        chunk = head.subarray(end + HEADER_END.length);
        head = null;
        sockets.push(socket);
        resolve();
      }
      carry = scan(carry ? Buffer.concat([carry, chunk]) : chunk, now);
      if (armed && armed.delivered >= armed.expected) finish();
    });
    socket.once('error', reject);
    socket.write(
      `GET ${EVENTS_PATH} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`,
    );
  });
}

async function connectAll(url: URL, clients: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < clients) {
      next++;
      await connect(url);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, clients) }, worker));
}

function finish(): void {
  if (!armed) return;
  const run = armed;
  armed = null;
  clearTimeout(run.timer);
  const cpu = process.cpuUsage(run.cpu);
  const samples = Array.from(run.samples.subarray(0, Math.min(run.delivered, MAX_SAMPLES)));
  send({
    type: 'done',
    delivered: run.delivered,
    lastAt: run.lastAt,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    cpuMicros: cpu.user + cpu.system,
  });
}

process.on('message', (command: ClientCommand) => {
  switch (command.type) {
    case 'connect':
      connectAll(new URL(command.url), command.clients).then(
        () => send({ type: 'connected', clients: sockets.length }),
        (error: unknown) => send({ type: 'error', message: String(error) }),
      );
      break;
    case 'arm':
      armed = {
        expected: command.expected,
        delivered: 0,
        lastAt: Number.NaN,
        samples: new Float64Array(Math.min(command.expected, MAX_SAMPLES)),
        cpu: process.cpuUsage(),
        // A run that loses deliveries still ends, and reports how many arrived.
        timer: setTimeout(finish, command.timeout),
      };
      send({ type: 'armed' });
      break;
    case 'exit':
      process.disconnect();
      break;
  }
});

process.once('disconnect', () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});
