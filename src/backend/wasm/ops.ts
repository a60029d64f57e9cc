/**
 * The wasm kernels (kernels/wasm/*.c) as the ops' wasm facets call them: argument marshalling
 * only (descriptor blocks, temporary blocks, kernel ids). Pointers are byte offsets into the
 * shared memory; the op files own the shape logic.
 */
import { argBlock, wasmRuntime, withTemps } from "./runtime.ts";

const k = () => wasmRuntime().kernels;

// ---------------------------------------------------------------------------------------------
// GEMM

/** Row/column strides of one operand of a batched GEMM (elements). */
export interface Operand {
  ptr: number;
  /** Batch stride (0: shared by every batch entry). */
  batch: number;
  row: number;
  col: number;
}

/** c[b] (+)= a[b] · b[b] over `batch` entries of m x k times k x n; c is row-major m x n. */
export function gemm(
  batch: number,
  m: number,
  n: number,
  kk: number,
  a: Operand,
  b: Operand,
  c: number,
  accumulate = false,
): void {
  if (batch * m * n === 0) return;
  k().sgemm(
    batch,
    m,
    n,
    kk,
    a.ptr,
    a.batch,
    a.row,
    a.col,
    b.ptr,
    b.batch,
    b.row,
    b.col,
    c,
    m * n,
    n,
    accumulate ? 1 : 0,
  );
}

/** y[r, :] = v for each of `rows` rows of length n. */
export function fillRows(y: number, v: number, rows: number, n: number): void {
  if (rows * n > 0) k().fill_rows(y, v, rows, n);
}

// ---------------------------------------------------------------------------------------------
// Elementwise

/** Unary ops with a wasm kernel, by name (kernels/wasm/eltwise.c). */
export const UNARY_KERNELS: Readonly<Record<string, number>> = {
  neg: 0,
  abs: 1,
  sign: 2,
  sqrt: 3,
  square: 4,
  reciprocal: 5,
  relu: 6,
  step: 7,
  leakyRelu: 8,
  affine: 9,
};

/** y = f(x) for the unary kernel `op` (see {@link UNARY_KERNELS}). */
export function unary(op: number, x: number, y: number, n: number, alpha = 0, beta = 0): void {
  if (n > 0) k().unary_f32(op, x, y, n, alpha, beta);
}

/** Binary f32 ops with a wasm kernel, by name. */
export const BINARY_KERNELS: Readonly<Record<string, number>> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  maximum: 4,
  minimum: 5,
  eq: 6,
  lt: 7,
  le: 8,
  gt: 9,
  ge: 10,
};

/**
 * y = a op b with broadcasting: `out` is y's shape, `sa`/`sb` the operands' strides over it
 * (0 on broadcast axes). Returns false when the layout has too many distinct axes.
 */
export function binary(
  op: number,
  a: number,
  b: number,
  y: number,
  out: readonly number[],
  sa: readonly number[],
  sb: readonly number[],
): boolean {
  // Drop size-1 axes, then merge neighbours that are contiguous in both operands.
  const dims: [number, number, number][] = [];
  for (let d = 0; d < out.length; d++) {
    if (out[d] === 1) continue;
    const last = dims[dims.length - 1];
    if (last && last[1] === sa[d] * out[d] && last[2] === sb[d] * out[d]) {
      last[0] *= out[d];
      last[1] = sa[d];
      last[2] = sb[d];
    } else dims.push([out[d], sa[d], sb[d]]);
  }
  if (dims.length === 0) dims.push([1, 1, 1]);
  const [inner, ia, ib] = dims.pop()!;
  if (dims.length > 6 || ia > 1 || ib > 1) return false;
  const rows = dims.reduce((p, d) => p * d[0], 1);
  if (rows * inner === 0) return true;
  const desc = argBlock([
    dims.length,
    ...dims.map((d) => d[0]),
    ...dims.map((d) => d[1]),
    ...dims.map((d) => d[2]),
    ia,
    ib,
  ]);
  k().binary_f32(op, a, b, y, rows, inner, desc);
  return true;
}

