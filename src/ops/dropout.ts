/**
 * Dropout with a counter-based mask: element i is kept when hash(hash(i) ^ hash(seed)) is at
 * least p·2³², so the mask depends only on (seed, i) and the cpu reference and the WGSL kernel
 * draw the same one. Kept elements are scaled by 1/(1-p); eval mode is the identity.
 */
import dropoutSrc from "../../kernels/misc/dropout.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import { numel, type Tensor } from "../tensor.ts";
import { rngFor } from "../random.ts";
import { apply1, defineOp, type OpSpec, shapeError } from "./registry.ts";
import { rand } from "./samples.ts";

// The exported graph is the inference graph, where dropout is the identity (p = 0).
const dropSample = (name: string, shape: number[], p: number, seed: number) => ({
  name,
  ins: [rand(shape)],
  attrs: { p, seed },
  onnx: { attrs: { p: 0, seed } },
});

/** Attributes of the dropout op (training mode only; eval never records it). */
export interface DropoutAttrs {
  /** Probability of zeroing an element. */
  p: number;
  /** Seed of the mask. */
  seed: number;
}

/** The kernel's hash ("lowbias32"), bit-exact with WGSL u32 arithmetic. */
export function dropoutHash(v: number): number {
  let h = v >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

function params(a: DropoutAttrs) {
  return {
    key: dropoutHash(a.seed),
    threshold: Math.min(Math.floor(a.p * 4294967296), 4294967295),
    scale: a.p >= 1 ? 0 : 1 / (1 - a.p),
  };
}

const dropoutOp: OpSpec<DropoutAttrs> = defineOp<DropoutAttrs>({
  name: "dropout",
  inputNames: ["x"],
  shape([x], a) {
    if (x.dtype !== "f32") throw shapeError("dropout", `expects f32, got ${x.dtype}`, x.shape);
    if (!(a.p >= 0 && a.p <= 1)) {
      throw shapeError("dropout", `probability p must be in [0, 1], got ${a.p}`, x.shape);
    }
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu([x], [y], a) {
    const { key, threshold, scale } = params(a);
    const s = Math.fround(scale);
    for (let i = 0; i < x.length; i++) {
      y[i] = dropoutHash((dropoutHash(i) ^ key) >>> 0) >= threshold ? x[i] * s : 0;
    }
  },
  gpu([x], [y], a, info) {
    const { key, threshold, scale } = params(a);
    const n = numel(info.ins[0].shape);
    const g = grid1d(n);
    const u = new Uniforms().u32(n, g[0], key, threshold).f32(scale).u32(0, 0, 0);
    dispatch(specialize("dropout", dropoutSrc), [x, y], g, u);
  },
  // Linear in x with the same mask: the gradient is dropout of g with the same seed.
  grad: ({ attrs }, [g]) => [apply1(dropoutOp, [g], attrs)],
  channels: { kind: "passthrough" },
  cost: (info) => ({ macs: 0, flops: numel(info.ins[0].shape) }),
  // Inference export: ONNX Dropout without training_mode is the identity (Identity itself for
  // p = 1, a ratio onnxruntime rejects).
  onnx: (e, io) =>
    io.attrs.p < 1
      ? e.node("Dropout", [io.inputs[0], e.constant([io.attrs.p], [])], [io.outputs[0]])
      : e.node("Identity", [io.inputs[0]], [io.outputs[0]]),
  samples: [
    dropSample("p 0.3, NCHW", [2, 3, 4, 5], 0.3, 7),
    dropSample("p 0.5, odd size, 2 workgroups", [3, 97], 0.5, 123456789),
    dropSample("p 1 drops everything", [2, 3], 1, 1),
  ],
});

/** Options of {@link dropout}. */
export interface DropoutOptions {
  /** Probability of zeroing an element, in [0, 1]. */
  p: number;
  /** Whether dropout applies (false: the identity). */
  training: boolean;
  /** Mask seed (default: drawn from the global generator, see `manualSeed`). */
  seed?: number;
}

/**
 * Zero each element with probability `p` and scale the rest by 1/(1-p) in training; return `x`
 * itself in eval mode (or when p = 0). The same seed gives the same mask on every backend.
 *
 * @example
 * ```ts
 * import { dropout, init, ones } from "../../mod.ts";
 * await init();
 * const x = ones([2, 4]);
 * const y = dropout(x, { p: 0.5, training: true, seed: 7 }); // each entry 0 or 2 (= 1 / (1 - p))
 * ```
 */
export function dropout(x: Tensor, opts: DropoutOptions): Tensor {
  if (!(opts.p >= 0 && opts.p <= 1)) {
    throw shapeError("dropout", `probability p must be in [0, 1], got ${opts.p}`, x.shape);
  }
  if (!opts.training || opts.p === 0) return x;
  const seed = (opts.seed ?? rngFor().nextU32()) >>> 0;
  return apply1(dropoutOp, [x], { p: opts.p, seed });
}
