/**
 * LLM configuration: options, their defaults, and the environment variables and CLI flags
 * that set them. `LLM_CONFIG_OPTIONS` is the one table docs/llm.md is checked against.
 * Flags win over environment variables, which win over defaults.
 */
import type { Broker } from '../broker/types.js';
import { SluiceError } from '../core/errors.js';
import type { GenerationSummary } from './generation.js';
import type { MockModelOptions } from './mock-model.js';
import { parseModelMap } from './model-router.js';
import type { UpstreamProviderOptions } from './upstream-provider.js';

export interface LlmOptions {
  /** Path prefix of the OpenAI-compatible routes. */
  basePath?: string;
  /**
   * Where generation chunks go. Default: a private memory broker whose per-channel history
   * holds `maxEventsPerGeneration`. A shared broker must retain at least that many messages
   * per channel, for at least `retentionMs`, or late resumes get a gap error.
   */
  broker?: Broker;
  /** The built-in mock; `null` disables it. */
  mock?: MockModelOptions | null;
  /** An OpenAI-compatible upstream; without one, the mock answers every model. */
  upstream?: UpstreamProviderOptions | null;
  /** Requested name → upstream name; `*` maps the rest (see model-router.ts). */
  modelMap?: Record<string, string>;
  /** Time a generation runs on with no reader, ms (0: abort at once; null: never abort). */
  generationGraceMs?: number | null;
  /** At most one chunk per this many ms (deltas merged); null: one chunk per token. */
  coalesceMs?: number | null;
  maxEventsPerGeneration?: number;
  /** Generations kept (running plus finished-and-retained). */
  maxGenerations?: number;
  /** How long a finished generation stays resumable, ms. */
  retentionMs?: number;
  maxBodyBytes?: number;
  /** SSE keepalive comment interval and stall timeout (see sse/response.ts). */
  keepAlive?: number | null;
  stallTimeout?: number | null;
  /** When set, every route needs `Authorization: Bearer <one of these>`. */
  apiKeys?: string[] | null;
  /** Called once per finished generation or non-streaming request, with its usage. */
  onUsage?: (summary: GenerationSummary) => void;
}

export const LLM_DEFAULTS = Object.freeze({
  basePath: '/v1',
  generationGraceMs: 30_000,
  coalesceMs: null as number | null,
  maxEventsPerGeneration: 8192,
  maxGenerations: 256,
  retentionMs: 10 * 60_000,
  maxBodyBytes: 4 * 1024 * 1024,
  cancelWaitMs: 5_000,
});

type Kind = 'string' | 'ms' | 'ms-or-never' | 'int' | 'number' | 'bool' | 'list' | 'map';

/** One row per setting: environment variable(s), flag, meaning. */
export const LLM_CONFIG_OPTIONS = [
  {
    key: 'upstreamBaseUrl',
    env: ['SLUICE_UPSTREAM_BASE_URL', 'OPENAI_BASE_URL'],
    flag: '--upstream-base-url',
    kind: 'string',
    description:
      'OpenAI-compatible base URL (e.g. http://127.0.0.1:11434/v1). Setting it switches non-mock models to the upstream.',
  },
  {
    key: 'upstreamApiKey',
    env: ['SLUICE_UPSTREAM_API_KEY', 'OPENAI_API_KEY'],
    flag: '--upstream-api-key',
    kind: 'string',
    description: 'Bearer key sent to the upstream (only used when a base URL is set).',
  },
  {
    key: 'modelMap',
    env: ['SLUICE_MODEL_MAP'],
    flag: '--model-map',
    kind: 'map',
    description:
      'Model names for the upstream: `gpt-4o=llama3,*=qwen2`; a target `sluice-mock` routes to the mock.',
  },
  {
    key: 'upstreamIncludeUsage',
    env: ['SLUICE_UPSTREAM_INCLUDE_USAGE'],
    flag: '--upstream-include-usage',
    kind: 'bool',
    description: 'Ask the upstream for `stream_options.include_usage` (default true).',
  },
  {
    key: 'generationGraceMs',
    env: ['SLUICE_GENERATION_GRACE_MS'],
    flag: '--generation-grace-ms',
    kind: 'ms-or-never',
    description:
      'Time a generation runs on after its last reader left, ms (default 30000; 0 aborts at once; `never`).',
  },
  {
    key: 'coalesceMs',
    env: ['SLUICE_COALESCE_MS'],
    flag: '--coalesce-ms',
    kind: 'ms',
    description: 'At most one chunk per this many ms at high token rates (default off; 0 = off).',
  },
  {
    key: 'maxEventsPerGeneration',
    env: ['SLUICE_GENERATION_MAX_EVENTS'],
    flag: '--generation-max-events',
    kind: 'int',
    description:
      'Chunks kept per generation (default 8192); past it the answer ends with finish_reason "length".',
  },
  {
    key: 'retentionMs',
    env: ['SLUICE_GENERATION_RETENTION_MS'],
    flag: '--generation-retention-ms',
    kind: 'ms',
    description: 'How long a finished generation stays resumable, ms (default 600000).',
  },
  {
    key: 'maxGenerations',
    env: ['SLUICE_MAX_GENERATIONS'],
    flag: '--max-generations',
    kind: 'int',
    description:
      'Generations kept, running plus retained (default 256; full of running ones: 429).',
  },
  {
    key: 'mockTps',
    env: ['SLUICE_MOCK_TPS'],
    flag: '--mock-tps',
    kind: 'number',
    description: 'Mock model tokens per second (default 40; 0 = unpaced).',
  },
  {
    key: 'mockTtftMs',
    env: ['SLUICE_MOCK_TTFT_MS'],
    flag: '--mock-ttft-ms',
    kind: 'ms',
    description: 'Mock model time to first token, ms (default 200).',
  },
  {
    key: 'apiKeys',
    env: ['SLUICE_LLM_API_KEYS'],
    flag: '--llm-api-keys',
    kind: 'list',
    description:
      'Comma-separated keys; when set, the /v1 routes need `Authorization: Bearer <key>`.',
  },
] as const satisfies readonly {
  key: string;
  env: readonly string[];
  flag: string;
  kind: Kind;
  description: string;
}[];

