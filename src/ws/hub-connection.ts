/**
 * One WebSocket connection in the hub: decodes and validates client messages, applies the
 * rate and abuse limits, runs requests one at a time (in order), and owns the outbound
 * queue, the channel subscriptions and every timer, all of which end with the socket.
 */
import type { Duplex } from 'node:stream';
import type { RawData } from 'ws';
import type { Principal } from '../core/auth.js';
import { isSluiceError } from '../core/errors.js';
import { CLOSE_CODES, closeReason } from './close-codes.js';
import type { HubShared } from './hub-stats.js';
import type { ChannelFeeds } from './channel-feed.js';
import type { ChannelHost, ChannelSubscription } from './hub-channel.js';
import type { ResolvedHubOptions } from './hub-options.js';
import { handleRequest, type RequestContext } from './hub-requests.js';
import { InboundGuard, readableRequestId } from './inbound-guard.js';
import { encodeFrame } from './event-frame.js';
import { outboundLimits, type HubSocket, type SocketOwner } from './hub-socket.js';
import { OutboundQueue } from './outbound-queue.js';
import {
  PROTOCOL_VERSION,
  type RequestId,
  type ServerMessage,
  type WireCodec,
} from './protocol.js';
import { parseClientMessage } from './protocol-parse.js';
import { SubscriptionTable } from './subscription-table.js';
import { MAX_TIMER_MS } from '../core/timer-bound.js';

const RESOLVED: Promise<void> = Promise.resolve();

/** A connection's life, one field: open, closing (no more sends), cleaning up, finished. */
const OPEN = 0;
const CLOSING = 1;
const CLEANING = 2;
/** Cleanup finished: `closed` is settled from here on. */
const FINISHED = 3;

