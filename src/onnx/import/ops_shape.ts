/**
 * Shapes and data movement: Shape/Size/ConstantOfShape/Range (host values that follow the
 * input's shape), Reshape/Flatten/Squeeze/Unsqueeze/Transpose/Expand/Concat/Split/Slice/Gather
 * on the host or on oto's ops. A Reshape or Expand whose target is a constant of the file (a
 * batch size baked in by the exporter) follows the actual batch like the traced graph does.
 */
import type { Tensor } from "../../tensor.ts";
import * as ops from "../../ops/index.ts";
import { sliceByAttrs } from "../../ops/slice.ts";
import { expandTarget, reshapeTarget } from "../../graph/graph.ts";
import {
  broadcast,
  concatHost,
  expandHost,
  gatherHost,
  type HostValue,
  hostValue,
  isHost,
  numbers,
  reshapeShape,
  size,
  sliceHost,
  slicePlan,
  transposeHost,
  withShape,
} from "../values.ts";
import {
  attrInt,
  attrInts,
  attrString,
  NodeError,
  type OpImport,
  type RunContext,
  unsupported,
  type Val,
} from "./types.ts";
import { axis, host, ints, need } from "./common.ts";
import { sameShape } from "../../ops/util.ts";

const shapeOf = (v: Val): readonly number[] => v.shape;

/** Reshape a value (host or tensor) to a fully known shape. */
function reshapeVal(v: Val, shape: readonly number[]): Val {
  return isHost(v) ? withShape(v, shape) : ops.reshape(v, shape);
}

/**
 * The reference run's target when the input's shape differs from it and the target is a file
 * constant (not computed from shapes).
 */
function followBatch(
  ctx: RunContext,
  x: Val,
  target: HostValue,
  adapt: typeof reshapeTarget,
): number[] | null {
  const ref = ctx.ref;
  if (target.fromShape || !ref?.ins[0] || !ref.outs[0]) return null;
  if (sameShape(ref.ins[0], x.shape)) return null;
  return adapt(ref.ins[0], ref.outs[0], x.shape);
}

/** Unsqueeze axes (input from opset 13, attribute before). */
function axesOf(ctx: RunContext, ins: readonly (Val | undefined)[]): number[] | null {
  if (ctx.opset >= 13) return ins[1] === undefined ? null : ints(ins[1], "axes");
  return attrInts(ctx.node, "axes", null);
}

const view = () => ["view" as const];

/**
 * ScatterND on host values (Swin's shifted-window mask is built this way from zeros); data
 * computed from the input has no oto op.
 */
function scatterND(ctx: RunContext, ins: readonly (Val | undefined)[]): HostValue {
  const [x, idx, upd] = [host(ins[0], "data"), host(ins[1], "indices"), host(ins[2], "updates")];
  const red = attrString(ctx.node, "reduction", "none");
  const combine: Record<string, (a: number, b: number) => number> = {
    none: (_a, b) => b,
    add: (a, b) => a + b,
    mul: (a, b) => a * b,
    max: Math.max,
    min: Math.min,
  };
  if (!combine[red]) throw unsupported("reduction", red, "none, add, mul, max, min");
  const k = idx.shape[idx.shape.length - 1];
  if (!(k >= 1 && k <= x.shape.length)) {
    throw new NodeError(`indices' last axis ${k} must be 1..${x.shape.length} (data rank)`);
  }
  const inner = size(x.shape.slice(k)), count = size(idx.shape) / k;
  if (upd.data.length !== count * inner) {
    throw new NodeError(
      `updates [${upd.shape}] do not fit indices [${idx.shape}] into [${x.shape}]`,
    );
  }
  const out = Array.from(x.data), st: number[] = [];
  for (let d = k - 1, m = inner; d >= 0; m *= x.shape[d], d--) st[d] = m;
  for (let i = 0; i < count; i++) {
    let off = 0;
    for (let d = 0; d < k; d++) {
      const j = idx.data[i * k + d], dim = x.shape[d];
      const jj = j < 0 ? j + dim : j;
      if (!(jj >= 0 && jj < dim)) throw new NodeError(`index ${j} out of range for axis ${d}`);
      off += jj * st[d];
    }
    for (let e = 0; e < inner; e++) {
      out[off + e] = combine[red](out[off + e], upd.data[i * inner + e]);
    }
  }
  return hostValue(x.kind, x.shape, out, x.fromShape || upd.fromShape);
}

