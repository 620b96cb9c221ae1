/** Folding chunks from providers that leave out the tool-call index. */
import { describe, expect, it } from 'vitest';
import { ChatAccumulator } from '../../src/client/chat-accumulator.js';

const chunk = (calls: unknown[]) => ({ choices: [{ index: 0, delta: { tool_calls: calls } }] });

describe('ChatAccumulator without tool-call indexes', () => {
  it('keeps fragments that repeat their id on the call they began, and splits on a new id', () => {
    const acc = new ChatAccumulator();
    acc.push(chunk([{ id: 'a', function: { name: 'first', arguments: '{"x":' } }]));
    acc.push(chunk([{ id: 'a', function: { arguments: '1}' } }]));
    acc.push(chunk([{ id: 'b', function: { name: 'second', arguments: '{}' } }]));
    acc.push(chunk([{ function: { arguments: '' } }])); // no id: the last call
    acc.push(chunk([{ id: 'a', function: { arguments: '' } }])); // back to the first one
    expect(acc.toolCalls.map((t) => [t.id, t.function.name, t.function.arguments])).toEqual([
      ['a', 'first', '{"x":1}'],
      ['b', 'second', '{}'],
    ]);
  });
});
