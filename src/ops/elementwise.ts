/**
 * Elementwise ops, kept as tables (one row per op): unary math and activations, binary
 * arithmetic and comparisons with NumPy broadcasting, fill, copy and cast.
 */
import unarySrc from "../../kernels/elementwise/unary.wgsl" with { type: "text" };
import binarySrc from "../../kernels/elementwise/binary.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import * as wasmK from "../backend/wasm/ops.ts";
import { type DType, type HostArray, numel, type Tensor } from "../tensor.ts";
import { fill } from "./fill.ts";
import { apply1, defineOp, type OpSpec, shapeError } from "./registry.ts";
import { broadcastShapes, broadcastStrides, elementMap, packShape, sameShape } from "./util.ts";
import type { ChannelRule, OnnxRule, OpSample } from "./spec.ts";
import { kink } from "./samples.ts";
import { binarySamples, compareTie, tieData, unarySamples } from "./elementwise_samples.ts";

const wgslType = (d: DType) => d;

// ---------------------------------------------------------------------------------------------
// Unary

import type { UnaryAttrs, UnaryGrad, UnaryRow } from "./unary_row.ts";
export type { UnaryAttrs, UnaryGrad, UnaryRow };

const SQRT1_2 = Math.SQRT1_2;
function erf(x: number): number {
  // Same approximation as the WGSL kernel (|error| < 1.5e-7).
  const s = Math.sign(x), a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t +
        0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
const sigm = (x: number) => 1 / (1 + Math.exp(-x));

const no: UnaryAttrs = { alpha: 0, beta: 0 };
const simple = (type: string): OnnxRule<UnaryAttrs> => (e, io) =>
  e.node(type, io.inputs, io.outputs);

const UNARY: Record<string, UnaryRow> = {
  neg: {
    wgsl: "return -x;",
    cpu: (x) => -x,
    grad: (_x, _y, g) => neg(g),
    zeroInvariant: true,
    onnx: simple("Neg"),
  },
  abs: {
    wgsl: "return abs(x);",
    cpu: Math.abs,
    grad: (x, _y, g) => mul(g, sign(x)),
    zeroInvariant: true,
    onnx: simple("Abs"),
    samples: [kink("abs'(0) = sign(0) = 0: the mean of both sides", [-1, 0, 0.5, 0], "both", no)],
  },
  sign: {
    wgsl: "return sign(x);",
    cpu: Math.sign,
    grad: (x) => fill(x.shape, 0, x.backend),
    zeroInvariant: true,
    onnx: simple("Sign"),
    samples: [kink("sign(0) = 0: the midpoint of both sides", [-1, 0, 0.5, 0], "both", no)],
  },
  exp: {
    wgsl: "return exp(x);",
    cpu: Math.exp,
    grad: (_x, y, g) => mul(g, y),
    zeroInvariant: false,
    onnx: simple("Exp"),
  },
  log: {
    wgsl: "return log(x);",
    cpu: Math.log,
    grad: (x, _y, g) => div(g, x),
    zeroInvariant: false,
    onnx: simple("Log"),
    domain: [0.25, 3],
  },
  sqrt: {
    wgsl: "return sqrt(x);",
    cpu: Math.sqrt,
    grad: (_x, y, g) => div(g, affine(y, 2, 0)),
    zeroInvariant: true,
    onnx: simple("Sqrt"),
    domain: [0.25, 3],
  },
  square: {
    wgsl: "return x * x;",
    cpu: (x) => x * x,
    grad: (x, _y, g) => mul(g, affine(x, 2, 0)),
    zeroInvariant: true,
    onnx: (e, io) => e.node("Mul", [io.inputs[0], io.inputs[0]], io.outputs),
  },
  reciprocal: {
    wgsl: "return 1.0 / x;",
    cpu: (x) => 1 / x,
    grad: (_x, y, g) => neg(mul(g, square(y))),
    zeroInvariant: false,
    onnx: simple("Reciprocal"),
    domain: [0.25, 3],
  },
  relu: {
    wgsl: "return max(x, 0.0);",
    cpu: (x) => (x > 0 ? x : 0),
    grad: (x, _y, g) => mul(g, step(x)),
    zeroInvariant: true,
    onnx: simple("Relu"),
    samples: [
      kink("relu'(0) = 0: the derivative from below, as PyTorch", [-1, 0, 0.5, 0], "down", no),
    ],
  },
  step: {
    wgsl: "return select(0.0, 1.0, x > 0.0);",
    cpu: (x) => (x > 0 ? 1 : 0),
    grad: (x) => fill(x.shape, 0, x.backend),
    zeroInvariant: true,
    onnx: (e, io) => {
      const zero = e.constant([0], []);
      const b = e.fresh("gt");
      e.node("Greater", [io.inputs[0], zero], [b]);
      e.node("Cast", [b], io.outputs, { to: 1 });
    },
    samples: [kink("step(0) = 0: the value from below", [-1, 0, 0.5, 0], "down", no)],
  },
  leakyRelu: {
    wgsl: "return select(p.alpha * x, x, x > 0.0);",
    cpu: (x, a) => (x > 0 ? x : a * x),
    grad: (x, _y, g, a) => mul(g, affine(step(x), 1 - a.alpha, a.alpha)),
    zeroInvariant: true,
    onnx: (e, io) =>
      e.node("LeakyRelu", io.inputs, io.outputs, { alpha: { float: io.attrs.alpha } }),
    attrs: { alpha: 0.1, beta: 0 },
    samples: [
      kink("leakyRelu'(0) = slope: the derivative from below", [1, 0, -0.5], "down", {
        alpha: 0.1,
        beta: 0,
      }),
    ],
  },
  sigmoid: {
    wgsl: "return 1.0 / (1.0 + exp(-x));",
    cpu: sigm,
    grad: (_x, y, g) => mul(g, mul(y, affine(y, -1, 1))),
    zeroInvariant: false,
    onnx: simple("Sigmoid"),
  },
  tanh: {
    wgsl: "return tanh(x);",
    cpu: Math.tanh,
    grad: (_x, y, g) => mul(g, affine(square(y), -1, 1)),
    zeroInvariant: true,
    onnx: simple("Tanh"),
  },
  silu: {
    wgsl: "return x / (1.0 + exp(-x));",
    cpu: (x) => x * sigm(x),
    // d/dx x*s(x) = s + x*s*(1-s)
    grad: (x, _y, g) => {
      const s = sigmoid(x);
      return mul(g, add(s, mul(mul(x, s), affine(s, -1, 1))));
    },
    zeroInvariant: true,
    onnx: (e, io) => {
      const s = e.fresh("sig");
      e.node("Sigmoid", io.inputs, [s]);
      e.node("Mul", [io.inputs[0], s], io.outputs);
    },
  },
  gelu: {
    wgsl: "return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));",
    cpu: (x) => 0.5 * x * (1 + erf(x * SQRT1_2)),
    // d/dx = Phi(x) + x * phi(x)
    grad: (x, _y, g) => mul(g, geluGrad(x)),
    zeroInvariant: true,
    onnx: (e, io) => {
      const x = io.inputs[0];
      const s = e.fresh("scaled"), r = e.fresh("erf"), one = e.fresh("one_plus");
      const h = e.fresh("half");
      e.node("Mul", [x, e.constant([SQRT1_2], [])], [s]);
      e.node("Erf", [s], [r]);
      e.node("Add", [r, e.constant([1], [])], [one]);
      e.node("Mul", [x, e.constant([0.5], [])], [h]);
      e.node("Mul", [h, one], io.outputs);
    },
  },
  geluGrad: {
    wgsl: "return 0.5 * (1.0 + erf_approx(x * 0.7071067811865476)) + " +
      "x * exp(-0.5 * x * x) * 0.3989422804014327;",
    cpu: (x) => 0.5 * (1 + erf(x * SQRT1_2)) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI),
    // d/dx [Phi(x) + x phi(x)] = phi(x) (2 - x^2)
    grad: (x, _y, g) => {
      const s = square(x), c = 1 / Math.sqrt(2 * Math.PI);
      return mul(g, mul(exp(affine(s, -0.5, 0)), affine(s, -c, 2 * c)));
    },
    zeroInvariant: false,
    onnx: { none: "geluGrad is a training-only op (the derivative of gelu)" },
  },
  affine: {
    wgsl: "return p.alpha * x + p.beta;",
    cpu: (x, a, b) => a * x + b,
    grad: (_x, _y, g, a) => affine(g, a.alpha, 0),
    zeroInvariant: false,
    // A pure scale (SELU's, a mean's 1/n) keeps a zero channel zero.
    channels: {
      kind: "byAttrs",
      rule: (a) =>
        a.beta === 0
          ? { kind: "passthrough" }
          : { kind: "map", reason: `affine adds ${a.beta}, so a zero channel becomes ${a.beta}` },
    },
    attrs: { alpha: -1.5, beta: 0.3 },
    onnx: (e, io) => {
      const t = e.fresh("scaled");
      e.node("Mul", [io.inputs[0], e.constant([io.attrs.alpha], [])], [t]);
      e.node("Add", [t, e.constant([io.attrs.beta], [])], io.outputs);
    },
  },
  sin: {
    wgsl: "return sin(x);",
    cpu: Math.sin,
    grad: (x, _y, g) => mul(g, cos(x)),
    zeroInvariant: true,
    onnx: simple("Sin"),
  },
  cos: {
    wgsl: "return cos(x);",
    cpu: Math.cos,
    grad: (x, _y, g) => neg(mul(g, sin(x))),
    zeroInvariant: false,
    onnx: simple("Cos"),
  },
};

