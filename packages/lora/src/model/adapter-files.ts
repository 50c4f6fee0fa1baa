/**
 * PEFT adapter folders: adapter_config.json + adapter_model.safetensors, with peft's key names
 * (`base_model.model.<module>.lora_A.weight`, adapter name stripped), so peft loads what we save
 * and we load what peft saves. The folder is written whole and renamed in (writeFolderAtomic): a
 * crash never leaves a half-written adapter, or weights and config of two different saves.
 */
import { keep, readSafetensors, serializeSafetensors, tensor, FormatError, ShapeError, ValueError, type SafetensorsEntry } from '@q/core';
import { atomicWriteFile, fileSource, pathExists, readJsonFile, writeFolderAtomic, MODEL_FOLDER_FILE, type CausalLM } from '@q/model';
import { nodeModules } from '@q/model';
import { loraConfigFromJson, loraConfigToJsonString, validateLoraConfig } from '../config';
import { getPeftModel, PeftModel, PEFT_PREFIX } from './peft-model';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** Metadata key of adapter_model.safetensors: the sha256 of the adapter_config.json saved with it. */
export const CONFIG_DIGEST_KEY = 'q_adapter_config_sha256';

async function sha256(text: string): Promise<string> {
  const d = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Throws when a tensor about to be saved holds NaN or Inf: nothing non-finite is ever written. */
export function assertFiniteTensors(tensors: Record<string, { data: unknown }>, what: string): void {
  for (const [name, t] of Object.entries(tensors)) {
    const d = t.data;
    if (!(d instanceof Float32Array || d instanceof Float64Array)) continue;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) {
        throw new ValueError(`${what}: tensor "${name}" holds ${d[i]} at index ${i}; non-finite weights are never saved (the training diverged: lower the learning rate)`);
      }
    }
  }
}

/** peft's saved name for an in-memory parameter name, or null when peft would not save it. */
function savedName(name: string, saveBias: boolean, modulesToSave: string[]): string | null {
  if (name.includes('.lora_A.default.') || name.includes('.lora_B.default.')) return name.replace('.default.', '.');
  if (saveBias && name.endsWith('.bias')) return name;
  if (modulesToSave.some((m) => name.endsWith(`.${m}.weight`))) return name;
  return null;
}

/** The adapter's tensors as peft names them in adapter_model.safetensors. */
export async function adapterStateDict(peft: PeftModel): Promise<Record<string, SafetensorsEntry>> {
  const cfg = peft.peftConfig;
  const out: Record<string, SafetensorsEntry> = {};
  for (const [name, t] of peft.namedParameters()) {
    const saveBias = cfg.bias !== 'none' && t.requiresGrad;
    const key = savedName(name, saveBias, cfg.modulesToSave ?? []);
    if (!key) continue;
    out[key] = { dtype: 'F32', shape: [...t.shape], data: (await t.read()) as Float32Array };
  }
  return out;
}

/**
 * Saves the adapter like `trainer.model.save_pretrained(dir)`.
 *
 * @example
 * ```ts
 * await saveAdapter(peft, 'qwen2.5-0.5b-instruct-chaofa', { baseModelNameOrPath: 'Qwen/Qwen2.5-0.5B-Instruct' });
 * ```
 */
export async function saveAdapter(peft: PeftModel, dir: string, o: SaveAdapterOptions = {}): Promise<void> {
  // Read back before the folder is touched: a non-finite adapter leaves the old one in place.
  const weights = await adapterStateDict(peft);
  assertFiniteTensors(weights, `${dir}/${ADAPTER_WEIGHTS}`);
  await writeFolderAtomic(
    dir,
    async (tmp) => {
      await writeAdapterFiles(peft, tmp, o, weights);
      await o.alsoWrite?.(tmp);
    },
    // Everything else in the folder (a run's checkpoints and logs) moves into the new one.
    { keep: (n) => !MODEL_FOLDER_FILE.test(n) && n !== 'README.md' },
  );
}

export interface SaveAdapterOptions {
  baseModelNameOrPath?: string | null;
  /** Writes more files into the folder before it is renamed into place (the tokenizer). */
  alsoWrite?: (dir: string) => Promise<unknown>;
}

/** The adapter's two files, written straight into `dir` (a folder being built, e.g. a checkpoint). */
export async function writeAdapterFiles(peft: PeftModel, dir: string, o: SaveAdapterOptions = {}, weights?: Record<string, SafetensorsEntry>): Promise<void> {
  const { fs, path } = await nodeModules();
  await fs.mkdir(dir, { recursive: true });
  const w = weights ?? (await adapterStateDict(peft));
  assertFiniteTensors(w, `${dir}/${ADAPTER_WEIGHTS}`);
  const configText = loraConfigToJsonString(peft.peftConfig, o.baseModelNameOrPath ?? peft.peftConfig.baseModelNameOrPath);
  await atomicWriteFile(path.join(dir, ADAPTER_WEIGHTS), serializeSafetensors(w, { format: 'pt', [CONFIG_DIGEST_KEY]: await sha256(configText) }));
  await atomicWriteFile(path.join(dir, ADAPTER_CONFIG), configText);
}

