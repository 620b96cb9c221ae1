/**
 * The client load of the WebSocket benches: one process holding N connections to one server.
 *
 *   node --import tsx bench/ws/client-process.ts
 *
 * The machine has few cores and the server under test needs one, so the clients must cost
 * as little as possible and the same for every server: each connection is a bare TCP socket
 * with a hand-written upgrade and a minimal frame reader (frames.ts); it speaks just enough
 * of each dialect to be a subscriber:
 * - `sluice`: offers `sluice.v1.json` and sends `{"type":"subscribe","channel":"bench"}`;
 * - `raw`: nothing (every connection of a bare `ws` server receives the broadcast);
 * - `socketio`: Engine.IO v4 over WebSocket: sends `40` (connect to `/`), answers the
 *   server's pings (`2`) with pongs (`3`); the server joins it to the room.
 * A delivery is found by scanning each text frame for the payload's `"t":` key (several per
 * frame when a server batches); its latency is the arrival time of the TCP chunk minus the
 * publish stamp. "Stalled" connections subscribe, then stop reading from the kernel for good.
 */
import net from 'node:net';
import { percentile } from '../harness.js';
import { wallClock } from '../fanout/protocol.js';
import { STAMP_KEY, readNumber } from '../fanout/stamp.js';
import { FrameReader, OPCODE, clientFrame } from './frames.js';
import {
  WS_CHANNEL,
  type WsClientCommand,
  type WsClientReply,
  type WsDialect,
} from './protocol.js';

const HEADER_END = Buffer.from('\r\n\r\n');
/** Connections opened at a time, so the server's accept backlog never overflows. */
const CONNECT_CONCURRENCY = 64;
/** Cap on latency samples kept per run (bounded memory; runs ask for far fewer). */
const MAX_SAMPLES = 1_000_000;
const SUBSCRIBE = JSON.stringify({ type: 'subscribe', channel: WS_CHANNEL });

function send(reply: WsClientReply): void {
  process.send?.(reply);
}

const sockets: net.Socket[] = [];
let closed = 0;
let armed: {
  expected: number;
  delivered: number;
  lastAt: number;
  closedBefore: number;
  samples: Float64Array;
  cpu: NodeJS.CpuUsage;
  timer: NodeJS.Timeout;
} | null = null;

function onText(payload: Buffer, now: number): void {
  if (!armed) return;
  let at = payload.indexOf(STAMP_KEY);
  while (at >= 0) {
    const { value, end } = readNumber(payload, at + STAMP_KEY.length);
    if (armed.delivered < MAX_SAMPLES) armed.samples[armed.delivered] = now - value;
    armed.delivered++;
    armed.lastAt = now;
    at = payload.indexOf(STAMP_KEY, end);
  }
}

function upgradeRequest(url: URL, dialect: WsDialect): string {
  return (
    `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
    (dialect === 'sluice' ? 'Sec-WebSocket-Protocol: sluice.v1.json\r\n' : '') +
    '\r\n'
  );
}

function connect(url: URL, dialect: WsDialect, stalled: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    socket.setNoDelay(true);
    let head: Buffer | null = Buffer.alloc(0);
    let now = 0;
    const reader = new FrameReader((opcode, payload) => {
      if (opcode === OPCODE.text) {
        // Engine.IO ping: a one-byte text frame "2".
        if (dialect === 'socketio' && payload.length === 1 && payload[0] === 0x32) {
          socket.write(clientFrame(OPCODE.text, '3'));
        } else onText(payload, now);
      } else if (opcode === OPCODE.ping) socket.write(clientFrame(OPCODE.pong, payload));
      else if (opcode === OPCODE.close) socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      now = wallClock();
      if (head !== null) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf(HEADER_END);
        if (end < 0) return;
        if (!head.subarray(0, 12).toString('latin1').endsWith(' 101')) {
          reject(new Error(`Upgrade failed: ${head.subarray(0, 60).toString('latin1')}`));
          socket.destroy();
          return;
        }
        chunk = head.subarray(end + HEADER_END.length);
        head = null;
        if (dialect === 'sluice') socket.write(clientFrame(OPCODE.text, SUBSCRIBE));
        if (dialect === 'socketio') socket.write(clientFrame(OPCODE.text, '40'));
        sockets.push(socket);
        resolve();
        if (stalled) {
          // Never read again: the kernel buffers fill and the server must cope.
          socket.pause();
          return;
        }
      }
      reader.feed(chunk);
      if (armed && armed.delivered >= armed.expected) finish();
    });
    socket.once('close', () => {
      if (!stalled) closed++;
    });
    socket.once('error', reject);
    socket.write(upgradeRequest(url, dialect));
  });
}

async function connectAll(url: URL, dialect: WsDialect, clients: number, stalled: number) {
  let next = 0;
  const worker = async () => {
    while (next < clients + stalled) {
      const index = next++;
      await connect(url, dialect, index >= clients);
    }
  };
  const total = clients + stalled;
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, total) }, worker));
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
    closed: closed - run.closedBefore,
  });
}

process.on('message', (command: WsClientCommand) => {
  switch (command.type) {
    case 'connect':
      connectAll(new URL(command.url), command.dialect, command.clients, command.stalled ?? 0).then(
        () => send({ type: 'connected', clients: sockets.length }),
        (error: unknown) => send({ type: 'error', message: String(error) }),
      );
      break;
    case 'arm':
      armed = {
        expected: command.expected,
        delivered: 0,
        lastAt: Number.NaN,
        closedBefore: closed,
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
