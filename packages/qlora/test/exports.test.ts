import { describe, expect, it } from 'vitest';
import * as q from '../src';
import * as core from '@q/core';
import * as model from '@q/model';
import * as nf4 from '@q/nf4';
import * as chatTemplate from '@q/chat-template';
import * as lora from '@q/lora';
import * as optim from '@q/optim';
import * as sft from '@q/sft';
import * as merge from '@q/merge';

describe('@q/qlora re-exports the pipeline', () => {
  it('has the seed tutorial in one import', () => {
    const names = [
      'getDevice', 'tensor', 'matmul', // @q/core
      'QLORA_BNB_CONFIG', 'validateBitsAndBytesConfig', 'quantizeNF4', // @q/nf4
      'AutoModelForCausalLM', 'AutoTokenizer', 'generate', 'pipeline', 'savePretrained', 'saveQuantizedPretrained', 'loadGenerationConfig', // @q/model
      'applyChatTemplate', 'renderChatTemplate', // @q/chat-template
      'getPeftModel', 'prepareModelForKbitTraining', 'saveAdapter', 'loadAdapter', 'validateLoraConfig', // @q/lora
      'AdamW', 'lrSchedule', // @q/optim
      'SFTTrainer', 'loadDataset', 'validateSftConfig', // @q/sft
      'mergeAndUnload', 'saveMerged', // @q/merge
      'parseTrainConfig', 'buildProgram', 'builtinModel', 'runTrain', // @q/qlora
    ];
    for (const n of names) expect(q, n).toHaveProperty(n);
  });

  it('drops no export: a name two packages both export must be re-exported by name', () => {
    // `export *` silently leaves out a name two star exports give different values: catch it here.
    const packages = { core, nf4, model, chatTemplate, lora, optim, sft, merge };
    const missing = Object.entries(packages).flatMap(([p, m]) => Object.keys(m).filter((n) => !(n in q)).map((n) => `${p}.${n}`));
    expect(missing).toEqual([]);
  });

  it('resolves the one name two packages give different things', () => {
    expect(q.softmax).toBe(core.softmax);
    expect(q.softmaxLogits).toBe(model.softmax);
  });
});
