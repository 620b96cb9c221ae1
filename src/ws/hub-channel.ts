/**
 * One connection's subscription to one channel: event delivery with backpressure into the
 * connection's outbound queue, its presence membership, and an optional presence feed.
 *
 * Live delivery normally comes from the hub's shared stream for the channel
 * (channel-feed.ts). The subscription reads its own broker stream instead
 * (channel-own-stream.ts) while it replays history (`since`), while it waits for room, or
 * when the broker cannot be polled; it goes back to the shared stream once caught up. An
 * idle subscription on the shared stream is this object alone: a handful of fields.
 */
import type { SubscriptionItem } from '../broker/types.js';
import type { Principal } from '../core/auth.js';
import { isSluiceError } from '../core/errors.js';
import type { ChannelFeeds, FeedMember } from './channel-feed.js';
import { placeItem, waitToDeliver } from './channel-delivery.js';
import { OwnStream, type OwnStreamOwner } from './channel-own-stream.js';
import { presenceMember, sendPresence } from './channel-presence.js';
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

/** `#flags` bits: two booleans in one field. */
const IN_FEED = 1;
const JOINED = 2;

export class ChannelSubscription implements FeedMember, OwnStreamOwner {
  readonly channel: string;
  readonly #host: ChannelHost;
  readonly #policy: ResolvedChannelPolicy;
  /** IN_FEED: in the hub's shared stream. JOINED: in the channel's presence. */
  #flags = 0;
  /** Its own broker stream, while it needs one (see above). */
  #own: OwnStream | undefined;
  #presence: AbortController | undefined;

  constructor(host: ChannelHost, channel: string, policy: ResolvedChannelPolicy) {
    this.#host = host;
    this.channel = channel;
    this.#policy = policy;
  }

  /** Enters the channel's presence (who is here). */
  async join(): Promise<void> {
    await this.#host.options.broker.join(this.channel, presenceMember(this.#host));
    this.#flags |= JOINED;
  }

  /** (Re)starts event delivery, replaying after `since` when given. */
  startEvents(since: string | undefined): void {
    this.#stopEvents();
    // Live only: the shared stream is exactly a fresh live subscription (channel-feed.ts).
    if (since === undefined && this.#joinFeed()) return;
    this.#subscribeOwn(since).start();
  }

  /** Sends a presence snapshot, then join/leave changes, until stopped. */
  startPresence(): void {
    if (this.#presence) return;
    const controller = new AbortController();
    this.#presence = controller;
    void sendPresence(this.#host, this.channel, {
      signal: controller.signal,
      failed: (error) => this.#streamError(error),
    });
  }

  /** Stops delivery and presence and leaves the channel (once, by client id). Idempotent. */
  async stop(): Promise<void> {
    this.#stopEvents();
    this.#presence?.abort();
    if ((this.#flags & JOINED) === 0) return;
    this.#flags &= ~JOINED;
    await this.#host.options.broker.leave(this.channel, this.#host.id);
  }

  /** `FeedMember`: one item of the shared stream. */
  feedItem(item: SubscriptionItem): void {
    try {
      const blocked = this.place(item);
      if (blocked === undefined || item.type !== 'message') return;
      // Full on a `disconnect` channel: wait on its own stream, which the broker fills from
      // right after this message while we wait (bounded by its queue limit, as before).
      this.#leaveFeed();
      this.#subscribeOwn(item.message.id).startBlocked(blocked);
    } catch (error) {
      // Never into the publisher or the other members: this subscription fails alone.
      this.#stopEvents();
      this.#streamError(error);
    }
  }

  /** `FeedMember`: the shared stream ended (the broker closed) or failed. */
  feedEnded(error: unknown): void {
    this.#flags &= ~IN_FEED;
    if (error === undefined) this.#endedByBroker();
    else this.#streamError(error);
  }

  /** `OwnStreamOwner`: places one item under the channel's policy. */
  place(item: SubscriptionItem): OutboundItem | undefined {
    return placeItem(this.#host, this.channel, this.#policy, item);
  }

  /** `OwnStreamOwner`: waits at most `slowConsumerTimeout` for room, then delivers. */
  waitToDeliver(item: OutboundItem, signal: AbortSignal): Promise<boolean> {
    return waitToDeliver(this.#host, item, signal);
  }

  /** `OwnStreamOwner`: its own stream caught up; back to the shared one if there is one. */
  caughtUp(stream: OwnStream): boolean {
    if (this.#own !== stream || !this.#joinFeed()) return false;
    this.#own = undefined;
    return true;
  }

  /** `OwnStreamOwner`: its own stream ended by itself. */
  ended(stream: OwnStream, error: unknown): void {
    if (this.#own !== stream) return;
    this.#own = undefined;
    if (error === undefined) this.#endedByBroker();
    else this.#streamError(error);
  }

  /** `OwnStreamOwner`: its own stream gave up waiting for room (the connection closes). */
  released(stream: OwnStream): void {
    if (this.#own === stream) this.#own = undefined;
  }

  #joinFeed(): boolean {
    if (!this.#host.feeds.join(this.channel, this)) return false;
    this.#flags |= IN_FEED;
    return true;
  }

  #leaveFeed(): void {
    if ((this.#flags & IN_FEED) === 0) return;
    this.#flags &= ~IN_FEED;
    this.#host.feeds.leave(this.channel, this);
  }

  /** A broker stream of its own after `since` (undefined: live); the caller starts it. */
  #subscribeOwn(since: string | undefined): OwnStream {
    const items = this.#host.options.broker.subscribe(this.channel, {
      // A disconnect channel must never lose silently: if the broker's queue for us
      // overflows while we wait for room, end with slow_consumer and let the client resume.
      overflow: this.#policy.overflow === 'disconnect' ? 'error' : 'resync',
      ...(since === undefined ? {} : { since }),
    });
    const stream = new OwnStream(this, items[Symbol.asyncIterator]());
    this.#own = stream;
    return stream;
  }

  /** Leaves the shared stream and ends its own; a pump notices it is no longer active. */
  #stopEvents(): void {
    this.#leaveFeed();
    const own = this.#own;
    this.#own = undefined;
    own?.stop();
  }

  #endedByBroker(): void {
    this.#host.fail(new Error(`Subscription to ${this.channel} ended`));
  }

  #streamError(error: unknown): void {
    if (isSluiceError(error, 'slow_consumer')) this.#host.slowConsumer();
    else this.#host.fail(error);
  }
}
