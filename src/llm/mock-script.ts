/**
 * What the mock model will say, decided up front and deterministically from the prompt and
 * the seed: no clock, no global randomness, so a test can assert exact output. The pacing
 * (tokens per second, time to first token) lives in mock-model.ts.
 *
 * Directives in the last user message steer it (documented in docs/llm.md):
 * `[mock:tool]`, `[mock:tool=a,b]`, `[mock:error]`, `[mock:error=N]`, `[mock:error-before]`,
 * `[mock:tokens=N]`, `[mock:tps=N]`, `[mock:ttft=N]`, `[mock:echo]`.
 */
import type { ChatCompletionRequest, ChatMessage, JsonSchema } from './openai-types.js';

/** Words the mock speaks: ASCII, accents, CJK, emoji and a ZWJ sequence, to exercise UTF-8. */
const WORDS = [
  'sluice',
  'gate',
  'water',
  'flows',
  'through',
  'the',
  'stream',
  'steady',
  'bounded',
  'buffer',
  'river',
  'lock',
  'current',
  'calm',
  'café',
  'naïve',
  'Ωmega',
  '水門',
  '流れ',
  '数据流',
  '🌊',
  '✨',
  '🚰',
  '👩‍💻',
];

export interface MockDirectives {
  tool?: string[];
  error?: number;
  errorBefore?: boolean;
  tokens?: number;
  tps?: number;
  ttft?: number;
  echo?: boolean;
}

export interface MockToolCall {
  id: string;
  name: string;
  /** The arguments JSON, already split into the fragments the mock will stream. */
  fragments: string[];
}

export interface MockScript {
  /** Text tokens, in order (empty when the turn is a tool call). */
  tokens: string[];
  toolCalls: MockToolCall[];
  finishReason: 'stop' | 'length' | 'tool_calls';
  promptTokens: number;
  directives: MockDirectives;
}

const DIRECTIVE = /\[mock:([a-z-]+)(?:=([^\]\s]{1,200}))?\]/g;

export function messageText(message: ChatMessage | undefined): string {
  const content = message?.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => part.text ?? '').join('');
  return '';
}

export function parseDirectives(text: string): MockDirectives {
  const out: MockDirectives = {};
  for (const match of text.matchAll(DIRECTIVE)) {
    const name = match[1];
    const value = match[2];
    const number = value === undefined ? undefined : Number(value);
    const count =
      number !== undefined && Number.isFinite(number) && number >= 0 ? number : undefined;
    if (name === 'tool') out.tool = value ? value.split(',').filter(Boolean) : [];
    else if (name === 'error') out.error = count ?? 5;
    else if (name === 'error-before') out.errorBefore = true;
    else if (name === 'tokens' && count !== undefined) out.tokens = Math.floor(count);
    else if (name === 'tps' && count !== undefined) out.tps = count;
    else if (name === 'ttft' && count !== undefined) out.ttft = count;
    else if (name === 'echo') out.echo = true;
  }
  return out;
}

/** FNV-1a over UTF-16 code units: a stable 32-bit seed from any string. */
export function hashString(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** mulberry32: tiny, fast, good enough for deterministic test text. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rough token count used for prompts: words and punctuation marks. */
export function countTokens(text: string): number {
  return text.match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu)?.length ?? 0;
}

export interface ScriptLimits {
  defaultTokens: number;
  maxTokens: number;
}

export function planMockScript(request: ChatCompletionRequest, limits: ScriptLimits): MockScript {
  const last = [...request.messages].reverse().find((m) => m.role === 'user' || m.role === 'tool');
  const lastText = messageText(last);
  const directives = last?.role === 'user' ? parseDirectives(lastText) : {};
  const promptText = request.messages.map((m) => `${m.role}: ${messageText(m)}`).join('\n');
  const random = createRandom(hashString(promptText, hashString(String(request.seed ?? 0))));
  const promptTokens = countTokens(promptText);

  const toolCalls = planToolCalls(request, directives, random);
  if (toolCalls.length > 0) {
    return { tokens: [], toolCalls, finishReason: 'tool_calls', promptTokens, directives };
  }

  const wanted = Math.min(
    directives.tokens ?? limits.defaultTokens + Math.floor(random() * limits.defaultTokens),
    limits.maxTokens,
  );
  let tokens: string[];
  if (last?.role === 'tool') tokens = splitEvery(`Tool result received: ${lastText}`, 4);
  else if (directives.echo) tokens = splitEvery(lastText.replace(DIRECTIVE, '').trim(), 4);
  else tokens = wordTokens(wanted, random);
  const cap = request.max_completion_tokens ?? request.max_tokens;
  if (typeof cap === 'number' && cap >= 0 && cap < tokens.length) {
    return {
      tokens: tokens.slice(0, cap),
      toolCalls,
      finishReason: 'length',
      promptTokens,
      directives,
    };
  }
  return { tokens, toolCalls, finishReason: 'stop', promptTokens, directives };
}

