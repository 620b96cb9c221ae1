/**
 * One connection's subscription to one channel: the broker subscription consumed with
 * backpressure into the connection's outbound queue, its presence membership, and an
 * optional presence feed. The pump only pulls the next broker item once the previous one
 * was placed (queued, conflated or dropped by policy); on a `disconnect` channel it stops
 * pulling while the connection is full, and closes it with 4008 if no room appears within
 * `slowConsumerTimeout` or if the broker's per-subscriber queue overflows meanwhile.
 */
import type { BrokerMessage, PresenceMember, SubscriptionItem } from '../broker/types.js';
import type { Principal } from '../core/auth.js';
import { isSluiceError } from '../core/errors.js';
import type { ResolvedChannelPolicy, ResolvedHubOptions } from './hub-options.js';
import type { OutboundItem, OutboundQueue } from './outbound-queue.js';
import type { EventMessage, ServerMessage, WireCodec } from './protocol.js';
import { encodeWsFrame } from './ws-frame.js';

/** What a channel subscription needs from its connection. */
export interface ChannelHost {
  readonly id: string;
  readonly principal: Principal;
  readonly codec: WireCodec;
  readonly outbound: OutboundQueue;
  readonly options: ResolvedHubOptions;
  /** Queues a control message; closes the connection as a slow consumer when full. */
  send(message: ServerMessage): void;
  /** Closes with 4008. */
  slowConsumer(): void;
  /** An unexpected end of a broker stream: report and close (1011). */
  fail(error: unknown): void;
}

/** A server message as a complete WebSocket frame, ready for the socket. */
export function encodeFrame(codec: WireCodec, message: ServerMessage): Uint8Array {
  const payload = codec.encode(message);
  return encodeWsFrame(
    typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
    codec.binary,
  );
}

/**
 * Frames an event once per format however many connections receive it (the memory broker
 * hands every subscriber the same message object). Bounded: the most recent messages only,
 * oldest forgotten first; a miss just encodes again.
 */
const FRAME_CACHE_SIZE = 256;
const frameCache = {
  json: new Map<BrokerMessage, Uint8Array>(),
  msgpack: new Map<BrokerMessage, Uint8Array>(),
};

