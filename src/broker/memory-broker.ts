import { assertChannelName } from '../core/channel.js';
import { SluiceError } from '../core/errors.js';
import { newEpoch } from '../core/event-id.js';
import { ChannelRegistry, type ChannelState } from './channel-registry.js';
import { HistoryBuffer, historyEntry, positionId, resolveCursor } from './history-buffer.js';
import { MemoryPresence } from './memory-presence.js';
import { MemorySubscription, type SubscriptionSource } from './memory-subscription.js';
import type {
  Broker,
  BrokerMessage,
  GapSignal,
  HistoryOptions,
  HistoryResult,
  PresenceChange,
  PresenceMember,
  PresenceOptions,
  PublishInput,
  SubscribeOptions,
  SubscriberOverflowPolicy,
  SubscriptionItem,
  SyncPublisher,
  CursorReader,
} from './types.js';

export const MEMORY_BROKER_DEFAULTS = Object.freeze({
  /** Messages retained per channel; 0 keeps none (live only, every resume is a gap). */
  historyLimit: 1000,
  /** Messages older than this (ms) are dropped from history; `null`: no age limit. */
  historyMaxAge: 60 * 60 * 1000,
  /** Live messages buffered per subscriber before its overflow policy applies. */
  subscriberQueueLimit: 1024,
  overflow: 'resync',
  /** Presence changes buffered per watcher; past it the watcher fails with `slow_consumer`. */
  presenceQueueLimit: 1024,
  /**
   * Channels with state (history or subscribers). Past it the least recently active channel
   * without subscribers is forgotten (its history goes; its cursors then get `expired`).
   */
  maxChannels: 10_000,
});

export interface MemoryBrokerOptions {
  historyLimit?: number;
  historyMaxAge?: number | null;
  subscriberQueueLimit?: number;
  overflow?: SubscriberOverflowPolicy;
  presenceQueueLimit?: number;
  maxChannels?: number;
  /** Clock for publish times and age trimming (ms since the Unix epoch). */
  now?: () => number;
  /**
   * Names this broker's lifetime in every id. Default: a fresh `newEpoch()`, so cursors from
   * before a restart get an `epoch` gap. Only inject one that is unique per lifetime.
   */
  epoch?: string;
}

/** A point-in-time view for metrics and for tests proving teardown. */
export interface MemoryBrokerStats {
  /** Channels with state: retained history or subscribers. */
  channels: number;
  subscribers: number;
  /** Live messages waiting in subscriber queues, summed. */
  queuedMessages: number;
  retainedMessages: number;
  presenceChannels: number;
  presenceMembers: number;
  presenceWatchers: number;
}

/**
 * The embedded broker: everything in one process, nothing persisted.
 *
 * Ids are `<epoch>:<position>` where the position comes from one counter for the whole
 * broker: ascending within every channel (not contiguous), and never reused even when an
 * idle channel's state is forgotten and later recreated — a recreated channel treats older
 * cursors as `expired` rather than misreading them. Cursor rules: see `resolveCursor`.
 *
 * Data is delivered live by reference, not cloned: publishers hand over JSON values and
 * must not mutate them afterwards; transports serialize on the way out. History keeps it
 * as bytes outside the JS heap (history-buffer.ts), so a replayed message carries a copy:
 * the same string, or the JSON round trip of any other value.
 *
 * Channel state is bounded: it exists only while a channel has subscribers or retained
 * history; idle channels whose history aged out are swept lazily on each call (no timers),
 * and `maxChannels` caps the rest.
 */
export class MemoryBroker implements Broker, SyncPublisher, CursorReader {
  readonly epoch: string;
  readonly #limits: Required<Omit<MemoryBrokerOptions, 'now' | 'epoch'>>;
  readonly #now: () => number;
  readonly #channels: ChannelRegistry;
  readonly #presence = new MemoryPresence();
  /**
   * What every subscriber of a channel shares: its source (history, epoch, clock) and the
   * function that detaches an ended subscriber. Built once per channel state, not once per
   * subscriber (thousands of idle connections on one channel each saved both).
   */
  readonly #shared = new WeakMap<ChannelState, ChannelShared>();
  #sequence = 0;
  #closed = false;

