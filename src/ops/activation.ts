/**
 * Piecewise and smooth activations of mobile networks: clamp (ReLU6, hardtanh), hard swish,
 * hard sigmoid, Mish and the exponential linear units (ELU, CELU, SELU), each a row of the unary table (one kernel body, cpu reference,
 * gradient, channel rule and ONNX mapping side by side). Their derivatives are unary ops of
 * their own (`*Grad`, training-only), so a backward pass is one kernel per activation.
 */
import { apply1, type OpSpec } from "./registry.ts";
import type { Tensor } from "../tensor.ts";
import { affine, defineUnary, mul, type UnaryAttrs, type UnaryRow } from "./elementwise.ts";
import type { ChannelRule } from "./spec.ts";
import { kink, rand } from "./samples.ts";

/** Largest finite f32: stands in for an infinite clamp bound in the kernels' uniforms. */
const F32_MAX = 3.4028234663852886e38;
const finite = (v: number) => Math.max(-F32_MAX, Math.min(F32_MAX, v));

const ops: Record<string, OpSpec<UnaryAttrs>> = {};
const u = (name: string, x: Tensor, alpha = 0, beta = 0) => apply1(ops[name], [x], { alpha, beta });
const none: UnaryAttrs = { alpha: 0, beta: 0 };
const relu6Attrs: UnaryAttrs = { alpha: 0, beta: 6 };
const gradRow = (
  name: string,
  wgsl: string,
  cpu: UnaryRow["cpu"],
  attrs = none,
  domain?: [number, number],
): UnaryRow => ({
  wgsl,
  cpu,
  grad: { none: "activation derivatives are first-order only" },
  zeroInvariant: false,
  onnx: { none: `${name} is a training-only op (an activation derivative)` },
  attrs,
  domain,
});

/** softplus(x) = log(1 + e^x) without overflow, and tanh of it for x >= 0 arguments. */
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const tanhPos = (s: number) => {
  const e = Math.exp(-2 * s);
  return (1 - e) / (1 + e);
};
const sigm = (x: number) => 1 / (1 + Math.exp(-x));
const WGSL_SOFTPLUS_TANH = "let sp = max(x, 0.0) + log(1.0 + exp(-abs(x))); " +
  "let e = exp(-2.0 * sp); let t = (1.0 - e) / (1.0 + e);";

// Clamp keeps a zero channel zero exactly when its range contains 0 (ReLU6: [0, 6]).
const clampChannels: ChannelRule<UnaryAttrs> = {
  kind: "byAttrs",
  rule: (a) =>
    a.alpha <= 0 && a.beta >= 0 ? { kind: "passthrough" } : {
      kind: "map",
      reason: `clamp to [${a.alpha}, ${a.beta}] maps 0 to ${
        Math.min(Math.max(0, a.alpha), a.beta)
      }`,
    },
};

