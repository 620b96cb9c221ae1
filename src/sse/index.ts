export {
  createParser,
  PARSER_DEFAULTS,
  type ParserCallbacks,
  type ParserOptions,
  type SseEvent,
  type SseParser,
} from './parser.js';
export * from './parser-stream.js';
export * from './encoder.js';
export {
  createSseResponse,
  createSseStream,
  getLastEventId,
  sseHeaders,
  SSE_RESPONSE_DEFAULTS,
  type SseResponseOptions,
  type SseSource,
  type SseSourceContext,
  type SseStreamControl,
} from './response.js';
export type { SseChunk, SseCloseReason } from './sse-pump.js';
