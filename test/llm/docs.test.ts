import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LLM_CONFIG_OPTIONS, LLM_DEFAULTS, MOCK_DEFAULTS } from '../../src/llm/index.js';

const doc = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

describe('docs/llm.md and docs/errors.md match the code', () => {
  it('lists every environment variable and flag, with the defaults the code uses', () => {
    const llm = doc('llm.md');
    for (const option of LLM_CONFIG_OPTIONS) {
      for (const env of option.env) expect(llm).toContain(`\`${env}\``);
      expect(llm).toContain(`\`${option.flag}\``);
    }
    expect(llm).toContain(`default \`${LLM_DEFAULTS.generationGraceMs}\``);
    expect(llm).toContain(`default \`${LLM_DEFAULTS.maxEventsPerGeneration}\``);
    expect(llm).toContain(`default \`${LLM_DEFAULTS.retentionMs}\``);
    expect(llm).toContain(`default \`${LLM_DEFAULTS.maxGenerations}\``);
    expect(llm).toContain(`default \`${MOCK_DEFAULTS.tokensPerSecond}\``);
    expect(llm).toContain(`default \`${MOCK_DEFAULTS.timeToFirstTokenMs}\``);
    expect(llm).toContain(`capped at ${MOCK_DEFAULTS.maxTokens}`);
  });

  it('documents every llm error code', () => {
    const table = doc('errors.md');
    const source = readFileSync(new URL('../../src/core/errors.ts', import.meta.url), 'utf8');
    const codes = [...source.matchAll(/'(llm_[a-z_]+)'/g)].map((m) => m[1]!);
    expect(codes.length).toBeGreaterThan(5);
    for (const code of codes) {
      expect(table).toContain(`| \`${code}\` |`);
    }
  });
});
