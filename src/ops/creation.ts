/** Creating tensors: from arrays, constants and seeded random numbers. */
import {
  type BackendName,
  type DType,
  fromHost,
  getDefaultBackend,
  hostArray,
  metaTensor,
  numel,
  type Tensor,
} from "../tensor.ts";
import { rngFor } from "../random.ts";
import { fill } from "./fill.ts";

/** Where and how to create a tensor. */
export interface CreateOptions {
  /** Backend of the tensor (default: the default backend). */
  backend?: BackendName;
  /** Element type (default "f32"). */
  dtype?: DType;
}

/** Options of random creation functions. */
export interface RandomOptions extends CreateOptions {
  /** Seed for reproducible values (default: the global generator, see `manualSeed`). */
  seed?: number;
}

/** Numbers nested in arrays, as `tensor()` accepts them ([[1, 2], [3, 4]]). */
export type Nested = number | Nested[];

const backendOf = (opts: CreateOptions): BackendName => opts.backend ?? getDefaultBackend();

function flattenNested(v: Nested, out: number[], shape: number[], depth: number): void {
  if (typeof v === "number") {
    out.push(v);
    return;
  }
  if (shape.length === depth) shape.push(v.length);
  else if (shape[depth] !== v.length) {
    throw new Error(`tensor: ragged nested array (length ${v.length} vs ${shape[depth]})`);
  }
  for (const x of v) flattenNested(x, out, shape, depth + 1);
}

/**
 * A tensor from numbers: a (nested) array or a typed array, with an optional shape.
 *
 * @example
 * ```ts
 * import { init, tensor } from "../../mod.ts";
 * await init();
 * const a = tensor([[1, 2], [3, 4]]);                 // [2, 2] f32 on the default backend
 * const y = tensor([0, 2, 1], [3], { dtype: "i32" }); // labels
 * ```
 */
export function tensor(
  data: Nested | ArrayLike<number>,
  shape?: readonly number[],
  opts: CreateOptions = {},
): Tensor {
  const dtype = opts.dtype ??
    (data instanceof Int32Array ? "i32" : data instanceof Uint32Array ? "u32" : "f32");
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (typeof data === "number") (flat = [data], inferred = []);
  else if (Array.isArray(data)) {
    const out: number[] = [];
    inferred = [];
    flattenNested(data as Nested, out, inferred, 0);
    flat = out;
  } else (flat = data as ArrayLike<number>, inferred = [flat.length]);
  const s = shape ?? inferred;
  const backend = backendOf(opts);
  if (backend === "meta") {
    if (numel(s) !== flat.length) {
      throw new Error(
        `tensor: ${flat.length} values do not fill shape [${s}] (${numel(s)} elements)`,
      );
    }
    return metaTensor(s, dtype);
  }
  const host = hostArray(dtype, flat.length);
  host.set(flat);
  return fromHost(host, s, dtype, backend);
}

/** Zeros of `shape`. */
export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return fill(shape, 0, opts.backend ?? getDefaultBackend(), opts.dtype ?? "f32");
}

/** Ones of `shape`. */
export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return fill(shape, 1, opts.backend ?? getDefaultBackend(), opts.dtype ?? "f32");
}

/** `value` everywhere. */
export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  return fill(shape, value, opts.backend ?? getDefaultBackend(), opts.dtype ?? "f32");
}

/** 0, 1, ..., n-1. */
export function arange(n: number, opts: CreateOptions = {}): Tensor {
  if (backendOf(opts) === "meta") return metaTensor([n], opts.dtype ?? "f32", "arange");
  const h = hostArray(opts.dtype ?? "f32", n);
  for (let i = 0; i < n; i++) h[i] = i;
  return fromHost(h, [n], opts.dtype ?? "f32", opts.backend ?? getDefaultBackend());
}

/** Normal(mean, std) samples from a seeded generator; identical on every backend. */
export function randn(
  shape: readonly number[],
  opts: RandomOptions & { mean?: number; std?: number } = {},
): Tensor {
  // Shape-only tensors generate no values (and leave the global generator untouched).
  if (backendOf(opts) === "meta") return metaTensor(shape, "f32", "randn");
  const rng = rngFor(opts.seed);
  const h = new Float32Array(numel(shape));
  const m = opts.mean ?? 0, s = opts.std ?? 1;
  for (let i = 0; i < h.length; i++) h[i] = m + s * rng.normal();
  return fromHost(h, shape, "f32", opts.backend ?? getDefaultBackend());
}

/** Uniform samples in [low, high) from a seeded generator; identical on every backend. */
export function uniform(
  shape: readonly number[],
  opts: RandomOptions & { low?: number; high?: number } = {},
): Tensor {
  if (backendOf(opts) === "meta") return metaTensor(shape, "f32", "uniform");
  const rng = rngFor(opts.seed);
  const h = new Float32Array(numel(shape));
  const lo = opts.low ?? 0, hi = opts.high ?? 1;
  for (let i = 0; i < h.length; i++) h[i] = lo + (hi - lo) * rng.next();
  return fromHost(h, shape, "f32", opts.backend ?? getDefaultBackend());
}

/** Copy a tensor to another backend (reads back from the GPU when leaving it). */
export async function toBackend(t: Tensor, backend: BackendName): Promise<Tensor> {
  if (t.backend === backend) return t;
  return fromHost(await t.data(), t.shape, t.dtype, backend);
}
