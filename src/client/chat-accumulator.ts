/**
 * Client-side folding of `chat.completion.chunk` objects into deltas and a growing answer:
 * the text so far, tool calls assembled by index (id and name from their first fragment,
 * arguments concatenated), the finish reason and usage. Lenient about provider variations
 * (missing tool `index`, usage on the finish chunk, empty `choices`), and it ignores fields
 * it does not know, so a newer server never breaks an older client.
 */

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface AssembledToolCall {
  index: number;
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** What the `streamChat()` iterator yields. */
export type ChatDelta =
  | { type: 'text'; text: string }
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments: string }
  | { type: 'finish'; reason: string; cancelled: boolean }
  | { type: 'usage'; usage: ChatUsage }
  /** The connection dropped and the stream resumed after `lastEventId`: nothing is repeated. */
  | { type: 'resumed'; attempt: number; lastEventId: string };

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class ChatAccumulator {
  text = '';
  readonly toolCalls: AssembledToolCall[] = [];
  finishReason: string | undefined;
  cancelled = false;
  usage: ChatUsage | undefined;
  #lastTool: AssembledToolCall | undefined;

  /** Deltas for one parsed chunk; the accumulated state is updated as a side effect. */
  push(chunk: unknown): ChatDelta[] {
    if (!isRecord(chunk)) return [];
    const out: ChatDelta[] = [];
    const choices: unknown[] = Array.isArray(chunk['choices']) ? chunk['choices'] : [];
    const choice = choices.find((c) => isRecord(c) && (c['index'] ?? 0) === 0);
    if (isRecord(choice)) {
      const delta = isRecord(choice['delta']) ? choice['delta'] : {};
      const content = delta['content'];
      if (typeof content === 'string' && content !== '') {
        this.text += content;
        out.push({ type: 'text', text: content });
      }
      const calls: unknown[] = Array.isArray(delta['tool_calls']) ? delta['tool_calls'] : [];
      for (const call of calls) if (isRecord(call)) out.push(this.#tool(call));
      const reason = choice['finish_reason'];
      if (typeof reason === 'string' && reason !== '' && this.finishReason === undefined) {
        this.finishReason = reason;
        const extension = chunk['sluice'];
        this.cancelled = isRecord(extension) && extension['reason'] === 'cancelled';
        out.push({ type: 'finish', reason, cancelled: this.cancelled });
      }
    }
    const usage = chunk['usage'];
    if (
      isRecord(usage) &&
      typeof usage['prompt_tokens'] === 'number' &&
      typeof usage['completion_tokens'] === 'number'
    ) {
      this.usage = {
        prompt_tokens: usage['prompt_tokens'],
        completion_tokens: usage['completion_tokens'],
        total_tokens:
          typeof usage['total_tokens'] === 'number'
            ? usage['total_tokens']
            : usage['prompt_tokens'] + usage['completion_tokens'],
      };
      out.push({ type: 'usage', usage: this.usage });
    }
    return out;
  }

  #tool(call: Json): ChatDelta {
    const fn = isRecord(call['function']) ? call['function'] : {};
    const id = typeof call['id'] === 'string' && call['id'] !== '' ? call['id'] : undefined;
    const name = typeof fn['name'] === 'string' && fn['name'] !== '' ? fn['name'] : undefined;
    const args = typeof fn['arguments'] === 'string' ? fn['arguments'] : '';
    let target: AssembledToolCall | undefined;
    if (typeof call['index'] === 'number')
      target = this.toolCalls.find((t) => t.index === call['index']);
    // Without an index: an id seen before continues that call (some providers repeat it
    // on every fragment); a new id starts one; no id continues the last call.
    else target = id === undefined ? this.#lastTool : this.toolCalls.find((t) => t.id === id);
    if (!target) {
      const index = typeof call['index'] === 'number' ? call['index'] : this.toolCalls.length;
      target = { index, id: '', type: 'function', function: { name: '', arguments: '' } };
      this.toolCalls.push(target);
      this.toolCalls.sort((a, b) => a.index - b.index);
    }
    this.#lastTool = target;
    if (id !== undefined) target.id = id;
    if (name !== undefined) target.function.name = name;
    target.function.arguments += args;
    return {
      type: 'tool_call',
      index: target.index,
      ...(id === undefined ? {} : { id }),
      ...(name === undefined ? {} : { name }),
      arguments: args,
    };
  }
}
