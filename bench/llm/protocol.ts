/**
 * What the LLM proxy bench's processes say to each other over IPC, and the token stamp
 * they share. The upstream writes each content token as `t@<wall-clock ms>;` (the moment
 * it handed the token to its socket); the client reads the stamp back out of the bytes on
 * arrival, directly from the upstream or after sluice re-emitted it, so both paths are
 * timed by the same clock against the same event.
 */
import type { GcPauses } from '../shared/gc-pauses.js';

/** One generation shape: `tokens` content tokens at `tps` per second after `ttftMs`. */
export interface Pacing {
  tokens: number;
  tps: number;
  ttftMs: number;
}

/** Parent -> upstream or proxy process (both are "servers" under measurement). */
export type ServerCommand =
  { type: 'configure'; pacing: Pacing } | { type: 'cpu' } | { type: 'exit' };

export type ServerReply =
  | { type: 'listening'; url: string }
  | { type: 'configured' }
  | { type: 'cpu'; user: number; system: number; gc: GcPauses }
  | { type: 'error'; message: string };

/** Parent -> client-load process: one run of `clients` concurrent generations. */
export type ClientCommand =
  | {
      type: 'run';
      /** Base URL of whichever server the run goes to (upstream or proxy). */
      url: string;
      clients: number;
      /** Requests are started evenly at this rate (per second). */
      startRate: number;
      pacing: Pacing;
      timeout: number;
      /**
       * Held concurrency instead of one wave: each of the `clients` slots starts its next
       * generation as soon as its last one ended, until `warmupMs + windowMs` after the
       * first start; only tokens arriving (and generations starting) within the window
       * after the warm-up are measured.
       */
      hold?: Hold;
    }
  | { type: 'exit' };

export interface Hold {
  warmupMs: number;
  windowMs: number;
}

export interface RunFigures {
  /** Generations that ended with every token and `[DONE]`. */
  completed: number;
  failed: number;
  /** Content tokens received (stamps read). */
  tokens: number;
  /** Request start (before connect) to the first content token, ms. */
  ttftP50: number;
  ttftP99: number;
  /** Arrival minus the upstream's send stamp, per token, ms. */
  tokenP50: number;
  tokenP99: number;
  /**
   * p99 of the tokens that arrived while every generation of a wave was streaming (after
   * the last first token, before the first generation ended): the steady state, without
   * the ramp and the end, when the path also sets generations up or tears them down. In a
   * held run, the window's p99.
   */
  tokenP99Steady: number;
  /** Tokens the latency figures count (all of them, or those in a held run's window). */
  measuredTokens: number;
  /** Wall clock of the first request start and of the last generation's end. */
  startedAt: number;
  endedAt: number;
  /** CPU time of the client process during the run, µs. */
  cpuMicros: number;
  /** The first failure, for the report when something broke. */
  firstError: string | undefined;
}

export type ClientReply = ({ type: 'done' } & RunFigures) | { type: 'error'; message: string };

/** The marker that starts every stamped token in the upstream's content. */
export const STAMP_MARKER = Buffer.from('t@');

/** The model name the client asks for: not the mock's, so the proxy routes it upstream. */
export const BENCH_MODEL = 'bench-model';
