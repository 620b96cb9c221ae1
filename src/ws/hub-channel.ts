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
import { isPollable, type PollableIterator } from '../core/pollable.js';
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
  /**
   * The broker stream being delivered, until stopped or replaced by a new `startEvents`.
   * Ended with `return()` (the broker contract's "consumer breaks out"), not with an
   * AbortController: in Node an AbortSignal is an EventTarget with two maps and its own
   * hidden class, about a kilobyte for each idle connection.
   */
  #events: AsyncIterator<SubscriptionItem> | PollableIterator<SubscriptionItem> | undefined;
  /** Set while `#drain` runs (a publish from inside a delivery must not re-enter it). */
  #draining = false;
  /** The polled stream's readable listener: one bound function per subscription. */
  readonly #onReadable = this.#drain.bind(this);
  /** Aborts the wait for room of a full `disconnect` connection, while there is one. */
  #waiting: AbortController | undefined;
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
    this.#stopEvents();
    const items = this.#host.options.broker.subscribe(this.channel, {
      // A disconnect channel must never lose silently: if the broker's queue for us
      // overflows while we wait for room, end with slow_consumer and let the client resume.
      overflow: this.#policy.overflow === 'disconnect' ? 'error' : 'resync',
      ...(since === undefined ? {} : { since }),
    });
    const iterator = items[Symbol.asyncIterator]();
    this.#events = iterator;
    if (isPollable(iterator)) {
      iterator.onReadable(this.#onReadable);
      this.#drain();
    } else {
      void this.#runAsync(iterator);
    }
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
        if (!controller.signal.aborted) this.#streamError(error);
      }
    })();
  }

  /** Stops delivery and presence and leaves the channel. Idempotent. */
  async stop(): Promise<void> {
    this.#stopEvents();
    this.#presence?.abort();
    const leave = this.#leave;
    this.#leave = undefined;
    await leave?.();
  }

  /** Ends the current broker stream, if any; its pump notices it is no longer current. */
  #stopEvents(): void {
    const events = this.#events;
    if (events === undefined) return;
    this.#events = undefined;
    this.#waiting?.abort();
    if (isPollable(events)) events.onReadable(undefined);
    events.return?.().catch(() => undefined);
  }

  /**
   * The synchronous path (core/pollable.ts), as in the SSE pump: ready items are delivered
   * from inside the broker's `publish`, one loop over every subscriber, no promise per
   * delivery. Only a `disconnect` channel's full connection makes it wait (without the
   * readable listener, so publishes meanwhile cost it nothing); the broker's queue then holds
   * what arrives, and its overflow (`error`) ends the stream as a slow consumer on resuming.
   */
  #drain(): void {
    const source = this.#events as PollableIterator<SubscriptionItem> | undefined;
    if (this.#draining || source === undefined) return;
    this.#draining = true;
    try {
      for (;;) {
        const result = source.poll();
        if (result === undefined) return;
        if ('error' in result) {
          this.#events = undefined;
          source.onReadable(undefined);
          return this.#streamError(result.error);
        }
        if (result.done) {
          this.#events = undefined;
          source.onReadable(undefined);
          // The broker ended the stream without being asked (e.g. it closed).
          return this.#endedByBroker();
        }
        const blocked = this.#handle(result.value);
        if (blocked === undefined) {
          // Delivering may have closed the connection (or restarted this stream).
          if (this.#events !== source) return;
          continue;
        }
        // A full `disconnect` connection: wait for room (or the grace period's end).
        source.onReadable(undefined);
        void this.#waitAndDeliver(blocked).then(
          (delivered) => {
            if (this.#events !== source) return;
            if (!delivered) return this.#stopEvents();
            source.onReadable(this.#onReadable);
            this.#drain();
          },
          (error: unknown) => {
            if (this.#events !== source) return;
            this.#stopEvents();
            this.#streamError(error);
          },
        );
        return;
      }
    } catch (error) {
      // Never into the publisher: whatever failed here ends this subscription only.
      if (this.#events !== source) return;
      this.#stopEvents();
      this.#streamError(error);
    } finally {
      this.#draining = false;
    }
  }

  /** Any other broker: one awaited `next()` per item. */
  async #runAsync(iterator: AsyncIterator<SubscriptionItem>): Promise<void> {
    try {
      for (;;) {
        const result = await iterator.next();
        if (this.#events !== iterator) return; // stopped: `#stopEvents` called `return()`
        if (result.done) break;
        const blocked = this.#handle(result.value);
        if (blocked !== undefined && !(await this.#waitAndDeliver(blocked))) {
          if (this.#events === iterator) this.#stopEvents();
          return;
        }
      }
      this.#events = undefined;
      this.#endedByBroker();
    } catch (error) {
      if (this.#events !== iterator) return;
      this.#events = undefined;
      this.#streamError(error);
    }
  }

  #endedByBroker(): void {
    this.#host.fail(new Error(`Subscription to ${this.channel} ended`));
  }

  /**
   * Places one broker item: a gap notice, or an event's frame. Returns the outbound item
   * when a `disconnect` channel's connection is full (the caller waits), else undefined.
   */
  #handle(item: SubscriptionItem): OutboundItem | undefined {
    if (item.type === 'gap') {
      this.#host.send({
        type: 'gap',
        channel: item.channel,
        reason: item.reason,
        requested: item.requested,
        resumeAfter: item.resumeAfter,
      });
      return undefined;
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
      return undefined;
    }
    // Most deliveries fit at once: only a full connection makes the pump wait.
    const delivered = this.#deliver(frame, item.message);
    return delivered === true ? undefined : delivered;
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

  /**
   * A `disconnect` channel's full connection: wait for room, at most `slowConsumerTimeout`.
   * The wait's abort controller exists only meanwhile (stopping the stream aborts it).
   */
  async #waitAndDeliver(item: OutboundItem): Promise<boolean> {
    const controller = new AbortController();
    this.#waiting = controller;
    try {
      return await this.#waitForRoom(item, controller.signal);
    } finally {
      if (this.#waiting === controller) this.#waiting = undefined;
    }
  }

  async #waitForRoom(item: OutboundItem, signal: AbortSignal): Promise<boolean> {
    const data = item.data;
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

  #streamError(error: unknown): void {
    if (isSluiceError(error, 'slow_consumer')) this.#host.slowConsumer();
    else this.#host.fail(error);
  }
}
