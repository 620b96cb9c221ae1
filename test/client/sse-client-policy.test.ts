import { describe, expect, it } from 'vitest';
import {
  SSE_CLIENT_DEFAULTS,
  defaultShouldRetry,
  encodeHeaderValue,
  isEventStreamContentType,
  parseRetryAfter,
  type SseFailureCode,
} from '../../src/client/index.js';
import { SseClient } from '../../src/client/sse-client.js';
import { EventQueue } from '../../src/client/sse-client-queue.js';
import { isSluiceError } from '../../src/core/errors.js';
import { MAX_TIMER_MS } from '../../src/core/timer-bound.js';
import { ReconnectPolicy } from '../../src/client/sse-client-retry.js';

describe('SSE client policy', () => {
  it('compares the Content-Type essence case-insensitively, parameters allowed (C7)', () => {
    const valid = [
      'text/event-stream',
      'Text/Event-Stream',
      'text/event-stream;',
      ' text/event-stream ; charset=windows-1252',
    ];
    const invalid = [
      null,
      '',
      'text/html',
      'text/event-streams',
      'text/event-stream-x',
      'text/plain; x=text/event-stream',
    ];
    expect(valid.map(isEventStreamContentType)).toEqual(valid.map(() => true));
    expect(invalid.map(isEventStreamContentType)).toEqual(invalid.map(() => false));
  });

  it('retries by default: 408, 429, 5xx, network errors, silence and clean ends; stops otherwise', () => {
    const ask = (code: SseFailureCode, status?: number): boolean =>
      defaultShouldRetry({ code, status, error: undefined, attempt: 1 });
    expect([408, 429, 500, 502, 503, 504, 599].map((s) => ask('bad_status', s))).toEqual(
      Array(7).fill(true),
    );
    expect([204, 201, 205, 301, 400, 401, 403, 404, 410].map((s) => ask('bad_status', s))).toEqual(
      Array(9).fill(false),
    );
    expect(
      ['network_error', 'inactivity_timeout', 'server_closed'].map((c) => ask(c as SseFailureCode)),
    ).toEqual([true, true, true]);
  });

  it('puts Last-Event-ID on the wire as UTF-8 bytes (C13)', () => {
    const wire = encodeHeaderValue('é…');
    expect(Buffer.from(wire, 'latin1').toString('utf8')).toBe('é…');
    expect(() => new Headers({ 'last-event-id': wire })).not.toThrow();
    expect(encodeHeaderValue('abc-123')).toBe('abc-123');
  });

  it('reads Retry-After in delta-seconds only', () => {
    expect([parseRetryAfter('3'), parseRetryAfter(' 10 '), parseRetryAfter(null)]).toEqual([
      3000,
      10_000,
      undefined,
    ]);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT')).toBeUndefined();
  });

  it('exports frozen defaults', () => {
    expect(Object.isFrozen(SSE_CLIENT_DEFAULTS)).toBe(true);
    expect(SSE_CLIENT_DEFAULTS).toMatchObject({
      inactivityTimeout: 45_000,
      minUptime: 5_000,
      maxRetries: null,
    });
  });
});

describe('SSE client options', () => {
  /** The error `new SseClient(url, options)` throws, if any. */
  const thrown = (options: ConstructorParameters<typeof SseClient>[1]): unknown => {
    try {
      new SseClient('http://127.0.0.1:9/never', options).close();
      return undefined;
    } catch (error) {
      return error;
    }
  };

  it('refuses bad values with a coded error, before any request', () => {
    const bad = [
      { maxQueuedEvents: 0 },
      { inactivityTimeout: 0 },
      // Timers turn more than 2^31 - 1 ms into about 1 ms: a reconnect storm, not a long wait.
      { inactivityTimeout: 2 ** 31 },
      { inactivityTimeout: Infinity },
      { backoff: { initialDelay: 5, maxDelay: 1 } },
      { backoff: { maxDelay: 2 ** 32 } },
      { minUptime: -1 },
      { minUptime: Number.NaN },
      { maxRetries: -1 },
      { maxRetries: 1.5 },
    ];
    for (const options of bad) {
      expect(isSluiceError(thrown(options), 'invalid_argument'), JSON.stringify(options)).toBe(
        true,
      );
    }
    expect(thrown({ inactivityTimeout: null, maxRetries: null, minUptime: 0 })).toBeUndefined();
  });
});

