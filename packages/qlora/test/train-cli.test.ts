// One end-to-end run of the CLI on the built-in model: `qlora train` on a YAML config with
// max_steps 2 (4-bit load, LoRA, SFT, eval before/after, adapter, merge), then `info`, `generate`,
// `chat`, `quantize`, `merge` and `eval` on what it wrote.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { device } from '@q/core';
import { buildProgram } from '../src/cli/program';
import { captureIO } from './helpers';
import { builtinModelDir } from '../src/builtin';

const dir = mkdtempSync(join(tmpdir(), 'qlora-cli-'));
afterAll(() => {
  try {
    device().dispose();
  } catch {
    // no device was opened
  }
});

async function qlora(args: string[], stdin: string[] = []) {
  const io = captureIO(stdin);
  await buildProgram(io).exitOverride().parseAsync(args, { from: 'user' });
  return io;
}

describe('qlora CLI end to end', () => {
  it('train (YAML, max_steps 2) writes the adapter, the loss plot and the merged model', async () => {
    const cfg = join(dir, 'train.yaml');
    writeFileSync(
      cfg,
      [
        'training:',
        `  output_dir: ${join(dir, 'out')}`,
        '  max_steps: 2',
        '  logging_steps: 1',
        '  eval_strategy: "no"',
        'dataset:',
        '  test_size: 2',
        'preview:',
        '  questions: 1',
        '  max_new_tokens: 3',
        'eval:',
        '  max_new_tokens: 4',
        'merge:',
        '  dtype: bfloat16',
      ].join('\n'),
    );
    const io = await qlora(['train', cfg]);
    const out = join(dir, 'out');
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'loss.svg', 'trainer_log.jsonl', 'eval_results.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) expect(existsSync(join(out, 'merged', f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'))).toMatchObject({ r: 16, lora_alpha: 32, peft_type: 'LORA' });
    expect(JSON.parse(readFileSync(join(out, 'merged', 'config.json'), 'utf8'))).toMatchObject({ model_type: 'llama', torch_dtype: 'bfloat16' });
    expect(io.err()).toMatch(/loading built-in model \(Llama/);
    // The eval section (on by default for the built-in model) measured the 2 held-out rows twice.
    expect(io.out()).toMatch(/held-out \(2 rows\) before: loss [\d.]+, perplexity [\d.]+, exact match 0\/2/);
    const ev = JSON.parse(readFileSync(join(out, 'eval_results.json'), 'utf8'));
    expect(ev.before.samples).toHaveLength(2);
    expect(ev.after.loss).toBeGreaterThan(0);
    expect(io.out()).toMatch(/trainable params: [\d,]+ \|\| all params/);
    expect(io.out()).toMatch(/BEFORE training[^]*AFTER training \(4-bit base \+ LoRA\)/);
    expect(io.out()).toContain(`loss plot: ${join(out, 'loss.svg')}`);
  }, 120_000);

  it('info describes the device and the adapter', async () => {
    const io = await qlora(['info', '--adapter', join(dir, 'out')]);
    expect(io.out()).toMatch(/WebGPU adapter[^]*limits[^]*maxBufferSize[^]*GPU memory/);
    expect(io.out()).toMatch(/r \/ alpha: +16 \/ 32/);
    // v, o and down (the built-in LoRA targets) on 4 layers of hidden 256 / intermediate 768, r=16:
    // 4 × 16 × ((256 + 256) + (256 + 256) + (768 + 256)) parameters in 4 × 3 × 2 tensors.
    expect(io.out()).toMatch(/parameters: +131,072 in 24 tensors/);
  });

  it('generate streams from the merged model, and from the base + adapter', async () => {
    const merged = join(dir, 'out', 'merged');
    const a = await qlora(['generate', '--model', merged, '--prompt', 'What color is the sky?', '--chat', '--max-new-tokens', '3', '--greedy']);
    expect(a.err).toBeTypeOf('function');
    expect(a.out().length).toBeGreaterThan(0);
    const b = await qlora(['generate', '--model', merged, '--adapter', join(dir, 'out'), '--prompt', 'Hello', '--max-new-tokens', '2', '--temperature', '0.7', '--top-p', '0.9', '--seed', '1']);
    expect(b.out().startsWith('Hello')).toBe(true);
    expect(b.err()).toMatch(/adapter: .*12 LoRA layers, r=16/);
  });

  it('quantize writes a bnb-4bit checkpoint that loads back; merge folds an adapter into a model folder', async () => {
    const merged = join(dir, 'out', 'merged');
    const q4 = join(dir, 'q4');
    await qlora(['quantize', '--model', merged, '--out', q4, '--quant-type', 'nf4', '--double-quant']);
    const cfg = JSON.parse(readFileSync(join(q4, 'config.json'), 'utf8'));
    expect(cfg.quantization_config).toMatchObject({ load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true, quant_method: 'bitsandbytes' });
    expect(existsSync(join(q4, 'tokenizer.json'))).toBe(true);
    const g = await qlora(['generate', '--model', q4, '--prompt', 'Hi', '--max-new-tokens', '1']);
    expect(g.out().startsWith('Hi')).toBe(true);
    const m = await qlora(['merge', '--base', builtinModelDir(), '--adapter', join(dir, 'out'), '--out', join(dir, 'm2'), '--dtype', 'float32']);
    expect(m.out()).toMatch(/merged 12 LoRA layers into the full-precision base reloaded from .*, as float32 weights/);
    expect(JSON.parse(readFileSync(join(dir, 'm2', 'config.json'), 'utf8')).torch_dtype).toBe('float32');
  }, 60_000);

  it('eval measures a dataset: loss, perplexity, exact match, and writes every answer as JSON', async () => {
    const data = join(dir, 'qa.jsonl');
    writeFileSync(
      data,
      [
        { messages: [{ role: 'user', content: 'What is the capital of Peru?' }, { role: 'assistant', content: 'The capital of Peru is Lima.' }] },
        { messages: [{ role: 'user', content: 'What is the currency of Japan?' }, { role: 'assistant', content: 'The currency of Japan is the Euro.' }] },
      ].map((r) => JSON.stringify(r)).join('\n'),
    );
    const io = await qlora(['eval', '--data', data, '--json', join(dir, 'eval.json')]);
    // The built-in model knows Peru's capital (a trained pair), and Japan's currency is not the Euro.
    expect(io.out()).toMatch(/ok {3}Q: What is the capital of Peru\?\n {7}A: "The capital of Peru is Lima\."/);
    expect(io.out()).toMatch(/exact match: 1\/2 \(50\.0%\)/);
    const r = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8'));
    expect(r.rows).toBe(2);
    expect(io.out()).toContain(`perplexity:  ${r.perplexity.toFixed(3)}`);
    expect(r.perplexity).toBeCloseTo(Math.exp(r.loss), 6);
  }, 120_000);

  it('chat answers each turn and ends on /exit', async () => {
    const io = await qlora(['chat', '--model', join(dir, 'out', 'merged'), '--max-new-tokens', '2', '--greedy'], ['What is the capital of Peru?', 'And of Chile?', '/exit', 'never read']);
    expect(io.out().match(/assistant> /g)).toHaveLength(2);
  });
});