export type LlmConfigKey = (typeof LLM_CONFIG_OPTIONS)[number]['key'];

/**
 * Builds LlmOptions from environment variables and flags (`{ '--mock-tps': '100' }`).
 * Unset values stay undefined, so the defaults above apply.
 */
export function llmOptionsFromEnv(
  env: Record<string, string | undefined>,
  flags: Record<string, string | undefined> = {},
): LlmOptions {
  const get = (key: LlmConfigKey): string | undefined => {
    const spec = LLM_CONFIG_OPTIONS.find((option) => option.key === key)!;
    const flag = flags[spec.flag];
    if (flag !== undefined) return flag;
    for (const name of spec.env) if (env[name] !== undefined && env[name] !== '') return env[name];
    return undefined;
  };
  const options: LlmOptions = {};
  const baseUrl = get('upstreamBaseUrl');
  if (baseUrl !== undefined) {
    const apiKey = get('upstreamApiKey');
    const includeUsage = get('upstreamIncludeUsage');
    options.upstream = {
      baseUrl,
      ...(apiKey === undefined ? {} : { apiKey }),
      ...(includeUsage === undefined
        ? {}
        : { includeUsage: bool('--upstream-include-usage', includeUsage) }),
    };
  }
  const map = get('modelMap');
  if (map !== undefined) options.modelMap = parseModelMap(map);
  const grace = get('generationGraceMs');
  if (grace !== undefined)
    options.generationGraceMs = grace === 'never' ? null : int('--generation-grace-ms', grace);
  const coalesce = get('coalesceMs');
  if (coalesce !== undefined) options.coalesceMs = int('--coalesce-ms', coalesce) || null;
  const maxEvents = get('maxEventsPerGeneration');
  if (maxEvents !== undefined)
    options.maxEventsPerGeneration = int('--generation-max-events', maxEvents);
  const retention = get('retentionMs');
  if (retention !== undefined) options.retentionMs = int('--generation-retention-ms', retention);
  const maxGenerations = get('maxGenerations');
  if (maxGenerations !== undefined)
    options.maxGenerations = int('--max-generations', maxGenerations);
  const tps = get('mockTps');
  const ttft = get('mockTtftMs');
  if (tps !== undefined || ttft !== undefined) {
    const mock: MockModelOptions = {};
    if (tps !== undefined) mock.tokensPerSecond = number('--mock-tps', tps) || null;
    if (ttft !== undefined) mock.timeToFirstTokenMs = int('--mock-ttft-ms', ttft) || null;
    options.mock = mock;
  }
  const keys = get('apiKeys');
  if (keys !== undefined)
    options.apiKeys = keys
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
  return options;
}

function number(name: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new SluiceError(
      'invalid_argument',
      `${name} must be a non-negative number, got "${text.slice(0, 40)}"`,
    );
  }
  return value;
}

function int(name: string, text: string): number {
  const value = number(name, text);
  if (!Number.isSafeInteger(value)) {
    throw new SluiceError(
      'invalid_argument',
      `${name} must be a non-negative integer, got "${text.slice(0, 40)}"`,
    );
  }
  return value;
}

function bool(name: string, text: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new SluiceError(
    'invalid_argument',
    `${name} must be true or false, got "${text.slice(0, 40)}"`,
  );
}