/** Register a unary elementwise op from its row (activations outside this file use it too). */
export function defineUnary(name: string, row: UnaryRow): OpSpec<UnaryAttrs> {
  const kernel = wasmK.UNARY_KERNELS[name];
  const channels: ChannelRule<UnaryAttrs> = row.channels ??
    (row.zeroInvariant
      ? { kind: "passthrough" }
      : { kind: "map", reason: `${name}(0) != 0, so a zero channel would not stay zero` });
  return defineOp<UnaryAttrs>({
    name,
    shape(ins) {
      if (ins[0].dtype !== "f32") throw shapeError(name, `expects f32, got ${ins[0].dtype}`);
      return [{ shape: ins[0].shape, dtype: "f32" }];
    },
    cpu([x], [y], a) {
      for (let i = 0; i < x.length; i++) y[i] = row.cpu(x[i], a.alpha, a.beta);
    },
    gpu([x], [y], a, info) {
      const n = numel(info.outs[0].shape);
      const { items, defs } = elementMap("unary", "f32", "f32", n);
      const g = grid1d(items);
      const k = specialize(name, unarySrc, { T: "f32", TO: "f32", EXPR: row.wgsl, ...defs });
      dispatch(k, [x, y], g, new Uniforms().u32(items, g[0]).f32(a.alpha, a.beta));
    },
    // Transcendental functions (exp, tanh, gelu, ...) have no wasm kernel: the cpu facet runs.
    wasm: kernel === undefined
      ? undefined
      : ([x], [y], a, info) =>
        wasmK.unary(kernel, x, y, numel(info.outs[0].shape), a.alpha, a.beta),
    grad: typeof row.grad === "function"
      ? (({ ins, outs, attrs }, [g]) => [(row.grad as UnaryGrad)(ins[0], outs[0], g, attrs)])
      : row.grad,
    channels,
    cost: (info) => ({ macs: 0, flops: numel(info.outs[0].shape) }),
    onnx: row.onnx,
    samples: unarySamples(row.domain, row.attrs, row.samples),
  });
}

