/**
 * The sluice WebSocket client: the wire protocol (ws/protocol.ts) over a ReconnectingWebSocket.
 *
 * - Subscriptions survive reconnects: each re-subscribes with `since` = its last event id, the
 *   server replays what was missed (or says `gap`), and duplicates are dropped by id.
 * - `publish` resolves with the event id from the server's ack, or fails with a typed error.
 * - An app-level ping (browsers cannot send ping frames) finds half-open connections.
 *
 * Per connection, the server handles our messages in order and answers in order. So after
 * an `unsubscribe`, every event for that channel until its ack belongs to the old server-side
 * subscription; those are dropped ("draining"), which makes pause/resume and
 * unsubscribe-then-subscribe on one connection exact.
 */
import type { PresenceMember } from '../broker/types.js';
import { assertChannelName } from '../core/channel.js';
import { checkCount, checkDelay } from '../core/check-options.js';
import { SluiceError } from '../core/errors.js';
import {
  TOKEN_SUBPROTOCOL_PREFIX,
  codecForFormat,
  type ClientMessage,
  type RequestId,
  type ServerMessage,
  type WireCodec,
} from '../ws/protocol.js';
import { ReconnectingWebSocket } from './reconnecting-websocket.js';
import { TypedEventTarget } from './reconnecting-websocket-target.js';
import { StateChangeEvent, type UrlProvider } from './reconnecting-websocket-types.js';
import { decodeServerFrame, serverError } from './ws-client-decode.js';
import { Requests } from './ws-client-requests.js';
import { SubscribeRetry } from './ws-client-retry.js';
import {
  Subscription,
  type SubscriptionFeed,
  type SubscriptionHost,
} from './ws-client-subscription.js';
import {
  ClientErrorEvent,
  SLUICE_SOCKET_DEFAULTS as DEFAULTS,
  type PublishOptions,
  type SluiceSocketOptions,
  type SubscribeOptions,
} from './ws-client-types.js';

/**
 * A subscribe or unsubscribe on the wire. A subscribe remembers the feed it was sent for:
 * its reply may come after that subscription was dropped and the channel subscribed
 * again, and must then not ack or end the newer one.
 */
type WireRequest =
  | { kind: 'subscribe'; channel: string; feed: SubscriptionFeed }
  | { kind: 'unsubscribe'; channel: string };

export interface SluiceSocketEventMap {
  statechange: StateChangeEvent;
  /** Undecodable frames, invalid messages, server errors without a request id. */
  error: ClientErrorEvent;
}

