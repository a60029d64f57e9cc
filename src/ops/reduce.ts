/** Reductions over any set of axes (sum, mean, max, min) and argmax along one axis. */
import reduceSrc from "../../kernels/reduce/reduce.wgsl" with { type: "text" };
import argmaxSrc from "../../kernels/reduce/argmax.wgsl" with { type: "text" };
import {
  acquireBuffer,
  dispatch,
  grid1d,
  releaseBuffer,
  specialize,
  Uniforms,
} from "../backend/webgpu.ts";
import { reduce as reduceWasm } from "../backend/wasm/ops.ts";
import { numel, type Tensor, type TensorInfo } from "../tensor.ts";
import { apply1, defineOp, type OpSpec, shapeError } from "./registry.ts";
import { normAxis, packShape, stridesOf } from "./util.ts";
import { div, eq, mul, scale } from "./elementwise.ts";
import { expand, reshape } from "./movement.ts";
import { ramp, rand, values } from "./samples.ts";
import type { OpSample } from "./spec.ts";

/** 2-way ties in every reduced row of a [2, 4] input (with axes [1]). */
const TIED = values([1, -2, 1, 0.5, -1, 0.25, 0.25, -3], [2, 4]);

function reduceSamples(kind: Kind): OpSample<ReduceAttrs>[] {
  const s = (name: string, shape: number[], axes: number[], keepDims: boolean) => ({
    name,
    ins: [rand(shape, -2, 2)],
    attrs: { axes, keepDims },
  });
  const samples: OpSample<ReduceAttrs>[] = [
    s("trailing axis (contiguous), odd size", [3, 5, 7], [2], false),
    s("non-contiguous axes, keepDims", [3, 4, 5], [0, 2], true),
    s("every axis", [2, 3, 4], [0, 1, 2], false),
    s("spatial axes of NCHW (per channel)", [2, 3, 4, 5], [2, 3], true),
    s("long rows, few outputs (chunked)", [2, 2500], [1], false),
  ];
  if (kind === "sum") samples.push(s("empty reduced axis", [3, 0], [1], false));
  if (kind === "max" || kind === "min") {
    for (const falling of [false, true]) {
      const how = falling ? "falling" : "rising";
      samples.push(
        {
          name: `${how} values, middle axis`,
          ins: [ramp([3, 4, 5], falling)],
          attrs: { axes: [1], keepDims: false },
        },
        {
          name: `${how} values, long rows`,
          ins: [ramp([2, 2500], falling)],
          attrs: { axes: [1], keepDims: true },
        },
      );
    }
  }
  if (kind === "max" || kind === "min") {
    samples.push({
      name: "2-way ties in every row",
      ins: [TIED],
      attrs: { axes: [1], keepDims: false },
      ties: {
        rule: `tied ${kind}ima share the gradient evenly`,
        breaks: [["earlierHigher"], ["earlierLower"]],
      },
    });
  }
  return samples;
}

/** Attributes of reductions. */
export interface ReduceAttrs {
  /** The (normalised) axes reduced over. */
  axes: readonly number[];
  /** Keep the reduced axes with size 1. */
  keepDims: boolean;
}

type Kind = "sum" | "mean" | "max" | "min";
const ROW: Record<Kind, { init: string; combine: string; cpu: (a: number, b: number) => number }> =
  {
    sum: { init: "0.0", combine: "return a + b;", cpu: (a, b) => a + b },
    mean: { init: "0.0", combine: "return a + b;", cpu: (a, b) => a + b },
    max: { init: "-3.40282347e+38", combine: "return max(a, b);", cpu: Math.max },
    min: { init: "3.40282347e+38", combine: "return min(a, b);", cpu: Math.min },
  };

function outShape(x: TensorInfo, a: ReduceAttrs): number[] {
  const set = new Set(a.axes);
  return a.keepDims
    ? x.shape.map((d, i) => (set.has(i) ? 1 : d))
    : x.shape.filter((_, i) => !set.has(i));
}

/** Kept-dims shape/strides and reduced-dims shape/strides, each at full rank. */
function plan(shape: readonly number[], axes: readonly number[]) {
  const st = stridesOf(shape);
  const set = new Set(axes);
  const oshape = shape.map((d, i) => (set.has(i) ? 1 : d));
  const ostr = st.map((s, i) => (set.has(i) ? 0 : s));
  const rshape = shape.map((d, i) => (set.has(i) ? d : 1));
  const rstr = st.map((s, i) => (set.has(i) ? s : 0));
  const red = numel(rshape);
  // Contiguous: the reduced axes are exactly the trailing ones.
  const sorted = [...axes].sort((p, q) => p - q);
  const contig = sorted.every((ax, i) => ax === shape.length - sorted.length + i);
  return { oshape, ostr, rshape, rstr, red, contig };
}

