/**
 * Integer indexing: `gather` (numpy.take / ONNX Gather along one axis), `indexSelect` (its 1-D
 * index form, as torch.index_select) with a deterministic scatter-add gradient, and `oneHot`.
 * The GPU kernels clamp out-of-range indices so a bad index never reads outside a buffer; the
 * cpu reference throws an error naming it.
 */
import gatherSrc from "../../kernels/movement/gather.wgsl" with { type: "text" };
import scatterSrc from "../../kernels/movement/scatter_add.wgsl" with { type: "text" };
import oneHotSrc from "../../kernels/movement/one_hot.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import { numel, type Tensor, type TensorInfo } from "../tensor.ts";
import { apply1, defineOp, shapeError } from "./registry.ts";
import { normAxis } from "./util.ts";
import type { ChannelRule } from "./spec.ts";
import { ints, rand } from "./samples.ts";

/** Attributes of gather: the (normalised) axis of `x` that the indices pick from. */
export interface GatherAttrs {
  /** The axis of `x` the indices pick from. */
  axis: number;
}

/** Attributes of the gather gradient: the axis and the size it scatters back to. */
export interface GatherGradAttrs {
  axis: number;
  dim: number;
}

function checkIndices(op: string, x: TensorInfo, idx: TensorInfo): void {
  if (idx.dtype !== "i32") {
    throw shapeError(
      op,
      `indices must be i32, got ${idx.dtype} (use cast(indices, "i32"))`,
      x.shape,
      idx.shape,
    );
  }
}

/** [outer, dim, inner] view of `shape` around `axis`. */
function split3(shape: readonly number[], axis: number, width = 1) {
  return {
    outer: numel(shape.slice(0, axis)),
    inner: numel(shape.slice(axis + width)),
  };
}

function fixIndex(op: string, v: number, j: number, dim: number, axis: number): number {
  if (v < -dim || v >= dim) {
    throw new Error(
      `${op}: index ${v} (position ${j}) is out of range for axis ${axis} of size ${dim}`,
    );
  }
  return v < 0 ? v + dim : v;
}

// Indexing one axis with a list keeps the other axes (and channels that lie on them).
const axisRule: ChannelRule<GatherAttrs> = {
  kind: "byAttrs",
  rule: (a, info) =>
    info.ins[1].shape.length === 1
      ? { kind: "passthrough", mixes: () => [a.axis] }
      : { kind: "block", reason: "indexing with a multi-axis index tensor reshapes the axes" },
};

const gatherOp = defineOp<GatherAttrs>({
  name: "gather",
  inputNames: ["x", "indices"],
  shape([x, idx], a) {
    checkIndices("gather", x, idx);
    if (a.axis < 0 || a.axis >= x.shape.length) {
      throw shapeError("gather", `axis ${a.axis} is out of range`, x.shape, idx.shape);
    }
    if (x.shape[a.axis] === 0 && numel(idx.shape) > 0) {
      throw shapeError("gather", `axis ${a.axis} is empty`, x.shape, idx.shape);
    }
    const s = x.shape;
    return [{
      shape: [...s.slice(0, a.axis), ...idx.shape, ...s.slice(a.axis + 1)],
      dtype: x.dtype,
    }];
  },
  cpu([x, idx], [y], a, info) {
    const s = info.ins[0].shape, dim = s[a.axis], count = idx.length;
    const { outer, inner } = split3(s, a.axis);
    const fixed = Array.from(idx, (v, j) => fixIndex("gather", v, j, dim, a.axis));
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < count; j++) {
        const src = (o * dim + fixed[j]) * inner, dst = (o * count + j) * inner;
        for (let k = 0; k < inner; k++) y[dst + k] = x[src + k];
      }
    }
  },
  gpu([x, idx], [y], a, info) {
    const s = info.ins[0].shape;
    const n = numel(info.outs[0].shape);
    if (n === 0) return;
    const g = grid1d(n);
    const { inner } = split3(s, a.axis);
    const u = new Uniforms().u32(n, g[0], s[a.axis], numel(info.ins[1].shape), inner, 0, 0, 0);
    dispatch(specialize("gather", gatherSrc, { T: info.ins[0].dtype }), [x, idx, y], g, u);
  },
  grad: ({ ins, attrs }, [g]) => [
    apply1(gatherGradOp, [g, ins[1]], { axis: attrs.axis, dim: ins[0].shape[attrs.axis] }),
    null,
  ],
  channels: axisRule,
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => e.node("Gather", io.inputs, io.outputs, { axis: io.attrs.axis }),
  samples: [
    {
      name: "2-D indices, negative index",
      ins: [rand([2, 4]), ints([3, -1, 0, 2], [2, 2])],
      attrs: { axis: 1 },
    },
    { name: "repeated rows", ins: [rand([5, 3]), ints([4, 0, 4])], attrs: { axis: 0 } },
    { name: "spatial axis of NCHW", ins: [rand([2, 3, 4, 2]), ints([3, 0])], attrs: { axis: 2 } },
    {
      name: "i32 table, no indices",
      ins: [ints([1, 2, 3, 4], [2, 2]), ints([], [0])],
      attrs: { axis: 0 },
    },
  ],
});

