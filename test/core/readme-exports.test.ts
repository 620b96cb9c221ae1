import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * The README's "Library" table promises names per subpath export: each must be exported by
 * the module `package.json` maps that subpath to (its TypeScript source).
 */
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, { default: string }>;
};
/** Names in the table that are types or option names, not runtime exports. */
const NOT_VALUES = new Set(['SseEvent', 'maxQueuedBatches']);
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const table = readme.slice(readme.indexOf('## Library'), readme.indexOf('## Configuration'));
const rows = [...table.matchAll(/^\| `sluice\/(\w+)` \| (.*) \|$/gm)].map((match) => ({
  folder: match[1]!,
  // Backticked identifiers that start with a letter and look like code names.
  names: [...match[2]!.matchAll(/`([A-Za-z_]\w*)[^`]*`/g)]
    .map((name) => name[1]!)
    .filter((name) => /^[a-z]+[A-Z]|^[A-Z][a-z]+[A-Z]|^[A-Z_]+$/.test(name))
    .filter((name) => !NOT_VALUES.has(name)),
}));

describe('README library table', () => {
  it('lists every subpath export', () => {
    expect(rows.map((row) => `./${row.folder}`).sort()).toEqual(Object.keys(pkg.exports).sort());
  });

  for (const { folder, names } of rows) {
    it(`sluice/${folder} exports what the README names`, async () => {
      const target = pkg.exports[`./${folder}`]!.default;
      const source = target.replace(/^\.\/dist\//, '../../src/').replace(/\.js$/, '.ts');
      const module = (await import(source)) as Record<string, unknown>;
      const missing = names.filter((name) => !(name in module));
      expect(missing).toEqual([]);
    });
  }
});
