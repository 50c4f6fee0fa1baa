// A strict TypeScript consumer of the published packages: compiled with skipLibCheck off, under
// nodenext and under bundler resolution, with no `types` entry for WebGPU of its own (the
// declarations must bring @webgpu/types themselves).
import { getDevice, tensor, matmul, sum, backward, keep, type Tensor, type QDevice } from '@q/core';
import { defineOp, launch, grid1d, LINEAR_INDEX, empty, type CpuTensor, type Op } from '@q/core/kernel';
import { quantizeNF4, dequantizeNF4 } from '@q/nf4';
import { SFTTrainer, getPeftModel, AutoModelForCausalLM, builtinModel, type LoraConfig } from '@q/qlora';

// A kernel author's op: y = 2x, declared once with its reference, kernel and backward.
export const double: Op<void> = defineOp<void>({
  name: 'double',
  cpu: ([x]: CpuTensor[]) => ({ shape: x!.shape, data: x!.data.map((v) => 2 * v) }),
  gpu: ([x]: Tensor[]) => {
    const y = empty(x!.shape, 'f32', x!.dev);
    launch(
      {
        name: 'double',
        bindings: [
          { name: 'x', dtype: 'f32' },
          { name: 'y', dtype: 'f32', access: 'read_write' },
        ],
        uniforms: [['n', 'u32']],
        body: `let i = ${LINEAR_INDEX}; if (i >= u.n) { return; }\ny[i] = 2.0 * x[i];`,
      },
      [x!, y],
      grid1d(x!.size),
      [x!.size],
    );
    return y;
  },
  backward: (gy) => [double([gy], undefined)],
});

export async function run(): Promise<number> {
  const dev: QDevice = await getDevice();
  const a = keep(tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true }));
  const loss = sum(matmul(a, a));
  backward(loss);
  const g: number[] = await a.grad!.toArray();
  const buffer: GPUBuffer = a.buffer; // a WebGPU type, from @webgpu/types through the declarations
  const q = quantizeNF4(new Float32Array(64), { blocksize: 64 });
  const lora: LoraConfig = { ...({} as LoraConfig), r: 8 };
  void [SFTTrainer, getPeftModel, AutoModelForCausalLM, builtinModel, dequantizeNF4(q), lora, buffer];
  dev.dispose();
  return g.length;
}
