import { HistoryBuffer } from './history-buffer.js';
import type { MemorySubscription } from './memory-subscription.js';

export interface ChannelState {
  readonly name: string;
  readonly history: HistoryBuffer;
  readonly subscribers: Set<MemorySubscription>;
}

export interface ChannelRegistryLimits {
  historyLimit: number;
  historyMaxAge: number | null;
  maxChannels: number;
}

/**
 * The memory broker's channels, bounded so that memory follows live use, not every channel
 * name ever seen. A channel has state only while it has subscribers or retained history.
 * Channels without subscribers sit in an LRU map (least recently active first): past
 * `maxChannels` the oldest is forgotten, and `sweep()` — called on every broker operation,
 * so no timer is needed — forgets those whose history has aged out.
 */
export class ChannelRegistry {
  readonly #limits: ChannelRegistryLimits;
  /** The broker's epoch: history rebuilds message ids from it. */
  readonly #epoch: string;
  readonly #channels = new Map<string, ChannelState>();
  /** Channels without subscribers, least recently active first (the eviction order). */
  readonly #idle = new Map<string, ChannelState>();

  constructor(limits: ChannelRegistryLimits, epoch: string) {
    this.#limits = limits;
    this.#epoch = epoch;
  }

  get size(): number {
    return this.#channels.size;
  }

  get(name: string): ChannelState | undefined {
    return this.#channels.get(name);
  }

  values(): IterableIterator<ChannelState> {
    return this.#channels.values();
  }

  /**
   * The channel's state, created if needed. A new channel's history treats every position
   * up to `floor` as trimmed: cursors from a forgotten earlier lifetime get `expired`.
   */
  obtain(name: string, floor: number): ChannelState {
    const existing = this.#channels.get(name);
    if (existing) return existing;
    // Make room: forget the least recently active channel nobody is subscribed to. When
    // every channel has subscribers the cap is exceeded: subscribers bound that number.
    while (this.#channels.size >= this.#limits.maxChannels && this.#idle.size > 0) {
      const [oldest] = this.#idle.keys();
      this.#drop(oldest!);
    }
    const history = new HistoryBuffer({
      limit: this.#limits.historyLimit,
      maxAge: this.#limits.historyMaxAge,
      floor,
      channel: name,
      epoch: this.#epoch,
    });
    const state: ChannelState = { name, history, subscribers: new Set() };
    this.#channels.set(name, state);
    this.#idle.set(name, state);
    return state;
  }

  attach(state: ChannelState, subscription: MemorySubscription): void {
    if (state.subscribers.size === 0) this.#idle.delete(state.name);
    state.subscribers.add(subscription);
  }

  detach(state: ChannelState, subscription: MemorySubscription): void {
    state.subscribers.delete(subscription);
    if (state.subscribers.size > 0 || this.#channels.get(state.name) !== state) return;
    this.#touchIdle(state);
  }

  /** After a publish: refreshes the channel's place in the eviction order. */
  published(state: ChannelState): void {
    if (state.subscribers.size === 0) this.#touchIdle(state);
  }

  /** Forgets idle channels whose history aged out, oldest activity first; stops at a live one. */
  sweep(now: number): void {
    if (this.#limits.historyMaxAge === null) return;
    for (const state of this.#idle.values()) {
      state.history.expire(now);
      if (state.history.size > 0) return;
      this.#drop(state.name);
    }
  }

  clear(): void {
    this.#channels.clear();
    this.#idle.clear();
  }

  #touchIdle(state: ChannelState): void {
    this.#idle.delete(state.name);
    // Nothing retained and nobody listening: nothing worth keeping.
    if (state.history.size === 0) this.#channels.delete(state.name);
    else this.#idle.set(state.name, state);
  }

  #drop(name: string): void {
    this.#channels.delete(name);
    this.#idle.delete(name);
  }
}
