/**
 * Data movement: reshape (an alias, no kernel), expand (broadcast), permute/transpose. All
 * copies go through one strided-gather kernel.
 */
import stridedSrc from "../../kernels/movement/strided.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import { type HostArray, numel, type Tensor } from "../tensor.ts";
import { apply1, defineAliasOp, defineOp, isTracing, shapeError } from "./registry.ts";
import { broadcastStrides, normAxis, packShape, stridesOf } from "./util.ts";
import { ints, rand } from "./samples.ts";
import { expandTarget, reshapeTarget } from "./follow.ts";

/** Gather `dst[i] = src[at]` (a strided view read) or scatter `dst[at] = src[i]` (written). */
export type StridedDirection = "gather" | "scatter";

/** CPU twin of the strided kernel, with at = offset + Σ coord·stride over `shape`. */
export function stridedCpu(
  src: HostArray,
  dst: HostArray,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  direction: StridedDirection = "gather",
): void {
  const r = shape.length;
  const n = numel(shape);
  for (let i = 0; i < n; i++) {
    let rem = i, at = offset;
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % shape[d];
      rem = (rem - c) / shape[d];
      at += c * strides[d];
    }
    if (direction === "gather") dst[i] = src[at];
    else dst[at] = src[i];
  }
}

/** Record the strided kernel on the GPU (used by every pure data-movement op). */
export function stridedGpu(
  op: string,
  src: GPUBuffer,
  dst: GPUBuffer,
  dtype: string,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  direction: StridedDirection = "gather",
): void {
  const n = numel(shape);
  if (n === 0) return;
  const g = grid1d(n);
  const u = new Uniforms().u32(n, g[0], shape.length, offset);
  packShape(u, shape, op);
  packShape(u, strides, op);
  const assign = direction === "gather" ? "dst[i] = src[at]" : "dst[at] = src[i]";
  dispatch(specialize("strided", stridedSrc, { T: dtype, ASSIGN: assign }), [src, dst], g, u);
}

// ---------------------------------------------------------------------------------------------

interface ReshapeAttrs {
  shape: readonly number[];
}

const reshapeOp = defineAliasOp<ReshapeAttrs>({
  name: "reshape",
  alias: true,
  shape([x], a) {
    const n = numel(x.shape);
    const neg = a.shape.filter((d) => d === -1).length;
    if (neg > 1) throw shapeError("reshape", "at most one -1 is allowed", a.shape);
    const known = numel(a.shape.filter((d) => d !== -1));
    const shape = a.shape.map((d) => (d === -1 ? n / known : d));
    if (numel(shape) !== n || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw shapeError("reshape", `cannot reshape ${n} elements`, x.shape, a.shape);
    }
    return [{ shape, dtype: x.dtype }];
  },
  grad: ({ ins }, [g]) => [reshape(g, ins[0].shape)],
  channels: { kind: "flatten" },
  follow: (_a, t, [x]) => ({ shape: reshapeTarget(t.ins[0].shape, t.outs[0].shape, x.shape) }),
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => {
    const [i, o] = [io.info.ins[0].shape, io.info.outs[0].shape];
    if (o.includes(0)) {
      // ONNX reads a 0 in the target as "keep that input dim" unless allowzero is set.
      const s = e.constant(o.map(Number), [o.length], "i64");
      e.node("Reshape", [io.inputs[0], s], io.outputs, { allowzero: 1 });
      return;
    }
    // A kept leading (batch) dimension is written as 0, "copy it from the input", so the file
    // works at any batch size.
    const dims = o.map((d, k) => (k === 0 && i.length > 0 && d === i[0] ? 0 : Number(d)));
    e.node("Reshape", [io.inputs[0], e.constant(dims, [dims.length], "i64")], io.outputs);
  },
  samples: [
    { name: "flatten NCHW", ins: [rand([2, 3, 2, 2])], attrs: { shape: [2, -1] } },
    { name: "split the channel axis", ins: [rand([2, 6, 3])], attrs: { shape: [2, 3, 2, 3] } },
    { name: "i32, to rank 1", ins: [ints([1, -2, 3, 4, 5, 6], [2, 3])], attrs: { shape: [6] } },
    { name: "empty", ins: [rand([0, 4])], attrs: { shape: [2, 0, 2] } },
  ],
});

/** View with a new shape (one entry may be -1). Shares storage; no copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  // The -1 is resolved here so that a trace records the target it stood for: how that target
  // grows with the batch size is then visible to the graph (src/graph/batch.ts).
  const target = shape.includes(-1) ? reshapeOp.shape([x], { shape })[0].shape : shape;
  return apply1(reshapeOp, [x], { shape: [...target] });
}

/** [N, ...] -> [N, prod(...)] */
export function flatten(x: Tensor, startDim = 1): Tensor {
  const s = x.shape;
  return reshape(x, [...s.slice(0, startDim), numel(s.slice(startDim))]);
}

