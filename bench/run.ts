/**
 * `npm run bench [-- name ...]`: runs the benchmarks (all, or the named ones) and writes
 * their sections into docs/benchmarks.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { machineNote, type BenchModule, type BenchSection } from './harness.js';

const modules: Record<string, () => Promise<{ default: BenchModule }>> = {
  'sse-fanout': () => import('./sse-fanout.bench.js'),
  'sse-memory': () => import('./sse-memory.bench.js'),
  parser: () => import('./parser.bench.js'),
  streams: () => import('./streams.bench.js'),
  'ws-broadcast': () => import('./ws-broadcast.bench.js'),
  'ws-memory': () => import('./ws-memory.bench.js'),
  'ws-stall': () => import('./ws-stall.bench.js'),
  'llm-proxy': () => import('./llm-proxy.bench.js'),
  'broker-history': () => import('./broker-history.bench.js'),
};

const DOC = new URL('../docs/benchmarks.md', import.meta.url);

const HEADER = `# Benchmarks

Produced by \`npm run bench\` (one section per benchmark; \`npm run bench -- <name>\` re-runs
one). Every figure is measured side by side with the named peers in the same run; ratios
are medians of several runs. Tests never assert on speed: the goals below are checked here.
`;

function upsert(doc: string, section: BenchSection): string {
  const start = `<!-- bench:${section.id} -->`;
  const end = `<!-- /bench:${section.id} -->`;
  const block = `${start}\n## ${section.title}\n\n${section.body.trim()}\n\n${end}`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from >= 0 && to > from) return doc.slice(0, from) + block + doc.slice(to + end.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

function withMachine(doc: string): string {
  const start = '<!-- machine -->';
  const end = '<!-- /machine -->';
  const block = `${start}\n## Machine of the last run\n\n${machineNote()}\n${end}`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from >= 0 && to > from) return doc.slice(0, from) + block + doc.slice(to + end.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(modules);
  let doc = await readFile(DOC, 'utf8').catch(() => HEADER);
  for (const name of names) {
    const load = modules[name];
    if (!load)
      throw new Error(`Unknown benchmark "${name}"; known: ${Object.keys(modules).join(', ')}`);
    process.stdout.write(`bench ${name}...\n`);
    const section = await (await load()).default();
    process.stdout.write(`${section.body}\n\n`);
    doc = upsert(doc, section);
    doc = withMachine(doc);
    await writeFile(DOC, doc);
  }
}

await main();
