/**
 * The part of a connection's outbound queue that exists only while frames wait (see
 * outbound-queue.ts): the waiting entries in send order, the droppable ones in eviction
 * order, the conflation keys, the drops not yet announced, and their byte and message
 * counts. Created with the first frame that has to wait and dropped once caught up, so an
 * idle connection holds none of it.
 */
import { LazyFifo } from './lazy-fifo.js';

const EMPTY = new Uint8Array(0);

export interface BacklogEntry {
  data: Uint8Array;
  /** Payload plus frame overhead: what the entry counts against the budget. */
  bytes: number;
  channel: string | undefined;
  evictable: boolean;
  mapKey: string | undefined;
  /** Sent or evicted: no longer counted; skipped where it still sits in an array. */
  gone: boolean;
}

export class Backlog {
  readonly items = new LazyFifo<BacklogEntry>();
  /** The droppable subset of `items`, in the same order: eviction candidates. */
  readonly evictable = new LazyFifo<BacklogEntry>();
  readonly keyed = new Map<string, BacklogEntry>();
  /** Drops per channel not yet announced (bounded by the connection's subscriptions). */
  readonly pendingDrops = new Map<string, number>();
  queuedBytes = 0;
  queuedMessages = 0;

  get indexedEntries(): number {
    return this.items.size + this.evictable.size + this.keyed.size;
  }

  add(entry: BacklogEntry): void {
    this.items.push(entry);
    if (entry.evictable) this.evictable.push(entry);
    if (entry.mapKey !== undefined) this.keyed.set(entry.mapKey, entry);
    this.queuedBytes += entry.bytes;
    this.queuedMessages++;
  }

  /** Takes an entry out of every index (a flushed frame must not stay reachable from here). */
  remove(entry: BacklogEntry): void {
    entry.gone = true;
    entry.data = EMPTY;
    this.items.released();
    if (entry.evictable) this.evictable.released();
    this.queuedBytes -= entry.bytes;
    this.queuedMessages--;
    if (entry.mapKey !== undefined && this.keyed.get(entry.mapKey) === entry) {
      this.keyed.delete(entry.mapKey);
    }
  }

  countDrop(channel: string): void {
    this.pendingDrops.set(channel, (this.pendingDrops.get(channel) ?? 0) + 1);
  }
}