function wordTokens(count: number, random: () => number): string[] {
  const tokens: string[] = [];
  let sentenceStart = true;
  for (let i = 0; i < count; i++) {
    if (!sentenceStart && random() < 0.12) {
      tokens.push(random() < 0.5 ? '.' : ',');
      sentenceStart = tokens[tokens.length - 1] === '.';
      continue;
    }
    const word = WORDS[Math.floor(random() * WORDS.length)] ?? 'sluice';
    const text = sentenceStart ? word.charAt(0).toUpperCase() + word.slice(1) : word;
    tokens.push(i === 0 ? text : ` ${text}`);
    sentenceStart = false;
  }
  return tokens;
}

/** Splits into pieces of `size` code points (never inside a surrogate pair). */
function splitEvery(text: string, size: number): string[] {
  const points = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < points.length; i += size) out.push(points.slice(i, i + size).join(''));
  return out;
}

function planToolCalls(
  request: ChatCompletionRequest,
  directives: MockDirectives,
  random: () => number,
): MockToolCall[] {
  const tools = request.tools ?? [];
  if (tools.length === 0 || request.tool_choice === 'none') return [];
  // Unknown at runtime: null is the default, and only a `function` object names a tool
  // (other object types act as "auto").
  const choice = request.tool_choice as unknown;
  const fn = isObject(choice) && choice['type'] === 'function' ? choice['function'] : undefined;
  let names: string[] = [];
  if (isObject(fn) && typeof fn['name'] === 'string') names = [fn['name']];
  else if (directives.tool !== undefined) {
    names = directives.tool.length > 0 ? directives.tool : [tools[0]!.function.name];
  } else if (choice === 'required') names = [tools[0]!.function.name];
  const calls: MockToolCall[] = [];
  for (const name of names) {
    const tool = tools.find((t) => t.function.name === name);
    if (!tool) continue;
    const args = JSON.stringify(inventValue(tool.function.parameters ?? {}, random, 0));
    const id = `call_${Math.floor(random() * 36 ** 8)
      .toString(36)
      .padStart(8, '0')}`;
    calls.push({ id, name, fragments: splitRandomly(args, random) });
  }
  return calls;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Arguments matching the tool's schema, with multi-byte strings on purpose. */
function inventValue(schema: JsonSchema, random: () => number, depth: number): unknown {
  // Schemas come from the request unchecked: a null or non-object one is treated as `{}`.
  if (!isObject(schema)) schema = {};
  if (Array.isArray(schema.enum) && schema.enum && schema.enum.length > 0) {
    return schema.enum[Math.floor(random() * schema.enum.length)];
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === 'object' || (type === undefined && schema.properties)) {
    const out: Record<string, unknown> = {};
    if (depth > 4) return out;
    for (const [key, value] of Object.entries(schema.properties ?? {})) {
      out[key] = inventValue(value, random, depth + 1);
    }
    return out;
  }
  if (type === 'integer') return Math.floor(random() * 100);
  if (type === 'number') return Math.round(random() * 10000) / 100;
  if (type === 'boolean') return random() < 0.5;
  if (type === 'array')
    return depth > 4 ? [] : [inventValue(schema.items ?? {}, random, depth + 1)];
  if (type === 'null') return null;
  const word = WORDS[Math.floor(random() * WORDS.length)] ?? 'sluice';
  return `${word} "水門" 🌊`;
}

/** Cuts a JSON text at arbitrary code-point positions, as real models stream arguments. */
function splitRandomly(text: string, random: () => number): string[] {
  const points = Array.from(text);
  const out: string[] = [];
  let i = 0;
  while (i < points.length) {
    const size = 1 + Math.floor(random() * 6);
    out.push(points.slice(i, i + size).join(''));
    i += size;
  }
  return out;
}
