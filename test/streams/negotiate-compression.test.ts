import { describe, expect, it } from 'vitest';
import { negotiateCompression } from '../../src/core/streams/negotiate-compression.js';

describe('negotiateCompression', () => {
  it.each([
    [null, undefined],
    ['', undefined],
    ['identity', undefined],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['gzip, deflate, br;q=0', 'gzip'],
    ['br;q=0.5, gzip;q=0.8', 'gzip'],
    ['GZIP;Q=1', 'gzip'],
    ['x-gzip', 'gzip'],
    ['*', 'br'],
    ['*;q=0, gzip', 'gzip'],
    ['br;q=0, *', 'gzip'],
    ['deflate;q=0.1', 'deflate'],
    ['gzip;q=0', undefined],
    ['zstd', undefined],
  ])('%j -> %s', (header, expected) => {
    expect(negotiateCompression(header)).toBe(expected);
  });

  it('breaks ties by the server preference and offers only what it prefers', () => {
    expect(negotiateCompression('gzip, br', { prefer: ['gzip', 'br'] })).toBe('gzip');
    expect(negotiateCompression('br', { prefer: ['gzip'] })).toBeUndefined();
  });
});
