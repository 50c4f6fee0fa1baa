/**
 * Key/value cache for generation: per layer, K and V buffers of [B, capacity, Hkv, Dh] that new
 * positions are copied into, so each decode step attends over the cache without re-running the
 * prompt.
 */
import { keep, ShapeError, type Tensor } from '@q/core';
import { empty } from '@q/core/kernel';

export class LayerCache {
  readonly k: Tensor;
  readonly v: Tensor;
  length = 0;
  constructor(
    readonly batch: number,
    readonly capacity: number,
    readonly heads: number,
    readonly headDim: number,
    dtype: 'f32' | 'f16',
  ) {
    this.k = keep(empty([batch, capacity, heads, headDim], dtype));
    this.v = keep(empty([batch, capacity, heads, headDim], dtype));
  }

  /** Writes new K/V ([B, T, Hkv, Dh]) after the cached ones and returns the cache views to attend over. */
  append(k: Tensor, v: Tensor): { k: Tensor; v: Tensor; kvLen: number } {
    const [B, T] = k.shape as [number, number];
    if (this.length + T > this.capacity) throw new ShapeError(`KV cache full: ${this.length} + ${T} positions > capacity ${this.capacity}`);
    const row = this.heads * this.headDim * (k.dtype === 'f16' ? 2 : 4);
    const dev = this.k.dev;
    for (let b = 0; b < B; b++) {
      const dst = (b * this.capacity + this.length) * row;
      dev.copy(k.buffer, b * T * row, this.k.buffer, dst, T * row);
      dev.copy(v.buffer, b * T * row, this.v.buffer, dst, T * row);
    }
    this.length += T;
    return { k: this.k, v: this.v, kvLen: this.length };
  }

  /**
   * Beam search's cache reorder: row b takes the cached positions of row `src[b]` (transformers'
   * `reorder_cache(beam_idx)`). Rows that keep their own content are not copied.
   */
  reorder(src: number[]): void {
    if (src.length !== this.batch) throw new ShapeError(`KV cache reorder: ${src.length} indices for ${this.batch} rows`);
    if (src.every((s, b) => s === b) || this.length === 0) return;
    const dev = this.k.dev;
    const row = this.heads * this.headDim * (this.k.dtype === 'f16' ? 2 : 4);
    const used = this.length * row;
    const stride = this.capacity * row;
    for (const t of [this.k, this.v]) {
      const old = empty([this.batch * this.capacity * this.heads * this.headDim], t.dtype, dev);
      try {
        dev.copy(t.buffer, 0, old.buffer, 0, this.batch * stride);
        src.forEach((s, b) => {
          if (s !== b) dev.copy(old.buffer, s * stride, t.buffer, b * stride, used);
        });
      } finally {
        old.release();
      }
    }
  }

  /**
   * Continuous batching's re-layout: row b's cached columns [from, from + len) move to
   * [to, to + len) (rows not listed keep theirs), and the cache length becomes `length`.
   */
  relayout(moves: { row: number; from: number; to: number; len: number }[], length: number): void {
    if (length > this.capacity) throw new ShapeError(`KV cache relayout: length ${length} > capacity ${this.capacity}`);
    const dev = this.k.dev;
    const row = this.heads * this.headDim * (this.k.dtype === 'f16' ? 2 : 4);
    const stride = this.capacity * row;
    const moved = moves.filter((m) => m.len > 0 && m.from !== m.to);
    if (moved.length > 0) {
      for (const t of [this.k, this.v]) {
        // WebGPU copies need distinct buffers: go through a copy of the rows that move.
        const old = empty([moved.length * this.capacity * this.heads * this.headDim], t.dtype, dev);
        try {
          moved.forEach((m, i) => dev.copy(t.buffer, m.row * stride + m.from * row, old.buffer, i * stride, m.len * row));
          moved.forEach((m, i) => dev.copy(old.buffer, i * stride, t.buffer, m.row * stride + m.to * row, m.len * row));
        } finally {
          old.release();
        }
      }
    }
    this.length = length;
  }

  /** Copies `src`'s row 0 (its `src.length` columns) into row `b` from column `at` (a prompt prefilled alone). */
  writeRow(b: number, at: number, src: LayerCache): void {
    if (at + src.length > this.capacity) throw new ShapeError(`KV cache writeRow: ${at} + ${src.length} positions > capacity ${this.capacity}`);
    const row = this.heads * this.headDim * (this.k.dtype === 'f16' ? 2 : 4);
    const dst = (b * this.capacity + at) * row;
    this.k.dev.copy(src.k.buffer, 0, this.k.buffer, dst, src.length * row);
    this.k.dev.copy(src.v.buffer, 0, this.v.buffer, dst, src.length * row);
  }

  release(): void {
    this.k.release();
    this.v.release();
  }
}

export class KVCache {
  readonly layers: LayerCache[];
  constructor(numLayers: number, batch: number, capacity: number, heads: number, headDim: number, dtype: 'f32' | 'f16' = 'f32') {
    this.layers = Array.from({ length: numLayers }, () => new LayerCache(batch, capacity, heads, headDim, dtype));
  }
  get length(): number {
    return this.layers[0]?.length ?? 0;
  }
  get capacity(): number {
    return this.layers[0]?.capacity ?? 0;
  }
  /** Row b takes the content of row src[b], in every layer (beam search). */
  reorder(src: number[]): void {
    for (const l of this.layers) l.reorder(src);
  }
  /** {@link LayerCache.relayout} in every layer. */
  relayout(moves: { row: number; from: number; to: number; len: number }[], length: number): void {
    for (const l of this.layers) l.relayout(moves, length);
  }
  /** {@link LayerCache.writeRow} in every layer: `src`'s one row lands in row b from column `at`. */
  writeRow(b: number, at: number, src: KVCache): void {
    this.layers.forEach((l, i) => l.writeRow(b, at, src.layers[i]!));
  }
  release(): void {
    for (const l of this.layers) l.release();
  }
}