export interface LoadAdapterOptions {
  /** Keep the adapter trainable (peft's is_trainable); default false: inference mode. */
  isTrainable?: boolean;
}

/**
 * PeftModel.from_pretrained(model, dir): wraps the model and loads the adapter's weights,
 * checking every key and shape.
 *
 * @example
 * ```ts
 * const peft = await loadAdapter(model, 'qwen2.5-0.5b-instruct-chaofa');
 * ```
 */
export async function loadAdapter(model: CausalLM, dir: string, o: LoadAdapterOptions = {}): Promise<PeftModel> {
  const { path } = await nodeModules();
  const cfgFile = path.join(dir, ADAPTER_CONFIG);
  const wFile = path.join(dir, ADAPTER_WEIGHTS);
  if (!(await pathExists(cfgFile))) throw new FormatError(cfgFile, 'missing: not a PEFT adapter folder');
  if (!(await pathExists(wFile))) {
    const bin = path.join(dir, 'adapter_model.bin');
    throw new FormatError(wFile, (await pathExists(bin)) ? 'only adapter_model.bin found: save the adapter with safe_serialization=True' : 'missing');
  }
  const { fs } = await nodeModules();
  const configText = await fs.readFile(cfgFile, 'utf8');
  const cfg = loraConfigFromJson(await readJsonFile(cfgFile), cfgFile);
  validateLoraConfig(cfg, { purpose: 'load', source: cfgFile });
  const src = await fileSource(wFile);
  try {
    const reader = await readSafetensors(src, wFile);
    // Saved by @q: the weights name the config they were saved with (peft's files carry no digest).
    const digest = reader.header.metadata?.[CONFIG_DIGEST_KEY];
    if (digest !== undefined && digest !== (await sha256(configText))) {
      throw new FormatError(wFile, `was saved with a different ${ADAPTER_CONFIG} than the one beside it (the two files come from different saves); save the adapter again`);
    }
    return await applyAdapterTensors(model, { ...cfg, initLoraWeights: true }, (n) => reader.has(n), (n) => reader.info(n).shape, (n) => reader.readF32(n), reader.names(), wFile, o);
  } finally {
    await src.close?.();
  }
}

/** Wraps `model` per `cfg` and fills the adapters from named tensors (peft names). */
export async function applyAdapterTensors(
  model: CausalLM,
  cfg: Parameters<typeof getPeftModel>[1],
  has: (n: string) => boolean,
  shape: (n: string) => number[],
  read: (n: string) => Promise<Float32Array>,
  names: string[],
  file: string,
  o: LoadAdapterOptions = {},
): Promise<PeftModel> {
  const peft = getPeftModel(model, cfg);
  const used = new Set<string>();
  const find = (base: string): string | null => {
    for (const k of [base, base.replace(/\.(lora_[AB])\./, '.$1.default.')]) if (has(k)) return k;
    return null;
  };
  try {
    for (const [name, layer] of peft.layers) {
      const ka = find(`${PEFT_PREFIX}${name}.lora_A.weight`);
      const kb = find(`${PEFT_PREFIX}${name}.lora_B.weight`);
      if (!ka || !kb) throw new FormatError(file, `missing LoRA weights for ${name} (expected "${PEFT_PREFIX}${name}.lora_A.weight" and lora_B)`);
      const sa = shape(ka);
      const sb = shape(kb);
      if (sa.join() !== `${layer.r},${layer.inFeatures}`) throw new ShapeError(`${file}: "${ka}" has shape [${sa}], expected [${layer.r}, ${layer.inFeatures}]`);
      if (sb.join() !== `${layer.outFeatures},${layer.r}`) throw new ShapeError(`${file}: "${kb}" has shape [${sb}], expected [${layer.outFeatures}, ${layer.r}]`);
      const a = keep(tensor(await read(ka), sa, { requiresGrad: !!o.isTrainable }));
      const b = keep(tensor(await read(kb), sb, { requiresGrad: !!o.isTrainable }));
      layer.setWeights(a, b);
      used.add(ka).add(kb);
    }
    // Biases and modules_to_save overwrite the base tensors in place.
    const params = new Map(peft.namedParameters());
    for (const n of names) {
      if (used.has(n)) continue;
      const target = params.get(n) ?? params.get(n.replace(/\.bias$/, '.base_layer.bias'));
      if (!target) throw new FormatError(file, `tensor "${n}" matches no parameter of this ${model.config.modelType} model`);
      if (shape(n).join() !== target.shape.join()) throw new ShapeError(`${file}: "${n}" has shape [${shape(n)}], model has [${target.shape}]`);
      target.dev.write(target.buffer, 0, await read(n));
      target.requiresGrad = !!o.isTrainable;
      used.add(n);
    }
    if (!o.isTrainable) for (const [, t] of peft.namedParameters()) t.requiresGrad = false;
    peft.eval();
    return peft;
  } catch (e) {
    peft.unload();
    throw e;
  }
}
