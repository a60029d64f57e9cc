/**
 * Strided slicing (NumPy basic slicing, one `start:end:step` per axis) through the strided
 * gather kernel, and its gradient `sliceGrad`, which embeds the gradient back into a zero
 * tensor of the input's shape with the same one-pass gather as constant padding.
 */
import type { Tensor } from "../tensor.ts";
import { apply1, defineOp, shapeError } from "./registry.ts";
import { stridesOf } from "./util.ts";
import { sliceFollow } from "./follow.ts";
import { stridedCpu, stridedGpu } from "./movement.ts";
import { embedCpu, embedGpu } from "./embed.ts";
import { ints, rand } from "./samples.ts";

/** Slices of the samples: [input shape, starts, steps, output shape]. */
const SLICES: [string, number[], number[], number[], number[]][] = [
  ["negative steps and offsets", [4, 5, 6], [3, 4, 1], [-1, -2, 2], [4, 3, 3]],
  ["spatial crop of NCHW (channels kept)", [2, 3, 5, 4], [0, 0, 1, 3], [1, 1, 2, -1], [2, 3, 2, 3]],
  ["a subset of the channels", [2, 5, 3], [0, 1, 0], [1, 3, 1], [2, 2, 3]],
  ["empty", [3, 4], [1, 0], [1, 1], [0, 4]],
];

/** Normalised slice: first index and step per axis (every axis) and the output shape. */
export interface SliceAttrs {
  /** First index per axis. */
  starts: readonly number[];
  /** Step per axis. */
  steps: readonly number[];
  /** Output shape. */
  shape: readonly number[];
}

/** Attributes of the slice gradient: the shape of the sliced tensor, and the slice. */
export interface SliceGradAttrs {
  inShape: readonly number[];
  starts: readonly number[];
  steps: readonly number[];
}

/** Read offset and strides of a slice of a contiguous tensor of shape `inShape`. */
function view(inShape: readonly number[], starts: readonly number[], steps: readonly number[]) {
  const st = stridesOf(inShape);
  let offset = 0;
  starts.forEach((s, d) => (offset += s * st[d]));
  return { offset, strides: st.map((s, d) => s * steps[d]) };
}

function checkSlice(op: string, inShape: readonly number[], a: SliceAttrs): void {
  const r = inShape.length;
  if (a.starts.length !== r || a.steps.length !== r || a.shape.length !== r) {
    throw shapeError(op, `attributes must cover all ${r} axes`, inShape, a.shape);
  }
  for (let d = 0; d < r; d++) {
    const s = a.starts[d], p = a.steps[d], n = a.shape[d], last = s + (n - 1) * p;
    const outside = n > 0 && (s < 0 || s >= inShape[d] || last < 0 || last >= inShape[d]);
    if (!Number.isInteger(p) || p === 0 || outside) {
      throw shapeError(op, `axis ${d}: ${n} elements from ${s} step ${p} leave the input`, inShape);
    }
  }
}

const sliceOp = defineOp<SliceAttrs>({
  name: "slice",
  inputNames: ["x"],
  shape([x], a) {
    checkSlice("slice", x.shape, a);
    return [{ shape: a.shape, dtype: x.dtype }];
  },
  cpu([x], [y], a, info) {
    const { offset, strides } = view(info.ins[0].shape, a.starts, a.steps);
    stridedCpu(x, y, a.shape, strides, offset);
  },
  gpu([x], [y], a, info) {
    // Negative steps give negative strides: the kernel's u32 arithmetic wraps modulo 2^32, so
    // the final (in-range) address is still exact.
    const { offset, strides } = view(info.ins[0].shape, a.starts, a.steps);
    stridedGpu("slice", x, y, info.ins[0].dtype, a.shape, strides, offset);
  },
  grad: ({ ins, attrs }, [g]) => [
    apply1(sliceGradOp, [g], { inShape: ins[0].shape, starts: attrs.starts, steps: attrs.steps }),
  ],
  channels: { kind: "slice", starts: (a) => a.starts, steps: (a) => a.steps },
  follow: (a, t, [x]) => sliceFollow(t.ins[0].shape, a, x.shape),
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => {
    const { starts, steps, shape } = io.attrs;
    const dims = io.info.ins[0].shape;
    const s: number[] = [], t: number[] = [], p: number[] = [];
    starts.forEach((st, d) => {
      if (shape[d] === 0) return void (s.push(0), t.push(0), p.push(1));
      const end = st + shape[d] * steps[d];
      // An axis taken whole (the batch) stays whole at any size: end at "infinity".
      const whole = st === 0 && steps[d] === 1 && shape[d] === dims[d];
      // ONNX reads a negative end as counted from the back: "before index 0" is -(dim + 1).
      const e0 = whole ? Number.MAX_SAFE_INTEGER : end < 0 ? -(dims[d] + 1) : end;
      s.push(st), t.push(e0), p.push(steps[d]);
    });
    const r = starts.length;
    e.node("Slice", [
      io.inputs[0],
      e.constant(s, [r], "i64"),
      e.constant(t, [r], "i64"),
      e.constant([...Array(r).keys()], [r], "i64"),
      e.constant(p, [r], "i64"),
    ], io.outputs);
  },
  samples: [
    ...SLICES.map(([name, x, starts, steps, shape]) => ({
      name,
      ins: [rand(x)],
      attrs: { starts, steps, shape },
    })),
    {
      name: "i32",
      ins: [ints([5, -3, 8, 1, 0, 2], [2, 3])],
      attrs: { starts: [1, 2], steps: [-1, -2], shape: [2, 2] },
    },
  ],
});

