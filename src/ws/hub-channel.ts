/**
 * One connection's subscription to one channel: event delivery with backpressure into the
 * connection's outbound queue, its presence membership, and an optional presence feed.
 *
 * Live delivery normally comes from the hub's shared stream for the channel
 * (channel-feed.ts). The subscription reads its own broker stream instead while it replays
 * history (`since`), while it waits for room, or when the broker cannot be polled; it goes
 * back to the shared stream once caught up. Its own stream is pulled only once the previous
 * item was placed (queued, conflated or dropped by policy); on a `disconnect` channel it
 * stops pulling while the connection is full, and closes it with 4008 if no room appears
 * within `slowConsumerTimeout` or if the broker's per-subscriber queue overflows meanwhile.
 */
import type { PresenceMember, SubscriptionItem } from '../broker/types.js';
import type { Principal } from '../core/auth.js';
import { isSluiceError } from '../core/errors.js';
import { isPollable, type PollableIterator } from '../core/pollable.js';
import type { ChannelFeeds, FeedMember } from './channel-feed.js';
import { placeItem, waitToDeliver } from './channel-delivery.js';
import type { ResolvedChannelPolicy, ResolvedHubOptions } from './hub-options.js';
import type { OutboundItem, OutboundQueue } from './outbound-queue.js';
import type { ServerMessage, WireCodec } from './protocol.js';

/** What a channel subscription needs from its connection. */
export interface ChannelHost {
  readonly id: string;
  readonly principal: Principal;
  readonly codec: WireCodec;
  readonly outbound: OutboundQueue;
  readonly options: ResolvedHubOptions;
  /** The hub's shared live streams, one per channel. */
  readonly feeds: ChannelFeeds;
  /** Queues a control message; closes the connection as a slow consumer when full. */
  send(message: ServerMessage): void;
  /** Closes with 4008. */
  slowConsumer(): void;
  /** An unexpected end of a broker stream: report and close (1011). */
  fail(error: unknown): void;
}

/**
 * A member's `info` as peers see it, one per principal (the broker keeps its own copy of
 * the member, not of the info): the open mode's single principal shares one object, and a
 * token's principal one for all of its channels.
 */
const memberInfos = new WeakMap<Principal, { readonly subject: string }>();

function memberInfo(principal: Principal): { readonly subject: string } {
  let info = memberInfos.get(principal);
  if (info === undefined) {
    info = Object.freeze({ subject: principal.subject });
    memberInfos.set(principal, info);
  }
  return info;
}

export class ChannelSubscription implements FeedMember {
  readonly channel: string;
  readonly #host: ChannelHost;
  readonly #policy: ResolvedChannelPolicy;
  /** In the hub's shared stream for the channel. */
  #inFeed = false;
  /**
   * Its own broker stream, while it has one (see above). Ended with `return()` (the broker
   * contract's "consumer breaks out"), not with an AbortController: in Node an AbortSignal
   * is an EventTarget with two maps and its own hidden class, about a kilobyte each.
   */
  #events: AsyncIterator<SubscriptionItem> | PollableIterator<SubscriptionItem> | undefined;
  /** Set while `#drain` runs (a publish from inside a delivery must not re-enter it). */
  #draining = false;
  /** Its own polled stream's readable listener, created with the first such stream. */
  #onReadable: (() => void) | undefined;
  /** Aborts the wait for room of a full `disconnect` connection, while there is one. */
  #waiting: AbortController | undefined;
  #presence: AbortController | undefined;
  /** In the channel's presence: `stop` leaves (once, by client id: no closure per join). */
  #joined = false;

  constructor(host: ChannelHost, channel: string, policy: ResolvedChannelPolicy) {
    this.#host = host;
    this.channel = channel;
    this.#policy = policy;
  }

  /** Enters the channel's presence (who is here). */
  async join(): Promise<void> {
    const member: PresenceMember = {
      clientId: this.#host.id,
      info: memberInfo(this.#host.principal),
    };
    await this.#host.options.broker.join(this.channel, member);
    this.#joined = true;
  }

  /** (Re)starts event delivery, replaying after `since` when given. */
  startEvents(since: string | undefined): void {
    this.#stopEvents();
    // Live only: the shared stream is exactly a fresh live subscription (channel-feed.ts).
    if (since === undefined && this.#joinFeed()) return;
    this.#subscribeOwn(since);
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
    if (!this.#joined) return;
    this.#joined = false;
    await this.#host.options.broker.leave(this.channel, this.#host.id);
  }

  /** `FeedMember`: one item of the shared stream. */
  feedItem(item: SubscriptionItem): void {
    try {
      const blocked = this.#handle(item);
      if (blocked === undefined || item.type !== 'message') return;
      // Full on a `disconnect` channel: wait on its own stream, which the broker fills from
      // right after this message while we wait (bounded by its queue limit, as before).
      this.#leaveFeed();
      const source = this.#subscribeOwn(item.message.id, false);
      if (source) this.#block(source, blocked);
      else void this.#waitThenRun(blocked);
    } catch (error) {
      // Never into the publisher or the other members: this subscription fails alone.
      this.#stopEvents();
      this.#streamError(error);
    }
  }

  /** `FeedMember`: the shared stream ended (the broker closed) or failed. */
  feedEnded(error: unknown): void {
    this.#inFeed = false;
    if (error === undefined) this.#endedByBroker();
    else this.#streamError(error);
  }

  #joinFeed(): boolean {
    this.#inFeed = this.#host.feeds.join(this.channel, this);
    return this.#inFeed;
  }

  #leaveFeed(): void {
    if (!this.#inFeed) return;
    this.#inFeed = false;
    this.#host.feeds.leave(this.channel, this);
  }

  /**
   * Starts its own broker stream after `since` (undefined: live). `start` false: the caller
   * waits first (`#block`). Returns the stream when it can be polled.
   */
  #subscribeOwn(
    since: string | undefined,
    start = true,
  ): PollableIterator<SubscriptionItem> | undefined {
    const items = this.#host.options.broker.subscribe(this.channel, {
      // A disconnect channel must never lose silently: if the broker's queue for us
      // overflows while we wait for room, end with slow_consumer and let the client resume.
      overflow: this.#policy.overflow === 'disconnect' ? 'error' : 'resync',
      ...(since === undefined ? {} : { since }),
    });
    const iterator = items[Symbol.asyncIterator]();
    this.#events = iterator;
    if (!isPollable(iterator)) {
      if (start) void this.#runAsync(iterator);
      return undefined;
    }
    if (start) {
      iterator.onReadable((this.#onReadable ??= this.#drain.bind(this)));
      this.#drain();
    }
    return iterator;
  }

  /** Ends its own stream and leaves the shared one; a pump notices it is no longer current. */
  #stopEvents(): void {
    this.#leaveFeed();
    const events = this.#events;
    if (events === undefined) return;
    this.#events = undefined;
    this.#waiting?.abort();
    this.#waiting = undefined;
    if (isPollable(events)) events.onReadable(undefined);
    events.return?.().catch(() => undefined);
  }

