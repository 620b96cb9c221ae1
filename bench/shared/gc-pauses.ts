/**
 * GC pauses of a bench helper process, counted from the first reading on: how many, how long
 * in all, and how many reached 1, 2 and 5 ms. The figures are running totals, so the parent
 * takes the difference of two readings (as it does for CPU time) to get one run's pauses.
 * A latency tail that CPU time alone does not explain often sits in these.
 */
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

export interface GcPauses {
  count: number;
  totalMs: number;
  atLeast1Ms: number;
  atLeast2Ms: number;
  atLeast5Ms: number;
}

const totals: GcPauses = { count: 0, totalMs: 0, atLeast1Ms: 0, atLeast2Ms: 0, atLeast5Ms: 0 };
let observer: PerformanceObserver | undefined;

function add(entries: readonly PerformanceEntry[]): void {
  for (const { duration } of entries) {
    totals.count++;
    totals.totalMs += duration;
    if (duration >= 1) totals.atLeast1Ms++;
    if (duration >= 2) totals.atLeast2Ms++;
    if (duration >= 5) totals.atLeast5Ms++;
  }
}

/** The running totals; the first call starts the counting. */
export function gcPauses(): GcPauses {
  if (observer === undefined) {
    observer = new PerformanceObserver((list) => add(list.getEntries()));
    observer.observe({ entryTypes: ['gc'] });
  } else {
    add(observer.takeRecords()); // entries not yet handed to the callback
  }
  return { ...totals };
}

/** `after - before`, field by field: the pauses between two readings. */
export function gcPausesBetween(before: GcPauses, after: GcPauses): GcPauses {
  return {
    count: after.count - before.count,
    totalMs: after.totalMs - before.totalMs,
    atLeast1Ms: after.atLeast1Ms - before.atLeast1Ms,
    atLeast2Ms: after.atLeast2Ms - before.atLeast2Ms,
    atLeast5Ms: after.atLeast5Ms - before.atLeast5Ms,
  };
}