  constructor(options: MemoryBrokerOptions = {}) {
    const d = MEMORY_BROKER_DEFAULTS;
    this.#limits = {
      historyLimit: count('historyLimit', options.historyLimit ?? d.historyLimit, 0),
      historyMaxAge:
        options.historyMaxAge === null
          ? null
          : count('historyMaxAge', options.historyMaxAge ?? d.historyMaxAge ?? 0, 1),
      subscriberQueueLimit: count(
        'subscriberQueueLimit',
        options.subscriberQueueLimit ?? d.subscriberQueueLimit,
        1,
      ),
      overflow: policy(options.overflow ?? d.overflow),
      presenceQueueLimit: count(
        'presenceQueueLimit',
        options.presenceQueueLimit ?? d.presenceQueueLimit,
        1,
      ),
      maxChannels: count('maxChannels', options.maxChannels ?? d.maxChannels, 1),
    };
    this.#now = options.now ?? Date.now;
    this.epoch = options.epoch ?? newEpoch(this.#now());
    positionId(this.epoch, 0); // throws now, not at the first publish, if the epoch is unusable
    this.#channels = new ChannelRegistry(this.#limits, this.epoch);
  }

  async publish(channel: string, input: PublishInput): Promise<string> {
    return this.publishSync(channel, input);
  }

  /** `publish` without the promise (`SyncPublisher`): the message is stored and queued on return. */
  publishSync(channel: string, input: PublishInput): string {
    this.#assertOpen();
    assertChannelName(channel);
    if (input.event !== undefined && typeof input.event !== 'string') {
      throw new SluiceError('invalid_argument', 'publish: event must be a string');
    }
    const now = this.#now();
    this.#channels.sweep(now);
    const state = this.#channels.obtain(channel, this.#sequence);
    const position = ++this.#sequence;
    const id = positionId(this.epoch, position);
    const message: BrokerMessage = { id, channel, data: input.data, time: now };
    if (input.event !== undefined) message.event = input.event;
    state.history.expire(now);
    state.history.append(position, message);
    const entry = historyEntry(position, message);
    this.#channels.published(state);
    for (const subscriber of state.subscribers) subscriber.enqueue(entry);
    return id;
  }

