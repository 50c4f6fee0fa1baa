// fixtures/templates.json is what tools/golden/chat_template_golden.py renders with transformers;
// it must hold exactly the templates this package ships. Regenerate it with
// `UPDATE_TEMPLATES_JSON=1 npx vitest run --root packages/chat-template src/fixtures-sync.test.ts`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { BUILTIN_TEMPLATES } from './builtin-templates';
import { CHATML_GENERATION_TEMPLATE } from './test-fixtures';

const file = new URL('../fixtures/templates.json', import.meta.url);

function expected() {
  const out: Record<string, { template: string; special_tokens: Record<string, unknown>; source: string }> = {};
  for (const b of Object.values(BUILTIN_TEMPLATES)) out[b.name] = { template: b.template, special_tokens: b.specialTokens, source: b.source };
  out['chatml-generation'] = { template: CHATML_GENERATION_TEMPLATE, special_tokens: {}, source: 'test-only: ChatML with {% generation %}' };
  return out;
}

test('fixtures/templates.json holds the shipped templates', () => {
  const want = expected();
  if (process.env.UPDATE_TEMPLATES_JSON || !existsSync(file)) writeFileSync(file, JSON.stringify(want, null, 2) + '\n');
  expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(want);
});
