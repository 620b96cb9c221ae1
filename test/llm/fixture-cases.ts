import { readFileSync } from 'node:fs';

/** What a fixture assembles to: text, tool calls, finish reason, usage, or the error it ends with. */
export interface FixtureCase {
  file: string;
  text: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finish?: string;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  error?: { code: string; message?: RegExp };
}

export const FIXTURE_CASES: FixtureCase[] = [
  {
    file: 'openai-text-usage.sse',
    text: 'Sluice gates 🌊 control the flow — 水門 ( suimon) in Japanese. 👩‍💻 café naïve\n\nDone ✨',
    toolCalls: [],
    finish: 'stop',
    usage: { prompt_tokens: 19, completion_tokens: 20, total_tokens: 39 },
  },
  {
    file: 'openai-parallel-tools.sse',
    text: '',
    toolCalls: [
      {
        id: 'call_Wx1',
        name: 'get_weather',
        arguments: '{"city":"東京 🌸","note":"say \\"hi\\"\\n","days":3}',
      },
      { id: 'call_Tz2', name: 'get_time', arguments: '{"zone":"Asia/Tōkyō"}' },
    ],
    finish: 'tool_calls',
    usage: { prompt_tokens: 88, completion_tokens: 41, total_tokens: 129 },
  },
  {
    file: 'deepseek-usage-on-finish-crlf.sse',
    text: '数据流 is data flow 🚰',
    toolCalls: [],
    finish: 'stop',
    usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
  },
  {
    file: 'anthropic-compat-tool-index-1.sse',
    text: 'Let me check the weather in Zürich.',
    toolCalls: [
      { id: 'toolu_01XyZ', name: 'get_weather', arguments: '{"city": "Zürich", "days": 2}' },
    ],
    finish: 'tool_calls',
  },
  {
    file: 'azure-prompt-filter-first.sse',
    text: 'Olá mundo 🌍',
    toolCalls: [],
    finish: 'stop',
  },
  {
    file: 'groq-whole-tool-call.sse',
    text: '',
    toolCalls: [
      { id: 'call_g1', name: 'lookup', arguments: '{"q":"ñandú 🐦"}' },
      { id: 'call_g2', name: 'lookup', arguments: '{"q":"émeu"}' },
    ],
    finish: 'tool_calls',
    usage: { prompt_tokens: 30, completion_tokens: 22, total_tokens: 52 },
  },
  {
    file: 'truncated.sse',
    text: 'This answer stops mid-',
    toolCalls: [],
    error: { code: 'llm_upstream_truncated' },
  },
  {
    file: 'midstream-error.sse',
    text: 'Partial',
    toolCalls: [],
    error: { code: 'llm_upstream_error', message: /The server had an error/ },
  },
];

export function fixtureBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`./fixtures/${file}`, import.meta.url)));
}

/** A byte stream delivering `bytes` cut at the given offsets. */
export function splitStream(bytes: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const points = [0, ...[...cuts].sort((a, b) => a - b), bytes.length];
  const pieces: Uint8Array[] = [];
  for (let i = 1; i < points.length; i++) pieces.push(bytes.slice(points[i - 1], points[i]));
  return new ReadableStream({
    pull(controller) {
      const piece = pieces.shift();
      if (piece === undefined) controller.close();
      else controller.enqueue(piece);
    },
  });
}
