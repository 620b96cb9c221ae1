/**
 * Normalised model events in, OpenAI `chat.completion.chunk` objects out. A `DeltaBuffer`
 * merges consecutive events into one delta (the coalescing unit: content concatenates,
 * argument fragments of the same tool call concatenate), and a `ChunkBuilder` stamps the
 * generation's id, model and creation time on each chunk, as OpenAI does on every chunk.
 */
import { flatJson } from '../core/flat-json.js';
import type { ModelEvent } from './model.js';
import type {
  ChatCompletionChunk,
  ChunkDelta,
  CompletionUsage,
  FinishReason,
  SluiceChunkExtension,
  ToolCallDelta,
} from './openai-types.js';

/** Pending delta text and fragments for one chunk; merging keeps the event count bounded. */
export class DeltaBuffer {
  #delta: ChunkDelta | undefined;
  #roleSent = false;
  /** Model events merged since the last take (content and tool-call fragments). */
  #events = 0;

  get size(): number {
    return this.#events;
  }

  /** True when a role-only delta is still owed (the output had no token yet). */
  get roleOwed(): boolean {
    return !this.#roleSent;
  }

  add(event: ModelEvent): void {
    if (event.type !== 'content' && event.type !== 'tool_call') return;
    const delta = this.#open();
    this.#events++;
    if (event.type === 'content') {
      delta.content = (delta.content ?? '') + event.text;
      return;
    }
    const calls = (delta.tool_calls ??= []);
    const last = calls[calls.length - 1];
    if (last && last.index === event.index && event.id === undefined) {
      last.function ??= {};
      last.function.arguments = (last.function.arguments ?? '') + event.arguments;
      return;
    }
    calls.push(toolCallDelta(event));
  }

  /** The merged delta, or undefined when nothing is pending. */
  take(): ChunkDelta | undefined {
    const delta = this.#delta;
    this.#delta = undefined;
    this.#events = 0;
    return delta;
  }

  /** A role-only delta for an output that finished before any token. */
  takeRole(): ChunkDelta {
    this.#roleSent = true;
    return { role: 'assistant', content: '' };
  }

  #open(): ChunkDelta {
    if (this.#delta) return this.#delta;
    if (this.#roleSent) {
      this.#delta = {};
    } else {
      // The role rides on the first delta, as OpenAI sends it (content null on tool turns).
      this.#roleSent = true;
      this.#delta = { role: 'assistant', content: null };
    }
    return this.#delta;
  }
}

function toolCallDelta(event: Extract<ModelEvent, { type: 'tool_call' }>): ToolCallDelta {
  if (event.id !== undefined || event.name !== undefined) {
    return {
      index: event.index,
      id: event.id ?? '',
      type: 'function',
      function: { name: event.name ?? '', arguments: event.arguments },
    };
  }
  return { index: event.index, function: { arguments: event.arguments } };
}

export interface ChunkBuilderOptions {
  id: string;
  model: string;
  /** Unix seconds, the same on every chunk. */
  created: number;
}

export class ChunkBuilder {
  readonly id: string;
  readonly model: string;
  readonly created: number;
  /** `JSON.stringify` of a delta chunk up to its choices, the same for every chunk. */
  readonly #head: string;

  constructor(options: ChunkBuilderOptions) {
    this.id = options.id;
    this.model = options.model;
    this.created = options.created;
    const base = JSON.stringify(this.#base());
    this.#head = `${base.slice(0, base.length - '[]}'.length)}[{"index":0,"delta":`;
  }

  /** The JSON of `delta` as it appears in its chunk (what `wrapDelta` takes). */
  deltaPayload(delta: ChunkDelta): string {
    return flatJson(JSON.stringify(fixContent(delta)));
  }

  /**
   * `JSON.stringify(this.delta(delta, usage))` from `deltaPayload(delta)`: only the delta
   * is serialised per chunk, the envelope (id, model…) is the same on every chunk.
   */
  wrapDelta(payload: string, usage?: null): string {
    const tail = usage === null ? ',"usage":null}' : '}';
    return `${this.#head}${payload},"logprobs":null,"finish_reason":null}]${tail}`;
  }

  /** `wrapDelta(deltaPayload(delta), usage)`. */
  deltaJson(delta: ChunkDelta, usage?: null): string {
    return this.wrapDelta(this.deltaPayload(delta), usage);
  }

  /** A chunk carrying one (possibly merged) delta. */
  delta(delta: ChunkDelta, usage?: null): ChatCompletionChunk {
    const chunk = this.#base();
    chunk.choices = [{ index: 0, delta: fixContent(delta), logprobs: null, finish_reason: null }];
    if (usage === null) chunk.usage = null;
    return chunk;
  }

  /** The finish chunk: empty delta and the reason; `sluice.reason` marks a cancel. */
  finish(
    reason: FinishReason,
    options: { usage?: null; extension?: SluiceChunkExtension } = {},
  ): ChatCompletionChunk {
    const chunk = this.#base();
    chunk.choices = [{ index: 0, delta: {}, logprobs: null, finish_reason: reason }];
    if (options.usage === null) chunk.usage = null;
    if (options.extension) chunk.sluice = options.extension;
    return chunk;
  }

  /** The `include_usage` chunk: empty `choices`, usage filled in. */
  usage(usage: CompletionUsage): ChatCompletionChunk {
    const chunk = this.#base();
    chunk.usage = usage;
    return chunk;
  }

  #base(): ChatCompletionChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      system_fingerprint: 'sluice',
      choices: [],
    };
  }
}

/** A text delta says `content: ""` rather than null once text has started; keep null only on tool turns. */
function fixContent(delta: ChunkDelta): ChunkDelta {
  if (delta.content === null && !delta.tool_calls) return { ...delta, content: '' };
  return delta;
}