/** Operators of this file by ONNX op type. */
export const SHAPE_OPS: Record<string, OpImport> = {
  Identity: { roles: view, run: (_ctx, ins) => [need(ins, 0, "input")] },
  Shape: {
    hostOutputs: true,
    run(ctx, ins) {
      const s = shapeOf(need(ins, 0, "data"));
      const r = s.length;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const start = clamp(attrInt(ctx.node, "start", 0));
      const end = clamp(attrInt(ctx.node, "end", r));
      const dims = s.slice(start, Math.max(start, end));
      return [hostValue("int", [dims.length], dims, true)];
    },
  },
  Size: {
    hostOutputs: true,
    run: (_ctx, ins) => [hostValue("int", [], [size(shapeOf(need(ins, 0, "data")))], true)],
  },
  ConstantOfShape: {
    run(ctx, ins) {
      const shape = host(ins[0], "input");
      const a = ctx.node.attrs.get("value");
      const v = a?.type === "tensor" ? a.value : hostValue("float", [1], [0]);
      const dims = numbers(shape);
      const out = hostValue(v.kind, dims, new Array(size(dims)).fill(v.data[0]));
      if (shape.fromShape) out.fromShape = true;
      return [out];
    },
  },
  Range: {
    run(_ctx, ins) {
      const [s, l, d] = [0, 1, 2].map((i) => host(ins[i], ["start", "limit", "delta"][i]));
      const [a, b, c] = [s.data[0], l.data[0], d.data[0]];
      const n = Math.max(Math.ceil((b - a) / c), 0);
      const out = hostValue(s.kind, [n], Array.from({ length: n }, (_, i) => a + i * c));
      if (s.fromShape || l.fromShape || d.fromShape) out.fromShape = true;
      return [out];
    },
  },
  Reshape: {
    roles: view,
    run(ctx, ins) {
      const x = need(ins, 0, "data");
      const t = host(ins[1], "shape");
      const target = followBatch(ctx, x, t, reshapeTarget) ??
        reshapeShape(x.shape, numbers(t), attrInt(ctx.node, "allowzero", 0) === 1);
      return [reshapeVal(x, target)];
    },
  },
  Flatten: {
    roles: view,
    run(ctx, ins) {
      const x = need(ins, 0, "input");
      const a = attrInt(ctx.node, "axis", 1);
      const r = x.shape.length;
      const ax = a < 0 ? a + r : a;
      if (ax < 0 || ax > r) throw new NodeError(`axis ${a} is out of range for rank ${r}`);
      return [reshapeVal(x, [size(x.shape.slice(0, ax)), size(x.shape.slice(ax))])];
    },
  },
  Squeeze: {
    roles: view,
    run(ctx, ins) {
      const x = need(ins, 0, "data");
      const r = x.shape.length;
      const list = axesOf(ctx, ins);
      const set = new Set(
        list ? list.map((a) => axis(a, r)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : [])),
      );
      for (const a of set) {
        if (x.shape[a] !== 1) throw new NodeError(`cannot squeeze axis ${a} of [${x.shape}]`);
      }
      return [reshapeVal(x, x.shape.filter((_, i) => !set.has(i)))];
    },
  },
  Unsqueeze: {
    roles: view,
    run(ctx, ins) {
      const x = need(ins, 0, "data");
      const list = axesOf(ctx, ins);
      if (!list) throw new NodeError("Unsqueeze needs axes");
      const r = x.shape.length + list.length;
      const set = new Set(list.map((a) => axis(a, r)));
      const out: number[] = [];
      let k = 0;
      for (let i = 0; i < r; i++) out.push(set.has(i) ? 1 : x.shape[k++]);
      return [reshapeVal(x, out)];
    },
  },
  Transpose: {
    roles: view,
    run(ctx, ins) {
      const x = need(ins, 0, "data");
      const r = x.shape.length;
      const perm = attrInts(ctx.node, "perm", null) ?? [...Array(r).keys()].reverse();
      if (isHost(x)) return [transposeHost(x, perm)];
      return [ops.permute(x, perm)];
    },
  },
  Expand: {
    roles: view,
    run(ctx, ins) {
      const x = need(ins, 0, "input");
      const t = host(ins[1], "shape");
      const target = followBatch(ctx, x, t, expandTarget) ??
        broadcast("Expand", x.shape, numbers(t));
      if (isHost(x)) return [expandHost(x, target)];
      return [ops.expand(x, target)];
    },
  },
  Tile: {
    run(_ctx, ins) {
      const x = host(ins[0], "input");
      const reps = ints(ins[1], "repeats");
      let v = x;
      reps.forEach((k, a) => {
        if (k !== 1) v = concatHost(new Array(k).fill(v), a);
      });
      return [v];
    },
  },
  Concat: {
    roles: (_n, dynamic) => dynamic.map(() => (dynamic.some((d) => d) ? "operand" : undefined)),
    run(ctx, ins) {
      const vs = ins.filter((v): v is Val => v !== undefined);
      const r = vs[0].shape.length;
      const a = axis(attrInt(ctx.node, "axis", 0), r);
      // Empty operands (a zero-length axis) contribute nothing.
      const parts = vs.filter((v) => size(v.shape) > 0 || vs.length === 1);
      if (parts.every(isHost)) return [concatHost(parts as HostValue[], a)];
      if (parts.length === 1) return [ctx.tensor(parts[0])];
      return [ops.concat(parts.map((v) => ctx.tensor(v)), a)];
    },
  },
  Split: {
    run(ctx, ins) {
      const x = need(ins, 0, "input");
      const r = x.shape.length;
      const a = axis(attrInt(ctx.node, "axis", 0), r);
      const dim = x.shape[a];
      const count = ctx.node.outputs.length;
      let sizes = ctx.opset >= 13
        ? (ins[1] === undefined ? null : ints(ins[1], "split"))
        : attrInts(ctx.node, "split", null);
      if (!sizes) {
        const k = Math.ceil(dim / count);
        sizes = Array.from({ length: count }, (_, i) => Math.max(0, Math.min(k, dim - i * k)));
      }
      if (isHost(x)) {
        let off = 0;
        return sizes.map((s) => {
          const starts = x.shape.map((_, i) => (i === a ? off : 0));
          const shape = x.shape.map((d, i) => (i === a ? s : d));
          off += s;
          return sliceHost(x, { starts, steps: x.shape.map(() => 1), shape });
        });
      }
      return ops.split(x, sizes, a);
    },
  },
  Slice: {
    roles: view,
    run(ctx, ins) {
      const x = need(ins, 0, "data");
      let starts: number[], ends: number[], axes: number[] | null, steps: number[] | null;
      if (ctx.opset >= 10) {
        starts = ints(ins[1], "starts");
        ends = ints(ins[2], "ends");
        axes = ins[3] === undefined ? null : ints(ins[3], "axes");
        steps = ins[4] === undefined ? null : ints(ins[4], "steps");
      } else {
        starts = attrInts(ctx.node, "starts", [])!;
        ends = attrInts(ctx.node, "ends", [])!;
        axes = attrInts(ctx.node, "axes", null);
        steps = null;
      }
      const plan = slicePlan(x.shape, starts, ends, axes, steps);
      if (isHost(x)) return [sliceHost(x, plan)];
      if (sameShape(plan.shape, x.shape) && plan.steps.every((s) => s === 1)) return [x];
      return [sliceByAttrs(x as Tensor, plan)];
    },
  },
  ScatterND: { run: (ctx, ins) => [scatterND(ctx, ins)] },
  Gather: {
    run(ctx, ins) {
      const x = need(ins, 0, "data");
      const idx = host(ins[1], "indices");
      const a = axis(attrInt(ctx.node, "axis", 0), x.shape.length);
      if (isHost(x)) return [gatherHost(x, idx, a)];
      const dim = x.shape[a];
      const fixed = numbers(idx).map((i) => (i < 0 ? i + dim : i));
      const t = ctx.tensor(hostValue("int", idx.shape, fixed));
      return [ops.gather(x, a, t)];
    },
  },
};
