import { describe, expect, it, vi } from 'vitest';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { isSluiceError } from '../../src/core/errors.js';
import type { Generation } from '../../src/llm/generation.js';
import { GenerationRegistry, newGenerationId } from '../../src/llm/generation-registry.js';
import type { ModelEvent, ModelStream } from '../../src/llm/model.js';

/** A model that answers one token and finishes once `release()` is called. */
function heldModel(): { stream: ModelStream; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  async function* run(): AsyncGenerator<ModelEvent> {
    await released;
    yield { type: 'content', text: 'x' };
    yield { type: 'finish', reason: 'stop' };
  }
  return { stream: { promptTokens: 1, [Symbol.asyncIterator]: run }, release };
}

/** A generation on `registry` over a held model; `release()` lets it finish. */
function createHeld(registry: GenerationRegistry): { generation: Generation; release: () => void } {
  const { stream, release } = heldModel();
  const generation = registry.create({
    stream,
    abort: new AbortController(),
    model: 'm',
    provider: 'p',
    created: 0,
    includeUsage: false,
    graceMs: null,
    coalesceMs: null,
    maxEvents: 100,
  });
  return { generation, release };
}

function setup(max: number) {
  let clock = 1_000;
  const broker = new MemoryBroker();
  const registry = new GenerationRegistry({
    broker,
    maxGenerations: max,
    retentionMs: 100,
    now: () => clock,
  });
  const start = async (): Promise<{ generation: Generation; finish: () => Promise<void> }> => {
    const { generation, release } = createHeld(registry);
    await generation.start();
    return {
      generation,
      finish: async () => {
        release();
        await generation.ended;
      },
    };
  };
  return { registry, start, tick: (ms: number) => (clock += ms), broker };
}

describe('GenerationRegistry', () => {
  it('evicts the generation that finished first, refuses when all run, sweeps expired ones', async () => {
    const { registry, start, tick, broker } = setup(3);
    const a = await start();
    const b = await start();
    const c = await start();
    const refused: unknown = await start().catch((error: unknown) => error);
    expect(isSluiceError(refused) && refused.code).toBe('too_many_requests');

    // b ends before a: b is the oldest finished one, whatever the creation order.
    await b.finish();
    tick(10);
    await a.finish();
    expect(registry.stats()).toMatchObject({ running: 1, retained: 2 });
    const d = await start();
    expect(registry.get(b.generation.id)).toBeUndefined();
    expect(registry.get(a.generation.id)).toBe(a.generation);
    expect(registry.get(d.generation.id)).toBe(d.generation);

    // a expires after the retention period; c and d still run.
    tick(100);
    expect(registry.get(a.generation.id)).toBeUndefined();
    expect(registry.stats()).toMatchObject({ running: 2, retained: 0 });
    await c.finish();
    await d.finish();
    expect(registry.stats()).toMatchObject({ running: 0, retained: 2, started: 4 });
    await registry.close();
    expect(registry.stats()).toMatchObject({ running: 0, retained: 0 });
    await broker.close();
  });
});

describe('newGenerationId', () => {
  it('gives distinct 128-bit ids across refills of its random pool', () => {
    const ids = Array.from({ length: 1000 }, () => newGenerationId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^chatcmpl-[A-Za-z0-9]{22}$/);
  });

  it('a throwing onUsage hook is logged; the generation still ends and is counted', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const hookError = new Error('usage hook failed');
      const registry = new GenerationRegistry({
        broker: new MemoryBroker(),
        maxGenerations: 4,
        retentionMs: 100,
        onUsage: () => {
          throw hookError;
        },
      });
      const { generation, release } = createHeld(registry);
      await generation.start();
      release();
      expect((await generation.ended).status).toBe('completed');
      expect(registry.stats().ended.completed).toBe(1);
      expect(logged.mock.calls.some((call) => call.includes(hookError))).toBe(true);
    } finally {
      logged.mockRestore();
    }
  });
});
