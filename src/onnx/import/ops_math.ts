/**
 * Elementwise arithmetic, comparisons, activations and reductions. Every operator evaluates on
 * the host when all its inputs are host values (shape arithmetic), and on oto's ops otherwise.
 */
import type { Tensor } from "../../tensor.ts";
import * as ops from "../../ops/index.ts";
import {
  castHost,
  type HostValue,
  isHost,
  mapBroadcast,
  numbers,
  reduceHost,
  type ValueKind,
} from "../values.ts";
import {
  attrFloat,
  attrInt,
  attrInts,
  NodeError,
  type OpImport,
  type Role,
  type Val,
} from "./types.ts";
import { axis, host, need } from "./common.ts";

const f32 = Math.fround;

/** Initializer operands of arithmetic with data are `operand`s. */
const operandRoles = (_n: unknown, dynamic: readonly boolean[]): (Role | undefined)[] =>
  dynamic.map(() => (dynamic.some((d) => d) ? "operand" : undefined));

function kindOf(vs: readonly HostValue[]): ValueKind {
  return vs.some((v) => v.kind === "float") ? "float" : "int";
}

/** A binary/variadic elementwise operator. */
function elementwise(
  hostF: (kind: ValueKind) => (...xs: number[]) => number,
  tensorF: (a: Tensor, b: Tensor) => Tensor,
  out?: ValueKind,
): OpImport {
  return {
    roles: operandRoles,
    run(ctx, ins) {
      const vs = ins.filter((v): v is Val => v !== undefined);
      if (vs.length === 0) throw new NodeError("needs at least one input");
      if (vs.every(isHost)) {
        const hs = vs as HostValue[];
        const k = kindOf(hs);
        return [mapBroadcast(ctx.node.opType, hs, out ?? k, hostF(k))];
      }
      let acc = ctx.tensor(vs[0]);
      for (const v of vs.slice(1)) acc = tensorF(acc, ctx.tensor(v));
      return [acc];
    },
  };
}

const arith = (f: (a: number, b: number) => number, intF = f) => (k: ValueKind) =>
  k === "float" ? (a: number, b: number) => f32(f(a, b)) : intF;

/** x ** e for a constant exponent, written with oto's ops. */
function power(ctx: Parameters<OpImport["run"]>[0], x: Tensor, e: number): Tensor {
  if (e === 1) return x;
  if (e === 2) return ops.square(x);
  if (e === 3) return ops.mul(ops.square(x), x);
  if (e === 0.5) return ops.sqrt(x);
  if (e === -1) return ops.reciprocal(x);
  if (e === -0.5) return ops.reciprocal(ops.sqrt(x));
  throw new NodeError(
    `Pow with exponent ${e} on data is not supported (exponents 0.5, -0.5, 1, 2, 3, -1)` +
      ` at ${ctx.node.name}`,
  );
}

function unary(hostF: ((x: number) => number) | null, tensorF: (x: Tensor) => Tensor): OpImport {
  return {
    run(ctx, ins) {
      const x = need(ins, 0, "X");
      if (isHost(x)) {
        if (!hostF) return [tensorF(ctx.tensor(x))];
        return [mapBroadcast(ctx.node.opType, [x], x.kind, (v) => f32(hostF(v)))];
      }
      return [tensorF(x)];
    },
  };
}

function hostOnly(f: (x: number) => number, kind?: ValueKind): OpImport {
  return {
    run(ctx, ins) {
      const x = host(need(ins, 0, "X"), "X");
      return [mapBroadcast(ctx.node.opType, [x], kind ?? x.kind, f)];
    },
  };
}

function compare(f: (a: number, b: number) => boolean, tensorF: (a: Tensor, b: Tensor) => Tensor) {
  return elementwise(() => (a, b) => (f(a, b) ? 1 : 0), tensorF, "bool");
}

/** Axes of a reduction: the attribute (older opsets) or the optional second input. */
function reduceAxes(n: Parameters<OpImport["run"]>[0]["node"], ins: readonly (Val | undefined)[]) {
  const fromInput = ins[1] !== undefined ? numbers(host(ins[1], "axes")) : null;
  return fromInput ?? attrInts(n, "axes", null) ?? [];
}

