/**
 * One channel subscription of a SluiceSocket. It owns the channel's cursor (the last event id
 * it accepted), so after any reconnect the client re-subscribes with `since` and the server
 * replays exactly what was missed; a window of recent ids drops duplicates; gaps arrive as
 * items, never as silence.
 *
 * Delivery: `onEvent` and `event`/`gap` listeners see items as they arrive. Iterating
 * (`for await`) reads a bounded buffer that fills only once iteration starts. When a slow
 * iterator lets it reach `maxBufferedEvents`, the subscription pauses: the server is asked to
 * stop, and once the consumer has read down to half, it re-subscribes from its cursor. The
 * server's history fills the hole, so a slow consumer costs latency, not messages. (What the
 * server had already sent when asked to stop is discarded and replayed later: a small
 * `maxBufferedEvents` means more of that waste per event; `paused`/`resumed` events show it.)
 */
import type { PresenceMember } from '../broker/types.js';
import { SluiceError } from '../core/errors.js';
import type {
  JoinMessage,
  LeaveMessage,
  PresenceStateMessage,
  SubscribeMessage,
} from '../ws/protocol.js';
import { TypedEventTarget } from './reconnecting-websocket-target.js';
import {
  ClientErrorEvent,
  PresenceEvent,
  SubscriptionItemEvent,
  type SubscriptionItem,
  type SubscriptionState,
} from './ws-client-types.js';

/** What a Subscription asks of its client. */
export interface SubscriptionHost {
  /** Subscribe on the wire now if connected; otherwise it happens on the next open. */
  resume(channel: string): void;
  /** Unsubscribe on the wire if subscribed there (the server stops sending). */
  pause(channel: string): void;
  /** Forget the subscription (and unsubscribe on the wire). */
  release(subscription: Subscription): void;
}

/** What the client feeds into a Subscription. Not part of the public API. */
export interface SubscriptionFeed {
  /** The subscribe message to send now, or undefined while paused or closed. */
  subscribeMessage(): Omit<SubscribeMessage, 'rid'> | undefined;
  /** The subscribe was acknowledged; `startsAfter`: the id a live subscription starts after. */
  acked(startsAfter?: string): void;
  item(item: SubscriptionItem): void;
  presence(message: PresenceStateMessage | JoinMessage | LeaveMessage): void;
  connectionLost(): void;
  /** Ends the subscription; with an error, iteration throws it after the buffered items. */
  end(error?: Error): void;
}

export interface SubscriptionInit {
  channel: string;
  since: string | undefined;
  presence: boolean;
  onEvent: ((item: SubscriptionItem) => void) | undefined;
  maxBufferedEvents: number;
  dedupeWindow: number;
}

export interface SubscriptionEventMap {
  event: SubscriptionItemEvent;
  gap: SubscriptionItemEvent;
  presence: PresenceEvent;
  /** The subscription failed (then `unsubscribed` follows), or an `onEvent` callback threw. */
  error: ClientErrorEvent;
  subscribed: Event;
  unsubscribed: Event;
  /** The iterator's buffer is full: the server was asked to stop sending. */
  paused: Event;
  resumed: Event;
}