const unaryOps: Record<string, OpSpec<UnaryAttrs>> = {};
for (const [name, row] of Object.entries(UNARY)) unaryOps[name] = defineUnary(name, row);
const u = (name: string, x: Tensor, alpha = 0, beta = 0) =>
  apply1(unaryOps[name], [x], { alpha, beta });

/** -x */
export const neg = (x: Tensor): Tensor => u("neg", x);
/** |x| */
export const abs = (x: Tensor): Tensor => u("abs", x);
/** sign(x) */
export const sign = (x: Tensor): Tensor => u("sign", x);
/** e^x */
export const exp = (x: Tensor): Tensor => u("exp", x);
/** ln x */
export const log = (x: Tensor): Tensor => u("log", x);
/** √x */
export const sqrt = (x: Tensor): Tensor => u("sqrt", x);
/** x² */
export const square = (x: Tensor): Tensor => u("square", x);
/** 1/x */
export const reciprocal = (x: Tensor): Tensor => u("reciprocal", x);
/** max(x, 0) */
export const relu = (x: Tensor): Tensor => u("relu", x);
/** 1 where x > 0, else 0 (no gradient). */
export const step = (x: Tensor): Tensor => u("step", x);
/** x for x > 0, else slope·x */
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => u("leakyRelu", x, slope);
/** 1/(1+e^-x) */
export const sigmoid = (x: Tensor): Tensor => u("sigmoid", x);
/** tanh x */
export const tanh = (x: Tensor): Tensor => u("tanh", x);
/** x·sigmoid(x) */
export const silu = (x: Tensor): Tensor => u("silu", x);
/** Exact (erf) GELU, as PyTorch's default. */
export const gelu = (x: Tensor): Tensor => u("gelu", x);
const geluGrad = (x: Tensor): Tensor => u("geluGrad", x);
/** alpha·x + beta */
export const affine = (x: Tensor, alpha: number, beta: number): Tensor =>
  u("affine", x, alpha, beta);