function reduce(kind: "sum" | "mean" | "max" | "min" | "prod" | "l2"): OpImport {
  return {
    run(ctx, ins) {
      const x = need(ins, 0, "data");
      const keep = attrInt(ctx.node, "keepdims", 1) === 1;
      let axes = reduceAxes(ctx.node, ins);
      if (axes.length === 0 && attrInt(ctx.node, "noop_with_empty_axes", 0) === 1) return [x];
      if (isHost(x)) {
        if (kind === "l2") {
          const sq = mapBroadcast("ReduceL2", [x], "float", (v) => v * v);
          const s = reduceHost(sq, axes, keep, "sum");
          return [mapBroadcast("ReduceL2", [s], "float", Math.sqrt)];
        }
        return [reduceHost(x, axes, keep, kind)];
      }
      const r = x.rank;
      axes = axes.length ? axes.map((a) => axis(a, r, "axis")) : [...Array(r).keys()];
      switch (kind) {
        case "sum":
          return [ops.sum(x, axes, keep)];
        case "mean":
          return [ops.mean(x, axes, keep)];
        case "max":
          return [ops.max(x, axes, keep)];
        case "min":
          return [ops.min(x, axes, keep)];
        case "l2":
          return [ops.sqrt(ops.sum(ops.square(x), axes, keep))];
        default:
          throw new NodeError(`ReduceProd of data is not supported`);
      }
    },
  };
}

/** log(1 + e^x) as relu(x) + log(1 + e^-|x|): no overflow for large |x|. */
function softplus(x: Tensor): Tensor {
  return ops.add(ops.relu(x), ops.log(ops.affine(ops.exp(ops.neg(ops.abs(x))), 1, 1)));
}

/** An activation with float attributes (defaults given), on host values too. */
function activation(
  attrs: Record<string, number>,
  hostF: (x: number, a: Record<string, number>) => number,
  tensorF: (x: Tensor, a: Record<string, number>) => Tensor,
): OpImport {
  return {
    run(ctx, ins) {
      const a: Record<string, number> = {};
      for (const [k, d] of Object.entries(attrs)) a[k] = attrFloat(ctx.node, k, d);
      const x = need(ins, 0, "X");
      if (isHost(x)) return [mapBroadcast(ctx.node.opType, [x], "float", (v) => f32(hostF(v, a)))];
      return [tensorF(x, a)];
    },
  };
}

const eluHost = (x: number, a: number, s: number) => x > 0 ? x : a * Math.expm1(x / s);
/** ONNX Selu's default attributes (float32). */
const SELU = { alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875 };

/** Clip: bounds from inputs (opset 11+) or attributes. */
function clipBounds(ctx: Parameters<OpImport["run"]>[0], ins: readonly (Val | undefined)[]) {
  const n = ctx.node;
  const bound = (i: number, attr: string, def: number) => {
    if (ctx.opset < 11) return attrFloat(n, attr, def);
    const v = ins[i];
    if (v === undefined) return def;
    const h = host(v, attr);
    if (h.data.length !== 1) throw new NodeError(`${attr} must be a scalar, got [${h.shape}]`);
    return h.data[0];
  };
  return { lo: bound(1, "min", -Infinity), hi: bound(2, "max", Infinity) };
}

