/**
 * concat and split along one axis. concat writes each operand into its region of the output
 * with the strided *write* kernel (regions are disjoint, one dispatch per operand); split reads
 * each part with the strided gather. Each is the other's gradient.
 */
import type { Tensor, TensorInfo } from "../tensor.ts";
import { apply, apply1, defineOp, shapeError } from "./registry.ts";
import { normAxis, stridesOf } from "./util.ts";
import { stridedCpu, stridedGpu } from "./movement.ts";
import { ints, rand } from "./samples.ts";

// ---------------------------------------------------------------------------------------------

/** Attributes of concat: the (normalised) axis. */
export interface ConcatAttrs {
  /** The axis the inputs are joined along. */
  axis: number;
}

function checkConcat(ins: readonly TensorInfo[], axis: number): number[] {
  if (ins.length === 0) throw shapeError("concat", "needs at least one tensor");
  const ref = ins[0];
  const all = ins.map((t) => t.shape);
  if (axis < 0 || axis >= ref.shape.length) {
    throw shapeError("concat", `axis ${axis} is out of range for rank ${ref.shape.length}`, ...all);
  }
  let total = 0;
  for (const t of ins) {
    if (t.dtype !== ref.dtype) {
      throw shapeError("concat", `dtypes differ (${ref.dtype} and ${t.dtype})`, ...all);
    }
    if (t.shape.length !== ref.shape.length) {
      throw shapeError(
        "concat",
        `ranks differ (${ref.shape.length} and ${t.shape.length})`,
        ...all,
      );
    }
    t.shape.forEach((d, i) => {
      if (i !== axis && d !== ref.shape[i]) {
        throw shapeError(
          "concat",
          `sizes differ on axis ${i} (${ref.shape[i]} vs ${d}); only axis ${axis} may differ`,
          ...all,
        );
      }
    });
    total += t.shape[axis];
  }
  return ref.shape.map((d, i) => (i === axis ? total : d));
}

const concatOp = defineOp<ConcatAttrs>({
  name: "concat",
  inputNames: ["x"],
  shape: (ins, a) => [{ shape: checkConcat(ins, a.axis), dtype: ins[0].dtype }],
  cpu(ins, [y], a, info) {
    const ostr = stridesOf(info.outs[0].shape);
    let off = 0;
    ins.forEach((x, k) => {
      const s = info.ins[k].shape;
      stridedCpu(x, y, s, ostr, off * ostr[a.axis], "scatter");
      off += s[a.axis];
    });
  },
  gpu(ins, [y], a, info) {
    const ostr = stridesOf(info.outs[0].shape);
    let off = 0;
    ins.forEach((x, k) => {
      const { shape, dtype } = info.ins[k];
      stridedGpu("concat", x, y, dtype, shape, ostr, off * ostr[a.axis], "scatter");
      off += shape[a.axis];
    });
  },
  grad: ({ ins, attrs }, [g]) => split(g, ins.map((t) => t.shape[attrs.axis]), attrs.axis),
  channels: { kind: "concat", axis: (a) => a.axis },
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => e.node("Concat", io.inputs, io.outputs, { axis: io.attrs.axis }),
  samples: [
    {
      name: "channels of NCHW, three operands",
      ins: [rand([2, 2, 3, 2]), rand([2, 1, 3, 2]), rand([2, 3, 3, 2])],
      attrs: { axis: 1 },
    },
    { name: "first axis", ins: [rand([1, 3]), rand([2, 3])], attrs: { axis: 0 } },
    {
      name: "last axis, an empty operand",
      ins: [rand([2, 2]), rand([2, 0]), rand([2, 3])],
      attrs: { axis: 1 },
    },
    { name: "i32", ins: [ints([1, 2], [1, 2]), ints([-3, 4, 5, 6], [2, 2])], attrs: { axis: 0 } },
  ],
});