export class Subscription
  extends TypedEventTarget<SubscriptionEventMap>
  implements AsyncIterable<SubscriptionItem>
{
  readonly channel: string;
  readonly #init: SubscriptionInit;
  readonly #host: SubscriptionHost;
  #state: SubscriptionState = 'subscribing';
  #cursor: string | undefined;
  readonly #seen: RecentIds;
  #buffer: SubscriptionItem[] | undefined;
  #head = 0;
  /** `next()` calls waiting for an item (more than one only if called without awaiting). */
  #waiting: (() => void)[] = [];
  #error: Error | undefined;
  readonly #members = new Map<string, PresenceMember>();

  /** @internal Created by SluiceSocket.subscribe(); `feed` receives the wiring. */
  constructor(
    init: SubscriptionInit,
    host: SubscriptionHost,
    feed: (feed: SubscriptionFeed) => void,
  ) {
    super();
    this.channel = init.channel;
    this.#init = init;
    this.#host = host;
    this.#cursor = init.since;
    this.#seen = new RecentIds(init.dedupeWindow);
    feed({
      subscribeMessage: () => this.#subscribeMessage(),
      acked: (startsAfter) => {
        if (this.#state !== 'subscribing') return;
        // Until a first event arrives, where the live stream started is the cursor: a drop
        // before then resumes from it instead of losing what was published meanwhile.
        this.#cursor ??= startsAfter;
        this.#state = 'subscribed';
        this.dispatchEvent(new Event('subscribed'));
      },
      item: (item) => this.#accept(item),
      presence: (message) => this.#presence(message),
      connectionLost: () => {
        if (this.#state === 'subscribed') this.#state = 'subscribing';
      },
      end: (error) => this.#end(error),
    });
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  /** The id of the last event accepted: where a resume continues from. */
  get cursor(): string | undefined {
    return this.#cursor;
  }

  /** Members of the channel (with `presence: true`). */
  get members(): PresenceMember[] {
    return [...this.#members.values()];
  }

  /** Stops the subscription; iteration ends after the items already buffered. */
  unsubscribe(): void {
    if (this.#state === 'closed') return;
    this.#end();
  }

  [Symbol.asyncIterator](): AsyncIterator<SubscriptionItem> {
    if (this.#buffer) throw new SluiceError('invalid_argument', 'A subscription has one iterator');
    this.#buffer = [];
    return {
      next: () => this.#next(),
      return: () => {
        this.unsubscribe(); // breaking out of `for await` ends the subscription
        this.#buffer = [];
        this.#head = 0;
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  #subscribeMessage(): Omit<SubscribeMessage, 'rid'> | undefined {
    if (this.#state === 'paused' || this.#state === 'closed') return undefined;
    return {
      type: 'subscribe',
      channel: this.channel,
      ...(this.#cursor === undefined ? {} : { since: this.#cursor }),
      ...(this.#init.presence ? { presence: true } : {}),
    };
  }

  #accept(item: SubscriptionItem): void {
    if (this.#state === 'paused' || this.#state === 'closed') return;
    if (item.type === 'event') {
      if (this.#seen.has(item.id)) return;
      this.#seen.add(item.id);
      this.#cursor = item.id;
    } else if (typeof item.resumeAfter === 'string') {
      this.#cursor = item.resumeAfter; // the stream continues after this id
    }
    try {
      this.#init.onEvent?.(item);
    } catch (error) {
      this.dispatchEvent(new ClientErrorEvent(asError(error)));
    }
    this.dispatchEvent(new SubscriptionItemEvent(item));
    const buffer = this.#buffer;
    if (!buffer) return;
    buffer.push(item);
    this.#wakeUp();
    if (buffer.length - this.#head >= this.#init.maxBufferedEvents) {
      this.#state = 'paused';
      this.#host.pause(this.channel);
      this.dispatchEvent(new Event('paused'));
    }
  }

  async #next(): Promise<IteratorResult<SubscriptionItem>> {
    for (;;) {
      const buffer = this.#buffer ?? [];
      if (this.#head < buffer.length) {
        const item = buffer[this.#head++]!;
        if (this.#head > 1024 && this.#head * 2 > buffer.length) {
          buffer.splice(0, this.#head); // compact now and then: O(1) amortised per item
          this.#head = 0;
        }
        if (
          this.#state === 'paused' &&
          buffer.length - this.#head <= this.#init.maxBufferedEvents / 2
        ) {
          this.#state = 'subscribing';
          this.#host.resume(this.channel);
          this.dispatchEvent(new Event('resumed'));
        }
        return { done: false, value: item };
      }
      if (this.#state === 'closed') {
        const error = this.#error;
        this.#error = undefined;
        if (error) throw error;
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }

  /** Wakes every waiting `next()`, oldest first: each takes an item or waits again. */
  #wakeUp(): void {
    if (this.#waiting.length === 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const wake of waiting) wake();
  }

  #presence(message: PresenceStateMessage | JoinMessage | LeaveMessage): void {
    if (this.#state === 'closed') return;
    if (message.type === 'presence') {
      this.#members.clear();
      for (const member of message.members) this.#members.set(member.clientId, member);
      this.dispatchEvent(new PresenceEvent(this.members));
      return;
    }
    if (message.type === 'join') this.#members.set(message.member.clientId, message.member);
    else this.#members.delete(message.member.clientId);
    this.dispatchEvent(
      new PresenceEvent(this.members, { type: message.type, member: message.member }),
    );
  }

  #end(error?: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#error = error;
    this.#host.release(this);
    if (error) this.dispatchEvent(new ClientErrorEvent(error));
    this.dispatchEvent(new Event('unsubscribed'));
    this.#wakeUp();
  }
}

/** The last `capacity` ids seen, for duplicate detection in O(1) and bounded memory. */
class RecentIds {
  readonly #ids = new Set<string>();
  readonly #ring: (string | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    this.#ring = new Array<string | undefined>(Math.max(1, capacity));
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    const evicted = this.#ring[this.#next];
    if (evicted !== undefined) this.#ids.delete(evicted);
    this.#ring[this.#next] = id;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#ids.add(id);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
