/**
 * What the SSE fan-out bench's three processes say to each other over IPC, and the pieces
 * both server implementations must share so that they do exactly the same work apart from
 * the code under test: the payload, the publish pacer and the wall clock used for latency.
 */
import type {
  ArmCommand,
  DeliveryClientReply,
  DeliveryServerCommand,
  DeliveryServerReply,
} from '../shared/delivery-protocol.js';

/** Parent -> server process. */
export type ServerCommand =
  { type: 'subscribers' } | { type: 'memory' } | DeliveryServerCommand | { type: 'exit' };

/** Server process -> parent. */
export type ServerReply =
  | { type: 'listening'; url: string }
  | { type: 'subscribers'; count: number }
  | { type: 'memory'; usage: MemoryUsage }
  | DeliveryServerReply;

/** The server's `process.memoryUsage()` after full collections (needs `--expose-gc`). */
export interface MemoryUsage {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
}

/** Parent -> client-load process. */
export type ClientCommand =
  { type: 'connect'; url: string; clients: number } | ArmCommand | { type: 'exit' };

/** Client-load process -> parent. */
export type ClientReply = DeliveryClientReply;

/** The path the client-load process subscribes to on either server. */
export const EVENTS_PATH = '/v1/channels/bench/events';
export const CHANNEL = 'bench';

/**
 * Wall clock with sub-millisecond precision, comparable across processes on one machine:
 * the publisher stamps each message with it and the client subtracts it on arrival.
 */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

/** About 100 bytes of JSON, `t` first so the client's scanner finds it at a fixed key. */
export function payload(seq: number): { t: number; seq: number; pad: string } {
  return { t: wallClock(), seq, pad: PAD };
}

const PAD = 'x'.repeat(48);

/**
 * Calls `publish(seq)` `count` times at `rate` per second, catching up in bursts when a tick
 * comes late (so a busy server does not silently lower the offered load). Resolves with the
 * wall-clock start and end.
 */
export function pace(
  count: number,
  rate: number,
  publish: (seq: number) => void,
): Promise<{ startedAt: number; endedAt: number }> {
  const tick = Math.min(20, Math.max(1, 1000 / rate));
  const startedAt = wallClock();
  let sent = 0;
  return new Promise((resolve) => {
    const step = () => {
      const due = Math.min(count, Math.floor(((wallClock() - startedAt) * rate) / 1000) + 1);
      while (sent < due) publish(sent++);
      if (sent >= count) resolve({ startedAt, endedAt: wallClock() });
      else setTimeout(step, tick);
    };
    step();
  });
}
