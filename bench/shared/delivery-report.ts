/**
 * The report pieces the fan-out benches (SSE and WebSocket) share: medians of a server's
 * runs, the run-by-run spread of a CPU ratio, the scenario line and the machine-load note,
 * so both sections summarise and word the same figures the same way.
 */
import os from 'node:os';
import { fmt, median } from '../harness.js';
import type { DeliveryRun, DeliveryScenario } from './measure-delivery.js';

/** The shared machine's load during the runs: figures from a busy machine say so. */
export interface LoadNote {
  before: number;
  after: number;
}

/** Medians over one server's runs; `lost` is summed, every delivery counts. */
export function summarizeDeliveries(runs: DeliveryRun[]) {
  const pick = (f: (r: DeliveryRun) => number) => median(runs.map(f));
  return {
    perSecond: pick((r) => r.perSecond),
    p50: pick((r) => r.p50),
    p99: pick((r) => r.p99),
    cpu: pick((r) => r.cpuPerDelivery),
    system: pick((r) => r.systemPerDelivery),
    clientCpu: pick((r) => r.clientCpuPerDelivery),
    lost: runs.reduce((sum, r) => sum + (r.expected - r.delivered), 0),
  };
}

export type DeliverySummary = ReturnType<typeof summarizeDeliveries>;

/**
 * Min–max of sluice's CPU ratio against a peer, each sluice run against the peer's run of
 * the same round (next to it in time).
 */
export function ratioSpread(sluice: DeliveryRun[], peer: DeliveryRun[]): string {
  const ratios = sluice.map((r, i) => r.cpuPerDelivery / (peer[i]?.cpuPerDelivery ?? NaN));
  return `${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))}×`;
}

export function describeScenarios(scenarios: DeliveryScenario[]): string {
  return scenarios
    .map(
      (s) =>
        `${s.clients.toLocaleString('en-US')} clients × ${s.rate} messages/s for ${s.count} messages`,
    )
    .join('; ');
}

export function loadNote(load: LoadNote): string {
  return (
    `1-minute load average: ${load.before.toFixed(1)} at the start, ${load.after.toFixed(1)} at ` +
    `the end (${os.cpus().length} cores). Latency is wall-clock and suffers first when the ` +
    'machine is shared; CPU time per delivery counts only time the server actually ran.'
  );
}
