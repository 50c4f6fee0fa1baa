/**
 * The deliberate bugs of tools/mutate/run.mjs. Each flips one thing (in every file where the same
 * bug would have to be made, e.g. a kernel and its CPU reference together) and names the test files
 * that should catch it, relative to packages/<pkg>/. `find` must occur exactly once in its file.
 */
export const mutations = [
  {
    id: 'collate-pad-label',
    what: 'padding labelled with the pad id instead of -100',
    edits: [{ file: 'packages/sft/src/data/collate.ts', find: 'labels.push([...e.labels, ...new Array<number>(pad).fill(-100)]);', replace: 'labels.push([...e.labels, ...new Array<number>(pad).fill(padTokenId)]);' }],
    tests: { sft: ['test/data-path.test.ts', 'test/trl-golden.test.ts'] },
  },
  {
    id: 'collate-num-items',
    what: 'num_items_in_batch counts the first token (no shift)',
    edits: [{ file: 'packages/sft/src/data/collate.ts', find: 'for (let t = 1; t < n; t++) if (e.labels[t] !== -100) numItems++;', replace: 'for (let t = 0; t < n; t++) if (e.labels[t] !== -100) numItems++;' }],
    tests: { sft: ['test/data-path.test.ts', 'test/trl-golden.test.ts'] },
  },
  {
    id: 'completion-mask-boundary',
    what: 'completion-only loss also labels the last prompt token',
    edits: [{ file: 'packages/sft/src/data/tokenize-rows.ts', find: 'mask = [...p.map(() => 0), ...c.map(() => 1)];', replace: 'mask = [...p.map((_, k) => (k === p.length - 1 ? 1 : 0)), ...c.map(() => 1)];' }],
    tests: { sft: ['test/data-path.test.ts', 'test/trl-golden.test.ts'] },
  },
  {
    id: 'assistant-mask-boundary',
    what: 'assistant mask leaves out the last token of each span (the end-of-turn token)',
    edits: [{ file: 'packages/chat-template/src/token-mask.ts', find: 'for (let t = tokenAt.get(s)!; t < tokenAt.get(e)!; t++) mask[t] = 1;', replace: 'for (let t = tokenAt.get(s)!; t < tokenAt.get(e)! - 1; t++) mask[t] = 1;' },
      { file: 'packages/chat-template/src/token-mask.ts', find: 'spans.some(([s, e]) => a < e && b > s)', replace: 'spans.some(([s, e]) => a < e && b > s && b < e)' }],
    tests: { 'chat-template': ['src/assistant-masks.test.ts'], sft: ['test/data-path.test.ts', 'test/trl-golden.test.ts', 'test/trl-assistant-golden.test.ts'] },
  },
  {
    id: 'generation-span-end',
    what: "a {% generation %} block's span ends one character early (the newline after the end-of-turn token goes unlabelled)",
    edits: [{ file: 'packages/chat-template/src/generation-tags.ts', find: 'if (start !== undefined) spans.push([start, text.length]);', replace: 'if (start !== undefined) spans.push([start, text.length - 1]);' }],
    tests: { 'chat-template': ['src/assistant-masks.test.ts', 'src/golden.test.ts'], sft: ['test/trl-assistant-golden.test.ts'] },
  },
  {
    id: 'packing-boundary',
    what: 'wrapped packing drops the last token of every block (blocks overlap by one)',
    edits: [{ file: 'packages/sft/src/data/collate.ts', find: 'for (let s = 0; s < ids.length; s += maxLength) {', replace: 'for (let s = 0; s < ids.length; s += maxLength - 1) {' }],
    tests: { sft: ['test/data-path.test.ts', 'test/trl-golden.test.ts'] },
  },
  {
    id: 'bfd-position-ids',
    what: 'bfd packing: position ids run on across the samples of a block instead of restarting at 0',
    edits: [{ file: 'packages/sft/src/data/pack-bfd.ts', find: 'positionIds: ex.flatMap((e) => e.inputIds.map((_, t) => t)),', replace: 'positionIds: ex.flatMap((e) => e.inputIds).map((_, t) => t),' }],
    tests: { sft: ['src/data/pack-bfd.test.ts', 'test/trl-golden.test.ts'] },
  },
  {
    id: 'bfd-sample-start-label',
    what: "padding-free collate keeps the label of each sample's first token (trl masks labels where position_ids == 0)",
    edits: [{ file: 'packages/sft/src/data/collate.ts', find: '.map((l, t) => (positionIds[t] === 0 ? -100 : l));', replace: '.map((l, t) => (t === 0 ? -100 : l));' }],
    tests: { sft: ['src/data/pack-bfd.test.ts', 'test/trl-golden.test.ts'] },
  },
  {
    id: 'bfd-tie-break',
    what: 'bfd packing fills the block that reached a free space last (LIFO) instead of first, unlike trl',
    edits: [{ file: 'packages/sft/src/data/pack-bfd.ts', find: 'bin = queue.shift()!;', replace: 'bin = queue.pop()!;' }],
    tests: { sft: ['src/data/pack-bfd.test.ts'] },
  },
  {
    id: 'position-ids',
    what: 'position ids count padding (index instead of cumsum(mask) - 1)',
    edits: [{ file: 'packages/model/src/modules/batch.ts', find: 'positions[b * T + s - past] = m ? c - 1 : 1;', replace: 'positions[b * T + s - past] = s;' }],
    tests: { model: ['test/batch.test.ts'] },
  },
  {
    id: 'accumulation-normaliser',
    what: 'each micro-batch normalised by its own token count instead of the step total',
    edits: [{ file: 'packages/sft/src/trainer/sft-trainer.ts', find: 'lossNormalizer: Math.max(numItems!, 1) });', replace: 'lossNormalizer: Math.max(b.numItems, 1) });' }],
    tests: { sft: ['test/trl-golden.test.ts'] },
  },
  {
    id: 'rope-sign',
    what: 'RoPE rotates by -θ, in the kernel and in its CPU reference alike',
    edits: [
      { file: 'packages/core/src/ops/rope.ts', find: "let s = ${inverse ? '-' : ''}sn[p * ${half}u + j];", replace: "let s = ${inverse ? '' : '-'}sn[p * ${half}u + j];" },
      { file: 'packages/core/src/ops/rope.ts', find: 'const s = (inverse ? -1 : 1) * sin!.data[p * half + j]!;', replace: 'const s = (inverse ? 1 : -1) * sin!.data[p * half + j]!;' },
    ],
    tests: { core: ['test/ops-golden.test.ts'] },
  },
  {
    id: 'rmsnorm-eps',
    what: 'RMSNorm eps ten times too large, in the kernels and the CPU reference alike',
    edits: [
      { file: 'packages/core/src/ops/rmsnorm.ts', find: '[D, rows, eps],', replace: '[D, rows, eps * 10],', all: true },
      { file: 'packages/core/src/ops/rmsnorm.ts', find: 'const inv = 1 / Math.sqrt(ss / D + eps);', replace: 'const inv = 1 / Math.sqrt(ss / D + eps * 10);' },
    ],
    tests: { core: ['test/ops-golden.test.ts'] },
  },
  {
    id: 'softmax-no-max',
    what: 'softmax without subtracting the row max, in the kernel and the CPU reference alike',
    edits: [
      { file: 'packages/core/src/ops/softmax.ts', find: 'm = reduce_max(m, lid.x);', replace: 'm = 0.0;' },
      { file: 'packages/core/src/ops/softmax.ts', find: 'const m = Math.max(...row);', replace: 'const m = 0;' },
    ],
    tests: { core: ['test/ops-golden.test.ts'] },
  },
  {
    id: 'nf4-tie',
    what: 'NF4 rounds a value equal to the top threshold up (>= instead of >)',
    edits: [{ file: 'packages/nf4/src/codebooks.ts', find: 'if (x > N11) return x > N111 ? 0b1111 : 0b1110;', replace: 'if (x > N11) return x >= N111 ? 0b1111 : 0b1110;' }],
    tests: { nf4: ['src/golden.test.ts', 'src/codebooks.test.ts'] },
  },
  // NOTE: 'scale by 1/absmax in float64 instead of float32' is not listed: bitsandbytes builds with
  // --use_fast_math, so its reciprocal is rcp.approx, not an IEEE float32 1/absmax either; the two
  // differ only for values within an ulp of a threshold, which no golden can pin to one rule.
  {
    id: 'nf4-code-value',
    what: 'an NF4 code book value rounded to 6 digits',
    edits: [{ file: 'packages/nf4/src/codebooks.ts', find: '0.7229568362236023, 1.0,', replace: '0.722957, 1.0,' }],
    tests: { nf4: ['src/golden.test.ts'] },
  },
  {
    id: 'lora-scaling',
    what: 'LoRA scaling alpha / sqrt(r) without use_rslora',
    edits: [{ file: 'packages/lora/src/config/scaling.ts', find: 'return cfg.useRslora ? cfg.loraAlpha / Math.sqrt(r) : cfg.loraAlpha / r;', replace: 'return cfg.loraAlpha / Math.sqrt(r);' }],
    tests: { lora: ['test/golden.test.ts'] },
  },
  {
    id: 'adamw-decay-lr',
    what: 'AdamW weight decay not multiplied by the learning rate',
    edits: [{ file: 'packages/optim/src/adamw/adamw-kernel.ts', find: '1 - s.lr * s.weightDecay,', replace: '1 - s.weightDecay,' }],
    tests: { optim: ['test/adamw-golden.test.ts'] },
  },
  {
    id: 'warmup-off-by-one',
    what: 'linear warmup ramps (step + 1) / warmup',
    edits: [{ file: 'packages/optim/src/schedulers/lambdas.ts', find: 'return step / Math.max(1, warmup);', replace: 'return (step + 1) / Math.max(1, warmup);' }],
    tests: { optim: ['src/schedulers/lr-schedule.test.ts'] },
  },
  {
    id: 'merge-scaling',
    what: 'merge folds B·A in without the LoRA scaling',
    edits: [{ file: 'packages/merge/src/merge-lora.ts', find: 'for (const d of deltas) w = add(w, scale(matmul(d.b, d.a), d.scaling));', replace: 'for (const d of deltas) w = add(w, matmul(d.b, d.a));' }],
    tests: { merge: ['test/merge.test.ts', 'test/golden.test.ts'] },
  },
];
