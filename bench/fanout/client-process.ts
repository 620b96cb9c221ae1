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
import { STAMP_KEY, readNumber } from './stamp.js';
import { EVENTS_PATH, wallClock, type ClientCommand, type ClientReply } from './protocol.js';
import { DeliveryRecorder, connectAll } from '../shared/delivery-recorder.js';
import { sendReply, serveCommands } from '../shared/serve-commands.js';
import { ResponseHead, hasStatus } from '../shared/response-head.js';

const KEY = STAMP_KEY;

const send = sendReply<ClientReply>;

const sockets: net.Socket[] = [];
const recorder = new DeliveryRecorder((figures) => send({ type: 'done', ...figures }));

/** Scans one chunk; returns the tail to carry into the next chunk (a key cut in two). */
function scan(chunk: Buffer, now: number): Buffer | null {
  let at = chunk.indexOf(KEY);
  while (at >= 0) {
    const { value, end } = readNumber(chunk, at + KEY.length);
    if (Number.isNaN(value)) return chunk.subarray(at);
    recorder.record(now, value);
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
    const response = new ResponseHead();
    let carry: Buffer | null = null;
    socket.on('data', (chunk: Buffer) => {
      const now = wallClock();
      if (!response.done) {
        // Until the end of the response headers: check the status line, then start scanning.
        const parsed = response.feed(chunk);
        if (!parsed) return;
        if (!hasStatus(parsed.head, 200)) {
          reject(new Error(`Subscribe failed: ${parsed.head.subarray(0, 40).toString('latin1')}`));
          socket.destroy();
          return;
        }
        chunk = parsed.body;
        sockets.push(socket);
        resolve();
      }
      carry = scan(carry ? Buffer.concat([carry, chunk]) : chunk, now);
      recorder.finishIfComplete();
    });
    socket.once('error', reject);
    socket.write(
      `GET ${EVENTS_PATH} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`,
    );
  });
}

serveCommands<ClientCommand>(
  {
    connect: ({ url, clients }) => {
      const target = new URL(url);
      connectAll(clients, () => connect(target)).then(
        () => send({ type: 'connected', clients: sockets.length }),
        (error: unknown) => send({ type: 'error', message: String(error) }),
      );
    },
    arm: ({ expected, timeout }) => {
      recorder.arm(expected, timeout);
      send({ type: 'armed' });
    },
  },
  () => {
    for (const socket of sockets) socket.destroy();
  },
);
