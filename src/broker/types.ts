/**
 * The one interface every broker implements (memory, Redis). Transports (SSE, WebSocket,
 * LLM generations) only ever talk to this. Contract: test/broker/contract.ts.
 */

/** A message as stored and delivered: the id is issued by the broker at publish time. */
export interface BrokerMessage {
  /** Opaque, ordered within the channel, carries the epoch (see core/event-id.ts). */
  id: string;
  channel: string;
  /** Any JSON value. */
  data: unknown;
  /** Optional event name (becomes the SSE `event:` field). */
  event?: string;
  /** Publish time, ms since the Unix epoch. */
  time: number;
}

export interface PublishInput {
  data: unknown;
  event?: string;
}

/**
 * Why a subscriber could not be given exactly the messages after its cursor.
 * - `expired`: history no longer reaches back to the cursor (trimmed by count or age).
 * - `epoch`: the cursor is from another lifetime of the channel (e.g. before a restart).
 * - `invalid`: the cursor is not an id this broker issued.
 * - `overflow`: the subscriber fell so far behind live delivery that history could not cover it.
 */
export type GapReason = 'expired' | 'epoch' | 'invalid' | 'overflow';

/** An explicit gap signal: never silent loss. */
export interface GapSignal {
  type: 'gap';
  channel: string;
  reason: GapReason;
  /** The cursor the subscriber asked to resume after. */
  requested: string;
  /**
   * The id the stream resumes after: the next message delivered is the first one after it.
   * It is a cursor the broker honours without a gap, so a client can adopt it as its new
   * position at once. `null` when the broker cannot name that point; the stream then resumes
   * from the oldest message still in history (or from live when history is empty).
   */
  resumeAfter: string | null;
}

export type SubscriptionItem = { type: 'message'; message: BrokerMessage } | GapSignal;

/** What a subscriber's queue does when live delivery outpaces it. */
export type SubscriberOverflowPolicy =
  /** Drop the queued backlog and re-read from history; a gap is signalled if history is short. */
  | 'resync'
  /** End the subscription with a `slow_consumer` SluiceError. */
  | 'error';

export interface SubscribeOptions {
  /** Resume after this id: replay what is in history, then go live. */
  since?: string;
  /** Ends the subscription (the iterator returns). */
  signal?: AbortSignal;
  /** Live messages buffered per subscriber before the overflow policy applies. */
  queueLimit?: number;
  overflow?: SubscriberOverflowPolicy;
}

export interface HistoryOptions {
  since?: string;
  /** At most this many messages, the newest ones when `since` is absent. */
  limit?: number;
}

export interface HistoryResult {
  messages: BrokerMessage[];
  /** Set when `since` could not be honoured exactly. */
  gap?: GapSignal;
}

/** Who is connected to a channel (issue: WebSocket presence). */
export interface PresenceMember {
  clientId: string;
  info?: unknown;
}

export type PresenceChange =
  | { type: 'join'; channel: string; member: PresenceMember }
  | { type: 'leave'; channel: string; member: PresenceMember };

export interface PresenceOptions {
  /** Ends the stream of changes (the iterator returns). */
  signal?: AbortSignal;
  /** Changes buffered for a slow reader; past it the stream fails with `slow_consumer`. */
  queueLimit?: number;
}

export interface Broker {
  /** Stores and fans out one message; resolves with its id. */
  publish(channel: string, input: PublishInput): Promise<string>;
  /**
   * Live messages (after a replay of history when `since` is given). Iteration ends when the
   * signal aborts, the consumer breaks out, or the broker closes. `return()` ends it at once,
   * even while a `next()` is pending (that `next()` then resolves done): the SSE stream ends
   * channel subscriptions that way and passes no signal, so a subscription written as a
   * plain async generator (whose `return()` waits for the pending `next()`) does not qualify.
   *
   * The subscription starts when `subscribe()` returns, not at the first `next()`: a message
   * this broker publishes afterwards is delivered. Replay and live hand over without loss or
   * duplicates; whatever cannot be delivered is announced by a `GapSignal` first. An invalid
   * channel name throws at the call; on a closed broker the first `next()` throws
   * `broker_closed`. (Contract: test/broker/contract.ts.)
   */
  subscribe(channel: string, options?: SubscribeOptions): AsyncIterable<SubscriptionItem>;
  history(channel: string, options?: HistoryOptions): Promise<HistoryResult>;
  /**
   * Presence: enters `member` for one connection. Joins are counted per `clientId`: a
   * client joined twice (two tabs) is listed once and leaves with its last `leave`.
   */
  join(channel: string, member: PresenceMember): Promise<void>;
  /**
   * Drops one join of `clientId`; the caller leaves once per join. Nothing when the client
   * is not a member (also after `close()`).
   */
  leave(channel: string, clientId: string): Promise<void>;
  members(channel: string): Promise<PresenceMember[]>;
  /** Join and leave events for a channel until the signal aborts. */
  presence(channel: string, options?: PresenceOptions): AsyncIterable<PresenceChange>;
  /** Ends every subscription and releases resources. Idempotent. */
  close(): Promise<void>;
}

/**
 * An optional capability: a broker that commits and fans out a message within the call
 * (the memory broker) may offer `publishSync`, which returns the id instead of a promise
 * and throws where `publish` would reject. Hot paths that publish many small messages in a
 * row (an LLM generation publishes every token) use it to skip a promise and a microtask
 * per message; everything else keeps to `publish`. A network broker does not offer it.
 */
export interface SyncPublisher {
  publishSync(channel: string, input: PublishInput): string;
}

export function canPublishSync(broker: Broker): broker is Broker & SyncPublisher {
  return typeof (broker as Partial<SyncPublisher>).publishSync === 'function';
}

/**
 * An optional capability: a broker that can say synchronously where a channel's stream
 * stands. `channelCursor(channel)` is the id after which the channel's next message will
 * come: a live subscriber that takes it in the same synchronous step as it subscribes has
 * a cursor before its first message, so a resume after a drop (`since`) misses nothing
 * even when nothing had arrived yet. When the channel is forgotten meanwhile (no history,
 * no subscriber), that cursor may resume with an `expired` gap: a possible loss is signalled,
 * never an actual one swallowed.
 */
export interface CursorReader {
  channelCursor(channel: string): string;
}

export function canReadCursor(broker: Broker): broker is Broker & CursorReader {
  return typeof (broker as Partial<CursorReader>).channelCursor === 'function';
}
