/**
 * What one DHSPG step needs to know, computed on the host from the options and the step count
 * (shared by the WebGPU and cpu engines), and the summary layout both engines produce.
 */
import type { Tensor } from "../tensor.ts";

/** Scalars of one step. */
export interface StepPlan {
  /** Step number, 1 on the first call. */
  t: number;
  lr: number;
  /** "sgd" (heavy ball, PyTorch semantics) or "adam" (adam and adamw). */
  mode: "sgd" | "adam";
  /** AdamW: decay is decoupled (x -= lr*wd*x) instead of added to the gradient. */
  decoupled: boolean;
  /** weightDecayType "l1_norm": group rows get the group-lasso decay instead of L2. */
  l1: boolean;
  /** SGD with momentum > 0 keeps a buffer. */
  momentum: boolean;
  wd: number;
  b1: number;
  b2: number;
  damp: number;
  /** Adam bias corrections 1 - beta^t. */
  bc1: number;
  bc2: number;
  /** Partition G_p / G_np during this step (once). */
  partitionNow: boolean;
  /** The partition exists (after this step's partition, if any). */
  partitioned: boolean;
  /** Global top-K size of the partition. */
  topK: number;
  /** Rank within each ZIG instead: its top {@link zigShare}(G, topFrac) are the top-K. */
  perZig: boolean;
  /** min(target + tolerance, 0.999) as an f32. */
  topFrac: number;
  groupDivisible: number;
  /** num_steps < warm_up_steps: fixed lambda, no projection. */
  warm: boolean;
  /** num_steps >= half_space_step. */
  halfSpace: boolean;
  /** fixed_zero_groups || num_steps > half_space_step: rows that are zero stay zero. */
  fixedZero: boolean;
  lambda: number;
  amp: number;
  hat: number;
  epsilon: number;
  /** Upper group sparsity per ZIG for the projection cap (1 = no cap). */
  upper: number;
  /** Zero groups needed for the target to count as reached. */
  needZeros: number;
}

/** Per-parameter gradient and flags of one step. */
export interface StepGrads {
  grads: (Tensor | null)[];
  /** The parameter's first step with a gradient (SGD momentum buffer = g). */
  first: boolean[];
}

/** Indices into the summary vector both engines fill. */
export const S = {
  zeros: 0,
  total: 1,
  omega: 2,
  reached: 3,
  numGp: 4,
  lamMin: 5,
  lamMax: 6,
  lamMean: 7,
  projected: 8,
  lamCount: 9,
  /**
   * 1 + the steps completed when the parameters first had the target sparsity (0: not yet).
   * Kept across summaries; an f32 holds step counts exactly up to 2^24.
   */
  reachedAt: 10,
  length: 16,
} as const;

/** Python's round(n / q) (half to even) for non-negative integers. */
export function roundHalfEven(n: number, q: number): number {
  const fl = Math.floor(n / q);
  const rem = n - fl * q;
  if (2 * rem > q) return fl + 1;
  if (2 * rem < q) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

/**
 * The top-K share of a ZIG of `size` groups under `partitionScope: "zig"`: ceil(G·frac) of the
 * f32 product, less 1e-3 so that a product meant to be whole (96 · 0.75) is not pushed up by f32
 * rounding. Rounding up leaves every ZIG a spare penalised group when G·tolerance < 1 (16
 * channels at target 0.5 + 0.05: 9, where floor gave 8 = the target itself, and one channel that
 * resisted anywhere kept a gradual run short of the target). The WGSL rank kernel does the same.
 */
export function zigShare(size: number, frac: number): number {
  return Math.min(size, Math.max(0, Math.ceil(Math.fround(size * frac) - 1e-3)));
}
