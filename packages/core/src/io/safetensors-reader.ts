import { FormatError, ShapeError } from '../errors';
import type { ByteSource } from './byte-source';
import { bytesSource } from './byte-source';
import { bf16ToF32, f16ToF32 } from './dtype-codecs';
import { parseSafetensorsHeader, type SafetensorsHeader, type SafetensorsTensorInfo } from './safetensors-header';
import { viewAs, type TypedArray } from './typed-array';

/** A safetensors file opened for reading one tensor at a time. */
export interface SafetensorsReader {
  readonly fileName: string;
  readonly header: SafetensorsHeader;
  /** Tensor names in file order. */
  names(): string[];
  has(name: string): boolean;
  /** dtype, shape and offsets of one tensor; FormatError naming the file when it is absent. */
  info(name: string): SafetensorsTensorInfo;
  /** The raw little-endian bytes of one tensor. */
  readBytes(name: string): Promise<Uint8Array>;
  /** One tensor in the typed array of its own dtype (F16/BF16 as Uint16 bits). */
  readTyped(name: string): Promise<TypedArray>;
  /** One floating-point tensor as float32: F32 as stored, F16/BF16/F64 converted. */
  readF32(name: string): Promise<Float32Array>;
}

/**
 * Opens a safetensors file: validates its header now, reads tensor data only when asked.
 *
 * @example
 * ```ts
 * const st = await readSafetensors(bytes, 'adapter_model.safetensors');
 * for (const name of st.names()) console.log(name, st.info(name).shape);
 * const w = await st.readF32('base_model.model.lm_head.weight');
 * ```
 */
export async function readSafetensors(source: Uint8Array | ByteSource, fileName: string): Promise<SafetensorsReader> {
  const src = source instanceof Uint8Array ? bytesSource(source) : source;
  const header = await parseSafetensorsHeader(src, fileName);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));

  const info = (name: string): SafetensorsTensorInfo => {
    const t = byName.get(name);
    if (!t) {
      const some = header.tensors.slice(0, 5).map((x) => `"${x.name}"`).join(', ');
      throw new FormatError(fileName, `no tensor "${name}" (the file holds ${header.tensors.length} tensors${some ? `, e.g. ${some}` : ''})`);
    }
    return t;
  };
  const readBytes = async (name: string): Promise<Uint8Array> => {
    const [begin, end] = info(name).dataOffsets;
    return src.read(header.dataStart + begin, end - begin);
  };

  return {
    fileName,
    header,
    names: () => header.tensors.map((t) => t.name),
    has: (name) => byName.has(name),
    info,
    readBytes,
    readTyped: async (name) => viewAs(info(name).dtype, await readBytes(name)),
    async readF32(name) {
      const { dtype } = info(name);
      const raw = await readBytes(name);
      switch (dtype) {
        case 'F32':
          return viewAs('F32', raw) as Float32Array;
        case 'F16':
          return f16ToF32(viewAs('F16', raw) as Uint16Array);
        case 'BF16':
          return bf16ToF32(viewAs('BF16', raw) as Uint16Array);
        case 'F64':
          return Float32Array.from(viewAs('F64', raw) as Float64Array);
        default:
          throw new ShapeError(`${fileName}: tensor "${name}" is ${dtype}; readF32 takes F32, F16, BF16 or F64 (use readTyped)`);
      }
    },
  };
}