/** WGSL mapping reduced index `rr` to `off` over the reduced dims (size-1 dims skipped). */
function offsetCode(rshape: readonly number[], rstr: readonly number[]): string {
  const dims = rshape.map((s, d) => [s, rstr[d]]).filter(([s]) => s > 1).reverse();
  return dims.map(([s, st], i) =>
    i === dims.length - 1
      ? `    off += rr * ${st}u;`
      : `    off += (rr % ${s}u) * ${st}u; rr = rr / ${s}u;`
  ).join("\n");
}

function reduceOp(kind: Kind): OpSpec<ReduceAttrs> {
  const row = ROW[kind];
  return defineOp<ReduceAttrs>({
    name: kind,
    shape([x], a) {
      if (x.dtype !== "f32") throw shapeError(kind, `expects f32, got ${x.dtype}`, x.shape);
      return [{ shape: outShape(x, a), dtype: "f32" }];
    },
    cpu([x], [y], a, info) {
      const { oshape, ostr, rshape, rstr, red } = plan(info.ins[0].shape, a.axes);
      const r = oshape.length;
      for (let o = 0; o < y.length; o++) {
        let rem = o, base = 0;
        for (let d = r - 1; d >= 0; d--) {
          const c = rem % oshape[d];
          rem = (rem - c) / oshape[d];
          base += c * ostr[d];
        }
        let acc = kind === "max" ? -Infinity : kind === "min" ? Infinity : 0;
        for (let k = 0; k < red; k++) {
          let rr = k, off = 0;
          for (let d = r - 1; d >= 0; d--) {
            const c = rr % rshape[d];
            rr = (rr - c) / rshape[d];
            off += c * rstr[d];
          }
          acc = row.cpu(acc, x[base + off]);
        }
        y[o] = kind === "mean" ? acc / red : acc;
      }
    },
    gpu([x], [y], a, info) {
      const p = plan(info.ins[0].shape, a.axes);
      const nOut = numel(info.outs[0].shape);
      const fin = kind === "mean" ? 1 / p.red : 1;
      // Few outputs over many elements: split each reduction into chunks, then combine.
      const chunks = nOut < 1024 && p.red > 2048 ? Math.min(256, Math.ceil(p.red / 1024)) : 1;
      const k = (pl: ReturnType<typeof plan>) =>
        specialize(`reduce_${kind === "mean" ? "sum" : kind}`, reduceSrc, {
          INIT: row.init,
          COMBINE: row.combine,
          OFFSET: pl.contig ? "    off = rr;" : offsetCode(pl.rshape, pl.rstr),
        });
      const run = (
        src: GPUBuffer,
        dst: GPUBuffer,
        n: number,
        pl: ReturnType<typeof plan>,
        ch: number,
        s: number,
      ) => {
        const g = grid1d(n * ch, 64);
        const u = new Uniforms().u32(n * ch, g[0], pl.oshape.length, pl.red);
        u.u32(Math.ceil(pl.red / ch), ch).f32(s).u32(0);
        for (const v of [pl.oshape, pl.ostr]) packShape(u, v, kind);
        dispatch(k(pl), [src, dst], g, u);
      };
      if (chunks === 1) {
        run(x, y, nOut, p, 1, fin);
      } else {
        const tmp = acquireBuffer(nOut * chunks * 4);
        run(x, tmp, nOut, p, chunks, 1);
        run(tmp, y, nOut, plan([nOut, chunks], [1]), 1, fin);
        releaseBuffer(tmp);
      }
    },
    wasm: ([x], [y], a, info) => reduceWasm(kind, x, y, info.ins[0].shape, a.axes),
    grad: ({ ins, outs, attrs }, [g]) => {
      const x = ins[0];
      const keep = x.shape.map((d, i) => (attrs.axes.includes(i) ? 1 : d));
      const gk = reshape(g, keep);
      if (kind === "sum") return [expand(gk, x.shape)];
      if (kind === "mean") {
        return [expand(scale(gk, numel(keep) / numel(x.shape)), x.shape)];
      }
      // max/min: the gradient goes to the extreme entries, split evenly between ties.
      const hit = eq(x, expand(reshape(outs[0], keep), x.shape));
      const count = sum(hit, attrs.axes, true);
      return [mul(expand(gk, x.shape), div(hit, expand(count, x.shape)))];
    },
    // Over other axes each channel reduces on its own and a zero channel reduces to zero; a
    // sum over the channels reads them like a consumer (zero channels add nothing).
    channels: {
      kind: "reduce",
      axes: (a) => a.axes,
      keepDims: (a) => a.keepDims,
      consumes: kind === "sum",
    },
    cost: (info) => ({ macs: 0, flops: numel(info.ins[0].shape) }),
    onnx: (e, io) => {
      const type =
        { sum: "ReduceSum", mean: "ReduceMean", max: "ReduceMax", min: "ReduceMin" }[kind];
      const keepdims = io.attrs.keepDims ? 1 : 0;
      if (kind === "sum") {
        const axes = e.constant([...io.attrs.axes], [io.attrs.axes.length], "i64");
        e.node(type, [io.inputs[0], axes], io.outputs, { keepdims });
      } else e.node(type, io.inputs, io.outputs, { axes: [...io.attrs.axes], keepdims });
    },
    samples: reduceSamples(kind),
  });
}

