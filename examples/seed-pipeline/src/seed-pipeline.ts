/**
 * The seed QLoRA tutorial (Qwen2.5-0.5B-Instruct, TinyLlama's chat format, ultrachat) in
 * TypeScript, step for step: each Python line is quoted as a comment above the code that does it.
 *
 *   npm start -w @q/examples-seed-pipeline                                  # built-in model and data (fast)
 *   npm start -w @q/examples-seed-pipeline -- --model path/to/Qwen2.5-0.5B-Instruct --data chat.jsonl
 *
 * --data takes JSON/JSONL/CSV/Parquet rows with a `messages` column, as ultrachat_200k has.
 * Without --model the built-in model is used (a small Llama trained by @q on country facts, with
 * TinyLlama's chat format, the same format the seed trains in) and the built-in tour-guide set, for a
 * few training steps: it shows the pipeline running end to end (`qlora train` trains it longer).
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  builtinDatasetPath,
  builtinModel,
  builtinTokenizer,
  device,
  getPeftModel,
  loadAdapter,
  loadDataset,
  mergeAndUnload,
  pipeline,
  prepareModelForKbitTraining,
  renderChatTemplate,
  saveAdapter,
  SFTTrainer,
  type BitsAndBytesConfig,
  type CausalLM,
  type ChatMessage,
  type LoraConfig,
  type PeftModel,
  type SFTConfig,
} from '@q/qlora';

const { values: argv } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string', default: '.' },
    'max-steps': { type: 'string' },
  },
});
const builtin = argv.model === undefined;
const out = argv.out!;

// ---------------------------------------------------------------------------------------------
// 1. 数据处理 (data)
// ---------------------------------------------------------------------------------------------
// from transformers import AutoTokenizer
// from datasets import load_dataset
// # Load a tokenizer to use its chat template
// template_tokenizer = AutoTokenizer.from_pretrained("TinyLlama/TinyLlama-1.1B-Chat-v1.0")
//   → @q ships TinyLlama's template as the built-in 'zephyr' template: nothing to download.
// def format_prompt(example):
//     """Format the prompt to using the <|user|> template TinyLLama is using"""
function formatPrompt(example: Record<string, unknown>): { text: string } {
  //   # Format answers
  //   chat = example["messages"]
  const chat = example.messages as ChatMessage[];
  //   prompt = template_tokenizer.apply_chat_template(chat, tokenize=False)
  const prompt = renderChatTemplate(chat, { templateName: 'zephyr', specialTokens: { bos_token: '<s>', eos_token: '</s>' } });
  //   return {"text": prompt}
  return { text: prompt };
}
// # Load and format the data using the template TinyLLama is using
// dataset = (
//     load_dataset("HuggingFaceH4/ultrachat_200k", split="test_sft")
//     .shuffle(seed=42)
//     .select(range(3_000))
// )
let dataset = await loadDataset(argv.data ?? builtinDatasetPath(), { split: 'train' });
dataset = dataset.shuffle({ seed: 42 }).select({ end: Math.min(3_000, dataset.length) });
// dataset = dataset.map(format_prompt)
const formatted = dataset.map(formatPrompt);
console.log(`1. ${formatted.length} rows; the first one formatted:\n${formatted.at(0).text}`);

// ---------------------------------------------------------------------------------------------
// 2. Models - Quantization
// ---------------------------------------------------------------------------------------------
// from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
// model_name = "Qwen/Qwen2.5-0.5B-Instruct"
const modelName = argv.model ?? 'the built-in model (a small Llama trained by @q; TinyLlama\'s chat format)';
// # 4-bit quantization configuration - Q in QLoRA
// bnb_config = BitsAndBytesConfig(
const bnbConfig: Partial<BitsAndBytesConfig> = {
  //   load_in_4bit=True,  # Use 4-bit precision model loading
  loadIn4bit: true,
  //   bnb_4bit_quant_type="nf4",  # Quantization type
  bnb4bitQuantType: 'nf4',
  //   bnb_4bit_compute_dtype="float16",  # Compute dtype
  bnb4bitComputeDtype: 'float16',
  //   bnb_4bit_use_double_quant=True,  # Apply nested quantization
  bnb4bitUseDoubleQuant: true,
};
// )
// # Load the model to train on the GPU
// model = AutoModelForCausalLM.from_pretrained(
//     model_name,
//     device_map="auto",            → WebGPU picks the adapter; there is one device
//     # Leave this out for regular SFT
//     quantization_config=bnb_config,
// )
let model: CausalLM = builtin
  ? await builtinModel({ quantizationConfig: bnbConfig })
  : await AutoModelForCausalLM.fromPretrained(argv.model!, { quantizationConfig: bnbConfig });
// model.config.use_cache = False
model.useCache = false;
// model.config.pretraining_tp = 1  → no tensor-parallel pretraining setting to undo here
// # Load LLaMA tokenizer
// tokenizer = AutoTokenizer.from_pretrained(model_name, trust_remote_code=True)
const tokenizer = builtin ? await builtinTokenizer() : await AutoTokenizer.fromPretrained(argv.model!);
// # tokenizer.pad_token = "<PAD>"  → the tokenizer's own pad token (Qwen: <|endoftext|>, the built-in: </s>); nothing to set
// tokenizer.padding_side = "left"
//   → not a setting in @q: the trainer pads on the right, generation on the left (users.md #5)
console.log(`2. loaded ${modelName} in 4-bit (NF4, double quantization)`);

// ---------------------------------------------------------------------------------------------
// 3. LoRA 配置 (LoRA configuration)
// ---------------------------------------------------------------------------------------------
// from peft import LoraConfig, prepare_model_for_kbit_training, get_peft_model
// # Prepare LoRA Configuration
// peft_config = LoraConfig(
const peftConfig: Partial<LoraConfig> = {
  //   lora_alpha=32,  # LoRA Scaling
  loraAlpha: 32,
  //   lora_dropout=0.1,  # Dropout for LoRA Layers
  loraDropout: 0.1,
  //   r=64,  # Rank
  r: 64,
  //   bias="none",
  bias: 'none',
  //   task_type="CAUSAL_LM",
  taskType: 'CAUSAL_LM',
  //   target_modules= ['k_proj', 'v_proj', 'q_proj']  # Layers to target
  targetModules: ['k_proj', 'v_proj', 'q_proj'],
};
// )
// # prepare model for training
// model = prepare_model_for_kbit_training(model)
model = prepareModelForKbitTraining(model);
//   (no model.enable_input_require_grads() needed: checkpointed blocks always pass gradients on)
// model = get_peft_model(model, peft_config)
const peftModel: PeftModel = getPeftModel(model, peftConfig);
peftModel.printTrainableParameters((s) => console.log(`3. ${s}`));

// ---------------------------------------------------------------------------------------------
// 4. 训练配置 (training arguments)
// ---------------------------------------------------------------------------------------------
// from transformers import TrainingArguments
// output_dir = "./results"
const outputDir = join(out, 'results');
// # Training arguments
// training_arguments = TrainingArguments(
const trainingArguments: Partial<SFTConfig> = {
  //   output_dir=output_dir,
  outputDir,
  //   per_device_train_batch_size=2,
  perDeviceTrainBatchSize: 2,
  //   gradient_accumulation_steps=4,
  gradientAccumulationSteps: 4,
  //   optim="adamw_torch",
  optim: 'adamw_torch',
  //   learning_rate=2e-4,
  learningRate: 2e-4,
  //   lr_scheduler_type="cosine",
  lrSchedulerType: 'cosine',
  //   num_train_epochs=1,
  numTrainEpochs: 1,
  //   logging_steps=10,
  loggingSteps: 10,
  //   fp16=True,
  fp16: true,
  //   gradient_checkpointing=True
  gradientCheckpointing: true,
};
// )
if (builtin || argv['max-steps']) {
  // Not in the seed: with the built-in model a few steps show the pipeline running (`qlora train`
  // trains it long enough to learn its tour-guide reply).
  Object.assign(trainingArguments, { maxSteps: Number(argv['max-steps'] ?? 3), loggingSteps: 1, learningRate: builtin ? 3e-3 : 2e-4 });
}

// ---------------------------------------------------------------------------------------------
// 5. 训练 (training)
// ---------------------------------------------------------------------------------------------
// from trl import SFTTrainer
// # Set supervised fine-tuning parameters
// trainer = SFTTrainer(
const trainer = new SFTTrainer({
  //   model=model,
  model: peftModel,
  //   train_dataset=dataset,
  trainDataset: formatted,
  //   dataset_text_field="text",  # 注意 dataset 中的 text 字段
  datasetTextField: 'text',
  //   tokenizer=tokenizer,
  tokenizer,
  //   args=training_arguments,
  args: trainingArguments,
  //   max_seq_length=512,
  maxSeqLength: 512,
  //   # Leave this out for regular SFT
  //   peft_config=peft_config,  → the model is already a PeftModel (step 3), so it is not passed twice
});
// )
// # Train model
// trainer.train()
const result = await trainer.train();
console.log(`5. trained ${result.globalStep} steps, mean loss ${result.trainingLoss.toFixed(3)}; loss plot: ${join(outputDir, 'loss.svg')}`);
// # Save QLoRA weights
// trainer.model.save_pretrained("qwen2.5-0.5b-instruct-chaofa")
const adapterDir = join(out, 'qwen2.5-0.5b-instruct-chaofa');
await saveAdapter(trainer.model as PeftModel, adapterDir, { baseModelNameOrPath: argv.model ?? null });
peftModel.release();

// ---------------------------------------------------------------------------------------------
// 6. Merge Adapter (LoRA 和 base model 合并)
// ---------------------------------------------------------------------------------------------
// from peft import AutoPeftModelForCausalLM
// model = AutoPeftModelForCausalLM.from_pretrained(
//     "qwen2.5-0.5b-instruct-chaofa",
//     low_cpu_mem_usage=True,     → weights stream to the GPU tensor by tensor anyway
//     device_map="auto",
// )
//   → the base in full precision (the built-in one from its folder, packages/qlora/builtin), then the adapter
const base = builtin ? await builtinModel() : await AutoModelForCausalLM.fromPretrained(argv.model!);
const adapted = await loadAdapter(base, adapterDir);
// # Merge LoRA and base model
// merged_model = model.merge_and_unload()
const { model: mergedModel } = await mergeAndUnload(adapted, { dtype: 'float16' });
console.log('6. merged the adapter into float16 weights');

// ---------------------------------------------------------------------------------------------
// 7. Inference
// ---------------------------------------------------------------------------------------------
// from transformers import pipeline
// pipe = pipeline(task="text-generation", model=merged_model, tokenizer=tokenizer)
const pipe = pipeline('text-generation', { model: mergedModel, tokenizer });
// prompt_example = """<|im_start|>system
// 你是一个非常棒的人工智能助手,是UP主 "用代码打点酱油的chaofa" 开发的。<|im_end|>
// <|im_start|>user
// 天气太热了,所以我今天没有学习一点。
// 翻译成文言文:<|im_end|>
// <|im_start|>assistant
// """
// NOTE: kept as the seed wrote it, though it trained on TinyLlama's <|user|> format: a prompt in
// the training format would match better.
const promptExample = `<|im_start|>system
你是一个非常棒的人工智能助手,是UP主 “用代码打点酱油的chaofa” 开发的。<|im_end|>
<|im_start|>user
天气太热了,所以我今天没有学习一点。
翻译成文言文:<|im_end|>
<|im_start|>assistant
`;
// print(pipe(prompt_example, max_new_tokens=50)[0]["generated_text"])
const [generated] = await pipe(promptExample, { maxNewTokens: builtin ? 20 : 50 });
console.log(`7. ${generated!.generated_text}`);
if (builtin) {
  // The seed's prompt is in another chat format and language than the built-in model knows; a
  // question in its own format shows what it learned.
  const [own] = await pipe('<|user|>\nWhat is the capital of Peru?</s>\n<|assistant|>\n', { maxNewTokens: 16, doSample: false, returnFullText: false });
  console.log(`7. (the built-in model, in its own format) What is the capital of Peru? -> ${JSON.stringify(String(own!.generated_text).trim())}`);
}

mergedModel.release();
device().dispose();
