/**
 * Options, defaults and item types of the sluice WebSocket client (ws-client.ts).
 */
import type { PresenceMember } from '../broker/types.js';
import type { EventMessage, GapMessage, WireFormat } from '../ws/protocol.js';
import type { ReconnectingWebSocketOptions } from './reconnecting-websocket-types.js';

/** What a subscription yields: events in order, and explicit gap signals. */
export type SubscriptionItem = EventMessage | GapMessage;

export interface SluiceSocketOptions extends Omit<
  ReconnectingWebSocketOptions,
  'protocols' | 'heartbeat' | 'binaryType' | 'maxQueuedMessages' | 'maxQueuedBytes'
> {
  /** Wire encoding: `json` (text frames) or `msgpack` (binary frames). */
  format?: WireFormat;
  /**
   * A token sent as the `sluice.token.<jwt>` subprotocol entry (browsers cannot set headers).
   * A function is called before every attempt, so an expired token is replaced on reconnect.
   */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** App-level ping; `null` disables. Any incoming message counts as a sign of life. */
  heartbeat?: { interval?: number; timeout?: number } | null;
  /** How long (ms) a publish or presence query waits for its reply, queued time included. */
  requestTimeout?: number;
  /** Requests (publish, presence) waiting to be sent; past it calls fail with `buffer_overflow`. */
  maxPendingPublishes?: number;
  /** Requests sent and not yet answered; more wait in the outbox (flow control). */
  maxInFlightRequests?: number;
  /**
   * Items a subscription's iterator buffers for a slow consumer. At the limit the
   * subscription pauses (the server stops sending) and resumes from its cursor when the
   * consumer has caught up to half of it: flow control without loss.
   */
  maxBufferedEvents?: number;
  /** Recent event ids remembered per subscription to drop duplicates. */
  dedupeWindow?: number;
}

export const SLUICE_SOCKET_DEFAULTS = Object.freeze({
  format: 'json',
  heartbeatInterval: 20_000,
  heartbeatTimeout: 10_000,
  requestTimeout: 10_000,
  // Kept below the hub's default burst (200 messages) so a flush after reconnect is not
  // mistaken for abuse.
  maxPendingPublishes: 100,
  maxInFlightRequests: 32,
  maxBufferedEvents: 1_000,
  dedupeWindow: 1_024,
  /** A subscribe refused as rate-limited is sent again after about this long (ms, jittered). */
  rateLimitRetryDelay: 1_000,
});

export interface SubscribeOptions {
  /** Resume after this event id (e.g. one stored before a page reload). */
  since?: string;
  /** Called for every event and gap, in order, as they arrive. */
  onEvent?: (item: SubscriptionItem) => void;
  /** Also track who is in the channel (`members`, `presence` events). */
  presence?: boolean;
  /** Aborting unsubscribes. */
  signal?: AbortSignal;
}

export interface PublishOptions {
  event?: string;
  signal?: AbortSignal;
  /** Overrides `requestTimeout` for this call. */
  timeout?: number;
}

/**
 * `subscribing`: waiting for the server's ack (after every reconnect too); `paused`: the
 * iterator's buffer is full and the server was asked to stop; `closed`: unsubscribed, failed
 * or the client closed.
 */
export type SubscriptionState = 'subscribing' | 'subscribed' | 'paused' | 'closed';

/** Dispatched as `event` or `gap` on a Subscription. */
export class SubscriptionItemEvent extends Event {
  readonly item: SubscriptionItem;
  constructor(item: SubscriptionItem) {
    super(item.type);
    this.item = item;
  }
}

/** Dispatched as `presence` whenever the member list changes. */
export class PresenceEvent extends Event {
  readonly members: readonly PresenceMember[];
  readonly change: { type: 'join' | 'leave'; member: PresenceMember } | undefined;
  constructor(members: readonly PresenceMember[], change?: PresenceEvent['change']) {
    super('presence');
    this.members = members;
    this.change = change;
  }
}

/** Dispatched as `error` on a Subscription (then it closes) or on the client. */
export class ClientErrorEvent extends Event {
  readonly error: Error;
  constructor(error: Error) {
    super('error');
    this.error = error;
  }
}
