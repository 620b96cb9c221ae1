import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The union lives in source only; read the codes from it so a new code cannot go undocumented.
const source = readFileSync(new URL('../../src/core/errors.ts', import.meta.url), 'utf8');
const union = source.slice(
  source.indexOf('export type SluiceErrorCode'),
  source.indexOf(';', source.indexOf('export type SluiceErrorCode')),
);
const codes = [...union.matchAll(/\|\s*'([a-z_]+)'/g)].map((m) => m[1]!);
const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('docs/errors.md', () => {
  it('reads the codes from the source', () => {
    expect(codes.length).toBeGreaterThan(40);
  });

  it.each(codes)('documents %s', (code) => {
    expect(doc).toContain(`| \`${code}\` |`);
  });
});