/** y[0:n] = the 32-bit pattern of `value` as `dtype`. */
export function fill(y: number, n: number, value: number, dtype: "f32" | "i32" | "u32"): void {
  if (n === 0) return;
  const v = new DataView(new ArrayBuffer(4));
  if (dtype === "f32") v.setFloat32(0, value, true);
  else if (dtype === "i32") v.setInt32(0, value, true);
  else v.setUint32(0, value, true);
  k().fill32(y, n, v.getInt32(0, true));
}

// ---------------------------------------------------------------------------------------------
// Reductions

/** Reduction kinds of kernels/wasm/reduce.c. */
export const REDUCE_KERNELS = { sum: 0, mean: 1, max: 2, min: 3 } as const;

/** y = reduce(x) over `axes` of a contiguous x of `shape`; false if the layout is too deep. */
export function reduce(
  kind: keyof typeof REDUCE_KERNELS,
  x: number,
  y: number,
  shape: readonly number[],
  axes: readonly number[],
): boolean {
  const set = new Set(axes);
  const runs: [number, number][] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const r = set.has(d) ? 1 : 0;
    const last = runs[runs.length - 1];
    if (last && last[1] === r) last[0] *= shape[d];
    else runs.push([shape[d], r]);
  }
  if (runs.length === 0) runs.push([1, 1]);
  if (runs.length > 8) return false;
  if (shape.some((d) => d === 0)) return false;
  const desc = argBlock([runs.length, ...runs.map((r) => r[0]), ...runs.map((r) => r[1])]);
  k().reduce_f32(REDUCE_KERNELS[kind], x, y, desc);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Normalisation (the plan of src/ops/norm.ts)

/** One family of element groups (src/ops/norm_plan.ts's `Groups`, which is this type). */
export interface NormGroups {
  count: number;
  qd: number;
  bh: number;
  bl: number;
  rh: number;
  rl: number;
  ph: number;
  pl: number;
  A: number;
  B: number;
  oa: number;
  ob: number;
  ra: number;
  rb: number;
  pa: number;
  pb: number;
}

/** The elementwise view (src/ops/norm_plan.ts's `Elem`, which is this type). */
export interface NormElem {
  planes: number;
  C: number;
  S: number;
  cg: number;
  rn: number;
  rc: number;
  rs: number;
  pc: number;
  ps: number;
}

const groupsDesc = (L: NormGroups, slot: number) =>
  argBlock([
    L.count,
    L.qd,
    L.bh,
    L.bl,
    L.rh,
    L.rl,
    L.ph,
    L.pl,
    L.A,
    L.B,
    L.oa,
    L.ob,
    L.ra,
    L.rb,
    L.pa,
    L.pb,
  ], slot);

const elemDesc = (e: NormElem, slot: number) =>
  argBlock([e.planes, e.C, e.S, e.cg, e.rn, e.rc, e.rs, e.pc, e.ps], slot);

/** Mean and biased variance (divisor `nc`) of every statistics group. */
export function normStats(x: number, mean: number, vars: number, L: NormGroups, nc: number) {
  if (L.count > 0) k().norm_stats(x, mean, vars, groupsDesc(L, 0), nc);
}

/** Per group: s1 = Σ a, s2 = Σ a·xhat with a = g·gamma (gamma 0: a = g). */
export function normSums(
  x: number,
  g: number,
  mean: number,
  vars: number,
  gamma: number,
  s1: number,
  s2: number,
  L: NormGroups,
  eps: number,
): void {
  if (L.count > 0) k().norm_sums(x, g, mean, vars, gamma, s1, s2, groupsDesc(L, 0), eps);
}

/**
 * Batch norm's backward statistics in two passes: mean, variance, s1 = Σ g and
 * s2 = Σ g·xhat per group (the groups must run along contiguous elements).
 */
export function normStatsSums(
  x: number,
  g: number,
  mean: number,
  vars: number,
  s1: number,
  s2: number,
  L: NormGroups,
  nc: number,
  eps: number,
): void {
  if (L.count > 0) k().norm_stats_sums(x, g, mean, vars, s1, s2, groupsDesc(L, 0), nc, eps);
}

