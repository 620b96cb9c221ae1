/**
 * A channel subscription's own broker stream, for the times it cannot share the hub's live
 * stream for the channel (channel-feed.ts): while it replays history (`since`), while a full
 * `disconnect` connection waits for room, or when the broker cannot be polled. It exists
 * only meanwhile, so a subscription on the shared stream holds none of its state.
 *
 * The stream is pulled only once the previous item was placed (queued, conflated or dropped
 * by policy); on a `disconnect` channel it stops pulling while the connection is full, and
 * the owner closes the connection with 4008 if no room appears within
 * `slowConsumerTimeout` or if the broker's per-subscriber queue overflows meanwhile.
 */
import type { SubscriptionItem } from '../broker/types.js';
import { isPollable, type PollableIterator } from '../core/pollable.js';
import type { OutboundItem } from './outbound-queue.js';

/** What the stream needs from its subscription. */
export interface OwnStreamOwner {
  /** Places one item; returns it when a full `disconnect` connection must wait for room. */
  place(item: SubscriptionItem): OutboundItem | undefined;
  /** Waits for room, then delivers; `false` if it did not (timeout, abort, close). */
  waitToDeliver(item: OutboundItem, signal: AbortSignal): Promise<boolean>;
  /** Caught up: `true` once the owner moved to the shared stream (this one then ends). */
  caughtUp(stream: OwnStream): boolean;
  /** The stream ended without being stopped: `error`, or undefined when the broker ended it. */
  ended(stream: OwnStream, error: unknown): void;
  /** The stream gave up (no room in time; the connection is closing): forget it. */
  released(stream: OwnStream): void;
}

type Source = AsyncIterator<SubscriptionItem> | PollableIterator<SubscriptionItem>;

export class OwnStream {
  readonly #owner: OwnStreamOwner;
  /**
   * Ended with `return()` (the broker contract's "consumer breaks out"), not with an
   * AbortController: in Node an AbortSignal is an EventTarget with two maps of its own.
   */
  readonly #source: Source;
  #active = true;
  /** Set while `#drain` runs (a publish from inside a delivery must not re-enter it). */
  #draining = false;
  /** Aborts the wait for room of a full `disconnect` connection, while there is one. */
  #waiting: AbortController | undefined;
  #onReadable: (() => void) | undefined;

  constructor(owner: OwnStreamOwner, source: Source) {
    this.#owner = owner;
    this.#source = source;
  }

  /** Starts pulling. */
  start(): void {
    const source = this.#source;
    if (!isPollable(source)) {
      void this.#runAsync(source);
      return;
    }
    source.onReadable((this.#onReadable ??= this.#drain.bind(this)));
    this.#drain();
  }

  /** Starts by waiting for room for `blocked`, the item the connection had no room for. */
  startBlocked(blocked: OutboundItem): void {
    const source = this.#source;
    if (isPollable(source)) this.#block(source, blocked);
    else void this.#waitThenRun(source, blocked);
  }

  /** Ends the stream (a pump notices it is no longer active). Idempotent. */
  stop(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#waiting?.abort();
    this.#waiting = undefined;
    const source = this.#source;
    if (isPollable(source)) source.onReadable(undefined);
    source.return?.().catch(() => undefined);
  }

  /** Ended by itself (error, broker) or failed while delivering: stop, then tell the owner. */
  #end(error: unknown): void {
    this.stop();
    this.#owner.ended(this, error);
  }

  #giveUp(): void {
    this.stop();
    this.#owner.released(this);
  }

  /**
   * A polled stream (core/pollable.ts): ready items are delivered from inside the broker's
   * `publish`, no promise per delivery. Once nothing is left, the owner goes back to the
   * shared stream (in a microtask: never in the middle of a publish, where the shared
   * stream may not have reached the current message yet).
   */
  #drain(): void {
    const source = this.#source as PollableIterator<SubscriptionItem>;
    if (this.#draining || !this.#active || this.#waiting) return;
    this.#draining = true;
    try {
      for (;;) {
        const result = source.poll();
        if (result === undefined) {
          queueMicrotask(() => this.#rejoin(source));
          return;
        }
        if ('error' in result) return this.#end(result.error);
        if (result.done) return this.#end(undefined); // e.g. the broker closed
        const blocked = this.#owner.place(result.value);
        // Delivering may have closed the connection (or restarted the subscription).
        if (!this.#active) return;
        if (blocked !== undefined) return this.#block(source, blocked);
      }
    } catch (error) {
      // Never into the publisher: whatever failed here ends this subscription only.
      if (this.#active) this.#end(error);
    } finally {
      this.#draining = false;
    }
  }

  /** Caught up: back to the shared stream, if nothing came since. */
  #rejoin(source: PollableIterator<SubscriptionItem>): void {
    if (!this.#active || this.#waiting || this.#draining) return;
    const result = source.poll();
    if (result !== undefined) {
      // Something arrived after all (the readable call was skipped): deliver it first.
      if ('error' in result) return this.#end(result.error);
      if (result.done) return this.#end(undefined);
      const blocked = this.#owner.place(result.value);
      if (!this.#active) return;
      if (blocked !== undefined) this.#block(source, blocked);
      else this.#drain();
      return;
    }
    // No shared stream for this broker: keep this one (its readable listener is still set).
    if (this.#owner.caughtUp(this)) this.stop();
  }

  /** A full `disconnect` connection: no pulling (and no readable calls) until room or 4008. */
  #block(source: PollableIterator<SubscriptionItem>, blocked: OutboundItem): void {
    source.onReadable(undefined);
    void this.#waitAndDeliver(blocked).then(
      (delivered) => {
        if (!this.#active) return;
        if (!delivered) return this.#giveUp();
        source.onReadable((this.#onReadable ??= this.#drain.bind(this)));
        this.#drain();
      },
      (error: unknown) => {
        if (this.#active) this.#end(error);
      },
    );
  }

  /** The blocked item of a stream that cannot be polled. */
  async #waitThenRun(
    source: AsyncIterator<SubscriptionItem>,
    blocked: OutboundItem,
  ): Promise<void> {
    if (!(await this.#waitAndDeliver(blocked))) {
      if (this.#active) this.#giveUp();
      return;
    }
    if (this.#active) await this.#runAsync(source);
  }

  /** Any other broker: one awaited `next()` per item. */
  async #runAsync(source: AsyncIterator<SubscriptionItem>): Promise<void> {
    try {
      for (;;) {
        const result = await source.next();
        if (!this.#active) return; // stopped: `stop` called `return()`
        if (result.done) break;
        const blocked = this.#owner.place(result.value);
        if (blocked !== undefined && !(await this.#waitAndDeliver(blocked))) {
          if (this.#active) this.#giveUp();
          return;
        }
        if (!this.#active) return;
      }
      this.#end(undefined);
    } catch (error) {
      if (this.#active) this.#end(error);
    }
  }

  /** The wait's abort controller exists only meanwhile (`stop` aborts it). */
  async #waitAndDeliver(item: OutboundItem): Promise<boolean> {
    const controller = new AbortController();
    this.#waiting = controller;
    try {
      return await this.#owner.waitToDeliver(item, controller.signal);
    } finally {
      if (this.#waiting === controller) this.#waiting = undefined;
    }
  }
}