const ROWS: Record<string, UnaryRow> = {
  // alpha = lower bound, beta = upper bound (±F32_MAX for none).
  clamp: {
    wgsl: "return min(max(x, p.alpha), p.beta);",
    cpu: (x, lo, hi) => Math.min(Math.max(x, lo), hi),
    // Gradient 1 strictly inside the range, as PyTorch's hardtanh/ReLU6 (0 at the bounds).
    grad: (x, _y, g, a) => mul(g, u("clampGrad", x, a.alpha, a.beta)),
    zeroInvariant: true,
    channels: clampChannels,
    domain: [-1, 1.5],
    attrs: { alpha: -0.5, beta: 0.75 },
    onnx: (e, io) => {
      const { alpha, beta } = io.attrs;
      const lo = alpha > -F32_MAX ? e.constant([alpha], []) : "";
      const hi = beta < F32_MAX ? e.constant([beta], []) : "";
      e.node("Clip", [io.inputs[0], lo, hi], io.outputs);
    },
    samples: [
      kink(
        "clamp' = 0 at the lower bound: the derivative outside",
        [0, -1, 2, 0],
        "down",
        relu6Attrs,
      ),
      kink("clamp' = 0 at the upper bound: the derivative outside", [6, 3, 6], "up", relu6Attrs),
      { name: "ReLU6, zero-invariant", ins: [rand([2, 3, 2, 2], -3, 8)], attrs: relu6Attrs },
      // A range without 0 maps zero channels to a bound: the channel rule must say so.
      {
        name: "clamp to [0.25, 6]: 0 maps to 0.25",
        ins: [rand([2, 3, 2, 2], -1, 8)],
        attrs: {
          alpha: 0.25,
          beta: 6,
        },
      },
      {
        name: "clamp to [-6, -0.5]: 0 maps to -0.5",
        ins: [rand([2, 3, 2, 2], -8, 1)],
        attrs: {
          alpha: -6,
          beta: -0.5,
        },
      },
      { name: "no lower bound", ins: [rand([9], -3, 3)], attrs: { alpha: -F32_MAX, beta: 1 } },
    ],
  },
  clampGrad: gradRow(
    "clampGrad",
    "return select(0.0, 1.0, x > p.alpha && x < p.beta);",
    (x, lo, hi) => (x > lo && x < hi ? 1 : 0),
    { alpha: -0.5, beta: 0.75 },
  ),
  // x · relu6(x + 3) / 6 (Howard et al. 2019)
  hardSwish: {
    wgsl: "return x * min(max(x + 3.0, 0.0), 6.0) / 6.0;",
    cpu: (x) => x * Math.min(Math.max(x + 3, 0), 6) / 6,
    grad: (x, _y, g) => mul(g, u("hardSwishGrad", x)),
    zeroInvariant: true,
    onnx: (e, io) => e.node("HardSwish", io.inputs, io.outputs),
    domain: [-4, 4],
    samples: [
      kink("hardSwish'(-3) = -1/2: the derivative from above", [-3, -4, 1], "up", none),
      kink("hardSwish'(3) = 3/2: the derivative from below", [3, 4, -1], "down", none),
    ],
  },
  // PyTorch's hardswish backward: 0 below -3, (2x + 3)/6 up to 3 inclusive, 1 above.
  hardSwishGrad: gradRow(
    "hardSwishGrad",
    "return select(select((2.0 * x + 3.0) / 6.0, 1.0, x > 3.0), 0.0, x < -3.0);",
    (x) => (x < -3 ? 0 : x > 3 ? 1 : (2 * x + 3) / 6),
    none,
    [-4, 4],
  ),
  // clamp(alpha·x + beta, 0, 1): ONNX HardSigmoid; PyTorch's is alpha 1/6, beta 1/2.
  hardSigmoid: {
    wgsl: "return min(max(p.alpha * x + p.beta, 0.0), 1.0);",
    cpu: (x, a, b) => Math.min(Math.max(a * x + b, 0), 1),
    grad: (x, _y, g, a) => mul(g, u("hardSigmoidGrad", x, a.alpha, a.beta)),
    zeroInvariant: false,
    domain: [-4, 4],
    attrs: { alpha: 1 / 6, beta: 0.5 },
    onnx: (e, io) =>
      e.node("HardSigmoid", io.inputs, io.outputs, {
        alpha: { float: io.attrs.alpha },
        beta: { float: io.attrs.beta },
      }),
    samples: [
      kink("hardSigmoid' = 0 where it reaches 0: the derivative outside", [-3, 0, -4], "down", {
        alpha: 1 / 6,
        beta: 0.5,
      }),
      kink("hardSigmoid' = 0 where it reaches 1: the derivative outside", [3, 0, 4], "up", {
        alpha: 1 / 6,
        beta: 0.5,
      }),
    ],
  },
  hardSigmoidGrad: gradRow(
    "hardSigmoidGrad",
    "let v = p.alpha * x + p.beta; return select(0.0, p.alpha, v > 0.0 && v < 1.0);",
    (x, a, b) => {
      const v = a * x + b;
      return v > 0 && v < 1 ? a : 0;
    },
    { alpha: 1 / 6, beta: 0.5 },
    [-4, 4],
  ),
  // x · tanh(softplus(x)) (Misra 2019); tanh of a non-negative argument through exp(-2s).
  mish: {
    wgsl: `${WGSL_SOFTPLUS_TANH} return x * t;`,
    cpu: (x) => x * tanhPos(softplus(x)),
    grad: (x, _y, g) => mul(g, u("mishGrad", x)),
    zeroInvariant: true,
    // Opset 17 has no Mish (18 does): Softplus, Tanh, Mul.
    onnx: (e, io) => {
      const sp = e.fresh("softplus"), t = e.fresh("tanh");
      e.node("Softplus", io.inputs, [sp]);
      e.node("Tanh", [sp], [t]);
      e.node("Mul", [io.inputs[0], t], io.outputs);
    },
  },
  // d/dx x·tanh(sp(x)) = tanh(sp) + x·(1 - tanh²(sp))·sigmoid(x)
  mishGrad: gradRow(
    "mishGrad",
    `${WGSL_SOFTPLUS_TANH} return t + x * (1.0 - t * t) / (1.0 + exp(-x));`,
    (x) => {
      const t = tanhPos(softplus(x));
      return t + x * (1 - t * t) * sigm(x);
    },
  ),
  // x for x > 0, else alpha·(exp(x / beta) − 1): ELU (beta 1) and CELU (beta = alpha).
  elu: {
    wgsl: "return select(p.alpha * (exp(x / p.beta) - 1.0), x, x > 0.0);",
    cpu: (x, a, s) => (x > 0 ? x : a * Math.expm1(x / s)),
    grad: (x, _y, g, a) => mul(g, u("eluGrad", x, a.alpha, a.beta)),
    zeroInvariant: true,
    attrs: { alpha: 0.5, beta: 1 },
    onnx: (e, io) => {
      const { alpha, beta } = io.attrs;
      if (beta === 1 || alpha === beta) {
        e.node(beta === 1 ? "Elu" : "Celu", io.inputs, io.outputs, { alpha: { float: alpha } });
        return;
      }
      // Another pair (not written by elu/celu): relu(x) + alpha/beta · min(celu_beta(x), 0).
      const [c, m, s, r] = ["celu", "neg", "scaled", "pos"].map((n) => e.fresh(n));
      e.node("Celu", io.inputs, [c], { alpha: { float: beta } });
      e.node("Min", [c, e.constant([0], [])], [m]);
      e.node("Mul", [m, e.constant([alpha / beta], [])], [s]);
      e.node("Relu", io.inputs, [r]);
      e.node("Add", [r, s], io.outputs);
    },
    samples: [
      kink("elu'(0) = alpha / beta: the derivative from below", [0, -1, 0.5], "down", {
        alpha: 0.5,
        beta: 1,
      }),
      { name: "CELU (beta = alpha)", ins: [rand([2, 7], -4, 3)], attrs: { alpha: 1.5, beta: 1.5 } },
    ],
  },
  // PyTorch's elu backward: the exponential branch for x <= 0.
  eluGrad: gradRow(
    "eluGrad",
    "return select(p.alpha / p.beta * exp(x / p.beta), 1.0, x > 0.0);",
    (x, a, s) => (x > 0 ? 1 : (a / s) * Math.exp(x / s)),
    { alpha: 0.5, beta: 1 },
  ),
};