  /**
   * Its own polled stream (core/pollable.ts): ready items are delivered from inside the
   * broker's `publish`, no promise per delivery. Once nothing is left, it goes back to the
   * shared stream (in a microtask: never in the middle of a publish, where the shared
   * stream may not have reached the current message yet).
   */
  #drain(): void {
    const source = this.#events as PollableIterator<SubscriptionItem> | undefined;
    if (this.#draining || source === undefined || this.#waiting) return;
    this.#draining = true;
    try {
      for (;;) {
        const result = source.poll();
        if (result === undefined) {
          queueMicrotask(() => this.#rejoin(source));
          return;
        }
        if ('error' in result || result.done) {
          this.#events = undefined;
          source.onReadable(undefined);
          if ('error' in result) return this.#streamError(result.error);
          // The broker ended the stream without being asked (e.g. it closed).
          return this.#endedByBroker();
        }
        const blocked = this.#handle(result.value);
        // Delivering may have closed the connection (or restarted this stream).
        if (this.#events !== source) return;
        if (blocked !== undefined) return this.#block(source, blocked);
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

  /** Caught up on its own polled stream: back to the shared one, if nothing came since. */
  #rejoin(source: PollableIterator<SubscriptionItem>): void {
    if (this.#events !== source || this.#waiting || this.#draining) return;
    const result = source.poll();
    if (result !== undefined) {
      // Something arrived after all (the readable call was skipped): deliver it first.
      if ('error' in result || result.done) {
        this.#events = undefined;
        source.onReadable(undefined);
        if ('error' in result) this.#streamError(result.error);
        else this.#endedByBroker();
        return;
      }
      const blocked = this.#handle(result.value);
      if (this.#events !== source) return;
      if (blocked !== undefined) this.#block(source, blocked);
      else this.#drain();
      return;
    }
    if (!this.#joinFeed()) return; // no shared stream for this broker: keep our own
    this.#events = undefined;
    source.onReadable(undefined);
    source.return?.().catch(() => undefined);
  }

  /** A full `disconnect` connection: no pulling (and no readable calls) until room or 4008. */
  #block(source: PollableIterator<SubscriptionItem>, blocked: OutboundItem): void {
    source.onReadable(undefined);
    void this.#waitAndDeliver(blocked).then(
      (delivered) => {
        if (this.#events !== source) return;
        if (!delivered) return this.#stopEvents();
        source.onReadable((this.#onReadable ??= this.#drain.bind(this)));
        this.#drain();
      },
      (error: unknown) => {
        if (this.#events !== source) return;
        this.#stopEvents();
        this.#streamError(error);
      },
    );
  }

  /** The blocked item of a subscription whose own stream cannot be polled. */
  async #waitThenRun(blocked: OutboundItem): Promise<void> {
    const iterator = this.#events;
    if (iterator === undefined) return;
    if (!(await this.#waitAndDeliver(blocked))) {
      if (this.#events === iterator) this.#stopEvents();
      return;
    }
    if (this.#events === iterator) await this.#runAsync(iterator);
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

  #handle(item: SubscriptionItem): OutboundItem | undefined {
    return placeItem(this.#host, this.channel, this.#policy, item);
  }

  /**
   * A `disconnect` channel's full connection: wait for room, at most `slowConsumerTimeout`.
   * The wait's abort controller exists only meanwhile (stopping the stream aborts it).
   */
  async #waitAndDeliver(item: OutboundItem): Promise<boolean> {
    const controller = new AbortController();
    this.#waiting = controller;
    try {
      return await waitToDeliver(this.#host, item, controller.signal);
    } finally {
      if (this.#waiting === controller) this.#waiting = undefined;
    }
  }

  #streamError(error: unknown): void {
    if (isSluiceError(error, 'slow_consumer')) this.#host.slowConsumer();
    else this.#host.fail(error);
  }
}