// ---------------------------------------------------------------------------------------------

interface ExpandAttrs {
  shape: readonly number[];
}

const expandOp = defineOp<ExpandAttrs>({
  name: "expand",
  shape([x], a) {
    const r = a.shape.length;
    if (x.shape.length > r) throw shapeError("expand", "target has lower rank", x.shape, a.shape);
    x.shape.forEach((d, i) => {
      const t = a.shape[r - x.shape.length + i];
      if (d !== 1 && d !== t) throw shapeError("expand", "cannot expand", x.shape, a.shape);
    });
    return [{ shape: a.shape, dtype: x.dtype }];
  },
  cpu([x], [y], a, info) {
    stridedCpu(x, y, a.shape, broadcastStrides(info.ins[0].shape, a.shape), 0);
  },
  gpu([x], [y], a, info) {
    const st = broadcastStrides(info.ins[0].shape, a.shape);
    stridedGpu("expand", x, y, info.ins[0].dtype, a.shape, st, 0);
  },
  // The gradient at the broadcast shape: backward() sums it down to the input's shape (sumTo),
  // as for every broadcasting op.
  grad: (_ctx, [g]) => [g],
  channels: { kind: "passthrough" },
  follow: (_a, t, [x]) => ({ shape: expandTarget(t.ins[0].shape, t.outs[0].shape, x.shape) }),
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => {
    const s = e.constant(io.attrs.shape.map(Number), [io.attrs.shape.length], "i64");
    e.node("Expand", [io.inputs[0], s], io.outputs);
  },
  samples: [
    {
      name: "broadcast H and W of NCHW",
      ins: [rand([2, 3, 1, 1])],
      attrs: { shape: [2, 3, 4, 5] },
    },
    { name: "new leading axes", ins: [rand([3])], attrs: { shape: [2, 2, 3] } },
    {
      name: "middle axis, i32",
      ins: [ints([1, -2, 7, 4], [2, 1, 2])],
      attrs: { shape: [2, 3, 2] },
    },
    { name: "to an empty axis", ins: [rand([3, 1])], attrs: { shape: [3, 0] } },
  ],
});

/** Broadcast x to `shape` (materialised copy). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  // Traced, the expand stays in the graph: `expand(cls, [n, 1, c])` traced at n = 1 is a copy
  // there, but the graph must broadcast at any other batch size.
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i]) && !isTracing()) {
    return x;
  }
  return apply1(expandOp, [x], { shape: [...shape] });
}

// ---------------------------------------------------------------------------------------------

interface PermuteAttrs {
  perm: readonly number[];
}

const permuteOp = defineOp<PermuteAttrs>({
  name: "permute",
  shape([x], a) {
    const r = x.shape.length;
    const ok = a.perm.length === r && [...a.perm].sort((p, q) => p - q).every((v, i) => v === i);
    if (!ok) throw shapeError("permute", `[${a.perm}] is not a permutation of ${r} axes`, x.shape);
    return [{ shape: a.perm.map((p) => x.shape[p]), dtype: x.dtype }];
  },
  cpu([x], [y], a, info) {
    const st = stridesOf(info.ins[0].shape);
    stridedCpu(x, y, info.outs[0].shape, a.perm.map((p) => st[p]), 0);
  },
  gpu([x], [y], a, info) {
    const st = stridesOf(info.ins[0].shape);
    stridedGpu("permute", x, y, info.ins[0].dtype, info.outs[0].shape, a.perm.map((p) => st[p]), 0);
  },
  grad: ({ attrs }, [g]) => {
    const inv = new Array(attrs.perm.length);
    attrs.perm.forEach((p, i) => (inv[p] = i));
    return [permute(g, inv)];
  },
  channels: { kind: "permute", perm: (a) => a.perm },
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => e.node("Transpose", io.inputs, io.outputs, { perm: [...io.attrs.perm] }),
  samples: [
    { name: "rank 3 rotation", ins: [rand([2, 3, 5])], attrs: { perm: [2, 0, 1] } },
    { name: "NCHW to NHWC", ins: [rand([2, 3, 4, 5])], attrs: { perm: [0, 2, 3, 1] } },
    {
      name: "rank 6, i32",
      ins: [ints([...Array(48).keys()], [2, 1, 3, 2, 2, 2])],
      attrs: { perm: [5, 3, 0, 4, 2, 1] },
    },
    { name: "empty", ins: [rand([0, 3])], attrs: { perm: [1, 0] } },
  ],
});

/** Reorder axes: out.shape[i] = x.shape[perm[i]]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  return apply1(permuteOp, [x], { perm: perm.map((p) => normAxis("permute", p, x.rank)) });
}

/** Swap two axes (default: the last two). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const r = x.rank;
  const perm = [...Array(r).keys()];
  const i = normAxis("transpose", a, r), j = normAxis("transpose", b, r);
  [perm[i], perm[j]] = [perm[j], perm[i]];
  return permute(x, perm);
}