function eventFrame(codec: WireCodec, message: BrokerMessage): Uint8Array {
  const cache = frameCache[codec.format];
  const hit = cache.get(message);
  if (hit) return hit;
  const event: EventMessage = {
    type: 'event',
    channel: message.channel,
    id: message.id,
    data: message.data,
    ...(message.event === undefined ? {} : { event: message.event }),
  };
  const frame = encodeFrame(codec, event);
  if (cache.size >= FRAME_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(message, frame);
  return frame;
}

export class ChannelSubscription {
  readonly channel: string;
  readonly #host: ChannelHost;
  readonly #policy: ResolvedChannelPolicy;
  #events: AbortController | undefined;
  #presence: AbortController | undefined;
  #leave: (() => Promise<void>) | undefined;

  constructor(host: ChannelHost, channel: string, policy: ResolvedChannelPolicy) {
    this.#host = host;
    this.channel = channel;
    this.#policy = policy;
  }

  /** Enters the channel's presence (who is here). */
  async join(): Promise<void> {
    const member: PresenceMember = {
      clientId: this.#host.id,
      info: { subject: this.#host.principal.subject },
    };
    this.#leave = await this.#host.options.broker.join(this.channel, member);
  }

  /** (Re)starts event delivery, replaying after `since` when given. */
  startEvents(since: string | undefined): void {
    this.#events?.abort();
    const controller = new AbortController();
    this.#events = controller;
    const items = this.#host.options.broker.subscribe(this.channel, {
      signal: controller.signal,
      // A disconnect channel must never lose silently: if the broker's queue for us
      // overflows while we wait for room, end with slow_consumer and let the client resume.
      overflow: this.#policy.overflow === 'disconnect' ? 'error' : 'resync',
      ...(since === undefined ? {} : { since }),
    });
    void this.#pump(items, controller.signal);
  }

  /** Sends a presence snapshot, then join/leave changes, until stopped. */
  startPresence(): void {
    if (this.#presence) return;
    const controller = new AbortController();
    this.#presence = controller;
    const broker = this.#host.options.broker;
    // Watch first, then snapshot: a change racing the snapshot arrives as a diff the
    // client applies idempotently (join of a listed member, leave of an absent one).
    const changes = broker.presence(this.channel, { signal: controller.signal });
    void (async () => {
      try {
        const members = await broker.members(this.channel);
        if (controller.signal.aborted) return;
        this.#host.send({ type: 'presence', channel: this.channel, members });
        for await (const change of changes) {
          this.#host.send({ type: change.type, channel: this.channel, member: change.member });
        }
      } catch (error) {
        this.#streamError(error, controller.signal);
      }
    })();
  }

  /** Stops delivery and presence and leaves the channel. Idempotent. */
  async stop(): Promise<void> {
    this.#events?.abort();
    this.#presence?.abort();
    const leave = this.#leave;
    this.#leave = undefined;
    await leave?.();
  }

  async #pump(items: AsyncIterable<SubscriptionItem>, signal: AbortSignal): Promise<void> {
    try {
      for await (const item of items) {
        if (signal.aborted) return;
        if (item.type === 'gap') {
          this.#host.send({
            type: 'gap',
            channel: item.channel,
            reason: item.reason,
            requested: item.requested,
            resumeAfter: item.resumeAfter,
          });
          continue;
        }
        let frame: Uint8Array;
        try {
          frame = eventFrame(this.#host.codec, item.message);
        } catch (error) {
          // Server-side publishers may hand the broker values JSON/MessagePack cannot encode
          // (BigInt, cycles): that one event is reported, the subscription goes on.
          this.#host.options.onError(error, { clientId: this.#host.id });
          this.#host.send({
            type: 'error',
            code: 'internal_error',
            message: `Event ${item.message.id} could not be encoded`,
            channel: this.channel,
          });
          continue;
        }
        // Most deliveries fit at once: only a full connection makes the pump wait.
        const delivered = this.#deliver(frame, item.message);
        if (delivered === true) continue;
        if (!(await this.#waitAndDeliver(frame, delivered, signal))) return;
      }
      // The broker ended the stream without being asked (e.g. it closed).
      if (!signal.aborted) this.#host.fail(new Error(`Subscription to ${this.channel} ended`));
    } catch (error) {
      this.#streamError(error, signal);
    }
  }

  /** Offers once: `true` when placed (queued, conflated or dropped by policy), else the item. */
  #deliver(data: Uint8Array, message: BrokerMessage): true | OutboundItem {
    const overflow = this.#policy.overflow;
    const item: OutboundItem = {
      data,
      channel: this.channel,
      policy: overflow,
      key: overflow === 'conflate' ? this.#conflateKey(message.data) : undefined,
    };
    return this.#host.outbound.offer(item) === 'full' ? item : true;
  }

  /** A `disconnect` channel's full connection: wait for room, at most `slowConsumerTimeout`. */
  async #waitAndDeliver(
    data: Uint8Array,
    item: OutboundItem,
    signal: AbortSignal,
  ): Promise<boolean> {
    const outbound = this.#host.outbound;
    const timeout = this.#host.options.slowConsumerTimeout;
    const deadline = timeout === null ? null : performance.now() + timeout;
    for (;;) {
      const remaining = deadline === null ? null : deadline - performance.now();
      if (remaining !== null && remaining <= 0) {
        this.#host.slowConsumer();
        return false;
      }
      const room = await outbound.waitForRoom(data.byteLength, remaining, signal);
      if (signal.aborted) return false;
      if (!room) {
        this.#host.slowConsumer();
        return false;
      }
      if (outbound.offer(item) !== 'full') return true;
    }
  }

  #conflateKey(data: unknown): string {
    const keyOf = this.#policy.conflateKey;
    if (!keyOf) return '';
    try {
      return String(keyOf(data));
    } catch (error) {
      this.#host.options.onError(error, { clientId: this.#host.id });
      return '';
    }
  }

  #streamError(error: unknown, signal: AbortSignal): void {
    if (signal.aborted) return;
    if (isSluiceError(error, 'slow_consumer')) this.#host.slowConsumer();
    else this.#host.fail(error);
  }
}
