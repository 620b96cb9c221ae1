/**
 * The columnar history against a plain array model: any sequence of appends (with and
 * without event names), age expiry and reads gives the same messages, the same
 * `trimmedThrough` and the same lookups, across ring wrap-around and growth. Data is any
 * JSON value or string (lone surrogates and multi-byte text included): history keeps it as
 * bytes, so a read gives an equal copy.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HistoryBuffer, positionId } from '../../src/broker/history-buffer.js';
import type { BrokerMessage } from '../../src/broker/types.js';

const EPOCH = 'e1';
const CHANNEL = 'c';

type Op =
  | { kind: 'append'; gap: number; age: number; event: string | undefined; data: unknown }
  | { kind: 'expire'; at: number }
  | { kind: 'read'; after: number; limit: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('append' as const),
    gap: fc.integer({ min: 1, max: 3 }),
    age: fc.integer({ min: 0, max: 5 }),
    event: fc.option(fc.constantFrom('tick', 'x'), { nil: undefined }),
    data: fc.oneof(
      fc.integer(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      fc.constant(null),
      fc.jsonValue(),
    ),
  }),
  fc.record({ kind: fc.constant('expire' as const), at: fc.integer({ min: 0, max: 10 }) }),
  fc.record({
    kind: fc.constant('read' as const),
    after: fc.integer({ min: 0, max: 200 }),
    limit: fc.integer({ min: 0, max: 40 }),
  }),
);

/** A history of `limit` messages with no age limit, from position 0. */
function plainHistory(limit: number): HistoryBuffer {
  return new HistoryBuffer({ limit, maxAge: null, floor: 0, channel: CHANNEL, epoch: EPOCH });
}

function message(position: number, time: number, data: unknown, event?: string): BrokerMessage {
  const built: BrokerMessage = { id: positionId(EPOCH, position), channel: CHANNEL, data, time };
  if (event !== undefined) built.event = event;
  return built;
}

describe('HistoryBuffer', () => {
  it('matches an array model under random appends, expiry and reads', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: null }),
        fc.array(op, { maxLength: 150 }),
        (limit, maxAge, ops) => {
          const floor = 3;
          const history = new HistoryBuffer({
            limit,
            maxAge,
            floor,
            channel: CHANNEL,
            epoch: EPOCH,
          });
          const model: { position: number; message: BrokerMessage }[] = [];
          let trimmed = floor;
          let position = floor;
          let clock = 100;
          for (const step of ops) {
            if (step.kind === 'append') {
              position += step.gap;
              clock += step.age;
              const built = message(position, clock, step.data, step.event);
              history.append(position, built);
              // History gives the JSON round trip of non-string data: fc.jsonValue() can
              // nest a -0, which comes back as 0 (as from any broker outside the process).
              const data =
                typeof step.data === 'string'
                  ? step.data
                  : (JSON.parse(JSON.stringify(step.data)) as unknown);
              model.push({ position, message: { ...built, data } });
              if (model.length > limit) trimmed = model.shift()!.position;
            } else if (step.kind === 'expire') {
              const now = clock + step.at;
              history.expire(now);
              if (maxAge !== null) {
                while (model.length > 0 && model[0]!.message.time <= now - maxAge) {
                  trimmed = model.shift()!.position;
                }
              }
            } else {
              const after = floor + step.after;
              const expected = model.filter((m) => m.position > after).map((m) => m.message);
              expect(history.slice(after, step.limit)).toEqual(expected.slice(0, step.limit));
              const first = history.firstAfter(after);
              const next = model.find((m) => m.position > after);
              expect(first?.position).toBe(next?.position);
              expect(first?.item.message).toEqual(next?.message);
            }
            expect(history.size).toBe(model.length);
            expect(history.trimmedThrough).toBe(trimmed);
            expect(history.last).toBe(position);
            expect(history.newestTime).toBe(model.at(-1)?.message.time);
            expect(history.tail(Infinity)).toEqual(model.map((m) => m.message));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps no message object: a read builds fresh ones with the same fields', () => {
    const history = plainHistory(4);
    const data = { n: 1, text: 'héllo 😀 世界' };
    const published = message(1, 5, data, 'tick');
    history.append(1, published);
    const [read] = history.tail(1);
    expect(read).toEqual(published);
    expect(read).not.toBe(published);
    // Kept as bytes, not by reference: a read is a copy, and a later mutation of the
    // published value does not reach history.
    expect(read!.data).not.toBe(data);
    data.n = 2;
    expect(history.tail(1)[0]!.data).toEqual({ n: 1, text: 'héllo 😀 世界' });
  });

  it('keeps strings exactly, lone surrogates included, and non-JSON values as they are', () => {
    const history = plainHistory(10);
    const big = 10n ** 30n;
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const bytes = new Uint8Array([1, 2, 255]);
    const values: unknown[] = [
      'plain',
      '\uFEFFbom',
      'a\ud800b',
      '\udc00',
      '😀',
      '',
      '{"not":"parsed"}',
      big,
      cyclic,
      bytes,
    ];
    values.forEach((data, i) => history.append(i + 1, message(i + 1, 5, data)));
    const read = history.tail(10).map((m) => m.data);
    expect(read.slice(0, 7)).toEqual(values.slice(0, 7));
    expect(typeof read[6]).toBe('string'); // a string that looks like JSON stays a string
    expect(read[7]).toBe(big);
    expect(read[8]).toBe(cyclic);
    expect(read[9]).toBe(bytes);
  });

  it('holds only the bytes of retained messages while the ring turns over', () => {
    const history = plainHistory(10);
    const payload = (i: number) => `${i}:${'x'.repeat(100 + (i % 50))}`;
    for (let i = 1; i <= 5000; i++) history.append(i, message(i, i, payload(i)));
    let live = 0;
    for (let i = 4991; i <= 5000; i++) live += payload(i).length;
    expect(history.dataBytes).toBe(live);
    expect(history.tail(10).map((m) => m.data)).toEqual(
      Array.from({ length: 10 }, (_, k) => payload(4991 + k)),
    );
  });

  it('grows while wrapped around: order and lookups survive', () => {
    const history = new HistoryBuffer({
      limit: 64,
      maxAge: 10,
      floor: 0,
      channel: CHANNEL,
      epoch: EPOCH,
    });
    const all: BrokerMessage[] = [];
    // Times 1..10, then expire the first five: the ring's head moves off slot 0.
    for (let p = 1; p <= 10; p++) history.append(p, (all[p] = message(p, p, p)));
    history.expire(15);
    expect(history.trimmedThrough).toBe(5);
    // 30 more: the 16-slot ring wraps, then grows twice with its head mid-array.
    for (let p = 11; p <= 40; p++) history.append(p, (all[p] = message(p, 100 + p, p)));
    expect(history.tail(Infinity)).toEqual(all.slice(6));
    expect(history.firstAfter(20)?.position).toBe(21);
    expect(history.slice(37, 10)).toEqual(all.slice(38));
  });
});
