import { describe, expect, it } from 'vitest';
import { SubscriptionTable } from '../../src/ws/subscription-table.js';

const sub = (channel: string, n = 0) => ({ channel, n });

describe('SubscriptionTable', () => {
  it('keeps one entry per channel, in a field and then a map, and forgets deleted ones', () => {
    const table = new SubscriptionTable<{ channel: string; n: number }>();
    expect(table.size).toBe(0);
    expect(table.get('a')).toBeUndefined();
    table.set(sub('a'));
    table.set(sub('b'));
    table.set(sub('c'));
    expect(table.size).toBe(3);
    table.set(sub('b', 1)); // replaces, in the map
    table.set(sub('a', 1)); // replaces, in the field
    expect(table.size).toBe(3);
    expect(table.get('a')?.n).toBe(1);
    expect(table.get('b')?.n).toBe(1);
    expect(table.delete('a')).toBe(true);
    expect(table.delete('a')).toBe(false);
    expect(table.get('a')).toBeUndefined();
    // With the field free, a channel still in the map is replaced there, never duplicated.
    table.set(sub('c', 2));
    expect(table.size).toBe(2);
    expect(
      table
        .values()
        .map((s) => `${s.channel}${s.n}`)
        .sort(),
    ).toEqual(['b1', 'c2']);
    table.set(sub('d'));
    expect(table.size).toBe(3);
    expect(table.delete('b') && table.delete('c') && table.delete('d')).toBe(true);
    expect(table.size).toBe(0);
    table.set(sub('e'));
    table.clear();
    expect(table.size).toBe(0);
    expect(table.values()).toEqual([]);
  });
});
