import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { PollableBase, isPollable, type SettledResult } from '../../src/core/pollable.js';

/** A pollable whose next result is whatever the test put in `ready`. */
class Probe extends PollableBase<number> {
  ready: SettledResult<number> | undefined;
  settles = 0;

  protected settle(): SettledResult<number> | undefined {
    this.settles++;
    const result = this.ready;
    this.ready = undefined;
    return result;
  }

  async return(): Promise<IteratorResult<number, undefined>> {
    return { done: true, value: undefined };
  }

  /** The producer's side: a result may be ready. */
  push(result: SettledResult<number>): void {
    this.ready = result;
    this.wake();
  }
}

describe('PollableBase', () => {
  it('hands out a ready result at once, and a later one to the pending next()', async () => {
    const probe = new Probe();
    expect(isPollable(probe)).toBe(true);
    probe.ready = { done: false, value: 1 };
    await expect(probe.next()).resolves.toEqual({ done: false, value: 1 });
    const waiting = probe.next();
    expect(probe.poll()).toBeUndefined(); // a pending next() comes first
    probe.push({ done: false, value: 2 });
    await expect(waiting).resolves.toEqual({ done: false, value: 2 });
  });

  it('rejects a second next() while one is pending', async () => {
    const probe = new Probe();
    const first = probe.next();
    const second = probe.next();
    await expect(second).rejects.toSatisfy((error) => isSluiceError(error, 'invalid_argument'));
    probe.push({ done: true, value: undefined });
    await expect(first).resolves.toEqual({ done: true, value: undefined });
  });

  it('tells the onReadable listener when nobody waits, and rejects with an error result', async () => {
    const probe = new Probe();
    let calls = 0;
    probe.onReadable(() => calls++);
    probe.push({ done: false, value: 3 });
    expect(calls).toBe(1);
    expect(probe.poll()).toEqual({ done: false, value: 3 });
    probe.onReadable(undefined);
    probe.push({ error: new Error('upstream broke') });
    expect(calls).toBe(1);
    await expect(probe.next()).rejects.toThrow('upstream broke');
  });

  it('does not settle a waiting next() until a result is ready', async () => {
    const probe = new Probe();
    const waiting = probe.next();
    const before = probe.settles;
    probe.push(undefined as unknown as SettledResult<number>); // woken, but nothing ready
    expect(probe.settles).toBe(before + 1);
    probe.push({ done: false, value: 4 });
    await expect(waiting).resolves.toEqual({ done: false, value: 4 });
  });
});
