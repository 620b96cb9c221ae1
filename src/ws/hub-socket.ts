/**
 * The hub's side of ws: its WebSocket class, the sink that writes complete frames to the
 * upgraded socket, and the outbound limits its connections share. Everything here is per
 * connection or shared by all, sized for thousands of idle connections.
 */
import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import { encodeFrame } from './event-frame.js';
import type { ResolvedHubOptions } from './hub-options.js';
import { OutboundLimits, type OutboundSink } from './outbound-queue.js';
import type { WireCodec } from './protocol.js';

/** What a socket reports to its connection. */
export interface SocketOwner {
  /** A data frame from the peer: one message or a batch. */
  receive(data: RawData, isBinary: boolean): void;
  /** A pong: the peer is alive. */
  alive(): void;
  /** A socket error that is not the peer's protocol fault. */
  socketError(error: Error): void;
  /** The socket closed. */
  cleanup(): Promise<void>;
}

/**
 * The hub's WebSocket class (ws's `WebSocket` server option). ws announces a socket's
 * messages, pongs, errors and close through `emit`; this class hands those four straight to
 * its connection instead of going through listeners, which would be four closures and a
 * growing listener table (a dictionary-mode object) per connection. Other events take the
 * ordinary path.
 */
export class HubSocket extends WebSocket {
  owner: SocketOwner | undefined = undefined;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    switch (event) {
      case 'message':
        this.owner?.receive(args[0] as RawData, args[1] as boolean);
        return true;
      case 'pong':
        this.owner?.alive();
        return true;
      case 'error': {
        // WS_ERR_* are the peer's protocol faults (oversized or invalid frames): ws closes
        // with the matching code itself; they are not server errors.
        const error = args[0] as Error & { code?: unknown };
        const code = typeof error.code === 'string' ? error.code : '';
        if (!code.startsWith('WS_ERR_')) this.owner?.socketError(error);
        return true;
      }
      case 'close':
        void this.owner?.cleanup();
        return super.emit(event, ...args);
      default:
        return super.emit(event, ...args);
    }
  }
}

const OPEN = WebSocket.OPEN;

/**
 * Writes complete frames (see ws-frame.ts) to the upgraded socket as they are, in order
 * with ws's own control frames, and never after ws began its closing handshake. A class, not
 * an object literal with closures: one small object per connection.
 */
export class SocketSink implements OutboundSink {
  readonly #ws: WebSocket;
  readonly #socket: Duplex;

  constructor(ws: WebSocket, socket: Duplex) {
    this.#ws = ws;
    this.#socket = socket;
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  send(frame: Uint8Array, done: () => void): void {
    if (this.#ws.readyState === OPEN) this.#socket.write(frame, done);
  }
}

/** Outbound limits and drop-notice encoder per hub and wire format, shared by its connections. */
const outboundLimitsByHub = new WeakMap<ResolvedHubOptions, Map<WireCodec, OutboundLimits>>();

export function outboundLimits(options: ResolvedHubOptions, codec: WireCodec): OutboundLimits {
  let byCodec = outboundLimitsByHub.get(options);
  if (!byCodec) {
    byCodec = new Map();
    outboundLimitsByHub.set(options, byCodec);
  }
  let limits = byCodec.get(codec);
  if (!limits) {
    limits = new OutboundLimits({
      maxBytes: options.maxBufferedBytes,
      encodeDropNotice: (channel, count) =>
        encodeFrame(codec, { type: 'gap', channel, reason: 'dropped', count }),
    });
    byCodec.set(codec, limits);
  }
  return limits;
}
