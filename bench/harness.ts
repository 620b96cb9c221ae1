/**
 * Shared pieces for `npm run bench`: each bench module measures sluice side by side with
 * the named peers in one run and returns a markdown section. `bench/run.ts` writes the
 * sections into docs/benchmarks.md between markers, so running one bench updates only its
 * own section and leaves the others as they were last measured.
 */
import os from 'node:os';

export interface BenchSection {
  /** Stable id used for the markers in docs/benchmarks.md. */
  id: string;
  title: string;
  /** Markdown: method, table of figures (ratios, medians), goal and verdict. */
  body: string;
}

export type BenchModule = () => Promise<BenchSection>;

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** Runs `fn` `runs` times (after one warm-up) and returns every measurement. */
export async function repeat<T>(runs: number, fn: () => Promise<T> | T): Promise<T[]> {
  await fn();
  const out: T[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn());
  return out;
}

export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(digits);
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function machineNote(): string {
  const cpus = os.cpus();
  return [
    `- CPU: ${cpus[0]?.model ?? 'unknown'} × ${cpus.length}`,
    `- Memory: ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    `- OS: ${os.type()} ${os.release()} (${os.arch()})`,
    `- Node: ${process.version}`,
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
  ].join('\n');
}
