/**
 * Which provider serves a requested model name, and under which name.
 *
 * - `sluice-mock` is always the built-in mock (unless the mock is disabled).
 * - A model map (`gpt-4o=llama3,*=qwen2`) renames models for the upstream; `*` (or
 *   `default`) maps every other name. A map target of `sluice-mock` routes to the mock.
 * - With an upstream and no map entry, the name passes through unchanged — unless the map
 *   has entries but no `*`/`default`, which makes it a strict allow-list (404 otherwise).
 * - Without an upstream, the mock answers every model name: it is the embedded default.
 */
import { SluiceError, truncate } from '../core/errors.js';
import { MOCK_MODEL_ID } from './mock-model.js';
import type { ModelProvider } from './model.js';
import type { ModelObject } from './openai-types.js';

export interface ModelRouterOptions {
  /** The built-in mock; `null` disables it. */
  mock: ModelProvider | null;
  upstream?: ModelProvider | undefined;
  modelMap?: Readonly<Record<string, string>> | undefined;
}

export interface ModelRoute {
  provider: ModelProvider;
  /** The name sent to the provider. */
  model: string;
}

export interface ModelRouter {
  route(model: string): ModelRoute;
  listModels(options?: { signal?: AbortSignal }): Promise<ModelObject[]>;
}

const WILDCARDS = ['*', 'default'];

/** Parses `a=b,c=d` (the `SLUICE_MODEL_MAP` syntax). */
export function parseModelMap(text: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const trimmed = pair.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    const from = trimmed.slice(0, eq).trim();
    const to = trimmed.slice(eq + 1).trim();
    if (eq <= 0 || from === '' || to === '') {
      throw new SluiceError(
        'invalid_argument',
        `Model map entries are name=target, got "${truncate(trimmed, 80)}"`,
      );
    }
    map[from] = to;
  }
  return map;
}

export function createModelRouter(options: ModelRouterOptions): ModelRouter {
  const map = options.modelMap ?? {};
  const wildcard = WILDCARDS.map((key) => map[key]).find((value) => value !== undefined);
  const strict = Object.keys(map).length > 0 && wildcard === undefined;

  const toProvider = (requested: string, target: string): ModelRoute => {
    if (target === MOCK_MODEL_ID && options.mock) return { provider: options.mock, model: target };
    if (options.upstream) return { provider: options.upstream, model: target };
    if (options.mock) return { provider: options.mock, model: target };
    throw notFound(requested);
  };

  return {
    route(model) {
      if (model === MOCK_MODEL_ID && options.mock) return { provider: options.mock, model };
      const mapped =
        Object.hasOwn(map, model) && !WILDCARDS.includes(model) ? map[model] : undefined;
      if (mapped !== undefined) return toProvider(model, mapped);
      if (!options.upstream) {
        if (options.mock) return { provider: options.mock, model };
        throw notFound(model);
      }
      if (wildcard !== undefined) return toProvider(model, wildcard);
      if (strict) throw notFound(model);
      return { provider: options.upstream, model };
    },
    async listModels(list = {}) {
      const seen = new Map<string, ModelObject>();
      const add = (model: ModelObject) => {
        if (!seen.has(model.id)) seen.set(model.id, model);
      };
      if (options.mock) for (const model of await options.mock.listModels(list)) add(model);
      for (const alias of Object.keys(map)) {
        if (!WILDCARDS.includes(alias))
          add({ id: alias, object: 'model', created: 0, owned_by: 'sluice' });
      }
      if (options.upstream) for (const model of await options.upstream.listModels(list)) add(model);
      return [...seen.values()];
    },
  };
}

function notFound(model: string): SluiceError {
  return new SluiceError(
    'llm_model_not_found',
    `The model "${truncate(model, 100)}" does not exist`,
    {
      status: 404,
      details: { param: 'model' },
    },
  );
}
