/**
 * One broker subscription per channel per hub, shared by every connection that follows the
 * channel live: the broker delivers each message once to the hub, and the hub loops over
 * its subscribers, as a hand-written broadcast loop would (and as a hub in front of Redis
 * wants: one upstream subscription per channel per process, not one per connection).
 *
 * Only live delivery is shared. A subscription replaying history (`since`), or one that must
 * wait for room (a full connection on a `disconnect` channel), reads its own broker stream
 * and joins the feed again once caught up (hub-channel.ts). A feed never waits for anyone,
 * so one slow connection never holds back the others.
 *
 * Feeds need the broker's synchronous path (core/pollable.ts): a feed is then drained inside
 * every `publish`, so between publishes it has delivered everything published, which is
 * what makes joining it exactly equivalent to subscribing live. With a broker whose streams
 * cannot be polled, `join` says no and every subscription keeps its own stream.
 */
import type { Broker, SubscriptionItem } from '../broker/types.js';
import { isPollable, type PollableIterator } from '../core/pollable.js';

/** A subscription fed by a channel's shared stream. */
export interface FeedMember {
  /** One item of the shared stream; it must not throw (the loop serves every member). */
  feedItem(item: SubscriptionItem): void;
  /** The shared stream ended (`error` undefined: the broker ended it, e.g. it closed). */
  feedEnded(error: unknown): void;
}

class ChannelFeed {
  readonly members = new Set<FeedMember>();
  readonly #source: PollableIterator<SubscriptionItem>;
  readonly #release: (feed: ChannelFeed) => void;
  #draining = false;
  #closed = false;

  constructor(source: PollableIterator<SubscriptionItem>, release: (feed: ChannelFeed) => void) {
    this.#source = source;
    this.#release = release;
    source.onReadable(this.#drain.bind(this));
  }

  /** Stops the shared stream (no members left, or the hub closes). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#source.onReadable(undefined);
    this.#source.return?.().catch(() => undefined);
  }

  #drain(): void {
    if (this.#draining || this.#closed) return;
    this.#draining = true;
    try {
      for (;;) {
        const result = this.#source.poll();
        if (result === undefined) return;
        if ('error' in result || result.done) {
          this.#closed = true;
          this.#source.onReadable(undefined);
          this.#release(this);
          const error = 'error' in result ? result.error : undefined;
          for (const member of [...this.members]) member.feedEnded(error);
          this.members.clear();
          return;
        }
        // Members may leave during the loop (a full connection going its own way, a close):
        // a Set skips the ones deleted before they are reached.
        for (const member of this.members) member.feedItem(result.value);
        if (this.#closed) return;
      }
    } finally {
      this.#draining = false;
    }
  }
}

export class ChannelFeeds {
  readonly #broker: Broker;
  readonly #feeds = new Map<string, ChannelFeed>();
  /** Set once the broker turned out not to be pollable: no feed is tried again. */
  #unsupported = false;

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  /** Live channels with a shared stream (for tests and metrics). */
  get size(): number {
    return this.#feeds.size;
  }

  /**
   * Adds `member` to the channel's shared stream, starting it if needed; from now on it
   * receives every message published, as a fresh live subscription would. `false`: no
   * feed for this broker (the caller subscribes on its own).
   */
  join(channel: string, member: FeedMember): boolean {
    if (this.#unsupported) return false;
    let feed = this.#feeds.get(channel);
    if (!feed) {
      const iterator = this.#broker
        .subscribe(channel, { overflow: 'resync' })
        [Symbol.asyncIterator]();
      if (!isPollable(iterator)) {
        this.#unsupported = true;
        iterator.return?.().catch(() => undefined);
        return false;
      }
      const created = new ChannelFeed(iterator, (ended) => {
        if (this.#feeds.get(channel) === ended) this.#feeds.delete(channel);
      });
      this.#feeds.set(channel, created);
      feed = created;
    }
    feed.members.add(member);
    return true;
  }

  /** Removes `member`; the last one out stops the channel's shared stream. */
  leave(channel: string, member: FeedMember): void {
    const feed = this.#feeds.get(channel);
    if (!feed || !feed.members.delete(member) || feed.members.size > 0) return;
    this.#feeds.delete(channel);
    feed.close();
  }

  /** Stops every shared stream (their members are being closed by the hub). */
  close(): void {
    for (const feed of this.#feeds.values()) feed.close();
    this.#feeds.clear();
  }
}
