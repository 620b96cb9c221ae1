/** The client's retry of subscribes refused as rate-limited: batched, jittered, cleared on close. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SubscribeRetry } from '../../src/client/ws-client-retry.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('SubscribeRetry', () => {
  it('retries every refused channel once, together, within 0.5-1.5x the delay', () => {
    vi.useFakeTimers();
    const retried: string[] = [];
    const retry = new SubscribeRetry(1000, (channel) => retried.push(channel));
    retry.add('a');
    retry.add('b');
    retry.add('a');
    vi.advanceTimersByTime(499);
    expect(retried).toEqual([]);
    vi.advanceTimersByTime(1001);
    expect(retried).toEqual(['a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
    retry.add('c'); // a later refusal gets a timer of its own
    vi.advanceTimersByTime(1500);
    expect(retried).toEqual(['a', 'b', 'c']);
  });

  it('clear() cancels the pending retry and leaves no timer', () => {
    vi.useFakeTimers();
    const retried: string[] = [];
    const retry = new SubscribeRetry(1000, (channel) => retried.push(channel));
    retry.add('a');
    expect(vi.getTimerCount()).toBe(1);
    retry.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(retried).toEqual([]);
  });
});
