import { describe, expect, it } from 'vitest';
import { ConfigError, FormatError } from '@q/core';
import { parseConfigText, parseTrainConfig, splitSections } from '../src/config';
import { BUILTIN_OUTPUT_DIR } from '../src/builtin';

const quiet = { warn: () => {} };

const snake = {
  model: 'models/Qwen2.5-0.5B-Instruct',
  quantization_config: { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_compute_dtype: 'float16', bnb_4bit_use_double_quant: true },
  lora: { lora_alpha: 32, lora_dropout: 0.1, r: 64, bias: 'none', task_type: 'CAUSAL_LM', target_modules: ['k_proj', 'v_proj', 'q_proj'] },
  training: {
    output_dir: './results', per_device_train_batch_size: 2, gradient_accumulation_steps: 4, optim: 'adamw_torch',
    learning_rate: 2e-4, lr_scheduler_type: 'cosine', num_train_epochs: 1, logging_steps: 10, fp16: true,
    gradient_checkpointing: true, max_seq_length: 512,
  },
  dataset: { data_files: 'chat.jsonl', test_size: 0.1, dataset_text_field: 'text' },
};

const camel = {
  model: { path: 'models/Qwen2.5-0.5B-Instruct' },
  quantizationConfig: { loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitComputeDtype: 'float16', bnb4bitUseDoubleQuant: true },
  lora: { loraAlpha: 32, loraDropout: 0.1, r: 64, bias: 'none', taskType: 'CAUSAL_LM', targetModules: ['k_proj', 'v_proj', 'q_proj'] },
  training: {
    outputDir: './results', perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 4, optim: 'adamw_torch',
    learningRate: 2e-4, lrSchedulerType: 'cosine', numTrainEpochs: 1, loggingSteps: 10, fp16: true,
    gradientCheckpointing: true, maxLength: 512,
  },
  dataset: { path: 'chat.jsonl', testSize: 0.1, textField: 'text' },
};

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseTrainConfig', () => {
  it('reads the seed tutorial in snake_case and in camelCase to the same config', () => {
    const a = parseTrainConfig(snake, quiet);
    const b = parseTrainConfig(camel, quiet);
    expect(a).toEqual(b);
    expect(a.builtin).toBe(false);
    expect(a.quantizationConfig).toMatchObject({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true });
    expect(a.lora).toMatchObject({ r: 64, loraAlpha: 32, loraDropout: 0.1, targetModules: ['k_proj', 'v_proj', 'q_proj'] });
    expect(a.training).toMatchObject({ outputDir: './results', gradientAccumulationSteps: 4, learningRate: 2e-4, maxLength: 512, fp16: true, bf16: false });
    expect(a.dataset).toMatchObject({ path: 'chat.jsonl', testSize: 0.1, textField: 'text' });
    expect(a.merge.enabled).toBe(false);
  });

  it('section aliases of the Python stack (bnb_config, peft_config, args)', () => {
    const c = parseTrainConfig({ model: 'm', bnb_config: { load_in_4bit: true }, peft_config: { r: 4 }, args: { max_steps: 3 } }, quiet);
    expect(c.quantizationConfig?.loadIn4bit).toBe(true);
    expect(c.lora.r).toBe(4);
    expect(c.training.maxSteps).toBe(3);
  });

  it('rejects an unknown top-level section with a suggestion', () => {
    expect(() => parseTrainConfig({ quantisation_config: {} }, quiet)).toThrow(ConfigError);
    expect(message(() => parseTrainConfig({ quantisation_config: {} }, quiet))).toMatch(/"quantisation_config".*did you mean "quantizationConfig"/);
    expect(message(() => parseTrainConfig({ lora_confg: {} }, quiet))).toMatch(/did you mean "lora"/);
    expect(message(() => parseTrainConfig({ zzz: 1 }, quiet))).toMatch(/known fields are model, quantizationConfig, lora, training, dataset, merge, preview, eval/);
  });

  it('names the section and the field of a bad value, with the allowed values', () => {
    expect(message(() => parseTrainConfig({ lora: { lora_alpah: 16 } }, quiet))).toMatch(/\[lora\].*"lora_alpah".*did you mean "loraAlpha"/);
    expect(message(() => parseTrainConfig({ quantization_config: { load_in_4bit: true, bnb_4bit_quant_type: 'int4' } }, quiet))).toMatch(/\[quantization_config\].*bnb4bitQuantType|bnb_4bit_quant_type/);
    expect(message(() => parseTrainConfig({ training: { lr_scheduler_type: 'cosinus' } }, quiet))).toMatch(/\[training\].*lrSchedulerType.*cosine/);
    expect(message(() => parseTrainConfig({ training: { learnin_rate: 1e-3 } }, quiet))).toMatch(/did you mean "learningRate"/);
    expect(message(() => parseTrainConfig({ dataset: { test_size: 1.5 } }, quiet))).toMatch(/\[dataset\].*testSize/);
    expect(message(() => parseTrainConfig({ merge: { dtype: 'int8' } }, quiet))).toMatch(/\[merge\].*"dtype".*float16.*bfloat16.*float32/);
  });

  it('a column named twice must agree', () => {
    expect(message(() => parseTrainConfig({ model: 'm', dataset: { path: 'a.jsonl', text_field: 'a' }, training: { dataset_text_field: 'b' } }, quiet))).toMatch(/text_field/);
    expect(parseTrainConfig({ model: 'm', dataset: { path: 'a.jsonl', text_field: 'a' } }, quiet).training.datasetTextField).toBe('a');
  });

  it('without a model: the built-in demo settings, each overridable in either spelling', () => {
    const d = parseTrainConfig({}, quiet);
    expect(d.builtin).toBe(true);
    expect(d.quantizationConfig).toMatchObject({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true });
    expect(d.lora).toMatchObject({ r: 16, targetModules: ['v_proj', 'o_proj', 'down_proj'] });
    expect(d.training.outputDir).toBe(BUILTIN_OUTPUT_DIR);
    expect(d.dataset.testSize).toBe(16);
    expect(d.merge.enabled).toBe(false);
    // The eval section is on for the built-in model: held-out exact match before and after.
    expect(d.eval).toMatchObject({ enabled: true, before: true, exactMatch: true, batchSize: 16 });
    const o = parseTrainConfig({ training: { max_steps: 2, output_dir: 'x' }, lora: { lora_alpha: 8 }, quantization_config: { bnb_4bit_quant_type: 'fp4' }, dataset: { test_size: 4 } }, quiet);
    expect(o.training).toMatchObject({ maxSteps: 2, outputDir: 'x', learningRate: 3e-3 });
    expect(o.lora).toMatchObject({ r: 16, loraAlpha: 8 });
    expect(o.quantizationConfig?.bnb4bitQuantType).toBe('fp4');
    expect(o.dataset.testSize).toBe(4);
  });

  it('the eval section: off for a named model unless given, validated field by field', () => {
    expect(parseTrainConfig({ model: 'm' }, quiet).eval.enabled).toBe(false);
    expect(parseTrainConfig({ model: 'm', eval: true }, quiet).eval).toMatchObject({ enabled: true, maxNewTokens: 48, path: null });
    expect(parseTrainConfig({ model: 'm', eval: { path: 'test.jsonl', exact_match: false, max_rows: 50 } }, quiet).eval).toMatchObject({ enabled: true, path: 'test.jsonl', exactMatch: false, maxRows: 50 });
    expect(parseTrainConfig({ eval: false }, quiet).eval.enabled).toBe(false);
    expect(message(() => parseTrainConfig({ eval: { max_new_tokens: 0 } }, quiet))).toMatch(/\[eval\].*maxNewTokens/);
    expect(message(() => parseTrainConfig({ eval: { exact_macth: true } }, quiet))).toMatch(/exactMatch/);
  });

  it('splitSections keeps section names camelCase', () => {
    expect(splitSections({ sft_config: {}, lora: {} })).toEqual({ training: {}, lora: {} });
  });
});