/**
 * Join tensors along `axis` (all other sizes must match).
 *
 * @example
 * ```ts
 * import { concat, init, randn } from "../../mod.ts";
 * await init();
 * const a = randn([2, 3, 4, 4], { seed: 1 });
 * const b = randn([2, 5, 4, 4], { seed: 2 });
 * const y = concat([a, b], 1); // [N, Ca + Cb, H, W] = [2, 8, 4, 4]
 * ```
 */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw shapeError("concat", "needs at least one tensor");
  return apply1(concatOp, xs, { axis: normAxis("concat", axis, xs[0].rank) });
}

// ---------------------------------------------------------------------------------------------

/** Attributes of split: the axis and the size of each part along it. */
export interface SplitAttrs {
  /** The axis the input is split along. */
  axis: number;
  /** The size of each part along it (they sum to the input's size). */
  sizes: readonly number[];
}

const splitOp = defineOp<SplitAttrs>({
  name: "split",
  inputNames: ["x"],
  shape([x], a) {
    const dim = x.shape[a.axis];
    if (a.axis < 0 || a.axis >= x.shape.length) {
      throw shapeError("split", `axis ${a.axis} is out of range for rank ${x.shape.length}`);
    }
    const total = a.sizes.reduce((p, q) => p + q, 0);
    if (a.sizes.some((s) => !Number.isInteger(s) || s < 0) || total !== dim) {
      throw shapeError(
        "split",
        `sizes [${a.sizes}] must be non-negative integers summing to ${dim} (axis ${a.axis})`,
        x.shape,
      );
    }
    return a.sizes.map((s) => ({
      shape: x.shape.map((d, i) => (i === a.axis ? s : d)),
      dtype: x.dtype,
    }));
  },
  cpu([x], ys, a, info) {
    const st = stridesOf(info.ins[0].shape);
    let off = 0;
    ys.forEach((y, k) => {
      stridedCpu(x, y, info.outs[k].shape, st, off * st[a.axis]);
      off += a.sizes[k];
    });
  },
  gpu([x], ys, a, info) {
    const { shape, dtype } = info.ins[0];
    const st = stridesOf(shape);
    let off = 0;
    ys.forEach((y, k) => {
      if (a.sizes[k] > 0) {
        stridedGpu("split", x, y, dtype, info.outs[k].shape, st, off * st[a.axis]);
      }
      off += a.sizes[k];
    });
  },
  grad: ({ attrs }, gs) => [concat(gs, attrs.axis)],
  channels: { kind: "split", axis: (a) => a.axis },
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => {
    const sizes = e.constant([...io.attrs.sizes], [io.attrs.sizes.length], "i64");
    e.node("Split", [io.inputs[0], sizes], io.outputs, { axis: io.attrs.axis });
  },
  samples: [
    { name: "channels into 1, 3, 1", ins: [rand([2, 5, 2])], attrs: { axis: 1, sizes: [1, 3, 1] } },
    {
      name: "spatial axis, an empty part",
      ins: [rand([2, 3, 5])],
      attrs: { axis: 2, sizes: [2, 0, 3] },
    },
    {
      name: "i32, first axis",
      ins: [ints([1, 2, 3, 4, 5, 6], [3, 2])],
      attrs: { axis: 0, sizes: [2, 1] },
    },
  ],
});

/**
 * Split along `axis` into parts of the given `sizes`, or into `count` equal parts.
 *
 * @example
 * ```ts
 * import { init, randn, split } from "../../mod.ts";
 * await init();
 * const x = randn([4, 7, 8, 8], { seed: 0 });
 * const [a, b] = split(x, [2, 5], 1); // channels 0-1 and 2-6: [4, 2, 8, 8], [4, 5, 8, 8]
 * const halves = split(x, 2, 0);      // two equal halves of the batch: 2 × [2, 7, 8, 8]
 * ```
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const ax = normAxis("split", axis, x.rank);
  const dim = x.shape[ax];
  let list: number[];
  if (typeof sizes === "number") {
    if (!Number.isInteger(sizes) || sizes <= 0 || dim % sizes !== 0) {
      throw shapeError(
        "split",
        `axis ${ax} of size ${dim} does not split into ${sizes} equal parts`,
        x.shape,
      );
    }
    list = new Array(sizes).fill(dim / sizes);
  } else list = [...sizes];
  return apply(splitOp, [x], { axis: ax, sizes: list });
}