/** sin x */
export const sin = (x: Tensor): Tensor => u("sin", x);
/** cos x */
export const cos = (x: Tensor): Tensor => u("cos", x);
/** x·s */
export const scale = (x: Tensor, s: number): Tensor => affine(x, s, 0);

// ---------------------------------------------------------------------------------------------
// Binary

interface BinaryRow {
  wgsl: string;
  cpu: (a: number, b: number) => number;
  /** Gradients w.r.t. a and b at full (broadcast) shape; autograd reduces them. */
  grad: ((a: Tensor, b: Tensor, y: Tensor, g: Tensor) => [Tensor | null, Tensor | null]) | null;
  /** Output dtype: same as inputs, or f32 (0/1) for comparisons. */
  compare?: boolean;
  /** Joint: operands share a channel space. Zero-invariant when both are zero. */
  channels: ChannelRule;
  onnx: OnnxRule;
  /** Samples: range of the second operand (default [-2, 2]); i32 operands too (default yes). */
  rangeB?: [number, number];
  noInts?: boolean;
  samples?: OpSample<Record<string, never>>[];
}

const bin = (type: string): OnnxRule => (e, io) => e.node(type, io.inputs, io.outputs);
const cmp = (type: string, negate = false): OnnxRule => (e, io) => {
  const b = e.fresh("cmp");
  e.node(type, io.inputs, [b]);
  if (negate) {
    const nb = e.fresh("not");
    e.node("Not", [b], [nb]);
    e.node("Cast", [nb], io.outputs, { to: 1 });
  } else e.node("Cast", [b], io.outputs, { to: 1 });
};
// Zero channels stay zero next to the constant c when c is 0 (add, sub).
const joint: ChannelRule = { kind: "joint", zeroWith: (c) => c === 0 };
const noChannels: ChannelRule = { kind: "block", reason: "comparison" };