for (const [name, row] of Object.entries(ROWS)) ops[name] = defineUnary(name, row);

/**
 * Clamp every element to [min, max] (either bound may be ±Infinity for none), as
 * `torch.clamp` / ONNX Clip. Zero-invariant (a prunable channel stays prunable) when the range
 * contains 0.
 *
 * @example
 * ```ts
 * import { clamp, init, tensor } from "../../mod.ts";
 * await init();
 * clamp(tensor([-1, 3, 8]), 0, 6); // [0, 3, 6]: ReLU6
 * ```
 */
export function clamp(x: Tensor, min = -Infinity, max = Infinity): Tensor {
  if (Number.isNaN(min) || Number.isNaN(max) || min > max) {
    throw new Error(`clamp: need min <= max, got [${min}, ${max}]`);
  }
  return u("clamp", x, finite(min), finite(max));
}

/** min(max(x, 0), 6), as `nn.ReLU6` (MobileNetV2). */
export const relu6 = (x: Tensor): Tensor => clamp(x, 0, 6);

/** x·relu6(x + 3)/6, as `nn.Hardswish` (MobileNetV3). */
export const hardSwish = (x: Tensor): Tensor => u("hardSwish", x);

/**
 * clamp(alpha·x + beta, 0, 1) (ONNX HardSigmoid); the defaults are PyTorch's `nn.Hardsigmoid`
 * (alpha 1/6, beta 1/2). Not zero-invariant: 0 maps to beta.
 */
export const hardSigmoid = (x: Tensor, alpha = 1 / 6, beta = 0.5): Tensor =>
  u("hardSigmoid", x, alpha, beta);

/** x·tanh(softplus(x)), as `nn.Mish`. */
export const mish = (x: Tensor): Tensor => u("mish", x);

/** x for x > 0, else alpha·(exp(x) − 1), as `nn.ELU`. Zero-invariant. */
export const elu = (x: Tensor, alpha = 1): Tensor => u("elu", x, alpha, 1);

/** x for x > 0, else alpha·(exp(x / alpha) − 1), as `nn.CELU` (alpha > 0). */
export function celu(x: Tensor, alpha = 1): Tensor {
  if (!(alpha > 0)) throw new Error(`celu: alpha must be positive, got ${alpha}`);
  return u("elu", x, alpha, alpha);
}

/** SELU's constants (Klambauer et al. 2017), as PyTorch and ONNX write them. */
const SELU = { alpha: 1.6732632423543772, scale: 1.0507009873554805 };

/** scale·elu(x, alpha) with the self-normalising constants, as `nn.SELU`. */
export const selu = (x: Tensor): Tensor => affine(u("elu", x, SELU.alpha, 1), SELU.scale, 0);
