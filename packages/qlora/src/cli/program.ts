/**
 * The `qlora` command line, built with commander (which also writes every `--help`). Each
 * subcommand is a thin wrapper over a function in ../commands, so scripts can call the same code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createRequire } from 'node:module';
import { runChat, runEval, runGenerate, runInfo, runMerge, runQuantize, runTrainCommand } from '../commands';
import { MERGE_DTYPES, type MergeSaveDtype } from '../config';
import type { CliIO } from '../run/io';
import { launchMpi } from '../run/launch-mpi';

const version = (createRequire(import.meta.url)('@q/qlora/package.json') as { version: string }).version;

function int(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

function num(name: string, min: number, max = Infinity) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}]`);
    return n;
  };
}

/** Options shared by `generate` and `chat`. */
function withGenerationOptions(c: Command, defaultTokens: number): Command {
  return c
    .requiredOption('--model <dir>', 'model folder (config.json + safetensors), e.g. a merged model')
    .option('--adapter <dir>', 'LoRA adapter folder to apply on top (adapter_config.json + adapter_model.safetensors)')
    .option('--tokenizer <dir>', 'tokenizer folder (default: the model folder, else the adapter folder)')
    .option('--load-in-4bit', 'quantize the model to NF4 on load, as during QLoRA training')
    .option('--max-new-tokens <n>', 'tokens to generate at most', int('--max-new-tokens', 1), defaultTokens)
    .option('--temperature <t>', 'sampling temperature; 0 = greedy (default: the model\'s generation_config.json, else greedy)', num('--temperature', 0))
    .option('--top-p <p>', 'nucleus sampling: keep the smallest set of tokens with probability >= p', num('--top-p', 0, 1))
    .option('--top-k <k>', 'keep the k most likely tokens (0 = off)', int('--top-k', 0))
    .option('--repetition-penalty <x>', 'penalise tokens already in the text (> 1)', num('--repetition-penalty', 0))
    .option('--seed <n>', 'sampling seed (same seed, same text)', int('--seed', 0))
    .option('--greedy', 'always pick the most likely token')
    .option('--system <text>', 'a system message for the chat template');
}

/**
 * @example
 * ```ts
 * await buildProgram(processIO()).parseAsync(process.argv);
 * await buildProgram(io).parseAsync(['info'], { from: 'user' });
 * ```
 */
