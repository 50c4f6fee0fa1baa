/**
 * The seed's recipe as the page runs it, in one place so that the worker and the Node test that
 * checks it (same seed, same data → the same adapter) run exactly the same steps:
 * dataset → shuffle → held-out split; model in 4-bit + tokenizer; prepare + LoRA; SFTTrainer.
 */
import { AutoModelForCausalLM, AutoTokenizer, type CausalLM, type PipelineChatMessage } from '@q/model';
import { getPeftModel, prepareModelForKbitTraining, type PeftModel } from '@q/lora';
import { loadDataset, SFTTrainer, type Dataset, type SFTTrainerOptions } from '@q/sft';
import { heldOutQuestions } from './chat';
import { loraConfig, quantizationConfig, trainingArgs, type Settings } from './settings';

export interface LoadedRun {
  tok: AutoTokenizer;
  model: CausalLM;
  train: Dataset;
  test: Dataset | null;
  questions: { messages: PipelineChatMessage[]; reference: string }[];
}

export async function loadRun(modelDir: string, datasetFile: string, s: Settings, onProgress?: (done: number, total: number) => void): Promise<LoadedRun> {
  const ds = (await loadDataset(datasetFile, { split: 'train' })).shuffle({ seed: s.seed });
  const { train, test } = s.testSize > 0 ? ds.trainTestSplit({ testSize: s.testSize, seed: s.seed }) : { train: ds, test: null };
  const tok = await AutoTokenizer.fromPretrained(modelDir);
  const model = await AutoModelForCausalLM.fromPretrained(modelDir, { quantizationConfig: quantizationConfig(s), onProgress });
  return { tok, model, train, test, questions: test ? heldOutQuestions(test, s.questions) : [] };
}

export function makeTrainer(run: LoadedRun, s: Settings, outputDir: string, extra: Partial<Pick<SFTTrainerOptions, 'progress' | 'onLog' | 'callbacks' | 'warn'>> = {}): { peft: PeftModel; trainer: SFTTrainer } {
  const base = s.loadIn4bit ? prepareModelForKbitTraining(run.model, { useGradientCheckpointing: true }) : run.model;
  const peft = getPeftModel(base, loraConfig(s), { seed: s.seed });
  const trainer = new SFTTrainer({
    model: peft,
    tokenizer: run.tok,
    trainDataset: run.train,
    evalDataset: run.test ?? undefined,
    args: { ...trainingArgs(s, outputDir), evalStrategy: run.test ? 'steps' : 'no', evalSteps: Math.max(1, s.saveSteps) },
    progress: extra.progress ?? false,
    onLog: extra.onLog,
    callbacks: extra.callbacks,
    warn: extra.warn ?? (() => undefined),
  });
  return { peft, trainer };
}