const sliceGradOp = defineOp<SliceGradAttrs>({
  name: "sliceGrad",
  inputNames: ["gradOutput"],
  shape([g], a) {
    checkSlice("sliceGrad", a.inShape, { starts: a.starts, steps: a.steps, shape: g.shape });
    return [{ shape: a.inShape, dtype: g.dtype }];
  },
  cpu([g], [y], a, info) {
    embedCpu(g, y, a.inShape, info.ins[0].shape, a.starts, a.steps, 0);
  },
  gpu([g], [y], a, info) {
    const { shape, dtype } = info.ins[0];
    embedGpu("sliceGrad", g, y, dtype, a.inShape, shape, a.starts, a.steps, 0);
  },
  grad: ({ ins, attrs }, [gg]) => [
    sliceByAttrs(gg, { starts: attrs.starts, steps: attrs.steps, shape: ins[0].shape }),
  ],
  channels: { kind: "block", reason: "sliceGrad is a training-only op" },
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: {
    none:
      "sliceGrad is a training-only op (the backward kernel of slice); export the forward graph",
  },
  samples: SLICES.map(([name, inShape, starts, steps, shape]) => ({
    name,
    ins: [rand(shape)],
    attrs: { inShape, starts, steps },
  })),
});

/** Slice with normalised attributes (used by gradients; `slice` is the public form). */
export function sliceByAttrs(x: Tensor, a: SliceAttrs): Tensor {
  return apply1(sliceOp, [x], { starts: [...a.starts], steps: [...a.steps], shape: [...a.shape] });
}

/** Python's `slice.indices`: clamp start/end like NumPy, give the first index and the count. */
function normalise(op: string, dim: number, start: number, end: number, step: number) {
  if (!Number.isInteger(step) || step === 0) {
    throw shapeError(op, `step must be a nonzero integer, got ${step}`);
  }
  for (const v of [start, end]) {
    if (!Number.isInteger(v) && Number.isFinite(v)) {
      throw shapeError(op, `indices must be integers (or ±Infinity), got ${v}`);
    }
  }
  const lower = step > 0 ? 0 : -1, upper = step > 0 ? dim : dim - 1;
  const fix = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, lower), upper);
  const s = fix(start), e = fix(end);
  const len = step > 0 ? Math.ceil((e - s) / step) : Math.ceil((s - e) / -step);
  return { start: s, len: Math.max(0, len) };
}

/**
 * NumPy-style slice `x[starts[0]:ends[0]:steps[0], starts[1]:ends[1]:steps[1], ...]`. The lists
 * cover the leading axes (the rest are kept whole); indices may be negative (counted from the
 * end) and are clamped like NumPy; use `Infinity` / `-Infinity` for "to the end" with positive /
 * negative steps. Copies through the strided kernel.
 *
 * @example
 * ```ts
 * import { init, randn, slice } from "../../mod.ts";
 * await init();
 * const x = randn([4, 5], { seed: 0 });
 * slice(x, [0, 1], [Infinity, -1]);      // x[:, 1:-1]: [4, 3]
 * slice(x, [-1], [-Infinity], [-1]);     // x[::-1]: the rows reversed
 * ```
 */
export function slice(
  x: Tensor,
  starts: readonly number[],
  ends: readonly number[],
  steps: readonly number[] = [],
): Tensor {
  if (starts.length > x.rank || ends.length !== starts.length || steps.length > starts.length) {
    throw shapeError(
      "slice",
      `got ${starts.length} starts, ${ends.length} ends and ${steps.length} steps for a tensor ` +
        `of rank ${x.rank} (give one start and end per sliced axis, steps optional)`,
      x.shape,
    );
  }
  const st: number[] = [], sp: number[] = [], shape: number[] = [];
  x.shape.forEach((dim, d) => {
    if (d >= starts.length) return void (st.push(0), sp.push(1), shape.push(dim));
    const step = steps[d] ?? 1;
    const { start, len } = normalise("slice", dim, starts[d], ends[d], step);
    st.push(start), sp.push(step), shape.push(len);
  });
  return apply1(sliceOp, [x], { starts: st, steps: sp, shape });
}