export class HubConnection implements ChannelHost, RequestContext, SocketOwner {
  readonly id: string;
  readonly principal: Principal;
  readonly codec: WireCodec;
  readonly outbound: OutboundQueue;
  readonly subscriptions = new SubscriptionTable<ChannelSubscription>();
  readonly #ws: HubSocket;
  readonly #shared: HubShared;
  readonly #guard: InboundGuard;
  #alive = true;
  #phase = OPEN;
  #pending = 0;
  /** The request chain; back to the shared resolved promise whenever it runs empty. */
  #chain: Promise<void> = RESOLVED;
  /**
   * The token-expiry timer while open, the close-handshake timer once closing: never both,
   * so one field.
   */
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** `closed`, created only when someone asks (the hub only does when it shuts down). */
  #closed: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(
    ws: HubSocket,
    init: {
      id: string;
      principal: Principal;
      codec: WireCodec;
      /** The upgraded socket `ws` runs on: complete frames are written to it directly. */
      socket: Duplex;
    },
    shared: HubShared,
  ) {
    this.#ws = ws;
    ws.attach(this, init.socket);
    this.id = init.id;
    this.principal = init.principal;
    this.codec = init.codec;
    this.#shared = shared;
    this.#guard = new InboundGuard(shared.options);
    this.outbound = new OutboundQueue(ws, outboundLimits(shared.options, init.codec));
  }

  /** The hub's options, read through the shared object: one field less per connection. */
  get options(): ResolvedHubOptions {
    return this.#shared.options;
  }

  get feeds(): ChannelFeeds {
    return this.#shared.feeds;
  }

  /** Resolves once the socket closed and every subscription was torn down. */
  get closed(): Promise<void> {
    if (this.#phase === FINISHED) return RESOLVED;
    if (this.#closed === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => (resolve = done));
      this.#closed = { promise, resolve };
    }
    return this.#closed.promise;
  }

  /** Sends the welcome and starts listening. */
  start(): void {
    this.send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      clientId: this.id,
      subject: this.principal.subject,
      heartbeat: this.options.heartbeatInterval,
      maxPayload: this.options.maxPayload,
    });
    this.#armExpiry();
  }

  /**
   * One heartbeat tick: terminate if nothing arrived since the last tick, else ping. Not
   * while the hub has stopped reading this socket (too many of its requests wait on the
   * broker): the peer's pongs are then waiting unread, and silence proves nothing.
   */
  heartbeat(): void {
    if (this.#phase !== OPEN) return;
    if (!this.#alive && !this.#ws.isPaused) {
      this.#shared.counters.heartbeatTimeouts++;
      this.terminate();
      return;
    }
    this.#alive = false;
    this.#ws.ping();
  }

  send(message: ServerMessage): void {
    if (this.#phase !== OPEN) return;
    const data = encodeFrame(this.codec, message);
    if (this.outbound.offer({ data, control: true }) === 'full') {
      this.slowConsumer();
    }
  }

  slowConsumer(): void {
    if (this.#phase !== OPEN) return;
    this.#shared.counters.slowConsumerDisconnects++;
    this.close(CLOSE_CODES.SLOW_CONSUMER);
  }

  fail(error: unknown): void {
    if (this.#phase !== OPEN) return;
    this.options.onError(error, { clientId: this.id });
    this.close(CLOSE_CODES.INTERNAL_ERROR);
  }

  /** Closes with a close frame; the socket is destroyed if the peer does not answer in time. */
  close(code: number, reason = closeReason(code)): void {
    if (this.#phase !== OPEN) return;
    this.#phase = CLOSING;
    this.outbound.close(); // a closing connection holds no backlog
    this.#ws.close(code, reason);
    clearTimeout(this.#timer); // no token expiry while closing
    this.#timer = setTimeout(() => this.#ws.terminate(), this.options.closeTimeout);
    this.#timer.unref();
  }

  terminate(): void {
    if (this.#phase === OPEN) this.#phase = CLOSING;
    this.#ws.terminate();
  }

  replyError(error: unknown, rid?: RequestId, channel?: string): void {
    let code: string = 'internal_error';
    let message = 'Internal error';
    if (isSluiceError(error)) {
      code = error.code;
      message = error.message;
    } else {
      this.options.onError(error, { clientId: this.id });
    }
    this.send({
      type: 'error',
      code,
      message,
      ...(rid === undefined ? {} : { rid }),
      ...(channel === undefined ? {} : { channel }),
    });
  }

  socketError(error: Error): void {
    this.options.onError(error, { clientId: this.id });
  }

  /** A pong: the peer is alive (see `heartbeat`). */
  alive(): void {
    this.#alive = true;
  }

  /** A data frame from the peer: one message or a batch. */
  receive(data: RawData, isBinary: boolean): void {
    this.#alive = true;
    if (this.#phase !== OPEN) return;
    let values: unknown[];
    try {
      const bytes = Array.isArray(data)
        ? Buffer.concat(data)
        : data instanceof ArrayBuffer
          ? Buffer.from(data)
          : data;
      // ws has already checked that text frames are valid UTF-8.
      values = this.codec.decode(isBinary ? bytes : bytes.toString('utf8'));
    } catch (error) {
      this.#invalidMessage(error);
      return;
    }
    for (const value of values) {
      if (this.#phase !== OPEN) return;
      const admission = this.#guard.admit();
      if (admission !== 'accept') {
        this.#rateLimited(value, admission);
        continue;
      }
      try {
        const message = parseClientMessage(value);
        this.#schedule(() => handleRequest(this, message));
      } catch (error) {
        this.#invalidMessage(error);
      }
    }
  }

  /** Runs requests in arrival order; stops reading the socket while too many wait. */
  #schedule(task: () => Promise<void>): void {
    this.#pending++;
    if (this.#pending >= this.options.maxPendingMessages) this.#ws.pause();
    this.#chain = this.#chain
      .then(task)
      .catch((error: unknown) => this.replyError(error))
      .finally(() => {
        if (--this.#pending === 0) this.#chain = RESOLVED; // nothing left to chain after
        if (this.#ws.isPaused && this.#pending <= this.options.maxPendingMessages / 2) {
          this.#ws.resume();
        }
      });
  }

  #invalidMessage(error: unknown): void {
    this.#shared.counters.invalidMessages++;
    if (this.#guard.invalid(error) === 'close') this.close(CLOSE_CODES.BAD_CLIENT);
    else this.replyError(error, readableRequestId(error));
  }

  #rateLimited(value: unknown, admission: 'reject' | 'close'): void {
    this.#shared.counters.rateLimited++;
    if (admission === 'close') {
      this.close(CLOSE_CODES.RATE_LIMITED);
      return;
    }
    const rid = readableRequestId(value);
    this.send({
      type: 'error',
      code: 'ws_rate_limited',
      message: 'Rate limit exceeded: message discarded',
      ...(rid === undefined ? {} : { rid }),
    });
  }

  #armExpiry(): void {
    const expiresAt = this.principal.expiresAt;
    if (expiresAt === undefined || this.#phase !== OPEN) return;
    const delay = expiresAt - Date.now();
    if (delay <= 0) {
      this.close(CLOSE_CODES.TOKEN_EXPIRED);
      return;
    }
    this.#timer = setTimeout(
      () => this.#armExpiry(),
      Math.min(delay, MAX_TIMER_MS) /* later expiries re-arm */,
    );
    this.#timer.unref();
  }

  /** The socket closed: stops timers, drops the backlog, leaves every channel. */
  async cleanup(): Promise<void> {
    if (this.#phase >= CLEANING) return;
    this.#phase = CLEANING;
    clearTimeout(this.#timer);
    this.outbound.close();
    const subscriptions = this.subscriptions.values();
    this.subscriptions.clear();
    // Presence must be right after abrupt disconnects: every membership is left here.
    const results = await Promise.allSettled(subscriptions.map((sub) => sub.stop()));
    for (const result of results) {
      if (result.status === 'rejected') this.options.onError(result.reason, { clientId: this.id });
    }
    this.#phase = FINISHED;
    this.#ws.owner = undefined;
    // Into the hub's totals as it leaves the set whose counts stats() adds: never twice.
    const stats = this.outbound.stats();
    const counters = this.#shared.counters;
    counters.dropped += stats.dropped;
    counters.conflated += stats.conflated;
    this.#closed?.resolve();
    this.#shared.connectionClosed(this);
  }

  get isClosing(): boolean {
    return this.#phase !== OPEN;
  }
}