describe('ReconnectPolicy', () => {
  const failure = { code: 'network_error' } as const;

  it('keeps every delay within what a timer can wait', () => {
    const policy = new ReconnectPolicy({
      backoff: { initialDelay: MAX_TIMER_MS, maxDelay: MAX_TIMER_MS, random: () => 0.999 },
    });
    policy.setReconnectionTime(2 ** 40); // a server's huge `retry:`
    expect(policy.decide(failure, undefined).delay).toBe(MAX_TIMER_MS);
  });

  it('adds the clamped server retry to the jittered backoff', () => {
    const policy = new ReconnectPolicy({
      backoff: { initialDelay: 100, maxDelay: 1000, random: () => 0.5 },
    });
    policy.setReconnectionTime(2 ** 40);
    expect(policy.reconnectionTime).toBe(1000);
    policy.setReconnectionTime(300);
    expect(policy.decide(failure, undefined)).toEqual({ attempt: 1, delay: 350 });
    expect(policy.decide(failure, undefined)).toEqual({ attempt: 2, delay: 400 });
  });

  it('honours Retry-After as a clamped minimum', () => {
    const policy = new ReconnectPolicy({
      backoff: { initialDelay: 10, maxDelay: 5000, random: () => 0 },
    });
    expect(
      policy.decide({ code: 'bad_status', status: 503, retryAfter: 2000 }, undefined).delay,
    ).toBe(2000);
    expect(
      policy.decide({ code: 'bad_status', status: 503, retryAfter: 600_000 }, undefined).delay,
    ).toBe(5000);
  });

  it('stops for a wrong Content-Type even when the predicate would retry', () => {
    const policy = new ReconnectPolicy({ shouldRetry: () => true });
    expect(policy.decide({ code: 'bad_content_type', status: 200 }, undefined)).toEqual({
      attempt: 1,
      stop: 'bad_content_type',
    });
  });

  it('resets the count after minUptime and enforces maxRetries on consecutive failures', () => {
    const policy = new ReconnectPolicy({
      minUptime: 1000,
      maxRetries: 1,
      backoff: { random: () => 0 },
    });
    expect(policy.decide(failure, undefined).attempt).toBe(1);
    expect(policy.decide(failure, 999)).toEqual({ attempt: 2, stop: 'retries_exhausted' });
    expect(policy.decide(failure, 1000)).toEqual({ attempt: 1, delay: 0 });
  });
});

describe('EventQueue', () => {
  it('drains queued items before throwing the end error once', async () => {
    const queue = new EventQueue<number>(2);
    queue.push(1);
    queue.end({ error: new Error('boom') });
    queue.push(2);
    expect(await queue.next()).toEqual({ value: 1, done: false });
    await expect(queue.next()).rejects.toThrow('boom');
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });

  it('reports room, wakes a waiting producer, and discards on demand', async () => {
    const queue = new EventQueue<number>(1);
    queue.push(1);
    expect(queue.hasRoom).toBe(false);
    let woke = false;
    const room = queue.waitForRoom().then(() => (woke = true));
    expect(woke).toBe(false);
    await queue.next();
    await room;
    expect(woke).toBe(true);
    queue.push(2);
    queue.end({ discard: true });
    expect(await queue.next()).toEqual({ value: undefined, done: true });
    expect(() => new EventQueue(0)).toThrow(/maxQueuedEvents/);
  });

  it('refuses a second next() while one waits, instead of leaving the first pending', async () => {
    const queue = new EventQueue<number>(2);
    const first = queue.next();
    await expect(queue.next()).rejects.toMatchObject({ code: 'invalid_argument' });
    queue.push(1);
    expect(await first).toEqual({ value: 1, done: false });
  });
});
