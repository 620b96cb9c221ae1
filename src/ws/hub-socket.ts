/**
 * The hub's side of ws: its WebSocket class, which also writes complete frames to the
 * upgraded socket, and the outbound limits its connections share. Everything here is per
 * connection or shared by all, sized for thousands of idle connections.
 */
import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import { encodeFrame } from './event-frame.js';
import type { ResolvedHubOptions } from './hub-options.js';
import { OUTBOUND_DEFAULTS, OutboundLimits, type OutboundSink } from './outbound-queue.js';
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

const OPEN = WebSocket.OPEN;

/**
 * The hub's WebSocket class (ws's `WebSocket` server option). ws announces a socket's
 * messages, pongs, errors and close through `emit`; this class hands those four straight to
 * its connection instead of going through listeners, which would be four closures and a
 * growing listener table (a dictionary-mode object) per connection. Other events take the
 * ordinary path.
 *
 * It is also its connection's outbound sink: complete frames (see ws-frame.ts) are written
 * to the upgraded socket as they are, in order with ws's own control frames, and never after
 * ws began its closing handshake. No separate sink object per connection.
 */
export class HubSocket extends WebSocket implements OutboundSink {
  owner: SocketOwner | undefined = undefined;
  /** The upgraded socket ws runs on (`attach`). */
  #raw: Duplex | undefined = undefined;

  /** Binds the socket to its connection and to the upgraded socket frames are written to. */
  attach(owner: SocketOwner, raw: Duplex): void {
    this.owner = owner;
    this.#raw = raw;
  }

  writeFrame(frame: Uint8Array, done?: () => void): void {
    if (this.readyState !== OPEN) return;
    // Without a callback Node schedules less per write (the fan-out's common case).
    if (done) this.#raw?.write(frame, done);
    else this.#raw?.write(frame);
  }

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
      controlReserve: OUTBOUND_DEFAULTS.controlReserve,
      encodeDropNotice: (channel, count) =>
        encodeFrame(codec, { type: 'gap', channel, reason: 'dropped', count }),
    });
    byCodec.set(codec, limits);
  }
  return limits;
}
