/**
 * The "embed" gather shared by constant padding and the gradient of a strided slice: every
 * output element either reads one source element or is the fill value, so one pass writes each
 * output exactly once (no zero fill, no scatter).
 */
import padSrc from "../../kernels/movement/pad.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import { type DType, type HostArray, numel } from "../tensor.ts";
import { bitsOf, packShape, stridesOf } from "./util.ts";

/**
 * CPU twin of `pad.wgsl`: `dst` (shape `outShape`) gets `src[(c - start) / step]` per axis where
 * that is a whole index inside `srcShape`, else `value`.
 */
export function embedCpu(
  src: HostArray,
  dst: HostArray,
  outShape: readonly number[],
  srcShape: readonly number[],
  starts: readonly number[],
  steps: readonly number[],
  value: number,
): void {
  const r = outShape.length;
  const sstr = stridesOf(srcShape);
  for (let i = 0; i < dst.length; i++) {
    let rem = i, at = 0, inside = true;
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % outShape[d];
      rem = (rem - c) / outShape[d];
      const j = c - starts[d];
      const q = Math.trunc(j / steps[d]);
      if (j !== q * steps[d] || q < 0 || q >= srcShape[d]) inside = false;
      else at += q * sstr[d];
    }
    dst[i] = inside ? src[at] : value;
  }
}

/** Record `pad.wgsl` (the GPU twin of {@link embedCpu}). */
export function embedGpu(
  op: string,
  src: GPUBuffer,
  dst: GPUBuffer,
  dtype: DType,
  outShape: readonly number[],
  srcShape: readonly number[],
  starts: readonly number[],
  steps: readonly number[],
  value: number,
): void {
  const n = numel(outShape);
  const g = grid1d(n);
  const u = new Uniforms().u32(n, g[0], outShape.length, bitsOf(value, dtype));
  // Signed entries (starts, steps) go in as their two's-complement bits; WGSL reads vec4<i32>.
  for (const v of [outShape, starts, steps, srcShape, stridesOf(srcShape)]) packShape(u, v, op);
  dispatch(specialize("pad", padSrc, { T: dtype }), [src, dst], g, u);
}
