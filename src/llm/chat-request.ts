/**
 * Reads and checks a Chat Completions request body. Only what sluice relies on is checked
 * (messages, model, stream flags, tools, limits); every other field is kept as sent, so an
 * upstream receives parameters sluice does not know about (forward compatibility).
 */
import { SluiceError } from '../core/errors.js';
import { readBodyBounded } from '../core/read-bounded.js';
import { invalidRequest } from './openai-error.js';
import type { ChatCompletionRequest } from './openai-types.js';

export const CHAT_REQUEST_DEFAULTS = Object.freeze({
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: 4 * 1024 * 1024,
  /** Most messages in one request. */
  maxMessages: 4096,
  /** Most tools in one request. */
  maxTools: 128,
});

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

/** Reads the body with a byte cap, then parses JSON. */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readBodyBounded(request, maxBytes, () => tooLarge(maxBytes));
  if (bytes.byteLength === 0) throw invalidRequest('A JSON request body is required');
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch (error) {
    throw new SluiceError('invalid_json', 'The request body is not valid UTF-8 JSON', {
      status: 400,
      cause: error,
    });
  }
}

function tooLarge(maxBytes: number): SluiceError {
  return new SluiceError('payload_too_large', `The request body exceeds ${maxBytes} bytes`, {
    status: 413,
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalNumber(body: Record<string, unknown>, key: string, integer: boolean): void {
  const value = body[key];
  if (value === undefined || value === null) return;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value))
  ) {
    throw invalidRequest(`"${key}" must be ${integer ? 'an integer' : 'a number'}`, key);
  }
}

export function parseChatRequest(
  body: unknown,
  limits: { maxMessages?: number; maxTools?: number } = {},
): ChatCompletionRequest {
  if (!isRecord(body)) throw invalidRequest('The request body must be a JSON object');
  const { model, messages, stream, stream_options: streamOptions, tools, n } = body;
  if (typeof model !== 'string' || model.length === 0 || model.length > 256) {
    throw invalidRequest('"model" must be a non-empty string of at most 256 characters', 'model');
  }
  const maxMessages = limits.maxMessages ?? CHAT_REQUEST_DEFAULTS.maxMessages;
  if (!Array.isArray(messages) || messages.length === 0 || messages.length > maxMessages) {
    throw invalidRequest(`"messages" must be an array of 1 to ${maxMessages} messages`, 'messages');
  }
  for (const [i, message] of messages.entries()) {
    if (!isRecord(message) || typeof message['role'] !== 'string' || !ROLES.has(message['role'])) {
      throw invalidRequest(`messages[${i}] needs a valid "role"`, `messages[${i}].role`);
    }
    const content = message['content'];
    if (
      content !== undefined &&
      content !== null &&
      typeof content !== 'string' &&
      !Array.isArray(content)
    ) {
      throw invalidRequest(
        `messages[${i}].content must be a string or an array of parts`,
        `messages[${i}].content`,
      );
    }
    // Parts are read for prompt token counts (and by the mock): a null part would crash that.
    const badPart = Array.isArray(content) ? content.findIndex((part) => !isRecord(part)) : -1;
    if (badPart >= 0) {
      throw invalidRequest(
        `messages[${i}].content[${badPart}] must be a content part object`,
        `messages[${i}].content[${badPart}]`,
      );
    }
  }
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') {
    throw invalidRequest('"stream" must be a boolean', 'stream');
  }
  if (streamOptions !== undefined && streamOptions !== null && !isRecord(streamOptions)) {
    throw invalidRequest('"stream_options" must be an object', 'stream_options');
  }
  if (n !== undefined && n !== null && n !== 1) {
    throw invalidRequest('sluice serves one choice per request: "n" must be 1', 'n');
  }
  const maxTools = limits.maxTools ?? CHAT_REQUEST_DEFAULTS.maxTools;
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools) || tools.length > maxTools) {
      throw invalidRequest(`"tools" must be an array of at most ${maxTools} tools`, 'tools');
    }
    for (const [i, tool] of tools.entries()) {
      const fn = isRecord(tool) ? tool['function'] : undefined;
      if (
        !isRecord(tool) ||
        tool['type'] !== 'function' ||
        !isRecord(fn) ||
        typeof fn['name'] !== 'string'
      ) {
        throw invalidRequest(
          `tools[${i}] must be {type:"function", function:{name,...}}`,
          `tools[${i}]`,
        );
      }
    }
  }
  checkToolChoice(body['tool_choice']);
  optionalNumber(body, 'max_tokens', true);
  optionalNumber(body, 'max_completion_tokens', true);
  optionalNumber(body, 'seed', true);
  return body as ChatCompletionRequest;
}

/**
 * `tool_choice`: absent or null (the default), a mode string, or an object. A
 * `{type:"function"}` choice must name its function (the mock reads it); other object types
 * are passed on as sent (forward compatibility).
 */
function checkToolChoice(choice: unknown): void {
  if (choice === undefined || choice === null || typeof choice === 'string') return;
  const named =
    isRecord(choice) &&
    (choice['type'] !== 'function' ||
      (isRecord(choice['function']) && typeof choice['function']['name'] === 'string'));
  if (!named) {
    throw invalidRequest(
      '"tool_choice" must be "none", "auto", "required" or {type:"function", function:{name}}',
      'tool_choice',
    );
  }
}
