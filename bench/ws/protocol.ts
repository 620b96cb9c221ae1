/**
 * What the WebSocket benches' processes say to each other over IPC. The pacer, the wall
 * clock and the ~100-byte broadcast payload are the SSE fan-out bench's (bench/fanout/), so
 * both fan-out benches offer the same load and measure latency the same way.
 */
import { payload, wallClock } from '../fanout/protocol.js';
import type {
  ArmCommand,
  DeliveryClientReply,
  DeliveryServerCommand,
  DeliveryServerReply,
} from '../shared/delivery-protocol.js';

/** The servers under test (one process each). */
export type WsServerKind = 'sluice' | 'ws-loop' | 'ws-frame' | 'socketio';

/** How the client load process speaks to a server: which path and handshake. */
export type WsDialect = 'sluice' | 'raw' | 'socketio';

export const DIALECT: Record<WsServerKind, WsDialect> = {
  sluice: 'sluice',
  'ws-loop': 'raw',
  'ws-frame': 'raw',
  socketio: 'socketio',
};

/** Options of a server process, passed as JSON in its second argument. */
export interface WsServerOptions {
  /** sluice only: the channel's overflow policy (default `disconnect`). */
  policy?: 'disconnect' | 'drop-oldest';
  /** sluice only: keep the default 25 s heartbeat (off otherwise: no pings in a window). */
  heartbeat?: boolean;
  /** Payload padding in bytes (default: the fan-out bench's ~100-byte payload). */
  padBytes?: number;
}

export interface MemorySample {
  /** ms since the sampling started. */
  at: number;
  rss: number;
  heapUsed: number;
  /** Buffers outside the JS heap (`memoryUsage().arrayBuffers`): where socket backlogs sit. */
  arrayBuffers: number;
  connections: number;
  /** The largest outbound backlog of one connection as the server sees it, bytes. */
  maxConnectionBuffered: number;
}

/** Parent -> server process. */
export type WsServerCommand =
  | { type: 'count' }
  | DeliveryServerCommand
  | { type: 'memory' }
  /** Publishes like `publish` and samples memory (after a full GC) every `interval` ms. */
  | { type: 'stall'; count: number; rate: number; interval: number }
  | { type: 'exit' };

/** Server process -> parent. */
export type WsServerReply =
  | { type: 'listening'; url: string }
  | { type: 'count'; count: number }
  | { type: 'memory'; sample: MemorySample }
  | { type: 'stalled'; samples: MemorySample[]; startedAt: number; endedAt: number }
  | DeliveryServerReply;

/** Parent -> client-load process. */
export type WsClientCommand =
  | {
      type: 'connect';
      url: string;
      dialect: WsDialect;
      clients: number;
      /** Extra connections that subscribe, then never read again. */
      stalled?: number;
    }
  | ArmCommand
  | { type: 'exit' };

/** Client-load process -> parent: `done` also counts reading connections the server closed. */
export type WsClientReply = DeliveryClientReply<{ closed: number }>;

export const WS_CHANNEL = 'bench';

/** The same payload as the SSE bench, or one padded to about `padBytes` of JSON. */
export function benchPayload(seq: number, padBytes?: number): unknown {
  if (padBytes === undefined) return payload(seq);
  return { t: wallClock(), seq, pad: pad(padBytes) };
}

let padCache = '';
function pad(bytes: number): string {
  if (padCache.length !== bytes) padCache = 'x'.repeat(bytes);
  return padCache;
}
