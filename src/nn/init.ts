/**
 * Parameter initialisation, with PyTorch's formulas. Values are drawn on the host from the
 * seeded global generator (`manualSeed`) and uploaded, so the same seed gives the same weights
 * on every backend. Every function returns a new tensor on the default backend (or `backend`).
 */
import { type BackendName, fromHost, getDefaultBackend, numel, type Tensor } from "../tensor.ts";
import { type Rng, rngFor } from "../random.ts";

/** Where to create the tensor and which generator to use. */
export interface ParamInitOptions {
  /** Backend of the created tensor (default: the default backend). */
  backend?: BackendName;
  /** Explicit seed (default: the global generator). */
  seed?: number;
  /** Explicit generator (wins over `seed`). */
  rng?: Rng;
}

const genOf = (o: ParamInitOptions): Rng => o.rng ?? rngFor(o.seed);

/** Nonlinearities known to {@link calculateGain}. */
export type Nonlinearity =
  | "linear"
  | "conv2d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "selu";

/** PyTorch's `calculate_gain`. `param` is the leaky ReLU slope (default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "conv2d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu": {
      const a = param ?? 0.01;
      return Math.sqrt(2 / (1 + a * a));
    }
    case "selu":
      return 3 / 4;
  }
}

/**
 * Fan-in and fan-out of a weight shape, as PyTorch computes them: dim 1 and dim 0 times the
 * receptive field (product of dims 2...). For `ConvTranspose2d` ([in, out/groups, kh, kw]) this
 * gives fan_in = out/groups·kh·kw, exactly as PyTorch.
 */
export function fanInOut(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new Error(`init: fan in/out needs a tensor of rank >= 2, got shape [${shape}]`);
  }
  const rf = numel(shape.slice(2));
  return { fanIn: shape[1] * rf, fanOut: shape[0] * rf };
}

function host(
  shape: readonly number[],
  opts: ParamInitOptions,
  f: (next: () => number) => number,
): Tensor {
  const rng = genOf(opts);
  const h = new Float32Array(numel(shape));
  const next = () => rng.next();
  for (let i = 0; i < h.length; i++) h[i] = f(next);
  return fromHost(h, shape, "f32", opts.backend ?? getDefaultBackend());
}

/** Uniform in [-bound, bound). */
export function uniformInit(
  shape: readonly number[],
  bound: number,
  opts: ParamInitOptions = {},
): Tensor {
  return host(shape, opts, (next) => -bound + 2 * bound * next());
}

/** Normal(mean, std). */
export function normalInit(
  shape: readonly number[],
  std: number,
  mean = 0,
  opts: ParamInitOptions = {},
): Tensor {
  const rng = genOf(opts);
  const h = new Float32Array(numel(shape));
  for (let i = 0; i < h.length; i++) h[i] = mean + std * rng.normal();
  return fromHost(h, shape, "f32", opts.backend ?? getDefaultBackend());
}

/** Options of the Kaiming (He) initialisers. */
export interface KaimingOptions extends ParamInitOptions {
  /** Negative slope of the rectifier after this layer (PyTorch default 0). */
  a?: number;
  /** Preserve the variance of the forward ("fan_in", default) or backward pass. */
  mode?: "fan_in" | "fan_out";
  /** Default "leaky_relu", as PyTorch. */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(shape: readonly number[], o: KaimingOptions): number {
  const { fanIn, fanOut } = fanInOut(shape);
  const fan = (o.mode ?? "fan_in") === "fan_in" ? fanIn : fanOut;
  const gain = calculateGain(o.nonlinearity ?? "leaky_relu", o.a ?? 0);
  return gain / Math.sqrt(fan);
}

/**
 * PyTorch's `kaiming_uniform_`: U(-b, b) with b = gain·√(3/fan). Conv and linear layers use
 * `a = √5`, which gives b = 1/√fan_in.
 */
export function kaimingUniform(shape: readonly number[], opts: KaimingOptions = {}): Tensor {
  return uniformInit(shape, Math.sqrt(3) * kaimingStd(shape, opts), opts);
}

/** PyTorch's `kaiming_normal_`: N(0, gain/√fan). */
export function kaimingNormal(shape: readonly number[], opts: KaimingOptions = {}): Tensor {
  return normalInit(shape, kaimingStd(shape, opts), 0, opts);
}

/** PyTorch's `xavier_uniform_`: U(-b, b), b = gain·√(6/(fan_in+fan_out)). */
export function xavierUniform(
  shape: readonly number[],
  gain = 1,
  opts: ParamInitOptions = {},
): Tensor {
  const { fanIn, fanOut } = fanInOut(shape);
  return uniformInit(shape, gain * Math.sqrt(6 / (fanIn + fanOut)), opts);
}

/** PyTorch's `xavier_normal_`: N(0, gain·√(2/(fan_in+fan_out))). */
export function xavierNormal(
  shape: readonly number[],
  gain = 1,
  opts: ParamInitOptions = {},
): Tensor {
  const { fanIn, fanOut } = fanInOut(shape);
  return normalInit(shape, gain * Math.sqrt(2 / (fanIn + fanOut)), 0, opts);
}

/** Constant `value` of `shape`. */
export function constantInit(
  shape: readonly number[],
  value: number,
  opts: ParamInitOptions = {},
): Tensor {
  const h = new Float32Array(numel(shape)).fill(value);
  return fromHost(h, shape, "f32", opts.backend ?? getDefaultBackend());
}

/**
 * The default weight and bias of conv and linear layers (PyTorch's `reset_parameters`): the
 * weight is kaiming_uniform_(a=√5), i.e. U(-1/√fan_in, 1/√fan_in), then the bias is drawn from
 * the same bound. Weight values are drawn before bias values. `biasSize` is the number of
 * output channels (0 for no bias).
 */
export function defaultLayerInit(
  weightShape: readonly number[],
  biasSize: number,
  opts: ParamInitOptions = {},
): { weight: Tensor; bias: Tensor | null } {
  const o = { ...opts, rng: genOf(opts) };
  const weight = kaimingUniform(weightShape, { ...o, a: Math.sqrt(5) });
  const { fanIn } = fanInOut(weightShape);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  const b = biasSize > 0 ? uniformInit([biasSize], bound, o) : null;
  return { weight, bias: b };
}