/** Operators of this file by ONNX op type. */
export const MATH_OPS: Record<string, OpImport> = {
  Add: elementwise(arith((a, b) => a + b), ops.add),
  Sub: elementwise(arith((a, b) => a - b), ops.sub),
  Mul: elementwise(arith((a, b) => a * b), ops.mul),
  Div: elementwise(arith((a, b) => a / b, (a, b) => Math.trunc(a / b)), ops.div),
  Max: elementwise(() => Math.max, ops.maximum),
  Min: elementwise(() => Math.min, ops.minimum),
  Sum: elementwise(arith((a, b) => a + b), ops.add),
  Mean: {
    roles: operandRoles,
    run(ctx, ins) {
      const vs = ins.filter((v): v is Val => v !== undefined);
      const s = MATH_OPS.Sum.run(ctx, vs)[0]!;
      if (isHost(s)) return [mapBroadcast("Mean", [s], "float", (v) => f32(v / vs.length))];
      return [ops.scale(s as Tensor, 1 / vs.length)];
    },
  },
  Pow: {
    roles: operandRoles,
    run(ctx, ins) {
      const [x, e] = [need(ins, 0, "X"), need(ins, 1, "Y")];
      if (isHost(x) && isHost(e)) {
        return [mapBroadcast("Pow", [x, e], x.kind, (a, b) => f32(a ** b))];
      }
      if (isHost(e) && e.data.length === 1) return [power(ctx, ctx.tensor(x), e.data[0])];
      throw new NodeError("Pow needs a constant scalar exponent when its base is data");
    },
  },
  Equal: compare((a, b) => a === b, ops.eq),
  Less: compare((a, b) => a < b, ops.lt),
  Greater: compare((a, b) => a > b, ops.gt),
  LessOrEqual: compare((a, b) => a <= b, ops.le),
  GreaterOrEqual: compare((a, b) => a >= b, ops.ge),
  Not: hostOnly((x) => (x ? 0 : 1), "bool"),
  And: {
    run: (_ctx, ins) => [
      mapBroadcast("And", [host(ins[0], "A"), host(ins[1], "B")], "bool", (a, b) => a && b ? 1 : 0),
    ],
  },
  Or: {
    run: (_ctx, ins) => [
      mapBroadcast("Or", [host(ins[0], "A"), host(ins[1], "B")], "bool", (a, b) => a || b ? 1 : 0),
    ],
  },
  Where: {
    run(_ctx, ins) {
      const [c, a, b] = [0, 1, 2].map((i) => host(ins[i], ["condition", "X", "Y"][i]));
      return [mapBroadcast("Where", [c, a, b], kindOf([a, b]), (p, x, y) => (p ? x : y))];
    },
  },
  Floor: hostOnly(Math.floor),
  Ceil: hostOnly(Math.ceil),
  Round: hostOnly((x) => {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; // half to even
  }),
  Neg: unary((x) => -x, ops.neg),
  Abs: unary(Math.abs, ops.abs),
  Sqrt: unary(Math.sqrt, ops.sqrt),
  Exp: unary(Math.exp, ops.exp),
  Log: unary(Math.log, ops.log),
  Reciprocal: unary((x) => 1 / x, ops.reciprocal),
  Sin: unary(Math.sin, ops.sin),
  Cos: unary(Math.cos, ops.cos),
  Sign: unary(Math.sign, ops.sign),
  Relu: unary(null, ops.relu),
  Sigmoid: unary(null, ops.sigmoid),
  Tanh: unary(null, ops.tanh),
  HardSigmoid: {
    run: (ctx, ins) => [
      ops.hardSigmoid(
        ctx.tensor(need(ins, 0, "X")),
        attrFloat(ctx.node, "alpha", 0.2),
        attrFloat(ctx.node, "beta", 0.5),
      ),
    ],
  },
  HardSwish: unary(null, ops.hardSwish),
  Mish: unary(null, ops.mish),
  LeakyRelu: {
    run: (
      ctx,
      ins,
    ) => [ops.leakyRelu(ctx.tensor(need(ins, 0, "X")), attrFloat(ctx.node, "alpha", 0.01))],
  },
  Elu: activation({ alpha: 1 }, (x, a) => eluHost(x, a.alpha, 1), (x, a) => ops.elu(x, a.alpha)),
  Celu: activation({ alpha: 1 }, (x, a) => eluHost(x, a.alpha, a.alpha), (x, a) => {
    if (!(a.alpha > 0)) throw new NodeError(`attribute alpha=${a.alpha} must be positive`);
    return ops.celu(x, a.alpha);
  }),
  Selu: activation(
    SELU,
    (x, a) => a.gamma * eluHost(x, a.alpha, 1),
    (x, a) => ops.scale(ops.elu(x, a.alpha), a.gamma),
  ),
  Softplus: activation(
    {},
    (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
    (x) => softplus(x),
  ),
  Softsign: activation(
    {},
    (x) => x / (1 + Math.abs(x)),
    (x) => ops.div(x, ops.affine(ops.abs(x), 1, 1)),
  ),
  Mod: {
    run(ctx, ins) {
      const [a, b] = [host(ins[0], "A"), host(ins[1], "B")];
      const fmod = attrInt(ctx.node, "fmod", 0) === 1;
      if (!fmod && kindOf([a, b]) === "float") {
        throw new NodeError("attribute fmod=0 needs integer inputs (ONNX: float Mod is fmod=1)");
      }
      // fmod: the sign of the dividend (C fmod); else the sign of the divisor (Python's %).
      const f = fmod ? (x: number, y: number) => x % y : (x: number, y: number) => {
        const r = x % y;
        return r !== 0 && (r < 0) !== (y < 0) ? r + y : r;
      };
      return [mapBroadcast("Mod", [a, b], kindOf([a, b]), f)];
    },
  },
  Clip: {
    run(ctx, ins) {
      const x = need(ins, 0, "input");
      const { lo, hi } = clipBounds(ctx, ins);
      if (isHost(x)) {
        return [mapBroadcast("Clip", [x], x.kind, (v) => Math.min(Math.max(v, lo), hi))];
      }
      if (lo === -Infinity && hi === Infinity) return [x];
      if (lo === 0 && hi === Infinity) return [ops.relu(x)];
      return [ops.clamp(x, lo, hi)];
    },
  },
  ReduceSum: reduce("sum"),
  ReduceMean: reduce("mean"),
  ReduceMax: reduce("max"),
  ReduceMin: reduce("min"),
  ReduceProd: reduce("prod"),
  ReduceL2: reduce("l2"),
  Cast: {
    run(ctx, ins) {
      const x = need(ins, 0, "input");
      const to = attrInt(ctx.node, "to", 1);
      if (isHost(x)) return [castHost(x, to)];
      const float = to === 1 || to === 10 || to === 11 || to === 16;
      if (float) return [x.dtype === "f32" ? x : ops.cast(x, "f32")];
      if (to === 6 || to === 7) return [x.dtype === "i32" ? x : ops.cast(x, "i32")];
      throw new NodeError(`Cast of data to element type ${to} is not supported (float, int32/64)`);
    },
  },
};
