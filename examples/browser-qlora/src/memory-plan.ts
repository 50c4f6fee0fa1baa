/**
 * The memory plan shown before training: what the model, the adapter, the optimizer and the
 * activations will take on the GPU, against what the adapter allows (its largest buffer and
 * binding) and the memory budget. Anything that cannot fit is refused with the numbers, before a
 * byte is uploaded.
 */
import type { Settings } from './settings';

export interface PlanRow {
  what: string;
  bytes: number;
}

export interface MemoryPlan {
  rows: PlanRow[];
  totalBytes: number;
  /** The largest single tensor, which must fit one buffer binding. */
  largest: { what: string; bytes: number };
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number; budgetBytes: number };
  /** Empty when it fits; otherwise why not, with the numbers. */
  refusals: string[];
}

interface Arch {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  tie_word_embeddings?: boolean;
}

const PROJ = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

/** [out, in] of each projection, as @q/model lays them out. */
function projShapes(a: Arch): Record<(typeof PROJ)[number], [number, number]> {
  const D = a.hidden_size;
  const hd = a.head_dim ?? D / a.num_attention_heads;
  const kv = (a.num_key_value_heads ?? a.num_attention_heads) * hd;
  const q = a.num_attention_heads * hd;
  const I = a.intermediate_size;
  return { q_proj: [q, D], k_proj: [kv, D], v_proj: [kv, D], o_proj: [D, q], gate_proj: [I, D], up_proj: [I, D], down_proj: [D, I] };
}

export const GiB = 2 ** 30;
export const fmtBytes = (b: number) => (b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

/**
 * @example
 * ```ts
 * const plan = planMemory(configJson, SEED_SETTINGS, device.limits);
 * if (plan.refusals.length) throw new Error(plan.refusals.join('\n'));
 * ```
 */
export function planMemory(config: Record<string, unknown>, s: Settings, limits: { maxBufferSize: number; maxStorageBufferBindingSize: number }): MemoryPlan {
  const a = config as unknown as Arch;
  const D = a.hidden_size;
  const L = a.num_hidden_layers;
  const shapes = projShapes(a);
  let projParams = 0;
  for (const p of PROJ) projParams += shapes[p][0] * shapes[p][1];
  projParams *= L;
  // NF4: half a byte per weight, a u8 absmax per 64 weights with double quantization (an f32 one without).
  const projBytes = s.loadIn4bit ? projParams / 2 + (projParams / 64) * (s.doubleQuant ? 1 : 4) : projParams * 4;
  const embedBytes = a.vocab_size * D * 4;
  const headBytes = a.tie_word_embeddings ? 0 : embedBytes;
  let loraParams = 0;
  for (const p of s.targetModules) {
    const sh = shapes[p as (typeof PROJ)[number]];
    if (sh) loraParams += s.r * (sh[0] + sh[1]) * L;
  }
  const tokens = s.perDeviceTrainBatchSize * s.maxLength;
  // Per decoder layer in training: the residual stream, norms, q/k/v/o, MLP intermediates and
  // attention probabilities (heads × T × T per row), f32.
  const perLayer = tokens * (8 * D + 3 * a.intermediate_size) * 4 + s.perDeviceTrainBatchSize * a.num_attention_heads * s.maxLength * s.maxLength * 4;
  // The lm_head and cross-entropy run in chunks of at most 256 MiB of logits.
  const logitsChunk = Math.min(tokens * a.vocab_size * 4, 256 * 2 ** 20);
  const rows: PlanRow[] = [
    { what: `decoder projections (${(projParams / 1e6).toFixed(1)}M weights${s.loadIn4bit ? `, 4-bit ${s.quantType}` : ', f32'})`, bytes: projBytes },
    { what: `embeddings${headBytes ? ' and lm_head' : ' (tied lm_head)'} (f32)`, bytes: embedBytes + headBytes },
    { what: `LoRA r=${s.r} on ${s.targetModules.join(', ')}: ${(loraParams / 1e6).toFixed(2)}M weights, gradients and AdamW moments (f32)`, bytes: loraParams * 16 },
    { what: `activations of one layer at ${s.perDeviceTrainBatchSize}×${s.maxLength} tokens (the others recomputed)`, bytes: perLayer + tokens * D * 4 * L },
    { what: 'lm_head logits, one chunk', bytes: logitsChunk },
  ];
  const totalBytes = rows.reduce((t, r) => t + r.bytes, 0);
  const largest = { what: 'model.embed_tokens.weight', bytes: embedBytes };
  const budgetBytes = s.memoryBudgetGiB * GiB;
  const refusals: string[] = [];
  if (largest.bytes > limits.maxStorageBufferBindingSize) {
    refusals.push(`${largest.what} needs ${fmtBytes(largest.bytes)} in one binding; this adapter binds at most ${fmtBytes(limits.maxStorageBufferBindingSize)} (maxStorageBufferBindingSize)`);
  }
  if (largest.bytes > limits.maxBufferSize) refusals.push(`${largest.what} needs ${fmtBytes(largest.bytes)}; this adapter's largest buffer is ${fmtBytes(limits.maxBufferSize)} (maxBufferSize)`);
  if (totalBytes > budgetBytes) refusals.push(`training needs about ${fmtBytes(totalBytes)}, over the ${fmtBytes(budgetBytes)} memory budget: lower the batch, max length or r, or raise the budget if the GPU has more`);
  return { rows, totalBytes, largest, limits: { ...limits, budgetBytes }, refusals };
}