const BINARY: Record<string, BinaryRow> = {
  add: {
    wgsl: "return a + b;",
    cpu: (a, b) => a + b,
    grad: (_a, _b, _y, g) => [g, g],
    channels: joint,
    onnx: bin("Add"),
  },
  sub: {
    wgsl: "return a - b;",
    cpu: (a, b) => a - b,
    grad: (_a, _b, _y, g) => [g, neg(g)],
    channels: joint,
    onnx: bin("Sub"),
  },
  mul: {
    wgsl: "return a * b;",
    cpu: (a, b) => a * b,
    grad: (a, b, _y, g) => [mul(g, b), mul(g, a)],
    channels: { kind: "joint", product: true },
    onnx: bin("Mul"),
  },
  div: {
    wgsl: "return a / b;",
    cpu: (a, b) => a / b,
    grad: (_a, b, y, g) => [div(g, b), neg(div(mul(g, y), b))],
    channels: { kind: "joint", divisor: true, zeroWith: (c) => c !== 0 },
    onnx: bin("Div"),
    rangeB: [0.5, 2],
    noInts: true,
  },
  maximum: {
    wgsl: "return max(a, b);",
    cpu: Math.max,
    grad: (a, b, _y, g) => {
      const m = ge(a, b);
      return [mul(g, m), mul(g, affine(m, -1, 1))];
    },
    channels: { kind: "joint", zeroWith: (c) => c <= 0 },
    onnx: bin("Max"),
    samples: [{
      name: "equal operands",
      ins: tieData,
      attrs: {},
      ties: { rule: "a tie goes to the first operand (a >= b)", breaks: [["up", "none"]] },
    }],
  },
  minimum: {
    wgsl: "return min(a, b);",
    cpu: Math.min,
    grad: (a, b, _y, g) => {
      const m = le(a, b);
      return [mul(g, m), mul(g, affine(m, -1, 1))];
    },
    channels: { kind: "joint", zeroWith: (c) => c >= 0 },
    onnx: bin("Min"),
    samples: [{
      name: "equal operands",
      ins: tieData,
      attrs: {},
      ties: { rule: "a tie goes to the first operand (a <= b)", breaks: [["down", "none"]] },
    }],
  },
  eq: {
    wgsl: "return select(0.0, 1.0, a == b);",
    cpu: (a, b) => (a === b ? 1 : 0),
    grad: null,
    compare: true,
    channels: noChannels,
    onnx: cmp("Equal"),
    samples: [{ name: "equal elements", ins: tieData, attrs: {} }],
  },
  lt: {
    wgsl: "return select(0.0, 1.0, a < b);",
    cpu: (a, b) => (a < b ? 1 : 0),
    grad: null,
    compare: true,
    channels: noChannels,
    onnx: cmp("Less"),
    samples: [compareTie("up")],
  },
  le: {
    wgsl: "return select(0.0, 1.0, a <= b);",
    cpu: (a, b) => (a <= b ? 1 : 0),
    grad: null,
    compare: true,
    channels: noChannels,
    onnx: cmp("Greater", true),
    samples: [compareTie("down")],
  },
  gt: {
    wgsl: "return select(0.0, 1.0, a > b);",
    cpu: (a, b) => (a > b ? 1 : 0),
    grad: null,
    compare: true,
    channels: noChannels,
    onnx: cmp("Greater"),
    samples: [compareTie("down")],
  },
  ge: {
    wgsl: "return select(0.0, 1.0, a >= b);",
    cpu: (a, b) => (a >= b ? 1 : 0),
    grad: null,
    compare: true,
    channels: noChannels,
    onnx: cmp("Less", true),
    samples: [compareTie("up")],
  },
};

