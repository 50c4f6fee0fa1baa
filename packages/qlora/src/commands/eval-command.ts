/**
 * `qlora eval`: loss, perplexity and exact match of a model (optionally with a LoRA adapter) over
 * a dataset file, as ../run/evaluate.ts defines them. With no --model, the built-in model.
 */
import { writeFile } from 'node:fs/promises';
import { loadAdapter } from '@q/lora';
import { QLORA_BNB_CONFIG } from '@q/nf4';
import { loadDataset, terminalProgress } from '@q/sft';
import { builtinModelDir } from '../builtin';
import { evaluateModel, type EvalResult } from '../run/evaluate';
import { note, say, type CliIO } from '../run/io';
import { loadModel } from '../run/load-model';

export interface EvalCommandOptions {
  /** Model folder; default the built-in model. */
  model?: string;
  adapter?: string;
  tokenizer?: string;
  /** Dataset file(s): JSONL/JSON/CSV/Parquet with `messages`, `prompt`/`completion` or text rows. */
  data: string;
  loadIn4bit?: boolean;
  maxRows?: number;
  maxNewTokens?: number;
  batchSize?: number;
  /** Skip the greedy answers (loss and perplexity only). */
  exactMatch?: boolean;
  /** Show this many answers with their reference. Default 5. */
  show?: number;
  /** Write the result (with every answer) as JSON here. */
  json?: string;
  textField?: string;
}

export async function runEval(io: CliIO, o: EvalCommandOptions): Promise<EvalResult> {
  let rows = [...(await loadDataset(o.data, { split: 'train' }))];
  if (o.maxRows !== undefined) rows = rows.slice(0, o.maxRows);
  const loaded = await loadModel(io, {
    path: o.model ?? builtinModelDir(),
    tokenizer: o.tokenizer ?? null,
    quantizationConfig: o.loadIn4bit ? { ...QLORA_BNB_CONFIG, bnb4bitComputeDtype: 'float32' } : null,
  });
  let release = () => loaded.model.release();
  try {
    let model: Parameters<typeof evaluateModel>[0] = loaded.model;
    if (o.adapter) {
      const peft = await loadAdapter(loaded.model, o.adapter);
      release = () => peft.release();
      model = peft;
      note(io, `adapter: ${o.adapter} (${peft.layers.size} LoRA layers, r=${peft.peftConfig.r})`);
    }
    const bar = terminalProgress(io.stderr, 'answer');
    const r = await evaluateModel(model, loaded.tokenizer, rows, {
      exactMatch: o.exactMatch ?? true,
      maxNewTokens: o.maxNewTokens ?? 48,
      batchSize: o.batchSize ?? 8,
      textField: o.textField,
      onAnswer: (d, t) => bar.update(d, t, {}),
    });
    bar.done();
    for (const s of r.samples.slice(0, o.show ?? 5)) say(io, `  ${s.correct ? 'ok  ' : 'miss'} Q: ${s.question}\n       A: ${JSON.stringify(s.answer)}${s.correct ? '' : `  (reference: ${JSON.stringify(s.reference)})`}`);
    say(io, `rows:        ${r.rows}`);
    say(io, `loss:        ${r.loss.toFixed(4)} (mean over ${r.lossTokens} tokens)`);
    say(io, `perplexity:  ${r.perplexity.toFixed(3)}`);
    if (r.exactMatch !== null) say(io, `exact match: ${r.samples.filter((s) => s.correct).length}/${r.samples.length} (${(100 * r.exactMatch).toFixed(1)}%)`);
    if (o.json) await writeFile(o.json, `${JSON.stringify(r, null, 2)}\n`);
    return r;
  } finally {
    release();
  }
}