  /** `CursorReader`: the id of the channel's last message, or the position it starts after. */
  channelCursor(channel: string): string {
    this.#assertOpen();
    assertChannelName(channel);
    return positionId(this.epoch, this.#channels.get(channel)?.history.last ?? this.#sequence);
  }

  /**
   * Registers the subscriber before returning: a message published after `subscribe()`
   * returns is delivered, whether or not iteration has started. With `since`, the cursor is
   * checked right away and history after it is replayed first (a gap signal leads when the
   * cursor cannot be honoured). Invalid channel names and options throw here; subscribing
   * to a closed broker yields an iterator whose first `next()` throws `broker_closed`.
   */
  subscribe(
    channel: string,
    options: SubscribeOptions = {},
  ): AsyncIterableIterator<SubscriptionItem> {
    assertChannelName(channel);
    const queueLimit = count(
      'queueLimit',
      options.queueLimit ?? this.#limits.subscriberQueueLimit,
      1,
    );
    const overflow = policy(options.overflow ?? this.#limits.overflow);
    cursorOption('subscribe', options.since);
    const base = { queueLimit, overflow, ...optional('since', options.since) };
    const source = { channel, epoch: this.epoch, now: this.#now };
    if (this.#closed || options.signal?.aborted) {
      const history = new HistoryBuffer({
        limit: 0,
        maxAge: null,
        floor: this.#sequence,
        channel,
        epoch: this.epoch,
      });
      const error = this.#closed ? closedError() : undefined;
      return new MemorySubscription(
        { ...source, history },
        { ...base, ...optional('error', error), ...optional('signal', options.signal) },
      );
    }
    this.#channels.sweep(this.#now());
    const state = this.#channels.obtain(channel, this.#sequence);
    const shared = this.#sharedOf(state);
    const subscription = new MemorySubscription(shared.source, {
      ...base,
      ...optional('signal', options.signal),
      onEnd: shared.detach,
    });
    this.#channels.attach(state, subscription);
    return subscription;
  }

  async history(channel: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    this.#assertOpen();
    assertChannelName(channel);
    const limit = options.limit === undefined ? Infinity : count('limit', options.limit, 0);
    cursorOption('history', options.since);
    const now = this.#now();
    this.#channels.sweep(now);
    const history = this.#channels.get(channel)?.history;
    history?.expire(now);
    if (options.since === undefined) return { messages: history?.tail(limit) ?? [] };
    const resolved = resolveCursor(options.since, {
      epoch: this.epoch,
      last: history?.last ?? this.#sequence,
      trimmedThrough: history?.trimmedThrough ?? this.#sequence,
      ...(history ? { holds: (position: number) => history.holds(position) } : {}),
    });
    const messages = history?.slice(resolved.position, limit) ?? [];
    if (!resolved.reason) return { messages };
    const gap: GapSignal = {
      type: 'gap',
      channel,
      reason: resolved.reason,
      requested: options.since,
      resumeAfter: positionId(this.epoch, resolved.position),
    };
    return { messages, gap };
  }

  async join(channel: string, member: PresenceMember): Promise<void> {
    this.#assertOpen();
    assertChannelName(channel);
    // `member?.`: a missing member (a loosely typed caller) gets the coded error, not a TypeError.
    if (typeof member?.clientId !== 'string' || member.clientId.length === 0) {
      throw new SluiceError('invalid_argument', 'join: member.clientId must be a non-empty string');
    }
    this.#presence.join(channel, member);
  }

  async leave(channel: string, clientId: string): Promise<void> {
    assertChannelName(channel);
    // Not refused once closed: close() already forgot every member.
    this.#presence.leave(channel, clientId);
  }

  async members(channel: string): Promise<PresenceMember[]> {
    this.#assertOpen();
    assertChannelName(channel);
    return this.#presence.members(channel);
  }

  presence(channel: string, options: PresenceOptions = {}): AsyncIterableIterator<PresenceChange> {
    assertChannelName(channel);
    const queueLimit = count(
      'queueLimit',
      options.queueLimit ?? this.#limits.presenceQueueLimit,
      1,
    );
    const error = this.#closed ? closedError() : undefined;
    return this.#presence.watch(channel, {
      queueLimit,
      ...optional('signal', options.signal),
      ...optional('error', error),
    });
  }

  /** Ends every subscription and presence watcher; later calls reject with `broker_closed`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const state of [...this.#channels.values()]) {
      for (const subscription of [...state.subscribers]) subscription.end();
    }
    this.#channels.clear();
    this.#presence.close();
  }

  stats(): MemoryBrokerStats {
    if (!this.#closed) this.#channels.sweep(this.#now());
    let subscribers = 0;
    let queuedMessages = 0;
    let retainedMessages = 0;
    const now = this.#now();
    for (const state of this.#channels.values()) {
      if (!this.#closed) state.history.expire(now);
      subscribers += state.subscribers.size;
      retainedMessages += state.history.size;
      for (const subscription of state.subscribers) queuedMessages += subscription.queued;
    }
    const presence = this.#presence.stats();
    return {
      channels: this.#channels.size,
      subscribers,
      queuedMessages,
      retainedMessages,
      presenceChannels: presence.channels,
      presenceMembers: presence.members,
      presenceWatchers: presence.watchers,
    };
  }

  #sharedOf(state: ChannelState): ChannelShared {
    let shared = this.#shared.get(state);
    if (!shared) {
      const channels = this.#channels;
      shared = {
        source: { channel: state.name, epoch: this.epoch, history: state.history, now: this.#now },
        detach: (subscription) => channels.detach(state, subscription as MemorySubscription),
      };
      this.#shared.set(state, shared);
    }
    return shared;
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

interface ChannelShared {
  source: SubscriptionSource;
  detach: (subscription: AsyncIterator<unknown>) => void;
}

/** `join`'s result: the presence leave (bound as `this`); async, so a failure rejects. */
export function createMemoryBroker(options?: MemoryBrokerOptions): MemoryBroker {
  return new MemoryBroker(options);
}

function closedError(): SluiceError {
  return new SluiceError('broker_closed', 'The broker is closed', { status: 503 });
}

function count(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new SluiceError('invalid_argument', `${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/**
 * A cursor must be a string: anything else (a number from a loosely typed caller) made the
 * id parser throw a bare TypeError instead of a coded error.
 */
function cursorOption(operation: string, since: unknown): void {
  if (since !== undefined && typeof since !== 'string') {
    throw new SluiceError('invalid_argument', `${operation}: since must be a string event id`);
  }
}

function policy(value: SubscriberOverflowPolicy): SubscriberOverflowPolicy {
  if (value !== 'resync' && value !== 'error') {
    throw new SluiceError(
      'invalid_argument',
      `overflow must be "resync" or "error", got ${String(value)}`,
    );
  }
  return value;
}

/** `{ [key]: value }` or `{}`: keeps `exactOptionalPropertyTypes` happy without branches. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