describe('config files', () => {
  it('parses YAML by extension, with the same result as JSON', () => {
    const yaml = `
model: models/Qwen2.5-0.5B-Instruct
quantization_config:
  load_in_4bit: true
  bnb_4bit_quant_type: nf4
  bnb_4bit_compute_dtype: float16
  bnb_4bit_use_double_quant: true
lora:
  lora_alpha: 32
  lora_dropout: 0.1
  r: 64
  bias: none
  task_type: CAUSAL_LM
  target_modules: [k_proj, v_proj, q_proj]
training:
  output_dir: ./results
  per_device_train_batch_size: 2
  gradient_accumulation_steps: 4
  optim: adamw_torch
  learning_rate: 2.0e-4
  lr_scheduler_type: cosine
  num_train_epochs: 1
  logging_steps: 10
  fp16: true
  gradient_checkpointing: true
  max_seq_length: 512
dataset:
  data_files: chat.jsonl
  test_size: 0.1
  dataset_text_field: text
`;
    const fromYaml = parseTrainConfig(parseConfigText(yaml, 'train.yaml'), quiet);
    expect(fromYaml).toEqual(parseTrainConfig(parseConfigText(JSON.stringify(snake), 'train.json'), quiet));
  });

  it('syntax errors name the file and the line', () => {
    expect(() => parseConfigText('lora:\n  r: [1, 2\n', 'bad.yml')).toThrow(FormatError);
    expect(message(() => parseConfigText('lora:\n  r: [1, 2\n', 'bad.yml'))).toMatch(/bad\.yml.*line \d+/);
    expect(message(() => parseConfigText('{"lora": }', 'bad.json'))).toMatch(/bad\.json.*JSON/);
  });
});
