/**
 * What a hub shares with its connections (counters, options, the shared channel streams) and
 * the stats it reports, aggregated over its connections when asked.
 */
import type { ChannelFeeds } from './channel-feed.js';
import type { HubConnection } from './hub-connection.js';
import type { ResolvedHubOptions } from './hub-options.js';

export interface WebSocketHubStats {
  connections: number;
  /** Handshakes waiting for authentication. */
  pendingUpgrades: number;
  subscriptions: number;
  /** Outbound bytes held for all connections (socket buffers plus queues). */
  bufferedBytes: number;
  /** The largest single connection's outbound bytes: never above `maxBufferedBytes`. */
  maxConnectionBufferedBytes: number;
  queuedMessages: number;
  /** Cumulative counters since the hub started. */
  dropped: number;
  conflated: number;
  slowConsumerDisconnects: number;
  heartbeatTimeouts: number;
  rateLimited: number;
  invalidMessages: number;
  rejectedUpgrades: Record<
    'origin' | 'unauthorized' | 'capacity' | 'badRequest' | 'closing',
    number
  >;
}

/** Counters the hub aggregates across connections (cumulative). */
export interface HubCounters {
  slowConsumerDisconnects: number;
  heartbeatTimeouts: number;
  rateLimited: number;
  invalidMessages: number;
  dropped: number;
  conflated: number;
}

/** What every connection of a hub shares with it (one object per hub, not per connection). */
export interface HubShared {
  readonly options: ResolvedHubOptions;
  readonly counters: HubCounters;
  readonly feeds: ChannelFeeds;
  /** Called once a connection closed and every subscription was torn down. */
  connectionClosed(connection: HubConnection): void;
}

/** Sums the connections' outbound state and the hub's counters. */
export function collectStats(
  connections: ReadonlySet<HubConnection>,
  hub: {
    pendingUpgrades: number;
    counters: HubCounters;
    rejectedUpgrades: WebSocketHubStats['rejectedUpgrades'];
  },
): WebSocketHubStats {
  let subscriptions = 0;
  let bufferedBytes = 0;
  let maxConnectionBufferedBytes = 0;
  let queuedMessages = 0;
  const counters = hub.counters;
  let dropped = counters.dropped;
  let conflated = counters.conflated;
  for (const connection of connections) {
    const outbound = connection.outbound.stats();
    subscriptions += connection.subscriptions.size;
    bufferedBytes += outbound.bufferedBytes;
    maxConnectionBufferedBytes = Math.max(maxConnectionBufferedBytes, outbound.bufferedBytes);
    queuedMessages += outbound.queuedMessages;
    dropped += outbound.dropped;
    conflated += outbound.conflated;
  }
  return {
    connections: connections.size,
    pendingUpgrades: hub.pendingUpgrades,
    subscriptions,
    bufferedBytes,
    maxConnectionBufferedBytes,
    queuedMessages,
    dropped,
    conflated,
    slowConsumerDisconnects: counters.slowConsumerDisconnects,
    heartbeatTimeouts: counters.heartbeatTimeouts,
    rateLimited: counters.rateLimited,
    invalidMessages: counters.invalidMessages,
    rejectedUpgrades: { ...hub.rejectedUpgrades },
  };
}
