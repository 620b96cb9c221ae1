import { describe, expect, it } from 'vitest';
import { ChunkBuilder } from '../../src/llm/chunk-builder.js';
import type { ChunkDelta } from '../../src/llm/openai-types.js';

describe('ChunkBuilder.deltaJson', () => {
  it('is exactly JSON.stringify of the delta chunk, whatever the delta and usage field', () => {
    const builder = new ChunkBuilder({ id: 'chatcmpl-x', model: 'odd "model" é\n', created: 7 });
    const deltas: ChunkDelta[] = [
      { role: 'assistant', content: 'hé "there"\n' },
      { role: 'assistant', content: null },
      { content: '' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{' } },
        ],
      },
      { tool_calls: [{ index: 0, function: { arguments: '"a":1}' } }] },
    ];
    for (const delta of deltas) {
      for (const usage of [undefined, null] as const) {
        const json = builder.deltaJson(delta, usage);
        expect(json).toBe(JSON.stringify(builder.delta(delta, usage)));
      }
    }
  });
});