const ops = {
  sum: reduceOp("sum"),
  mean: reduceOp("mean"),
  max: reduceOp("max"),
  min: reduceOp("min"),
};

function axesOf(op: string, x: Tensor, axes?: number | readonly number[]): number[] {
  const list = axes === undefined ? [...x.shape.keys()] : typeof axes === "number" ? [axes] : axes;
  const norm = list.map((a) => normAxis(op, a, x.rank));
  if (new Set(norm).size !== norm.length) throw shapeError(op, `repeated axis in [${list}]`);
  return norm.sort((p, q) => p - q);
}

/** Sum over `axes` (all by default). */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return apply1(ops.sum, [x], { axes: axesOf("sum", x, axes), keepDims });
}
/** Mean over `axes` (all by default). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return apply1(ops.mean, [x], { axes: axesOf("mean", x, axes), keepDims });
}
/** Maximum over `axes` (all by default). */
export function max(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return apply1(ops.max, [x], { axes: axesOf("max", x, axes), keepDims });
}
/** Minimum over `axes` (all by default). */
export function min(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return apply1(ops.min, [x], { axes: axesOf("min", x, axes), keepDims });
}

/** Sum a broadcast gradient back down to `shape` (autograd of broadcasting ops). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}

interface ArgmaxAttrs {
  axis: number;
}

const argmaxOp = defineOp<ArgmaxAttrs>({
  name: "argmax",
  shape([x], a) {
    if (x.dtype !== "f32") throw shapeError("argmax", `expects f32, got ${x.dtype}`, x.shape);
    return [{ shape: x.shape.filter((_, i) => i !== a.axis), dtype: "i32" }];
  },
  cpu([x], [y], a, info) {
    const s = info.ins[0].shape;
    const len = s[a.axis], inner = numel(s.slice(a.axis + 1));
    for (let t = 0; t < y.length; t++) {
      const base = Math.floor(t / inner) * len * inner + (t % inner);
      let best = x[base], arg = 0;
      for (let j = 1; j < len; j++) {
        if (x[base + j * inner] > best) (best = x[base + j * inner], arg = j);
      }
      y[t] = arg;
    }
  },
  gpu([x], [y], a, info) {
    const s = info.ins[0].shape;
    const n = numel(info.outs[0].shape);
    const g = grid1d(n, 64);
    const u = new Uniforms().u32(n, g[0], s[a.axis], numel(s.slice(a.axis + 1)));
    dispatch(specialize("argmax", argmaxSrc), [x, y], g, u);
  },
  grad: { none: "argmax is piecewise constant" },
  channels: { kind: "block", reason: "argmax mixes channels" },
  cost: (info) => ({ macs: 0, flops: numel(info.ins[0].shape) }),
  onnx: (e, io) => {
    const t = e.fresh("argmax64");
    e.node("ArgMax", io.inputs, [t], { axis: io.attrs.axis, keepdims: 0 });
    e.node("Cast", [t], io.outputs, { to: 6 });
  },
  samples: [
    { name: "last axis, odd size", ins: [rand([3, 7])], attrs: { axis: 1 } },
    { name: "first axis, inner > 1", ins: [rand([4, 3, 2])], attrs: { axis: 0 } },
    { name: "rising values", ins: [ramp([3, 5])], attrs: { axis: 1 } },
    { name: "falling values, inner > 1", ins: [ramp([4, 3, 2], true)], attrs: { axis: 0 } },
    {
      name: "ties",
      ins: [TIED],
      attrs: { axis: 1 },
      ties: { rule: "the first index of tied maxima", breaks: [["earlierHigher"]] },
    },
  ],
});

/** Index of the maximum along `axis` (i32). */
export function argmax(x: Tensor, axis = -1): Tensor {
  return apply1(argmaxOp, [x], { axis: normAxis("argmax", axis, x.rank) });
}
