/**
 * Chaos: connections cut at random points (and one server restart) while 10,000 messages are
 * published; every subscriber, JSON and MessagePack, callback and iterator (one of them slow
 * enough to pause and resume), ends with exactly the published sequence.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryBroker, type MemoryBroker } from '../../src/broker/memory-broker.js';
import type { SluiceSocket } from '../../src/client/ws-client.js';
import type { Subscription } from '../../src/client/ws-client-subscription.js';
import { isSluiceError } from '../../src/core/errors.js';
import {
  hubHarness,
  publishedSequence,
  recorder,
  type Recorder,
  type RunningHub,
} from './ws-hub-helpers.js';
import { sleep, waitFor } from './ws-helpers.js';

const { hub, client, defer } = hubHarness();

/** Small seeded PRNG (mulberry32) so a failing run can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

function broker(): MemoryBroker {
  const b = createMemoryBroker({ historyLimit: 20_000 });
  defer(() => b.close());
  return b;
}

describe('chaos', () => {
  it('10,000 messages, random cuts and a restart: every subscriber gets exactly the sequence', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const random = prng(seed);
    const b = broker();
    let current: RunningHub = await hub(b);
    const url = current.url;
    const port = current.port;

    const clients: SluiceSocket[] = [];
    const subs: Subscription[] = [];
    const recorders: Recorder[] = [];
    let pauses = 0;
    const add = (format: 'json' | 'msgpack', mode: 'callback' | 'iterate' | 'slow') => {
      const c = client(url, { format, maxBufferedEvents: mode === 'slow' ? 500 : 1_000 });
      const r = recorder();
      const sub = c.subscribe(
        'stream',
        mode === 'callback' ? { onEvent: (item) => r.push(item) } : {},
      );
      if (mode !== 'callback') {
        void (async () => {
          let n = 0;
          for await (const item of sub) {
            r.push(item);
            if (mode === 'slow' && ++n % 100 === 0) await sleep(1);
          }
        })();
      }
      sub.addEventListener('paused', () => pauses++);
      clients.push(c);
      subs.push(sub);
      recorders.push(r);
    };
    add('json', 'callback');
    add('msgpack', 'callback');
    add('json', 'iterate');
    add('msgpack', 'slow');
    await waitFor(() => subs.every((s) => s.state === 'subscribed'), 'subscribed');
    const opens = clients.map(() => 0);
    clients.forEach((c, i) => c.socket.addEventListener('open', () => opens[i]!++));

    let publishing = true;
    let cuts = 0;
    const cutter = (async () => {
      while (publishing) {
        await sleep(1 + Math.floor(random() * 12));
        const sockets = [...current.sockets];
        const victim = sockets[Math.floor(random() * sockets.length)];
        if (victim) {
          victim.destroy();
          cuts++;
        }
      }
    })();

    const total = 10_000;
    for (let n = 0; n < total; n++) {
      await b.publish('stream', { data: { n, seed } });
      if (n % 10 === 9) await yieldToIo();
      if (n === total / 2) {
        await current.stop();
        await sleep(20);
        current = await hub(b, { port });
      }
    }
    publishing = false;
    await cutter;

    const expected = await publishedSequence(b, 'stream');
    expect(expected.length).toBe(total);
    await waitFor(
      () => recorders.every((r) => r.events.length >= total),
      `every subscriber to reach ${total} (seed ${seed})`,
      25_000,
    );
    expect(cuts).toBeGreaterThan(20);
    expect(pauses, 'the slow iterator paused and resumed').toBeGreaterThan(0);
    for (const [i, r] of recorders.entries()) {
      expect(r.gaps, `subscriber ${i}, seed ${seed}`).toEqual([]);
      expect(r.events, `subscriber ${i}, seed ${seed}`).toEqual(expected);
      expect(opens[i], `subscriber ${i} reconnected`).toBeGreaterThan(1);
    }
  }, 60_000);

  it('publishing through a client under cuts: acked ids are in history once, the rest honestly unknown', async () => {
    const b = broker();
    const h = await hub(b);
    const publisher = client(h.url, { format: 'msgpack', requestTimeout: 5_000 });
    const random = prng(7);
    let publishing = true;
    const cutter = (async () => {
      while (publishing) {
        await sleep(10 + Math.floor(random() * 30));
        for (const socket of h.sockets) socket.destroy();
      }
    })();
    const results = await Promise.allSettled(
      Array.from({ length: 500 }, async (_, n) => {
        await sleep(n);
        return publisher.publish('orders', { n });
      }),
    );
    publishing = false;
    await cutter;
    const history = await publishedSequence(b, 'orders');
    const historyIds = history.map((m) => m.id);
    expect(new Set(historyIds).size).toBe(historyIds.length);
    const acked = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(acked.length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0); // the cuts did land
    for (const id of acked) expect(historyIds).toContain(id);
    // Every failure says whether the message may have gone out; none is silently lost.
    const maybeSent = (e: unknown) =>
      isSluiceError(e, 'ws_connection_lost') ||
      (isSluiceError(e, 'ws_ack_timeout') && e.details?.sent === true);
    const neverSent = (e: unknown) =>
      isSluiceError(e, 'buffer_overflow') ||
      (isSluiceError(e, 'ws_ack_timeout') && e.details?.sent === false);
    for (const error of failed) expect(maybeSent(error) || neverSent(error)).toBe(true);
    const maybe = results.flatMap((r, n) =>
      r.status === 'rejected' && maybeSent(r.reason) ? [n] : [],
    );
    const acceptable = new Set([
      ...results.flatMap((r, n) => (r.status === 'fulfilled' ? [n] : [])),
      ...maybe,
    ]);
    expect(history.length).toBeGreaterThanOrEqual(acked.length);
    for (const m of history) expect(acceptable.has((m.data as { n: number }).n)).toBe(true);
    // Each message was published at most once.
    const ns = history.map((m) => (m.data as { n: number }).n);
    expect(new Set(ns).size).toBe(ns.length);
  }, 60_000);
});