const gatherGradOp = defineOp<GatherGradAttrs>({
  name: "gatherGrad",
  inputNames: ["gradOutput", "indices"],
  shape([g, idx], a) {
    checkIndices("gatherGrad", g, idx);
    if (g.dtype !== "f32") throw shapeError("gatherGrad", `expects f32, got ${g.dtype}`);
    const r = idx.shape.length, s = g.shape;
    const mid = s.slice(a.axis, a.axis + r);
    if (a.axis + r > s.length || mid.some((d, i) => d !== idx.shape[i])) {
      throw shapeError("gatherGrad", "gradient does not match the indices", g.shape, idx.shape);
    }
    return [{ shape: [...s.slice(0, a.axis), a.dim, ...s.slice(a.axis + r)], dtype: "f32" }];
  },
  cpu([g, idx], [y], a, info) {
    const r = info.ins[1].shape.length, count = idx.length;
    const { outer, inner } = split3(info.ins[0].shape, a.axis, r);
    const fixed = Array.from(idx, (v, j) => fixIndex("gatherGrad", v, j, a.dim, a.axis));
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < count; j++) {
        const src = (o * count + j) * inner, dst = (o * a.dim + fixed[j]) * inner;
        for (let k = 0; k < inner; k++) y[dst + k] += g[src + k];
      }
    }
  },
  gpu([g, idx], [y], a, info) {
    const n = numel(info.outs[0].shape);
    if (n === 0) return;
    const gr = grid1d(n);
    const { inner } = split3(info.ins[0].shape, a.axis, info.ins[1].shape.length);
    const u = new Uniforms().u32(n, gr[0], a.dim, numel(info.ins[1].shape), inner, 0, 0, 0);
    dispatch(specialize("scatter_add", scatterSrc), [g, idx, y], gr, u);
  },
  grad: ({ ins, attrs }, [gg]) => [gather(gg, attrs.axis, ins[1]), null],
  channels: axisRule as ChannelRule<GatherGradAttrs>,
  cost: (info) => ({ macs: 0, flops: numel(info.ins[0].shape) }),
  onnx: {
    none:
      "gatherGrad is a training-only op (the backward kernel of gather); export the forward graph",
  },
  samples: [
    {
      name: "repeated indices add up",
      ins: [rand([4, 2]), ints([2, 0, 2, 1])],
      attrs: { axis: 0, dim: 3 },
    },
    {
      name: "2-D indices, negative index, inner axis",
      ins: [rand([2, 2, 2, 3]), ints([3, -1, 0, 3], [2, 2])],
      attrs: { axis: 1, dim: 4 },
    },
  ],
});

/**
 * Pick entries along `axis` by integer `indices` (i32, any shape; negative counts from the
 * end): out.shape = x.shape[:axis] + indices.shape + x.shape[axis+1:] (numpy.take, ONNX Gather;
 * not torch.gather). Repeated indices are fine; their gradients add up.
 *
 * @example
 * ```ts
 * import { gather, init, randn, tensor } from "../../mod.ts";
 * await init();
 * const table = randn([5, 4], { seed: 0 }); // [V, D]
 * const rows = gather(table, 0, tensor([3, 0, 3], [3], { dtype: "i32" })); // [3, D]
 * ```
 */
export function gather(x: Tensor, axis: number, indices: Tensor): Tensor {
  return apply1(gatherOp, [x, indices], { axis: normAxis("gather", axis, x.rank) });
}

/** {@link gather} with a 1-D index list: out.shape[axis] = indices.length (torch.index_select). */
export function indexSelect(x: Tensor, axis: number, indices: Tensor): Tensor {
  if (indices.rank !== 1) {
    throw shapeError("indexSelect", "indices must be 1-D", x.shape, indices.shape);
  }
  return gather(x, axis, indices);
}

// ---------------------------------------------------------------------------------------------

/** Attributes of oneHot: the number of classes. */
export interface OneHotAttrs {
  classes: number;
}

const oneHotOp = defineOp<OneHotAttrs>({
  name: "oneHot",
  inputNames: ["labels"],
  shape([y], a) {
    if (y.dtype !== "i32") {
      throw shapeError("oneHot", `labels must be i32, got ${y.dtype} (use cast)`, y.shape);
    }
    if (!Number.isInteger(a.classes) || a.classes <= 0) {
      throw shapeError("oneHot", `numClasses must be a positive integer, got ${a.classes}`);
    }
    return [{ shape: [...y.shape, a.classes], dtype: "f32" }];
  },
  cpu([y], [out], a) {
    y.forEach((v, i) => {
      if (!(v >= 0 && v < a.classes)) {
        throw new Error(
          `oneHot: label ${v} (position ${i}) is out of range for ${a.classes} classes`,
        );
      }
      out[i * a.classes + v] = 1;
    });
  },
  gpu([y], [out], a, info) {
    const n = numel(info.outs[0].shape);
    if (n === 0) return;
    const g = grid1d(n);
    dispatch(
      specialize("one_hot", oneHotSrc),
      [y, out],
      g,
      new Uniforms().u32(n, g[0], a.classes, 0),
    );
  },
  grad: { none: "oneHot of integer labels has no gradient" },
  channels: { kind: "block", reason: "oneHot creates a new axis of classes" },
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => {
    const depth = e.constant([io.attrs.classes], [], "i32"); // onnxruntime: int32 in, int32 depth
    const values = e.constant([0, 1], [2], "f32");
    e.node("OneHot", [io.inputs[0], depth, values], io.outputs, { axis: -1 });
  },
  samples: [
    { name: "labels", ins: [ints([3, 0, 4])], attrs: { classes: 5 } },
    { name: "2-D labels, one class", ins: [ints([0, 0, 0, 0], [2, 2])], attrs: { classes: 1 } },
  ],
});

/**
 * One-hot encoding of i32 `labels` (any shape) as f32 [..., numClasses]. Labels must lie in
 * [0, numClasses): the cpu backend throws naming the bad label, the GPU gives a zero row.
 */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  return apply1(oneHotOp, [labels], { classes: numClasses });
}