export class SluiceSocket extends TypedEventTarget<SluiceSocketEventMap> {
  /** The transport: state, `statechange` events, `reconnect()`. */
  readonly socket: ReconnectingWebSocket;
  readonly #options: SluiceSocketOptions;
  readonly #codec: WireCodec;
  readonly #requests: Requests;
  readonly #subs = new Map<string, { subscription: Subscription; feed: SubscriptionFeed }>();
  /** Channels subscribed on the current connection. */
  readonly #onWire = new Set<string>();
  /** Unacknowledged unsubscribes per channel on the current connection. */
  readonly #draining = new Map<string, number>();
  readonly #wireRequests = new Map<RequestId, WireRequest>();
  readonly #host: SubscriptionHost;
  readonly #retry = new SubscribeRetry(DEFAULTS.rateLimitRetryDelay, (channel) =>
    this.#subscribeOnWire(channel),
  );
  #rid = 0;
  #clientId: string | undefined;
  #closed = false;

  constructor(url: UrlProvider, options: SluiceSocketOptions = {}) {
    super();
    this.#options = options;
    if (options.maxBufferedEvents !== undefined) {
      checkCount('maxBufferedEvents', options.maxBufferedEvents, 1);
    }
    if (options.dedupeWindow !== undefined) checkCount('dedupeWindow', options.dedupeWindow);
    const codec = codecForFormat(options.format ?? DEFAULTS.format);
    this.#codec = codec;
    const { token } = options;
    const heartbeat = options.heartbeat;
    this.#requests = new Requests({
      maxPending: checkCount(
        'maxPendingPublishes',
        options.maxPendingPublishes ?? DEFAULTS.maxPendingPublishes,
      ),
      maxInFlight: checkCount(
        'maxInFlightRequests',
        options.maxInFlightRequests ?? DEFAULTS.maxInFlightRequests,
        1,
      ),
      timeout: checkDelay('requestTimeout', options.requestTimeout ?? DEFAULTS.requestTimeout, 1),
      nextRid: () => ++this.#rid,
      send: (message) => this.#send(message),
    });
    this.#host = {
      resume: (channel) => this.#subscribeOnWire(channel),
      pause: (channel) => this.#unsubscribeOnWire(channel),
      release: (subscription) => {
        if (this.#subs.get(subscription.channel)?.subscription !== subscription) return;
        this.#subs.delete(subscription.channel);
        this.#unsubscribeOnWire(subscription.channel);
      },
    };
    this.socket = new ReconnectingWebSocket(url, {
      ...options,
      protocols: async () => {
        const value = typeof token === 'function' ? await token() : token;
        return value ? [codec.subprotocol, TOKEN_SUBPROTOCOL_PREFIX + value] : [codec.subprotocol];
      },
      binaryType: 'arraybuffer',
      // Nothing queues at the transport: subscriptions are re-sent from their cursors and
      // publishes wait in this client's outbox, so a stale frame can never go out twice.
      maxQueuedMessages: 0,
      heartbeat:
        heartbeat === null
          ? null
          : {
              message: () => codec.encode({ type: 'ping' }),
              interval: heartbeat?.interval ?? DEFAULTS.heartbeatInterval,
              timeout: heartbeat?.timeout ?? DEFAULTS.heartbeatTimeout,
            },
    });
    this.socket.addEventListener('open', () => this.#onOpen());
    this.socket.addEventListener('message', (event) => this.#onMessage(event.data));
    this.socket.addEventListener('statechange', (event) => this.#onStateChange(event));
    if (options.signal?.aborted) this.close();
  }

  /** This connection's id as the server named it (also the presence `clientId`). */
  get clientId(): string | undefined {
    return this.#clientId;
  }

  /**
   * Subscribes to a channel; re-subscribes from the last event id after every reconnect.
   * One subscription per channel at a time (`ws_already_subscribed` otherwise).
   */
  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    assertChannelName(channel);
    if (this.#closed) throw new SluiceError('ws_client_closed', 'The client is closed');
    if (this.#subs.has(channel)) {
      throw new SluiceError('ws_already_subscribed', `Already subscribed to ${channel}`);
    }
    let feed!: SubscriptionFeed;
    const subscription = new Subscription(
      {
        channel,
        since: options.since,
        presence: options.presence ?? false,
        onEvent: options.onEvent,
        maxBufferedEvents: this.#options.maxBufferedEvents ?? DEFAULTS.maxBufferedEvents,
        dedupeWindow: this.#options.dedupeWindow ?? DEFAULTS.dedupeWindow,
      },
      this.#host,
      (f) => (feed = f),
    );
    this.#subs.set(channel, { subscription, feed });
    const { signal } = options;
    if (signal) {
      const onAbort = (): void => subscription.unsubscribe();
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        subscription.addEventListener('unsubscribed', () =>
          signal.removeEventListener('abort', onAbort),
        );
      }
    }
    this.#subscribeOnWire(channel);
    return subscription;
  }

  /** Publishes and resolves with the id the server gave the event. */
  async publish(
    channel: string,
    data: unknown,
    options: PublishOptions = {},
  ): Promise<{ id: string }> {
    assertChannelName(channel);
    if (this.#closed) throw new SluiceError('ws_client_closed', 'The client is closed');
    const message: ClientMessage = {
      type: 'publish',
      channel,
      data,
      ...(options.event === undefined ? {} : { event: options.event }),
    };
    const reply = await this.#requests.request(message, options);
    if (reply.type !== 'ack' || typeof reply.id !== 'string') {
      throw new SluiceError('ws_bad_message', 'Publish ack without an event id');
    }
    return { id: reply.id };
  }

  /** Who is in a channel right now. */
  async presence(
    channel: string,
    options: { signal?: AbortSignal; timeout?: number } = {},
  ): Promise<PresenceMember[]> {
    assertChannelName(channel);
    if (this.#closed) throw new SluiceError('ws_client_closed', 'The client is closed');
    const reply = await this.#requests.request({ type: 'presence', channel }, options);
    if (reply.type !== 'presence') throw new SluiceError('ws_bad_message', 'Expected presence');
    return reply.members;
  }

  /** Closes the connection and every subscription; pending requests fail with `ws_client_closed`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#retry.clear();
    // Failed first: the socket's close would fail them as a lost connection instead.
    this.#requests.closeAll(new SluiceError('ws_client_closed', 'The client was closed'));
    this.socket.close();
    for (const { feed } of [...this.#subs.values()]) feed.end();
    this.#subs.clear();
  }

  #send(message: ClientMessage): boolean {
    if (this.socket.state !== 'open') return false;
    return this.socket.send(this.#codec.encode(message));
  }

  #subscribeOnWire(channel: string): void {
    const entry = this.#subs.get(channel);
    const message = entry?.feed.subscribeMessage();
    if (!message || this.#onWire.has(channel) || this.socket.state !== 'open') return;
    const rid = ++this.#rid;
    if (!this.#send({ ...message, rid })) return;
    this.#onWire.add(channel);
    this.#wireRequests.set(rid, { kind: 'subscribe', channel, feed: entry!.feed });
  }

  #unsubscribeOnWire(channel: string): void {
    if (!this.#onWire.delete(channel)) return;
    const rid = ++this.#rid;
    if (!this.#send({ type: 'unsubscribe', channel, rid })) return;
    this.#draining.set(channel, (this.#draining.get(channel) ?? 0) + 1);
    this.#wireRequests.set(rid, { kind: 'unsubscribe', channel });
  }

  #onOpen(): void {
    for (const channel of this.#subs.keys()) this.#subscribeOnWire(channel);
    this.#requests.flush();
  }

  #onStateChange(event: StateChangeEvent): void {
    if (event.from === 'open' && event.to !== 'open') {
      // Everything tied to the old connection is void; subscriptions resume on the next one.
      this.#onWire.clear();
      this.#draining.clear();
      this.#wireRequests.clear();
      this.#requests.connectionLost();
      for (const { feed } of this.#subs.values()) feed.connectionLost();
    }
    if (event.to === 'closed' && event.code === 'aborted') this.close();
    else if (event.to === 'closed' && !this.#closed && event.code !== 'close_called') {
      // The transport gave up (should-reconnect said no, or retries ran out): fail what
      // waits on it so no `await` or `for await` hangs. `socket.reconnect()` starts afresh.
      const error = new SluiceError(
        'ws_connection_lost',
        `Connection closed for good (${event.code}${event.reason ? `: ${event.reason}` : ''})`,
        event.closeCode === undefined ? {} : { closeCode: event.closeCode },
      );
      this.#requests.closeAll(error);
      for (const { feed } of [...this.#subs.values()]) feed.end(error);
    }
    // Re-dispatched so that one listener on the client sees connection changes too.
    const { from, to, code, reason, closeCode, attempt, delay } = event;
    this.dispatchEvent(new StateChangeEvent({ from, to, code, reason, closeCode, attempt, delay }));
  }

  #onMessage(data: unknown): void {
    for (const message of decodeServerFrame(this.#codec, data, (error) => this.#report(error))) {
      this.#route(message);
    }
  }

  #route(message: ServerMessage): void {
    switch (message.type) {
      case 'event':
      case 'gap':
        if (this.#live(message.channel)) this.#subs.get(message.channel)?.feed.item(message);
        return;
      case 'presence':
        if (message.rid !== undefined && this.#requests.reply(message.rid, message)) return;
        if (this.#live(message.channel)) this.#subs.get(message.channel)?.feed.presence(message);
        return;
      case 'join':
      case 'leave':
        if (this.#live(message.channel)) this.#subs.get(message.channel)?.feed.presence(message);
        return;
      case 'ack':
      case 'error':
        if (message.rid === undefined)
          this.#report(serverError(message.type === 'error' ? message : undefined));
        else if (!this.#wireReply(message.rid, message)) this.#requests.reply(message.rid, message);
        return;
      case 'welcome':
        this.#clientId = message.clientId;
        return;
      case 'pong':
        return;
    }
  }

  /** Whether events for a channel belong to its current subscription on this connection. */
  #live(channel: string): boolean {
    return this.#onWire.has(channel) && !this.#draining.get(channel);
  }

  #wireReply(rid: RequestId, message: ServerMessage & { type: 'ack' | 'error' }): boolean {
    const request = this.#wireRequests.get(rid);
    if (!request) return false;
    this.#wireRequests.delete(rid);
    const { channel } = request;
    if (request.kind === 'unsubscribe') {
      const left = (this.#draining.get(channel) ?? 1) - 1;
      if (left > 0) this.#draining.set(channel, left);
      else this.#draining.delete(channel);
      return true;
    }
    const entry = this.#subs.get(channel);
    if (entry?.feed !== request.feed) return true; // a subscription since dropped: stale
    if (message.type === 'ack') entry.feed.acked(message.id);
    else if (message.code === 'ws_rate_limited') {
      this.#onWire.delete(channel); // discarded by the server: not subscribed, asked again later
      this.#retry.add(channel);
    } else {
      this.#onWire.delete(channel);
      entry.feed.end(serverError(message));
    }
    return true;
  }

  #report(error: unknown): void {
    this.dispatchEvent(
      new ClientErrorEvent(error instanceof Error ? error : new Error(String(error))),
    );
  }
}

/** A SluiceSocket connected to `url` (ws:// or wss://; a function is called per attempt). */
export function createSluiceClient(url: UrlProvider, options?: SluiceSocketOptions): SluiceSocket {
  return new SluiceSocket(url, options);
}

export { Subscription } from './ws-client-subscription.js';
export * from './ws-client-types.js';
