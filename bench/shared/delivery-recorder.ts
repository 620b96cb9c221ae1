/**
 * A fan-out client-load process's run between `arm` and `done`: counts deliveries, keeps
 * their latencies (bounded), and hands back the figures once every expected delivery
 * arrived or the timeout passed. Shared by the SSE and WebSocket client processes, so both
 * count and time deliveries the same way.
 */
import { percentile } from '../harness.js';
import type { DeliveryFigures } from './delivery-protocol.js';

/** Cap on latency samples kept per run (bounded memory; runs ask for far fewer). */
const MAX_SAMPLES = 1_000_000;

interface Run {
  expected: number;
  delivered: number;
  lastAt: number;
  samples: Float64Array;
  cpu: NodeJS.CpuUsage;
  timer: NodeJS.Timeout;
}

export class DeliveryRecorder {
  #run: Run | null = null;
  readonly #onDone: (figures: DeliveryFigures) => void;

  constructor(onDone: (figures: DeliveryFigures) => void) {
    this.#onDone = onDone;
  }

  get armed(): boolean {
    return this.#run !== null;
  }

  /** Starts counting; the process's CPU time is taken from here. */
  arm(expected: number, timeout: number): void {
    this.#run = {
      expected,
      delivered: 0,
      lastAt: Number.NaN,
      samples: new Float64Array(Math.min(expected, MAX_SAMPLES)),
      cpu: process.cpuUsage(),
      // A run that loses deliveries still ends, and reports how many arrived.
      timer: setTimeout(() => this.finish(), timeout),
    };
  }

  /** One delivery published at `stamp` that arrived at `now` (wall clock, ms); none unarmed. */
  record(now: number, stamp: number): void {
    const run = this.#run;
    if (!run) return;
    if (run.delivered < MAX_SAMPLES) run.samples[run.delivered] = now - stamp;
    run.delivered++;
    run.lastAt = now;
  }

  /** Ends the run once every expected delivery arrived (called after each chunk). */
  finishIfComplete(): void {
    if (this.#run && this.#run.delivered >= this.#run.expected) this.finish();
  }

  finish(): void {
    const run = this.#run;
    if (!run) return;
    this.#run = null;
    clearTimeout(run.timer);
    const cpu = process.cpuUsage(run.cpu);
    const samples = Array.from(run.samples.subarray(0, Math.min(run.delivered, MAX_SAMPLES)));
    this.#onDone({
      delivered: run.delivered,
      lastAt: run.lastAt,
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      cpuMicros: cpu.user + cpu.system,
    });
  }
}

/** Connections opened at a time, so the server's accept backlog never overflows. */
const CONNECT_CONCURRENCY = 64;

/** Opens `total` connections, `CONNECT_CONCURRENCY` at a time; `connect(index)` opens one. */
export async function connectAll(
  total: number,
  connect: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) await connect(next++);
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, total) }, worker));
}