function binaryOp(name: string, row: BinaryRow): OpSpec<Record<string, never>> {
  return defineOp<Record<string, never>>({
    name,
    shape([a, b]) {
      if (a.dtype !== b.dtype) {
        throw shapeError(
          name,
          `dtypes differ (${a.dtype} and ${b.dtype}); cast first`,
          a.shape,
          b.shape,
        );
      }
      if (!row.compare && a.dtype !== "f32" && (name === "div")) {
        throw shapeError(name, `expects f32, got ${a.dtype}`);
      }
      return [{
        shape: broadcastShapes(name, a.shape, b.shape),
        dtype: row.compare ? "f32" : a.dtype,
      }];
    },
    cpu([a, b], [y], _attrs, info) {
      const [ia, ib] = info.ins;
      const out = info.outs[0].shape;
      if (sameShape(ia.shape, ib.shape)) {
        for (let i = 0; i < y.length; i++) y[i] = row.cpu(a[i], b[i]);
        return;
      }
      const sa = broadcastStrides(ia.shape, out), sb = broadcastStrides(ib.shape, out);
      const r = out.length;
      for (let i = 0; i < y.length; i++) {
        let rem = i, oa = 0, ob = 0;
        for (let d = r - 1; d >= 0; d--) {
          const c = rem % out[d];
          rem = (rem - c) / out[d];
          oa += c * sa[d];
          ob += c * sb[d];
        }
        y[i] = row.cpu(a[oa], b[ob]);
      }
    },
    gpu([a, b], [y], _attrs, info) {
      const [ia, ib] = info.ins;
      const out = info.outs[0].shape;
      const n = numel(out);
      const same = sameShape(ia.shape, ib.shape);
      const t = wgslType(ia.dtype);
      const expr = row.compare || t === "f32"
        ? row.wgsl
        : row.wgsl.replace(/0\.0|1\.0/g, (m) => `${t}(${m})`);
      const to = row.compare ? "f32" : t;
      const { items, defs } = elementMap(same ? "same" : "broadcast", t, to, n);
      const g = grid1d(items);
      const k = specialize(name, binarySrc, { T: t, TO: to, EXPR: expr, ...defs });
      const uni = new Uniforms().u32(items, g[0], out.length, 0);
      packShape(uni, out, name);
      packShape(uni, broadcastStrides(ia.shape, out), name);
      packShape(uni, broadcastStrides(ib.shape, out), name);
      dispatch(k, [a, b, y], g, uni);
    },
    wasm([a, b], [y], _attrs, info) {
      const [ia, ib] = info.ins;
      const out = info.outs[0].shape;
      if (ia.dtype !== "f32") return false;
      const sa = broadcastStrides(ia.shape, out), sb = broadcastStrides(ib.shape, out);
      return wasmK.binary(wasmK.BINARY_KERNELS[name], a, b, y, out, sa, sb);
    },
    grad: row.grad
      ? ({ ins, outs }, [g]) => row.grad!(ins[0], ins[1], outs[0], g)
      : { none: `${name} is a comparison` },
    channels: row.channels as ChannelRule<Record<string, never>>,
    cost: (info) => ({ macs: 0, flops: numel(info.outs[0].shape) }),
    onnx: row.onnx as OnnxRule<Record<string, never>>,
    samples: binarySamples(row.rangeB, !row.noInts, row.samples),
  });
}

const binaryOps: Record<string, OpSpec<Record<string, never>>> = {};
for (const [name, row] of Object.entries(BINARY)) binaryOps[name] = binaryOp(name, row);
const b2 = (name: string, a: Tensor, b: Tensor) => apply1(binaryOps[name], [a, b], {});

/** a + b (broadcasting) */
export const add = (a: Tensor, b: Tensor): Tensor => b2("add", a, b);
/** a − b (broadcasting) */
export const sub = (a: Tensor, b: Tensor): Tensor => b2("sub", a, b);
/** a · b (broadcasting) */
export const mul = (a: Tensor, b: Tensor): Tensor => b2("mul", a, b);
/** a / b (broadcasting) */
export const div = (a: Tensor, b: Tensor): Tensor => b2("div", a, b);
/** max(a, b) elementwise */
export const maximum = (a: Tensor, b: Tensor): Tensor => b2("maximum", a, b);
/** min(a, b) elementwise */
export const minimum = (a: Tensor, b: Tensor): Tensor => b2("minimum", a, b);
/** 1 where a == b else 0 (f32) */
export const eq = (a: Tensor, b: Tensor): Tensor => b2("eq", a, b);
/** 1 where a < b else 0 */
export const lt = (a: Tensor, b: Tensor): Tensor => b2("lt", a, b);
/** 1 where a <= b else 0 */
export const le = (a: Tensor, b: Tensor): Tensor => b2("le", a, b);
/** 1 where a > b else 0 */
export const gt = (a: Tensor, b: Tensor): Tensor => b2("gt", a, b);
/** 1 where a >= b else 0 */
export const ge = (a: Tensor, b: Tensor): Tensor => b2("ge", a, b);

export type { HostArray };
