/**
 * "Never silent loss", checked over random interleavings: with tiny history and queue limits,
 * an injected clock, and subscribers joining from arbitrary cursors while others stall, every
 * subscriber sees messages in publish order, never twice, and every message it skips is
 * announced by a gap signal first.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createMemoryBroker,
  type GapSignal,
  type SubscriptionItem,
} from '../../src/broker/index.js';
import { iterate, manualClock, nextItem, stop } from './contract-helpers.js';

/** Pulls without blocking the test: a next() still pending after a macrotask is kept for later. */
class Reader {
  readonly items: SubscriptionItem[] = [];
  #pending: Promise<IteratorResult<SubscriptionItem>> | undefined;

  constructor(
    readonly iterator: AsyncIterator<SubscriptionItem>,
    /** Index (in publish order) of the first message this subscriber is owed. */
    readonly owedFrom: number,
    /** The cursor cannot be honoured at all (garbage, other epoch): a gap must come first. */
    readonly mustGapFirst: boolean,
  ) {}

  async read(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.#pending ??= this.iterator.next();
      const idle = new Promise<'idle'>((resolve) => setImmediate(() => resolve('idle')));
      const result = await Promise.race([this.#pending, idle]);
      if (result === 'idle') return; // nothing available now; the pull stays pending
      this.#pending = undefined;
      if (result.done) throw new Error('subscription ended unexpectedly');
      this.items.push(result.value);
    }
  }

  async drainThrough(lastId: string): Promise<void> {
    for (;;) {
      const result = await nextItem({ next: () => (this.#pending ??= this.iterator.next()) });
      this.#pending = undefined;
      if (result.done) throw new Error('subscription ended before the sentinel');
      this.items.push(result.value);
      if (result.value.type === 'message' && result.value.message.id === lastId) return;
    }
  }
}

type Command =
  | { kind: 'publish'; count: number }
  | { kind: 'read'; reader: number; count: number }
  | { kind: 'subscribe'; cursor: 'none' | 'garbage' | 'other-epoch' | number }
  | { kind: 'advance'; ms: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('publish' as const),
      count: fc.integer({ min: 1, max: 12 }),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      reader: fc.nat(7),
      count: fc.integer({ min: 1, max: 10 }),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('subscribe' as const),
      cursor: fc.oneof(
        fc.constantFrom('none' as const, 'garbage' as const, 'other-epoch' as const),
        fc.nat(200),
      ),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 1, max: 60 }),
    }),
    weight: 1,
  },
);

const position = (id: string) => Number(id.slice(id.indexOf(':') + 1));

function checkNoSilentLoss(reader: Reader, indexOf: Map<string, number>): void {
  let owed = reader.owedFrom;
  let gap: GapSignal | undefined;
  if (reader.mustGapFirst && reader.items.length > 0) expect(reader.items[0]?.type).toBe('gap');
  for (const item of reader.items) {
    if (item.type === 'gap') {
      gap = item;
      continue;
    }
    const index = indexOf.get(item.message.id);
    expect(index).toBeDefined();
    if (!gap)
      expect(index).toBe(owed); // no gap announced: nothing may be skipped
    else {
      expect(index!).toBeGreaterThanOrEqual(owed);
      // One channel, so positions are contiguous: resumeAfter names the message before.
      if (gap.resumeAfter !== null)
        expect(position(item.message.id)).toBe(position(gap.resumeAfter) + 1);
    }
    owed = index! + 1;
    gap = undefined;
  }
}

describe('MemoryBroker: no silent loss (property)', () => {
  it('holds for random interleavings of publish, stall, read, resume and expiry', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          historyLimit: fc.integer({ min: 0, max: 8 }),
          queueLimit: fc.integer({ min: 1, max: 6 }),
          maxAge: fc.option(fc.integer({ min: 20, max: 200 }), { nil: null }),
        }),
        fc.array(command, { minLength: 1, maxLength: 40 }),
        async (limits, commands) => {
          const clock = manualClock();
          const broker = createMemoryBroker({
            historyLimit: limits.historyLimit,
            historyMaxAge: limits.maxAge,
            subscriberQueueLimit: limits.queueLimit,
            now: clock.now,
            epoch: 'prop',
          });
          const channel = 'prop.channel';
          const published: string[] = [];
          const readers: Reader[] = [];
          const subscribe = (cursor: Command & { kind: 'subscribe' }): void => {
            const c = cursor.cursor;
            let since: string | undefined;
            let owedFrom = published.length;
            if (typeof c === 'number' && published.length > 0) {
              const index = c % published.length;
              since = published[index]!;
              owedFrom = index + 1;
            } else if (c === 'garbage' || c === 'other-epoch') {
              since = c === 'garbage' ? 'garbage' : 'other:1';
              owedFrom = 0; // after the gap: anything retained, in order
            }
            const sub = broker.subscribe(channel, since === undefined ? {} : { since });
            readers.push(
              new Reader(iterate(sub), owedFrom, c === 'garbage' || c === 'other-epoch'),
            );
          };
          subscribe({ kind: 'subscribe', cursor: 'none' });
          for (const step of commands) {
            if (step.kind === 'publish') {
              for (let i = 0; i < step.count; i++) {
                published.push(await broker.publish(channel, { data: published.length }));
              }
            } else if (step.kind === 'read') {
              await readers[step.reader % readers.length]!.read(step.count);
            } else if (step.kind === 'subscribe') subscribe(step);
            else clock.advance(step.ms);
            expect(broker.stats().queuedMessages).toBeLessThanOrEqual(
              readers.length * limits.queueLimit,
            );
          }
          const sentinel = await broker.publish(channel, { data: 'sentinel' });
          published.push(sentinel);
          const indexOf = new Map(published.map((id, index) => [id, index]));
          for (const reader of readers) {
            await reader.drainThrough(sentinel);
            checkNoSilentLoss(reader, indexOf);
            await stop(reader.iterator);
          }
          expect(broker.stats().subscribers).toBe(0);
          await broker.close();
        },
      ),
      { numRuns: 300 },
    );
  });
});
