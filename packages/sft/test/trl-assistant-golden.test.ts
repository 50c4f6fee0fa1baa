// Assistant-only loss against trl (fixtures/trl-assistant-golden.json, made on the device machine by
// `tools/golden/trl_golden.py --set assistant`, see tools/golden/trl-assistant-kit.sh): trl's own
// training chat templates with {% generation %} markers (qwen3_training.jinja, qwen2_5_training.jinja)
// on multi-turn conversations, reasoning blocks, truncation inside a conversation and bfd packing.
// @q's assistant masks (@q/chat-template's generation tags and token mask) must give trl's labels
// exactly; one step's loss and gradient norm must agree. The checks are in trl-golden-harness.ts.
import { fileURLToPath } from 'node:url';
import { readJsonFixture } from '@q/core/testing';
import { describeTrlGolden, type TrlGolden } from './trl-golden-harness';

const FIXTURE = fileURLToPath(new URL('../fixtures/trl-assistant-golden.json', import.meta.url));
const golden = readJsonFixture<TrlGolden>(
  FIXTURE,
  'bash .gpu/run/trl/run.sh on the device machine (kit: bash tools/golden/trl-assistant-kit.sh), then copy $OUT/trl-assistant-golden.json to packages/sft/fixtures/',
);

describeTrlGolden(golden);