/** y = (x - mean) / sqrt(var + eps) · gamma + beta. */
export function normApply(
  x: number,
  mean: number,
  vars: number,
  gamma: number,
  beta: number,
  y: number,
  e: NormElem,
  eps: number,
): void {
  if (e.planes * e.S > 0) k().norm_apply(x, mean, vars, gamma, beta, y, elemDesc(e, 1), eps);
}

/** dx from batch statistics (s1, s2 given) or fixed ones (s1 = s2 = 0). */
export function normBackward(
  x: number,
  g: number,
  mean: number,
  vars: number,
  gamma: number,
  s1: number,
  s2: number,
  dx: number,
  e: NormElem,
  eps: number,
  nc: number,
): void {
  if (e.planes * e.S > 0) {
    k().norm_backward(x, g, mean, vars, gamma, s1, s2, dx, elemDesc(e, 1), eps, nc);
  }
}

export { withTemps };

// ---------------------------------------------------------------------------------------------
// Pooling

/** Window geometry (pool.ts's `Geo`), mode 0 max, 1 avg, 2 adaptive. */
export interface PoolGeometry {
  mode: number;
  cip: boolean;
  h: number;
  w: number;
  oh: number;
  ow: number;
  k: readonly [number, number];
  s: readonly [number, number];
  p: readonly [number, number];
  d: readonly [number, number];
}

/** Forward (dy = 0) into y, or backward: y is dx of x's shape, accumulating dy. */
export function pool2d(x: number, dy: number, y: number, g: PoolGeometry, planes: number): void {
  if (planes * g.h * g.w === 0) return;
  const geo = argBlock([
    g.mode,
    g.cip ? 1 : 0,
    g.h,
    g.w,
    g.oh,
    g.ow,
    g.k[0],
    g.k[1],
    g.s[0],
    g.s[1],
    g.p[0],
    g.p[1],
    g.d[0],
    g.d[1],
  ]);
  k().pool2d(x, dy, y, geo, planes);
}

// ---------------------------------------------------------------------------------------------
// Optimizers

/** w -= lr (g + wd w). */
export function sgdUpdate(w: number, g: number, n: number, lr: number, wd: number): void {
  if (n > 0) k().optim_update(0, w, g, 0, 0, n, 0, 0, lr, wd, 0, 0, 0, 0, 0);
}

/** One SGD-with-momentum step's settings (the `sgdMomentumUpdate` op's attributes). */
export interface SgdMomentumStep {
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** First step: the momentum buffer is set to the gradient. */
  first: boolean;
}

/** SGD with momentum (torch.optim.SGD), buffer `buf`. */
export function sgdMomentumUpdate(
  w: number,
  g: number,
  buf: number,
  n: number,
  a: SgdMomentumStep,
): void {
  if (n === 0) return;
  k().optim_update(
    1,
    w,
    g,
    buf,
    0,
    n,
    a.nesterov ? 1 : 0,
    a.first ? 1 : 0,
    a.lr,
    a.weightDecay,
    a.momentum,
    a.dampening,
    0,
    0,
    0,
  );
}

/** One Adam / AdamW step's settings (the `adamUpdate` op's attributes). */
export interface AdamStep {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** lr / (1 - beta1^t) */
  stepSize: number;
  /** 1 / sqrt(1 - beta2^t) */
  invSqrtBc2: number;
  /** AdamW's decoupled weight decay. */
  decoupled: boolean;
}

/** Adam / AdamW step with moments m, v. */
export function adamUpdate(
  w: number,
  g: number,
  m: number,
  v: number,
  n: number,
  a: AdamStep,
): void {
  if (n === 0) return;
  k().optim_update(
    2,
    w,
    g,
    m,
    v,
    n,
    a.decoupled ? 1 : 0,
    0,
    a.lr,
    a.weightDecay,
    a.beta1,
    a.beta2,
    a.eps,
    a.stepSize,
    a.invSqrtBc2,
  );
}
