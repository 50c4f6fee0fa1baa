/**
 * `qlora info`: what WebGPU gives this process (adapter, features, limits, memory held) and,
 * with `--adapter`, a LoRA adapter's config and parameter count.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FormatError, getDevice, readSafetensors } from '@q/core';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loraConfigFromJson } from '@q/lora';
import { fileSource } from '@q/model';
import { say, type CliIO } from '../run/io';

/** Limits worth knowing when sizing a model: buffer and binding sizes bound the largest tensor. */
const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

function bytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

export interface AdapterInfo {
  dir: string;
  config: Record<string, unknown>;
  tensors: number;
  parameters: number;
}

/** An adapter folder's config and the parameters its safetensors hold. */
export async function adapterInfo(dir: string): Promise<AdapterInfo> {
  const abs = resolve(dir);
  const cfgFile = join(abs, ADAPTER_CONFIG);
  const cfg = loraConfigFromJson(await readFile(cfgFile, 'utf8').catch(() => {
    throw new FormatError(cfgFile, 'missing: not a PEFT adapter folder');
  }), cfgFile);
  const wFile = join(abs, ADAPTER_WEIGHTS);
  const src = await fileSource(wFile);
  try {
    const st = await readSafetensors(src, wFile);
    const names = st.names();
    const parameters = names.reduce((a, n) => a + st.info(n).shape.reduce((x, y) => x * y, 1), 0);
    return { dir: abs, config: cfg as unknown as Record<string, unknown>, tensors: names.length, parameters };
  } finally {
    await src.close?.();
  }
}

export async function runInfo(io: CliIO, o: { adapter?: string } = {}): Promise<void> {
  const dev = await getDevice();
  const i = dev.info;
  say(io, 'WebGPU adapter');
  say(io, `  runtime:      ${i.runtime}`);
  say(io, `  vendor:       ${i.vendor || '(not reported)'}`);
  say(io, `  architecture: ${i.architecture || '(not reported)'}`);
  say(io, `  description:  ${i.description || '(not reported)'}`);
  say(io, `  shader-f16: ${i.f16 ? 'yes' : 'no'} | subgroups: ${i.subgroups ? 'yes' : 'no'} | subgroup matrix: ${i.subgroupMatrix ? 'yes' : 'no'} | timestamps: ${i.timestamps ? 'yes' : 'no'}`);
  say(io, `  features:     ${i.features.join(', ') || '(none)'}`);
  say(io, 'limits');
  const lim = dev.gpu.limits as unknown as Record<string, number>;
  for (const k of LIMITS) {
    const v = lim[k];
    if (v !== undefined) say(io, `  ${k.padEnd(36)} ${/Size$/.test(k) ? `${v} (${bytes(v)})` : v}`);
  }
  const mem = dev.memory();
  say(io, 'GPU memory');
  // NOTE: WebGPU does not report a device's total or free memory; only what this process holds.
  say(io, '  total/free:   not exposed by WebGPU (the largest single buffer is maxBufferSize above)');
  say(io, `  held by @q:   ${bytes(mem.liveBytes)} live, ${bytes(mem.pooledBytes)} pooled, peak ${bytes(mem.peakBytes)}`);
  if (o.adapter) {
    const a = await adapterInfo(o.adapter);
    const c = a.config as { r?: number; loraAlpha?: number; loraDropout?: number; targetModules?: unknown; baseModelNameOrPath?: unknown; useRslora?: boolean; taskType?: unknown };
    say(io, `LoRA adapter ${a.dir}`);
    say(io, `  base model:     ${c.baseModelNameOrPath ?? '(not recorded)'}`);
    say(io, `  task type:      ${c.taskType ?? '(none)'}`);
    say(io, `  r / alpha:      ${c.r} / ${c.loraAlpha}${c.useRslora ? ' (rsLoRA)' : ''}, dropout ${c.loraDropout}`);
    say(io, `  target modules: ${Array.isArray(c.targetModules) ? c.targetModules.join(', ') : String(c.targetModules)}`);
    say(io, `  parameters:     ${a.parameters.toLocaleString('en-US')} in ${a.tensors} tensors (${bytes(a.parameters * 4)} as f32)`);
  }
}
