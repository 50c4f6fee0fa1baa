/**
 * Writes, next to make-inputs.ts's output, the model @q/merge makes from it: the tiny Qwen2 base
 * with @q's adapter-q merged in float16 and saved with saveMerged. merged_golden.py then loads
 * that folder with transformers, so the fixture says what transformers computes from our files.
 *   node make-merged.mjs <in-dir>     (after make-inputs)
 */
import { getDevice } from '@q/core';
import { AutoModelForCausalLM } from '@q/model';
import { loadAdapter } from '@q/lora';
import { mergeAndUnload, saveMerged } from '@q/merge';

const dir = process.argv[2];
if (!dir) throw new Error('usage: make-merged <in-dir>');
const dev = await getDevice();
const base = await AutoModelForCausalLM.fromPretrained(`${dir}/qwen2`);
const peft = await loadAdapter(base, `${dir}/adapter-q`);
const { model, report } = await mergeAndUnload(peft, { dtype: 'float16' });
const files = await saveMerged(model, `${dir}/merged-q-f16`, { dtype: 'float16', tokenizerDir: `${dir}/qwen2` });
console.log(`merged ${report.layers} layers in ${report.dtype}: ${files.join(', ')}`);
model.release();
dev.dispose();
