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
import { wallClock } from '../fanout/protocol.js';
import { STAMP_KEY, readNumber } from '../fanout/stamp.js';
import { FrameReader, OPCODE, clientFrame } from './frames.js';
import {
  WS_CHANNEL,
  type WsClientCommand,
  type WsClientReply,
  type WsDialect,
} from './protocol.js';
import { DeliveryRecorder, connectAll } from '../shared/delivery-recorder.js';
import { sendReply, serveCommands } from '../shared/serve-commands.js';
import { ResponseHead, hasStatus } from '../shared/response-head.js';

const SUBSCRIBE = JSON.stringify({ type: 'subscribe', channel: WS_CHANNEL });

const send = sendReply<WsClientReply>;

const sockets: net.Socket[] = [];
/** Reading connections closed so far, and at the current run's `arm`. */
let closed = 0;
let closedBefore = 0;
const recorder = new DeliveryRecorder((figures) =>
  send({ type: 'done', ...figures, closed: closed - closedBefore }),
);

function onText(payload: Buffer, now: number): void {
  if (!recorder.armed) return;
  let at = payload.indexOf(STAMP_KEY);
  while (at >= 0) {
    const { value, end } = readNumber(payload, at + STAMP_KEY.length);
    recorder.record(now, value);
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
    const response = new ResponseHead();
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
      if (!response.done) {
        const parsed = response.feed(chunk);
        if (!parsed) return;
        if (!hasStatus(parsed.head, 101)) {
          reject(new Error(`Upgrade failed: ${parsed.head.subarray(0, 60).toString('latin1')}`));
          socket.destroy();
          return;
        }
        chunk = parsed.body;
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
      recorder.finishIfComplete();
    });
    socket.once('close', () => {
      if (!stalled) closed++;
    });
    socket.once('error', reject);
    socket.write(upgradeRequest(url, dialect));
  });
}

serveCommands<WsClientCommand>(
  {
    connect: ({ url, dialect, clients, stalled = 0 }) => {
      const target = new URL(url);
      // The first `clients` connections read; the `stalled` after them never do.
      connectAll(clients + stalled, (index) => connect(target, dialect, index >= clients)).then(
        () => send({ type: 'connected', clients: sockets.length }),
        (error: unknown) => send({ type: 'error', message: String(error) }),
      );
    },
    arm: ({ expected, timeout }) => {
      closedBefore = closed;
      recorder.arm(expected, timeout);
      send({ type: 'armed' });
    },
  },
  () => {
    for (const socket of sockets) socket.destroy();
  },
);
