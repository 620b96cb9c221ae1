/**
 * Folds model events into a whole answer: the text, the tool calls with their arguments
 * joined, the finish reason and usage. Used for non-streaming responses and for counting
 * tokens when a model reports no usage (each content or argument fragment counts as one
 * token: upstreams stream about one token per delta, so an aborted generation is still
 * billed close to what it cost).
 */
import type { ModelEvent } from './model.js';
import type {
  ChatCompletion,
  CompletionUsage,
  FinishReason,
  SluiceChunkExtension,
  ToolCall,
} from './openai-types.js';

export const ASSEMBLER_DEFAULTS = Object.freeze({
  /** Longest answer kept for a non-streaming response (UTF-16 units); more is an error. */
  maxOutputChars: 4 * 1024 * 1024,
});

export class OutputAssembler {
  #content = '';
  #toolCalls: ToolCall[] = [];
  #finish: FinishReason | undefined;
  #usage: CompletionUsage | undefined;
  #counted = 0;
  readonly #keepText: boolean;

  /** `keepText: false` only counts (a streaming generation does not need the text). */
  constructor(options: { keepText?: boolean } = {}) {
    this.#keepText = options.keepText ?? true;
  }

  get finishReason(): FinishReason | undefined {
    return this.#finish;
  }

  get countedTokens(): number {
    return this.#counted;
  }

  get content(): string {
    return this.#content;
  }

  get toolCalls(): readonly ToolCall[] {
    return this.#toolCalls;
  }

  add(event: ModelEvent): void {
    switch (event.type) {
      case 'content':
        if (event.text.length > 0) this.#counted++;
        if (this.#keepText) this.#content += event.text;
        return;
      case 'tool_call': {
        if (event.arguments.length > 0) this.#counted++;
        if (!this.#keepText) return;
        let call = this.#toolCalls[event.index];
        if (!call) {
          call = { id: event.id ?? '', type: 'function', function: { name: '', arguments: '' } };
          this.#toolCalls[event.index] = call;
        }
        if (event.id !== undefined) call.id = event.id;
        if (event.name !== undefined) call.function.name = event.name;
        call.function.arguments += event.arguments;
        return;
      }
      case 'finish':
        this.#finish = event.reason;
        return;
      case 'usage':
        this.#usage = event.usage;
        return;
    }
  }

  /** Text length kept so far, for the caller's size limit. */
  get size(): number {
    return (
      this.#content.length + this.#toolCalls.reduce((n, c) => n + c.function.arguments.length, 0)
    );
  }

  /** The model's own usage when it sent one, else counted tokens plus the prompt estimate. */
  usage(promptTokens: number): { usage: CompletionUsage; counted: boolean } {
    if (this.#usage) return { usage: this.#usage, counted: false };
    return {
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: this.#counted,
        total_tokens: promptTokens + this.#counted,
      },
      counted: true,
    };
  }

  completion(options: {
    id: string;
    model: string;
    created: number;
    usage: CompletionUsage;
    finishReason?: FinishReason;
    extension?: SluiceChunkExtension;
  }): ChatCompletion {
    const toolCalls = this.#toolCalls.filter((call): call is ToolCall => call !== undefined);
    const message: ChatCompletion['choices'][number]['message'] = {
      role: 'assistant',
      content: toolCalls.length > 0 && this.#content === '' ? null : this.#content,
      refusal: null,
    };
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    const completion: ChatCompletion = {
      id: options.id,
      object: 'chat.completion',
      created: options.created,
      model: options.model,
      system_fingerprint: 'sluice',
      choices: [
        {
          index: 0,
          message,
          logprobs: null,
          finish_reason: options.finishReason ?? this.#finish ?? 'stop',
        },
      ],
      usage: options.usage,
    };
    if (options.extension) completion.sluice = options.extension;
    return completion;
  }
}
