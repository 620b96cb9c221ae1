/**
 * The generations this process knows: running ones, and finished ones kept for
 * `retentionMs` so that a reload just after the end still replays the answer (and a cancel
 * or status call still finds them). Bounded: at most `maxGenerations` entries; when full, the
 * oldest finished one is forgotten, and when every entry is still running a new generation
 * is refused with 429. Expired entries are swept on each call (no timers to tear down).
 *
 * Usage accounting: every generation's summary (and each non-streaming request's) goes to
 * `onUsage` and into running totals, whatever way it ended.
 */
import { randomFillSync } from 'node:crypto';
import type { Broker } from '../broker/types.js';
import { SluiceError } from '../core/errors.js';
import {
  Generation,
  type GenerationOptions,
  type GenerationStatus,
  type GenerationSummary,
} from './generation.js';

export const REGISTRY_DEFAULTS = Object.freeze({
  maxGenerations: 256,
  /** How long a finished generation stays resumable, ms. */
  retentionMs: 10 * 60_000,
});

export interface GenerationRegistryOptions {
  broker: Broker;
  maxGenerations?: number;
  retentionMs?: number;
  onUsage?: ((summary: GenerationSummary) => void) | undefined;
  now?: () => number;
}

export interface LlmStats {
  running: number;
  retained: number;
  started: number;
  ended: Record<GenerationStatus, number>;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

type CreateOptions = Omit<GenerationOptions, 'id' | 'broker' | 'onEnd'>;

/** Random bytes drawn 4 KiB at a time: one system call per 256 ids instead of one per id. */
const ID_BYTES = 16;
const idPool = Buffer.alloc(ID_BYTES * 256);
let idOffset = idPool.length;

/** `chatcmpl-` plus 128 random bits: unguessable, so an id is the capability to follow or cancel. */
export function newGenerationId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const random = idPool.toString('base64url', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return `chatcmpl-${random.replace(/[-_]/g, 'x')}`;
}

interface Entry {
  generation: Generation;
  endedAt?: number;
}

export class GenerationRegistry {
  readonly #generations = new Map<string, Entry>();
  /**
   * The finished subset, in the order they ended (a Map iterates in insertion order): the
   * oldest finished one is the first key, so eviction and the expiry sweep stop at the
   * first entry they keep instead of scanning (or sorting) every retained generation.
   */
  readonly #finished = new Map<string, Entry>();
  readonly #options: GenerationRegistryOptions;
  readonly #now: () => number;
  readonly #stats: LlmStats = {
    running: 0,
    retained: 0,
    started: 0,
    ended: { running: 0, completed: 0, cancelled: 0, abandoned: 0, failed: 0 },
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  };
  #closed = false;

  constructor(options: GenerationRegistryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get broker(): Broker {
    return this.#options.broker;
  }

  /**
   * Throws what `create()` would throw now: 503 once closed, 429 when full of running
   * generations. Checked before the model is called, so a refused request costs the
   * upstream nothing; `create()` checks again (another request may have taken the room).
   */
  assertRoom(): void {
    if (this.#closed)
      throw new SluiceError('shutting_down', 'The server is shutting down', { status: 503 });
    this.#sweep();
    const max = this.#options.maxGenerations ?? REGISTRY_DEFAULTS.maxGenerations;
    if (this.#generations.size >= max && this.#finished.size === 0) {
      throw new SluiceError('too_many_requests', `Too many generations running (limit ${max})`, {
        status: 429,
      });
    }
  }

  /** Registers a new generation (not started yet). Throws 429 when full of running ones. */
  create(options: CreateOptions): Generation {
    this.assertRoom();
    const max = this.#options.maxGenerations ?? REGISTRY_DEFAULTS.maxGenerations;
    if (this.#generations.size >= max) this.#forget(this.#finished.keys().next().value!);
    const entry: Entry = {
      generation: new Generation({
        ...options,
        id: newGenerationId(),
        broker: this.#options.broker,
        onEnd: (summary) => {
          entry.endedAt = this.#now();
          // Not after close() cleared the maps: a generation ending then is already forgotten.
          if (this.#generations.get(entry.generation.id) === entry)
            this.#finished.set(entry.generation.id, entry);
          this.record(summary);
        },
      }),
    };
    this.#generations.set(entry.generation.id, entry);
    this.#stats.started++;
    return entry.generation;
  }

  get(id: string): Generation | undefined {
    this.#sweep();
    return this.#generations.get(id)?.generation;
  }

  /** Accounts one finished generation or non-streaming request. */
  record(summary: GenerationSummary): void {
    this.#stats.ended[summary.status]++;
    this.#stats.usage.prompt_tokens += summary.usage.prompt_tokens;
    this.#stats.usage.completion_tokens += summary.usage.completion_tokens;
    this.#stats.usage.total_tokens += summary.usage.total_tokens;
    try {
      this.#options.onUsage?.(summary);
    } catch (error) {
      // A failing usage hook must not break the stream it accounts for; it is logged, as a
      // throwing SSE `onClose` hook is (see sse-pump.ts).
      console.error('sluice: an onUsage hook threw', error);
    }
  }

  stats(): LlmStats {
    this.#sweep();
    const running = this.#generations.size - this.#finished.size;
    return {
      ...this.#stats,
      running,
      retained: this.#finished.size,
      ended: { ...this.#stats.ended },
      usage: { ...this.#stats.usage },
    };
  }

  /** Stops every running generation (their readers get the end) and forgets them all. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const running = [...this.#generations.values()]
      .filter((entry) => entry.endedAt === undefined && entry.generation.startId !== undefined)
      .map((entry) => entry.generation);
    for (const generation of running) generation.abandon();
    await Promise.all(running.map((generation) => generation.ended));
    this.#generations.clear();
    this.#finished.clear();
  }

  #forget(id: string): void {
    this.#generations.delete(id);
    this.#finished.delete(id);
  }

  #sweep(): void {
    const retention = this.#options.retentionMs ?? REGISTRY_DEFAULTS.retentionMs;
    const now = this.#now();
    // Oldest first: stop at the first one still within its retention.
    for (const [id, entry] of this.#finished) {
      if (now - entry.endedAt! < retention) break;
      this.#forget(id);
    }
  }
}
