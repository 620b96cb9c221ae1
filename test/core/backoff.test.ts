/**
 * Backoff delays stay finite numbers within [floor, maxDelay] however many attempts fail.
 */
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/core/backoff.js';

describe('Backoff', () => {
  it('initialDelay 0 stays 0 after the growth overflows (no NaN delay)', () => {
    const backoff = new Backoff({
      initialDelay: 0,
      maxDelay: 1_000,
      multiplier: 1e6,
      random: () => 0.5,
    });
    for (let i = 0; i < 200; i++) {
      const delay = backoff.next();
      expect(Number.isFinite(delay)).toBe(true);
      expect(delay).toBe(0);
    }
  });

  it('a long run of failures stays capped at maxDelay', () => {
    const backoff = new Backoff({ initialDelay: 10, maxDelay: 1_000, random: () => 0.999999 });
    for (let i = 0; i < 2_000; i++) expect(backoff.next()).toBeLessThanOrEqual(1_000);
    expect(backoff.next()).toBeGreaterThan(990);
  });
});
