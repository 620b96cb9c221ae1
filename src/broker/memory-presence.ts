import { QueueIterator, type QueueIteratorOptions } from './queue-iterator.js';
import type { PresenceChange, PresenceMember } from './types.js';

/** A presence watcher: a bounded queue of changes; overflow fails it with `slow_consumer`. */
class PresenceStream extends QueueIterator<PresenceChange> {
  protected override take(): PresenceChange | undefined {
    return this.queue.shift();
  }
}

interface ChannelPresence {
  /** The stored copy of each member's first connection, by `clientId`. */
  members: Map<string, PresenceMember>;
  /**
   * Connections beyond the first per `clientId` (a client with two tabs), created with the
   * first such client: the common one-connection member costs one map entry, no counter.
   */
  extra: Map<string, number> | undefined;
  watchers: Set<PresenceStream>;
}

/**
 * In-process presence. Members are keyed by `clientId` and reference-counted: a client with
 * two connections (two tabs) is one member, listed once; `join` is emitted on its first
 * connection and `leave` when its last one leaves. The `info` kept is the first
 * connection's. A channel's entry is removed as soon as it has no member and no watcher, so
 * memory follows live connections, not channel names ever used.
 *
 * Leaving takes the `clientId` rather than returning a function per join: thousands of idle
 * connections then hold no closure, context or entry object for their membership.
 */
export class MemoryPresence {
  readonly #channels = new Map<string, ChannelPresence>();

  join(channel: string, member: PresenceMember): void {
    const state = this.#state(channel);
    const clientId = member.clientId;
    if (state.members.has(clientId)) {
      const extra = (state.extra ??= new Map());
      extra.set(clientId, (extra.get(clientId) ?? 0) + 1);
      return;
    }
    const stored: PresenceMember = { ...member }; // later edits by the caller don't leak in
    state.members.set(clientId, stored);
    this.#emit(state, { type: 'join', channel, member: stored });
  }

  /** Drops one connection of `clientId`; past its last one it leaves. Unknown: nothing. */
  leave(channel: string, clientId: string): void {
    const state = this.#channels.get(channel);
    const member = state?.members.get(clientId);
    if (state === undefined || member === undefined) return;
    const extra = state.extra;
    const more = extra?.get(clientId);
    if (extra !== undefined && more !== undefined) {
      if (more > 1) extra.set(clientId, more - 1);
      else extra.delete(clientId);
      return;
    }
    state.members.delete(clientId);
    this.#emit(state, { type: 'leave', channel, member });
    this.#release(channel, state);
  }

  members(channel: string): PresenceMember[] {
    const state = this.#channels.get(channel);
    return state ? [...state.members.values()].map((member) => ({ ...member })) : [];
  }

  watch(
    channel: string,
    options: Omit<QueueIteratorOptions, 'onEnd'>,
  ): AsyncIterableIterator<PresenceChange> {
    // Already aborted or failed (closed broker): a stream that registers nothing.
    if (options.signal?.aborted || options.error) return new PresenceStream(options);
    const state = this.#state(channel);
    const stream: PresenceStream = new PresenceStream({
      ...options,
      onEnd: () => {
        state.watchers.delete(stream);
        this.#release(channel, state);
      },
    });
    state.watchers.add(stream);
    return stream;
  }

  /** Ends every watcher and forgets every member. */
  close(): void {
    for (const state of [...this.#channels.values()]) {
      for (const watcher of [...state.watchers]) watcher.end();
    }
    this.#channels.clear();
  }

  stats(): { channels: number; members: number; watchers: number } {
    let members = 0;
    let watchers = 0;
    for (const state of this.#channels.values()) {
      members += state.members.size;
      watchers += state.watchers.size;
    }
    return { channels: this.#channels.size, members, watchers };
  }

  #state(channel: string): ChannelPresence {
    let state = this.#channels.get(channel);
    if (!state) {
      state = { members: new Map(), extra: undefined, watchers: new Set() };
      this.#channels.set(channel, state);
    }
    return state;
  }

  #emit(state: ChannelPresence, change: PresenceChange): void {
    for (const watcher of [...state.watchers]) watcher.enqueue(change);
  }

  #release(channel: string, state: ChannelPresence): void {
    if (state.members.size === 0 && state.watchers.size === 0) {
      if (this.#channels.get(channel) === state) this.#channels.delete(channel);
    }
  }
}
