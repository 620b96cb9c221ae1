/**
 * Shared plumbing for the broker contract suite: the factory shape every broker provides,
 * a manual clock, unique channel names (so a suite can share one Redis), and readers that
 * never hang a test run (every wait has a timeout that fails with what was read so far).
 */
import type { Broker, BrokerMessage, GapSignal, SubscriptionItem } from '../../src/broker/index.js';

export interface BrokerFactoryOptions {
  historyLimit?: number;
  /** ms; `null` = no age limit. */
  historyMaxAge?: number | null;
  /** The broker's clock for publish times and age trimming. */
  now?: () => number;
  /**
   * The lifetime name in ids. Two brokers made with different epochs simulate a restart
   * that lost history: cursors of the first must get an `epoch` gap from the second.
   */
  epoch?: string;
}

export type BrokerFactory = (options: BrokerFactoryOptions) => Promise<Broker> | Broker;

export interface BrokerContractOptions {
  /**
   * Live subscriptions the broker holds for `channel` (used to prove teardown). Omit it when
   * the implementation cannot tell; the teardown tests then check behaviour only.
   */
  subscriberCount?: (broker: Broker, channel: string) => number | Promise<number>;
}

export interface ManualClock {
  now: () => number;
  advance: (ms: number) => void;
}

export function manualClock(start = 1_700_000_000_000): ManualClock {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

let counter = 0;
const runId = Math.floor(Math.random() * 36 ** 6).toString(36);

/** A channel name no other test (or concurrent run against a shared Redis) uses. */
export function uniqueChannel(label = 'c'): string {
  counter++;
  return `contract.${runId}.${label}.${counter}`;
}

export const READ_TIMEOUT_MS = 5000;

/** The next item, or a failure naming `what` if none arrives in time. */
export async function nextItem<T>(
  iterator: AsyncIterator<T>,
  what = 'item',
  ms = READ_TIMEOUT_MS,
): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads exactly `count` items (fails on timeout or early end). */
export async function take<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const items: T[] = [];
  while (items.length < count) {
    const result = await nextItem(iterator, `item ${items.length + 1} of ${count}`);
    if (result.done) throw new Error(`stream ended after ${items.length} of ${count} items`);
    items.push(result.value);
  }
  return items;
}

/** Reads until a message matches; returns everything read (that message and gaps included). */
export async function takeUntil(
  iterator: AsyncIterator<SubscriptionItem>,
  last: (message: BrokerMessage) => boolean,
  max = 1_000_000,
): Promise<SubscriptionItem[]> {
  const items: SubscriptionItem[] = [];
  while (items.length < max) {
    const result = await nextItem(iterator, `the last message (after ${items.length} items)`);
    if (result.done) throw new Error(`stream ended after ${items.length} items`);
    items.push(result.value);
    if (result.value.type === 'message' && last(result.value.message)) return items;
  }
  throw new Error(`more than ${max} items before the last message`);
}

export function takeUntilId(
  iterator: AsyncIterator<SubscriptionItem>,
  lastId: string,
): Promise<SubscriptionItem[]> {
  return takeUntil(iterator, (message) => message.id === lastId);
}

/** Ends an iterator the way breaking out of `for await` does. */
export async function stop(iterator: AsyncIterator<unknown>): Promise<void> {
  await iterator.return?.();
}

export function iterate<T>(iterable: AsyncIterable<T>): AsyncIterator<T> {
  return iterable[Symbol.asyncIterator]();
}

export function messagesOf(items: SubscriptionItem[]): BrokerMessage[] {
  return items.flatMap((item) => (item.type === 'message' ? [item.message] : []));
}

export function dataOf(items: SubscriptionItem[]): unknown[] {
  return messagesOf(items).map((message) => message.data);
}

export function gapsOf(items: SubscriptionItem[]): GapSignal[] {
  return items.filter((item): item is GapSignal => item.type === 'gap');
}

/** Publishes `data` values in order; resolves with their ids. */
export async function publishAll(
  broker: Broker,
  channel: string,
  values: readonly unknown[],
): Promise<string[]> {
  const ids: string[] = [];
  for (const data of values) ids.push(await broker.publish(channel, { data }));
  return ids;
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** An id that keeps the broker's id shape but names another epoch. */
export function withOtherEpoch(id: string): string {
  const colon = id.indexOf(':');
  const epoch = id.slice(0, colon);
  return `${epoch === 'other' ? 'another' : 'other'}${id.slice(colon)}`;
}

/** Lets pending microtasks and I/O callbacks run (a publisher yielding to subscribers). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