export function buildProgram(io: CliIO): Command {
  const program = new Command('qlora')
    .description('QLoRA fine-tuning of Hugging Face causal LMs on WebGPU: train, eval, merge, generate, chat, quantize')
    .version(version)
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true)
    // Throw CommanderError instead of exiting (src/cli.ts turns it into the exit code); set before
    // the subcommands are added, which copy these settings.
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) });

  program
    .command('train')
    .argument('[config]', 'training config (.json, .yaml or .yml); without one, the built-in demo runs')
    .description('fine-tune with QLoRA: load in 4-bit, add LoRA, SFT, save the adapter (and merge)')
    .option('--nproc <n>', 'data parallel: run N ranks under Open MPI\'s mpirun (same as: mpirun -np N qlora train config)', int('--nproc', 1))
    .option('--mpirun-args <args>', 'extra mpirun arguments, e.g. --mpirun-args="--host a:2,b:2" or "--oversubscribe"')
    .addHelpText(
      'after',
      `
Config sections (camelCase or Hugging Face snake_case keys):
  model                 model folder path, or { path, tokenizer, seed }; omitted = the built-in model (packages/qlora/builtin)
  quantization_config   BitsAndBytesConfig: load_in_4bit, bnb_4bit_quant_type (nf4|fp4), bnb_4bit_use_double_quant, bnb_4bit_compute_dtype
  lora                  LoraConfig: r, lora_alpha, lora_dropout, target_modules, bias, task_type, ...
  training              TrainingArguments + SFTConfig: output_dir, per_device_train_batch_size, learning_rate, max_steps, max_length, ...
  dataset               { path, split, text_field, test_size, seed, max_rows }; omitted = the built-in tour-guide chat set
  merge                 true, or { dtype: float16|bfloat16|float32, output_dir }: merge_and_unload after training
  preview               { questions, max_new_tokens }: answers to held-out questions before and after training
  eval                  true, or { path, before, exact_match, max_new_tokens, batch_size, max_rows }: loss, perplexity and
                        exact match on the held-out rows before and after training (on by default for the built-in model)

Example:
  qlora train                      # the built-in demo
  qlora train examples/train.yaml
  qlora train examples/train.yaml --nproc 2    # data parallel, 2 ranks (docs/scale-out.md)`,
    )
    .action(async (config: string | undefined, o: { nproc?: number; mpirunArgs?: string }) => {
      if (o.nproc !== undefined && o.nproc > 1) {
        const code = await launchMpi(io, { nproc: o.nproc, cli: process.argv[1]!, config, mpirunArgs: o.mpirunArgs });
        if (code !== 0) throw new CommanderError(code, 'qlora.mpirun', `mpirun exited with code ${code}`);
        return;
      }
      await runTrainCommand(io, config);
    });

  program
    .command('merge')
    .description('merge a LoRA adapter into its base model and save the result (merge_and_unload)')
    .requiredOption('--base <dir>', 'base model folder')
    .requiredOption('--adapter <dir>', 'LoRA adapter folder')
    .requiredOption('--out <dir>', 'folder for the merged model')
    .addOption(new Option('--dtype <dtype>', 'precision of the merged weights').choices(MERGE_DTYPES as string[]).default('float16'))
    .option('--tokenizer <dir>', 'tokenizer folder to copy (default: the base folder)')
    .option('--load-in-4bit', 'merge into the NF4-quantized base the adapter was trained on (dequantized), instead of the full-precision base')
    .action(async (o: { base: string; adapter: string; out: string; dtype: MergeSaveDtype; tokenizer?: string; loadIn4bit?: boolean }) => {
      await runMerge(io, o);
    });

  withGenerationOptions(program.command('generate'), 128)
    .description('generate a continuation of a prompt, streamed token by token')
    .requiredOption('--prompt <text>', 'the prompt')
    .option('--chat', 'wrap the prompt in the chat template as a user turn (default: raw text)')
    .action(async (o: Parameters<typeof runGenerate>[1]) => {
      await runGenerate(io, o);
    });

  withGenerationOptions(program.command('chat'), 256)
    .description('interactive multi-turn chat over stdin/stdout with the chat template (/reset, /exit or EOF)')
    .action(async (o: Parameters<typeof runChat>[1]) => {
      await runChat(io, o);
    });

  program
    .command('eval')
    .description('measure a model on a dataset: mean token loss, perplexity, exact match of greedy answers')
    .requiredOption('--data <file>', 'dataset file (JSONL, JSON, CSV, Parquet): chat rows (messages), prompt/completion rows, or text rows')
    .option('--model <dir>', 'model folder (default: the built-in model)')
    .option('--adapter <dir>', 'LoRA adapter folder to apply on top')
    .option('--tokenizer <dir>', 'tokenizer folder (default: the model folder)')
    .option('--load-in-4bit', 'quantize the model to NF4 on load, as during QLoRA training')
    .option('--max-rows <n>', 'measure the first N rows only', int('--max-rows', 1))
    .option('--max-new-tokens <n>', 'tokens per answer at most (never more than the reference\'s + 8)', int('--max-new-tokens', 1), 48)
    .option('--batch-size <n>', 'rows per forward pass and per generate() call', int('--batch-size', 1), 8)
    .option('--no-exact-match', 'loss and perplexity only (no generation)')
    .option('--text-field <name>', 'column of plain-text rows', 'text')
    .option('--show <n>', 'answers to print with their reference', int('--show', 0), 5)
    .option('--json <file>', 'write the result, every answer included, as JSON')
    .addHelpText(
      'after',
      `
Loss is taken where training takes it: assistant turns of chat rows, the completion of
prompt/completion rows, every token of text rows. Exact match: each chat row's last assistant
turn is cut off, the rest answered greedily, and the answer compared with it (whitespace trimmed).

Example:
  qlora eval --data tools/builtin-model/data/instruct-test.jsonl
  qlora eval --model out/merged --data test.jsonl --json results.json`,
    )
    .action(async (o: Parameters<typeof runEval>[1]) => {
      await runEval(io, o);
    });

  program
    .command('quantize')
    .description('write a pre-quantized bnb-4bit checkpoint of a model folder')
    .requiredOption('--model <dir>', 'model folder to quantize')
    .requiredOption('--out <dir>', 'folder for the 4-bit checkpoint')
    .addOption(new Option('--quant-type <type>', '4-bit data type').choices(['nf4', 'fp4']).default('nf4'))
    .option('--double-quant', 'quantize the absmax scales too (bnb_4bit_use_double_quant)', false)
    .option('--blocksize <n>', 'values per absmax block', int('--blocksize', 1))
    .action(async (o: Parameters<typeof runQuantize>[1]) => {
      await runQuantize(io, o);
    });

  program
    .command('info')
    .description('show the WebGPU adapter, features, limits and memory, and a LoRA adapter\'s config')
    .option('--adapter <dir>', 'LoRA adapter folder to describe')
    .action(async (o: { adapter?: string }) => {
      await runInfo(io, o);
    });

  return program;
}
