/**
 * Normalisation layers: batch norm (training statistics with in-place running-stat updates, or
 * eval with running statistics), instance norm, group norm, layer norm over trailing dims and
 * ConvNeXt's channels-first layer norm (`layerNorm2d`, with `normCount` for pruned models).
 *
 * All of them share one plan: "statistics groups" (the sets of elements that share a mean and
 * variance), a map from each element to its group and to its affine parameter, and "parameter
 * groups" (the elements that share a gamma/beta entry, for their gradients). Five small kernels
 * serve every variant: per-group statistics (one workgroup per group, tree reduction), the
 * elementwise affine apply, per-group backward sums, the elementwise dx, and the running-stat
 * update.
 */
import statsSrc from "../../kernels/norm/norm_stats.wgsl" with { type: "text" };
import applySrc from "../../kernels/norm/norm_apply.wgsl" with { type: "text" };
import sumsSrc from "../../kernels/norm/norm_bwd_sums.wgsl" with { type: "text" };
import dxSrc from "../../kernels/norm/norm_bwd_apply.wgsl" with { type: "text" };
import updateSrc from "../../kernels/norm/bn_update.wgsl" with { type: "text" };
import elemLib from "../../kernels/lib/norm_elem.wgsl" with { type: "text" };
import {
  acquireBuffer,
  bakeUniforms,
  copyBuffer,
  dispatch,
  grid1d,
  type Kernel,
  releaseBuffer,
  specialize,
  Uniforms,
} from "../backend/webgpu.ts";
import { type HostArray, numel, type Tensor, type TensorInfo } from "../tensor.ts";
import { apply, apply1, defineOp, type OpInfo, shapeError } from "./registry.ts";
import { fill } from "./elementwise.ts";
import type { OnnxEmitter } from "./spec.ts";

// ---------------------------------------------------------------------------------------------
// The plan shared by every normalisation.

/**
 * A family of `count` groups. Group q (hi = q / qd, lo = q % qd) holds the A·B elements
 * base + a·oa + b·ob with base = hi·bh + lo·bl; element (a, b) belongs to statistics group
 * r0 + a·ra + b·rb (r0 = hi·rh + lo·rl) and reads parameter p0 + a·pa + b·pb
 * (p0 = hi·ph + lo·pl). Kernels step (a, b) as counters: no per-element division.
 */
interface Groups {
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

/**
 * Elementwise view: the input as [planes = N·C, S]; with n = plane / C, c = plane % C the
 * statistics group is n·rn + (c / cg)·rc + s·rs and the parameter c·pc + s·ps.
 */
interface Elem {
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

interface Plan {
  /** Statistics groups (mean and variance each). */
  stat: Groups;
  /** Parameter groups: the elements sharing gamma[c] (for dgamma, dbeta). */
  param: Groups;
  /** Divisor of the statistics (>= group size; larger only for layerNorm2d's normCount). */
  nc: number;
  elem: Elem;
}

type Kind = "batch" | "instance" | "group" | "layer" | "layer2d";

/** What a normalisation normalises over. */
interface Core {
  kind: Kind;
  groups?: number;
  normDims?: number;
  normCount?: number;
}

const ZERO: Groups = {
  count: 0,
  qd: 1,
  bh: 0,
  bl: 0,
  rh: 0,
  rl: 0,
  ph: 0,
  pl: 0,
  A: 1,
  B: 1,
  oa: 0,
  ob: 0,
  ra: 0,
  rb: 0,
  pa: 0,
  pb: 0,
};

function makePlan(core: Core, shape: readonly number[]): Plan {
  let N = shape[0], C = shape[1] ?? 1, S = numel(shape.slice(2));
  if (core.kind === "layer") {
    // [rows, 1, L] with L the normalised trailing elements.
    S = numel(shape.slice(shape.length - core.normDims!));
    N = numel(shape) / S;
    C = 1;
  }
  const G = (g: Partial<Groups>): Groups => ({ ...ZERO, ...g });
  // Per channel over (n, s): batch norm statistics, every per-channel parameter gradient.
  const perChannel = (ra: number, rb: number, r0: Partial<Groups>) =>
    G({ count: C, bh: S, ph: 1, A: N, B: S, oa: C * S, ob: 1, ra, rb, ...r0 });
  const elem = (e: Partial<Elem>): Elem => ({
    planes: N * C,
    C,
    S,
    cg: 1,
    rn: 0,
    rc: 0,
    rs: 0,
    pc: 1,
    ps: 0,
    ...e,
  });
  switch (core.kind) {
    case "batch":
      return {
        stat: perChannel(0, 0, { rh: 1 }),
        param: perChannel(0, 0, { rh: 1 }),
        nc: N * S,
        elem: elem({ rc: 1 }),
      };
    case "instance":
      return {
        stat: G({ count: N * C, qd: C, bh: C * S, bl: S, rh: C, rl: 1, pl: 1, B: S, ob: 1 }),
        param: perChannel(C, 0, { rh: 1 }),
        nc: S,
        elem: elem({ rn: C, rc: 1 }),
      };
    case "group": {
      const g = core.groups!, cg = C / g;
      return {
        stat: G({
          count: N * g,
          qd: g,
          bh: C * S,
          bl: cg * S,
          rh: g,
          rl: 1,
          pl: cg,
          A: cg,
          B: S,
          oa: S,
          ob: 1,
          pa: 1,
        }),
        param: G({ ...perChannel(g, 0, {}), qd: cg, bh: cg * S, bl: S, rh: 1, ph: cg, pl: 1 }),
        nc: cg * S,
        elem: elem({ rn: g, cg, rc: 1 }),
      };
    }
    case "layer":
      return {
        stat: G({ count: N, bh: S, rh: 1, B: S, ob: 1, pb: 1 }),
        param: G({ count: S, bh: 1, ph: 1, A: N, oa: S, ra: 1 }),
        nc: S,
        elem: elem({ rn: 1, pc: 0, ps: 1 }),
      };
    case "layer2d":
      return {
        stat: G({ count: N * S, qd: S, bh: C * S, bl: 1, rh: S, rl: 1, A: C, oa: S, pa: 1 }),
        param: perChannel(S, 1, {}),
        nc: core.normCount ?? C,
        elem: elem({ rn: S, rs: 1 }),
      };
  }
}

// ---------------------------------------------------------------------------------------------
// Cpu reference of the plan (same addressing as the kernels; f64 accumulation).

/** Visit every element of group q: fn(index, statistics group, parameter). */
function eachIn(L: Groups, q: number, fn: (i: number, r: number, p: number) => void): void {
  const hi = Math.floor(q / L.qd), lo = q % L.qd;
  const base = hi * L.bh + lo * L.bl, r0 = hi * L.rh + lo * L.rl, p0 = hi * L.ph + lo * L.pl;
  for (let a = 0; a < L.A; a++) {
    for (let b = 0; b < L.B; b++) {
      fn(base + a * L.oa + b * L.ob, r0 + a * L.ra + b * L.rb, p0 + a * L.pa + b * L.pb);
    }
  }
}

/** Visit every element: fn(index, statistics group, parameter). */
function eachElem(e: Elem, fn: (i: number, r: number, p: number) => void): void {
  for (let plane = 0; plane < e.planes; plane++) {
    const n = Math.floor(plane / e.C), c = plane % e.C, cr = Math.floor(c / e.cg);
    for (let s = 0; s < e.S; s++) {
      fn(plane * e.S + s, n * e.rn + cr * e.rc + s * e.rs, c * e.pc + s * e.ps);
    }
  }
}

function statsCpu(x: HostArray, p: Plan): { mean: Float64Array; vars: Float64Array } {
  const L = p.stat;
  const mean = new Float64Array(L.count), vars = new Float64Array(L.count);
  for (let q = 0; q < L.count; q++) {
    let s = 0;
    eachIn(L, q, (i) => (s += x[i]));
    const m = s / p.nc;
    let sq = 0;
    eachIn(L, q, (i) => (sq += (x[i] - m) ** 2));
    mean[q] = m;
    vars[q] = Math.max(0, (sq + (p.nc - L.A * L.B) * m * m) / p.nc);
  }
  return { mean, vars };
}

function applyCpu(
  x: HostArray,
  mean: ArrayLike<number>,
  vars: ArrayLike<number>,
  gamma: HostArray,
  beta: HostArray,
  y: HostArray,
  p: Plan,
  eps: number,
): void {
  eachElem(p.elem, (i, r, c) => {
    y[i] = (x[i] - mean[r]) / Math.sqrt(vars[r] + eps) * gamma[c] + beta[c];
  });
}

/** Σ a and Σ a·xhat per group of `L` (a = g·gamma or g), as the backward kernel computes. */
function sumsCpu(
  x: HostArray,
  g: HostArray,
  mean: ArrayLike<number>,
  vars: ArrayLike<number>,
  gamma: HostArray | null,
  L: Groups,
  eps: number,
): [Float64Array, Float64Array] {
  const s1 = new Float64Array(L.count), s2 = new Float64Array(L.count);
  for (let q = 0; q < L.count; q++) {
    eachIn(L, q, (i, r, c) => {
      const xhat = (x[i] - mean[r]) / Math.sqrt(vars[r] + eps);
      const a = gamma ? g[i] * gamma[c] : g[i];
      s1[q] += a;
      s2[q] += a * xhat;
    });
  }
  return [s1, s2];
}

// ---------------------------------------------------------------------------------------------
// Gpu recording of the plan.

/**
 * Reduction strategy: one workgroup per group (tree reduction) for few large groups, one thread
 * per group for many small ones (layerNorm2d, instance norm of small planes).
 */
const perThread = (L: Groups) => L.A * L.B <= 256 && L.count >= 512;

/** The layout fields of the group kernels' struct P, in struct order (after count and nx). */
function groupFields(L: Groups, useGamma: boolean): Record<string, number> {
  const { qd, bh, bl, rh, rl, ph, pl, A, B, oa, ob, ra, rb, pa, pb } = L;
  return { qd, useGamma: useGamma ? 1 : 0, bh, bl, rh, rl, ph, pl, A, B, oa, ob, ra, rb, pa, pb };
}

/** Record a per-group reduction kernel over `L` (workgroup or per-thread entry point). */
function groupDispatch(
  name: string,
  src: string,
  L: Groups,
  bufs: GPUBuffer[],
  useGamma: boolean,
  nc: number,
  eps: number,
): void {
  // Runs of 4 contiguous elements along b with one statistics group and parameter: vec4 loads.
  const vec = L.ob === 1 && L.rb === 0 && L.pb === 0 &&
    [L.B, L.oa, L.bh, L.bl].every((v) => v % 4 === 0);
  const G = vec ? { ...L, B: L.B / 4, oa: L.oa / 4, bh: L.bh / 4, bl: L.bl / 4 } : L;
  const defs = vec
    ? { T: "vec4<f32>", W: 4, HSUM: "return v.x + v.y + v.z + v.w;" }
    : { T: "f32", W: 1, HSUM: "return v;" };
  const pt = perThread(G);
  const k: Kernel = pt
    ? { ...specialize(`${name}_per_thread`, src, defs), entry: "per_thread" }
    : specialize(name, src, defs);
  const grid = pt ? grid1d(G.count, 64) : grid1d(G.count, 1);
  // The layout is baked in (see bakeUniforms): llvmpipe then folds the index arithmetic and
  // hoists what does not vary along the loops (e.g. batch norm's per-channel statistics).
  const fields = groupFields(G, useGamma);
  const u = new Uniforms().u32(G.count, grid[0], ...Object.values(fields)).f32(nc, eps);
  dispatch(bakeUniforms(k, fields), bufs, grid, u);
}

function statsGpu(x: GPUBuffer, mean: GPUBuffer, vars: GPUBuffer, p: Plan): void {
  groupDispatch("norm_stats", statsSrc, p.stat, [x, mean, vars], false, p.nc, 0);
}

function sumsGpu(
  bufs: [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer],
  L: Groups,
  p: Plan,
  eps: number,
  useGamma: boolean,
): void {
  groupDispatch("norm_bwd_sums", sumsSrc, L, bufs, useGamma, p.nc, eps);
}

/** Grid and uniforms of the elementwise kernels (tiles of 2^ts positions × 256/2^ts planes). */
function elemDispatch(
  name: string,
  src: string,
  bufs: GPUBuffer[],
  p: Plan,
  eps: number,
  center: 0 | 1 | 2,
): void {
  // Runs of 4 positions share their statistics and parameters (rs = ps = 0: batch, instance and
  // group norm): one thread per vec4 then, a quarter of the loads (each a per-lane loop on
  // llvmpipe).
  const vec = p.elem.S % 4 === 0 && p.elem.rs === 0 && p.elem.ps === 0;
  const e = vec ? { ...p.elem, S: p.elem.S / 4 } : p.elem;
  const ts = Math.min(8, Math.ceil(Math.log2(Math.max(e.S, 1))));
  const blocks = Math.ceil(e.planes / (256 >> ts));
  const gy = Math.min(blocks, 65535), gz = Math.ceil(blocks / gy);
  const u = new Uniforms().u32(e.planes, e.C, e.S, ts, gy, e.cg, e.rn, e.rc, e.rs, e.pc, e.ps)
    .u32(center).f32(eps, p.nc).u32(p.stat.count, 0);
  // Baked: elem() divides every element's plane index by C (slow per lane on llvmpipe).
  const k = bakeUniforms(specialize(name, elemLib + src, { T: vec ? "vec4<f32>" : "f32" }), {
    C: e.C,
    S: e.S,
    tsLog2: ts,
    cg: e.cg,
    rn: e.rn,
    rc: e.rc,
    rs: e.rs,
    pc: e.pc,
    ps: e.ps,
    center,
  });
  dispatch(k, bufs, [Math.ceil(e.S / (1 << ts)), gy, gz], u);
}

function applyGpu(
  bufs: [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer],
  p: Plan,
  eps: number,
): void {
  elemDispatch("norm_apply", applySrc, bufs, p, eps, 0);
}

// ---------------------------------------------------------------------------------------------
// Backward (one op for every normalisation; first-order only).

interface NormBackwardAttrs {
  core: Core;
  eps: number;
  /** Batch statistics (true) or fixed statistics passed as inputs 3 and 4 (eval batch norm). */
  center: boolean;
  /** Also compute dgamma and dbeta (outputs 1 and 2). */
  params: boolean;
}

const normBackwardOp = defineOp<NormBackwardAttrs>({
  name: "normBackward",
  inputNames: ["x", "gradOutput", "gamma", "mean", "var"],
  shape(ins, a) {
    const outs: TensorInfo[] = [{ shape: ins[0].shape, dtype: "f32" }];
    if (a.params) {
      outs.push({ shape: ins[2].shape, dtype: "f32" }, { shape: ins[2].shape, dtype: "f32" });
    }
    return outs;
  },
  cpu(ins, outs, a, info) {
    const [x, g, gamma] = ins;
    const p = makePlan(a.core, info.ins[0].shape);
    const st = a.center ? statsCpu(x, p) : { mean: ins[3], vars: ins[4] };
    const [dx] = outs;
    const [s1, s2] = a.center
      ? sumsCpu(x, g, st.mean, st.vars, gamma, p.stat, a.eps)
      : [null, null];
    eachElem(p.elem, (i, r, c) => {
      const rstd = 1 / Math.sqrt(st.vars[r] + a.eps);
      let v = gamma[c] * g[i];
      if (s1 && s2) v -= (s1[r] + (x[i] - st.mean[r]) * rstd * s2[r]) / p.nc;
      dx[i] = rstd * v;
    });
    if (a.params) {
      const [db, dg] = sumsCpu(x, g, st.mean, st.vars, null, p.param, a.eps);
      outs[1].set(dg);
      outs[2].set(db);
    }
  },
  gpu(ins, outs, a, info) {
    if (numel(info.ins[0].shape) === 0) return;
    const [x, g, gamma] = ins;
    const p = makePlan(a.core, info.ins[0].shape);
    const R = p.stat.count;
    const temps: GPUBuffer[] = [];
    const tmp = (n: number) => {
      const b = acquireBuffer(Math.max(n, 1) * 4);
      temps.push(b);
      return b;
    };
    let mean = ins[3], vars = ins[4];
    const sums = tmp(2 * R);
    // Batch norm: the statistics groups are the parameter groups (one per channel), so one
    // pass gives Σg and Σg·xhat, which are dbeta and dgamma, and dx scales them by gamma.
    const fused = a.center && a.core.kind === "batch";
    if (a.center) {
      mean = tmp(R);
      vars = tmp(R);
      statsGpu(x, mean, vars, p);
      sumsGpu([x, g, mean, vars, gamma, sums], p.stat, p, a.eps, !fused);
    }
    elemDispatch(
      "norm_bwd_apply",
      dxSrc,
      [x, g, mean, vars, gamma, sums, outs[0]],
      p,
      a.eps,
      fused ? 2 : a.center ? 1 : 0,
    );
    if (a.params && fused) {
      copyBuffer(sums, outs[2], R * 4, 0, 0);
      copyBuffer(sums, outs[1], R * 4, R * 4, 0);
    } else if (a.params) {
      const P = p.param.count;
      const ps = tmp(2 * P);
      sumsGpu([x, g, mean, vars, gamma, ps], p.param, p, a.eps, false);
      copyBuffer(ps, outs[2], P * 4, 0, 0);
      copyBuffer(ps, outs[1], P * 4, P * 4, 0);
    }
    temps.forEach(releaseBuffer);
  },
  grad: { none: "normalisation backward is first-order only" },
  channels: { kind: "block", reason: "backward op, not in forward graphs" },
  cost: (info) => ({ macs: 0, flops: 12 * numel(info.ins[0].shape) }),
  onnx: {
    none:
      "normBackward is a training-only op (the backward kernel of the norms); export the forward graph",
  },
});

/** Gradients of x, gamma, beta (inputs 0..2) of a normalisation, nulls where not needed. */
function normGrad(
  core: Core,
  eps: number,
  ins: readonly Tensor[],
  g: Tensor,
  fixedStats?: [Tensor, Tensor],
): (Tensor | null)[] {
  const [x, gamma, beta] = ins;
  const params = gamma.requiresGrad || beta.requiresGrad;
  const outs = apply(
    normBackwardOp,
    [x, g, gamma, ...(fixedStats ?? [])],
    { core, eps, center: !fixedStats, params },
  );
  const keep = (t: Tensor | undefined, want: boolean) => {
    if (!t) return null;
    if (want) return t;
    t.dispose();
    return null;
  };
  return [
    keep(outs[0], x.requiresGrad),
    keep(outs[1], gamma.requiresGrad),
    keep(outs[2], beta.requiresGrad),
  ];
}

// ---------------------------------------------------------------------------------------------
// Shape checks and shared facets.

function checkParam(
  op: string,
  what: string,
  t: TensorInfo,
  shape: readonly number[],
  x: TensorInfo,
) {
  if (t.dtype !== "f32") throw shapeError(op, `${what} must be f32, got ${t.dtype}`, t.shape);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw shapeError(
      op,
      `${what} has shape [${t.shape}], expected [${shape}] for input [${x.shape}]`,
      x.shape,
      t.shape,
    );
  }
}

function checkX(op: string, x: TensorInfo, minRank: number, layout: string): void {
  if (x.shape.length < minRank) {
    throw shapeError(
      op,
      `expects a ${layout} input (rank >= ${minRank}), got rank ${x.shape.length}`,
      x.shape,
    );
  }
  if (x.dtype !== "f32") throw shapeError(op, `expects f32, got ${x.dtype}`, x.shape);
}

function forwardCpu(
  ins: readonly HostArray[],
  y: HostArray,
  core: Core,
  eps: number,
  info: OpInfo,
) {
  const p = makePlan(core, info.ins[0].shape);
  const st = statsCpu(ins[0], p);
  applyCpu(ins[0], st.mean, st.vars, ins[1], ins[2], y, p, eps);
}

function forwardGpu(
  ins: readonly GPUBuffer[],
  y: GPUBuffer,
  core: Core,
  eps: number,
  info: OpInfo,
) {
  if (numel(info.ins[0].shape) === 0) return;
  const p = makePlan(core, info.ins[0].shape);
  const mean = acquireBuffer(Math.max(p.stat.count, 1) * 4);
  const vars = acquireBuffer(Math.max(p.stat.count, 1) * 4);
  statsGpu(ins[0], mean, vars, p);
  applyGpu([ins[0], mean, vars, ins[1], ins[2], y], p, eps);
  releaseBuffer(mean);
  releaseBuffer(vars);
}

const normCost = (info: OpInfo) => ({ macs: 0, flops: 8 * numel(info.ins[0].shape) });

/** gamma/beta reshaped to [C, 1, ...] so they broadcast over an NC... tensor in ONNX. */
function channelParam(e: OnnxEmitter, name: string, rank: number, c: number): string {
  const out = e.fresh("per_channel");
  e.node("Reshape", [name, e.constant([c, ...Array(rank - 2).fill(1)], [rank - 1], "i64")], [out]);
  return out;
}

/** ones / zeros of shape [c] on x's backend, standing in for a missing gamma / beta. */
function affineOr(x: Tensor, t: Tensor | null, shape: readonly number[], value: number): Tensor {
  return t ?? fill(shape, value, x.backend);
}

// ---------------------------------------------------------------------------------------------
// batchNorm

/** Attributes of {@link batchNorm}. */
export interface BatchNormAttrs {
  training: boolean;
  momentum: number;
  eps: number;
}

const batchNormOp = defineOp<BatchNormAttrs>({
  name: "batchNorm",
  inputNames: ["x", "gamma", "beta", "runningMean", "runningVar"],
  mutates: [3, 4],
  shape([x, gamma, beta, rm, rv], a) {
    checkX("batchNorm", x, 2, "[N, C, ...]");
    const c = [x.shape[1]];
    checkParam("batchNorm", "gamma", gamma, c, x);
    checkParam("batchNorm", "beta", beta, c, x);
    checkParam("batchNorm", "runningMean", rm, c, x);
    checkParam("batchNorm", "runningVar", rv, c, x);
    if (a.training && numel(x.shape) / x.shape[1] < 2) {
      throw shapeError(
        "batchNorm",
        "training needs more than one value per channel; use a larger batch or eval mode",
        x.shape,
      );
    }
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu(ins, [y], a, info) {
    const p = makePlan({ kind: "batch" }, info.ins[0].shape);
    const [x, gamma, beta, rm, rv] = ins;
    if (!a.training) return applyCpu(x, rm, rv, gamma, beta, y, p, a.eps);
    const st = statsCpu(x, p);
    applyCpu(x, st.mean, st.vars, gamma, beta, y, p, a.eps);
    const m = a.momentum, unbias = p.nc / (p.nc - 1);
    for (let c = 0; c < rm.length; c++) {
      rm[c] = (1 - m) * rm[c] + m * st.mean[c];
      rv[c] = (1 - m) * rv[c] + m * st.vars[c] * unbias;
    }
  },
  gpu(ins, [y], a, info) {
    if (numel(info.ins[0].shape) === 0) return;
    const p = makePlan({ kind: "batch" }, info.ins[0].shape);
    const [x, gamma, beta, rm, rv] = ins;
    if (!a.training) return applyGpu([x, rm, rv, gamma, beta, y], p, a.eps);
    const C = p.stat.count;
    const mean = acquireBuffer(C * 4), vars = acquireBuffer(C * 4);
    statsGpu(x, mean, vars, p);
    applyGpu([x, mean, vars, gamma, beta, y], p, a.eps);
    const u = new Uniforms().u32(C).f32(a.momentum, p.nc / (p.nc - 1)).u32(0);
    dispatch(specialize("bn_update", updateSrc), [mean, vars, rm, rv], [Math.ceil(C / 64)], u);
    releaseBuffer(mean);
    releaseBuffer(vars);
  },
  grad: ({ ins, attrs }, [g]) =>
    normGrad(
      { kind: "batch" },
      attrs.eps,
      ins,
      g,
      attrs.training ? undefined : [ins[3], ins[4]],
    ),
  channels: { kind: "accessory", perChannelInputs: [1, 2, 3, 4] },
  cost: normCost,
  onnx: (e, io) =>
    e.node("BatchNormalization", io.inputs, io.outputs, {
      epsilon: { float: io.attrs.eps },
      momentum: { float: 1 - io.attrs.momentum },
    }),
});

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  training: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * Batch normalisation over [N, C] or [N, C, ...] (PyTorch semantics). Training mode normalises
 * with the batch statistics (biased variance) and updates `runningMean`/`runningVar` in place
 * (running variance from the unbiased batch variance); eval mode uses the running statistics.
 * `gamma`/`beta` may be null (no affine).
 *
 * @example
 * ```ts
 * import { batchNorm, init, ones, randn, zeros } from "../../mod.ts";
 * await init();
 * const x = randn([8, 3, 4, 4], { seed: 0 });
 * const gamma = ones([3]), beta = zeros([3]);
 * const runMean = zeros([3]), runVar = ones([3]);
 * const y = batchNorm(x, gamma, beta, runMean, runVar, { training: true }); // updates runMean/Var
 * ```
 */
export function batchNorm(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  runningMean: Tensor,
  runningVar: Tensor,
  opts: BatchNormOptions,
): Tensor {
  const c = [x.shape[1] ?? 0];
  return apply1(batchNormOp, [
    x,
    affineOr(x, gamma, c, 1),
    affineOr(x, beta, c, 0),
    runningMean,
    runningVar,
  ], { training: opts.training, momentum: opts.momentum ?? 0.1, eps: opts.eps ?? 1e-5 });
}

// ---------------------------------------------------------------------------------------------
// instanceNorm

/** Attributes of {@link instanceNorm}. */
export interface EpsAttrs {
  eps: number;
}

const instanceNormOp = defineOp<EpsAttrs>({
  name: "instanceNorm",
  inputNames: ["x", "gamma", "beta"],
  shape([x, gamma, beta]) {
    checkX("instanceNorm", x, 3, "[N, C, ...spatial]");
    checkParam("instanceNorm", "gamma", gamma, [x.shape[1]], x);
    checkParam("instanceNorm", "beta", beta, [x.shape[1]], x);
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu: (ins, [y], a, info) => forwardCpu(ins, y, { kind: "instance" }, a.eps, info),
  gpu: (ins, [y], a, info) => forwardGpu(ins, y, { kind: "instance" }, a.eps, info),
  grad: ({ ins, attrs }, [g]) => normGrad({ kind: "instance" }, attrs.eps, ins, g),
  channels: { kind: "accessory", perChannelInputs: [1, 2] },
  cost: normCost,
  onnx: (e, io) =>
    e.node("InstanceNormalization", io.inputs, io.outputs, { epsilon: { float: io.attrs.eps } }),
});

/** Instance normalisation: each (sample, channel) over its spatial positions, no running stats. */
export function instanceNorm(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  opts: { eps?: number } = {},
): Tensor {
  const c = [x.shape[1] ?? 0];
  return apply1(instanceNormOp, [x, affineOr(x, gamma, c, 1), affineOr(x, beta, c, 0)], {
    eps: opts.eps ?? 1e-5,
  });
}

// ---------------------------------------------------------------------------------------------
// groupNorm

/** Attributes of {@link groupNorm}. */
export interface GroupNormAttrs {
  groups: number;
  eps: number;
}

const groupNormOp = defineOp<GroupNormAttrs>({
  name: "groupNorm",
  inputNames: ["x", "gamma", "beta"],
  shape([x, gamma, beta], a) {
    checkX("groupNorm", x, 2, "[N, C, ...]");
    const c = x.shape[1];
    if (!Number.isInteger(a.groups) || a.groups < 1 || c % a.groups !== 0) {
      throw shapeError("groupNorm", `${c} channels do not split into ${a.groups} groups`, x.shape);
    }
    checkParam("groupNorm", "gamma", gamma, [c], x);
    checkParam("groupNorm", "beta", beta, [c], x);
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu: (ins, [y], a, info) => forwardCpu(ins, y, { kind: "group", groups: a.groups }, a.eps, info),
  gpu: (ins, [y], a, info) => forwardGpu(ins, y, { kind: "group", groups: a.groups }, a.eps, info),
  grad: ({ ins, attrs }, [g]) =>
    normGrad({ kind: "group", groups: attrs.groups }, attrs.eps, ins, g),
  channels: {
    kind: "accessory",
    perChannelInputs: [1, 2],
    blockSize: (a, info) => info.ins[0].shape[1] / a.groups,
  },
  cost: normCost,
  onnx: (e, io) => {
    // Opset 17 has no GroupNormalization: reshape to [N, G, -1], instance-normalise with unit
    // scale, reshape back, then the per-channel affine.
    const s = io.info.ins[0].shape, G = io.attrs.groups;
    const r = e.fresh("grouped"), nrm = e.fresh("grouped_norm"), back = e.fresh("normalised");
    const scaled = e.fresh("scaled");
    e.node("Reshape", [io.inputs[0], e.constant([0, G, -1], [3], "i64")], [r]);
    e.node(
      "InstanceNormalization",
      [
        r,
        e.constant(Array(G).fill(1), [G]),
        e.constant(Array(G).fill(0), [G]),
      ],
      [nrm],
      { epsilon: { float: io.attrs.eps } },
    );
    e.node("Reshape", [nrm, e.constant([0, ...s.slice(1)], [s.length], "i64")], [back]);
    e.node("Mul", [back, channelParam(e, io.inputs[1], s.length, s[1])], [scaled]);
    e.node("Add", [scaled, channelParam(e, io.inputs[2], s.length, s[1])], io.outputs);
  },
});

/** Group normalisation: channels split into `groups`, each (sample, group) normalised. */
export function groupNorm(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  opts: { groups: number; eps?: number },
): Tensor {
  const c = [x.shape[1] ?? 0];
  return apply1(groupNormOp, [x, affineOr(x, gamma, c, 1), affineOr(x, beta, c, 0)], {
    groups: opts.groups,
    eps: opts.eps ?? 1e-5,
  });
}

// ---------------------------------------------------------------------------------------------
// layerNorm (trailing dims)

/** Attributes of {@link layerNorm}. */
export interface LayerNormAttrs {
  normalizedShape: readonly number[];
  eps: number;
}

const layerNormOp = defineOp<LayerNormAttrs>({
  name: "layerNorm",
  inputNames: ["x", "gamma", "beta"],
  shape([x, gamma, beta], a) {
    const ns = a.normalizedShape;
    if (x.dtype !== "f32") throw shapeError("layerNorm", `expects f32, got ${x.dtype}`, x.shape);
    const tail = x.shape.slice(x.shape.length - ns.length);
    if (
      ns.length === 0 || ns.length > x.shape.length || tail.some((d, i) => d !== ns[i])
    ) {
      throw shapeError(
        "layerNorm",
        `normalizedShape [${ns}] must equal the trailing dims of the input`,
        x.shape,
      );
    }
    checkParam("layerNorm", "gamma", gamma, ns, x);
    checkParam("layerNorm", "beta", beta, ns, x);
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu: (ins, [y], a, info) =>
    forwardCpu(ins, y, { kind: "layer", normDims: a.normalizedShape.length }, a.eps, info),
  gpu: (ins, [y], a, info) =>
    forwardGpu(ins, y, { kind: "layer", normDims: a.normalizedShape.length }, a.eps, info),
  grad: ({ ins, attrs }, [g]) =>
    normGrad({ kind: "layer", normDims: attrs.normalizedShape.length }, attrs.eps, ins, g),
  channels: { kind: "block", reason: "layerNorm over trailing dims mixes channels" },
  cost: normCost,
  onnx: (e, io) =>
    e.node("LayerNormalization", io.inputs, io.outputs, {
      axis: -io.attrs.normalizedShape.length,
      epsilon: { float: io.attrs.eps },
    }),
});

/** Layer normalisation over the trailing `normalizedShape` dims (gamma/beta of that shape). */
export function layerNorm(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  opts: { normalizedShape: readonly number[]; eps?: number },
): Tensor {
  const ns = [...opts.normalizedShape];
  return apply1(layerNormOp, [x, affineOr(x, gamma, ns, 1), affineOr(x, beta, ns, 0)], {
    normalizedShape: ns,
    eps: opts.eps ?? 1e-5,
  });
}

// ---------------------------------------------------------------------------------------------
// layerNorm2d (ConvNeXt channels-first)

/** Attributes of {@link layerNorm2d}. */
export interface LayerNorm2dAttrs {
  eps: number;
  /** Divisor of the statistics (default C): channels beyond C count as zeros. */
  normCount: number;
}

const layerNorm2dOp = defineOp<LayerNorm2dAttrs>({
  name: "layerNorm2d",
  inputNames: ["x", "gamma", "beta"],
  shape([x, gamma, beta], a) {
    checkX("layerNorm2d", x, 2, "[N, C, ...]");
    const c = x.shape[1];
    if (!Number.isInteger(a.normCount) || a.normCount < c) {
      throw shapeError(
        "layerNorm2d",
        `normCount ${a.normCount} must be an integer >= the ${c} input channels`,
        x.shape,
      );
    }
    checkParam("layerNorm2d", "gamma", gamma, [c], x);
    checkParam("layerNorm2d", "beta", beta, [c], x);
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu: (ins, [y], a, info) =>
    forwardCpu(ins, y, { kind: "layer2d", normCount: a.normCount }, a.eps, info),
  gpu: (ins, [y], a, info) =>
    forwardGpu(ins, y, { kind: "layer2d", normCount: a.normCount }, a.eps, info),
  grad: ({ ins, attrs }, [g]) =>
    normGrad({ kind: "layer2d", normCount: attrs.normCount }, attrs.eps, ins, g),
  // Accessory: output channel j is zero when gamma[j] = beta[j] = 0. Removing channel j changes
  // the statistics of the remaining channels unless the pruned model keeps normCount = the
  // original C and channel j's input was exactly zero (pruned channels are zero *before* this
  // norm): zero-invariant only with normCount, which compression keeps through this hook.
  channels: {
    kind: "accessory",
    perChannelInputs: [1, 2],
    normCount: {
      get: (a) => a.normCount,
      set: (a, count) => ({ ...a, normCount: count }),
    },
  },
  cost: normCost,
  onnx: (e, io) => {
    // mean = Σx / nc, var = Σx² / nc - mean², y = (x - mean) / sqrt(var + eps) · γ + β.
    const x = io.inputs[0], s = io.info.ins[0].shape;
    const inv = e.constant([1 / io.attrs.normCount], []);
    const axes = e.constant([1], [1], "i64");
    const t = (h: string) => e.fresh(h);
    const sum = t("sum"), mean = t("mean"), sq = t("sq"), sumSq = t("sum_sq"), ex2 = t("ex2");
    const m2 = t("mean_sq"), vr = t("var"), ve = t("var_eps"), sd = t("std"), d = t("centered");
    const xn = t("normalised"), sc = t("scaled");
    e.node("ReduceSum", [x, axes], [sum], { keepdims: 1 });
    e.node("Mul", [sum, inv], [mean]);
    e.node("Mul", [x, x], [sq]);
    e.node("ReduceSum", [sq, axes], [sumSq], { keepdims: 1 });
    e.node("Mul", [sumSq, inv], [ex2]);
    e.node("Mul", [mean, mean], [m2]);
    e.node("Sub", [ex2, m2], [vr]);
    e.node("Add", [vr, e.constant([io.attrs.eps], [])], [ve]);
    e.node("Sqrt", [ve], [sd]);
    e.node("Sub", [x, mean], [d]);
    e.node("Div", [d, sd], [xn]);
    e.node("Mul", [xn, channelParam(e, io.inputs[1], s.length, s[1])], [sc]);
    e.node("Add", [sc, channelParam(e, io.inputs[2], s.length, s[1])], io.outputs);
  },
});

/** Options of {@link layerNorm2d}. */
export interface LayerNorm2dOptions {
  eps?: number;
  /** Expected channel count (checked when given). */
  channels?: number;
  /**
   * Divisor of the statistics (default: the input's C). A pruned model keeps the original C
   * here so mean = Σx/normCount and var = Σx²/normCount - mean² match the unpruned model,
   * whose removed channels were zero.
   */
  normCount?: number;
}

/**
 * ConvNeXt's channels-first LayerNorm: normalises over C at every (n, h, w); gamma/beta [C].
 *
 * @example
 * ```ts
 * import { init, layerNorm2d, ones, randn, zeros } from "../../mod.ts";
 * await init();
 * const x = randn([2, 96, 8, 8], { seed: 0 });
 * const gamma = ones([96]), beta = zeros([96]);
 * const y = layerNorm2d(x, gamma, beta, { eps: 1e-6 }); // [2, 96, 8, 8]
 * ```
 */
export function layerNorm2d(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  opts: LayerNorm2dOptions = {},
): Tensor {
  const c = x.shape[1] ?? 0;
  if (opts.channels !== undefined && opts.channels !== c) {
    throw shapeError("layerNorm2d", `input has ${c} channels, expected ${opts.channels}`, x.shape);
  }
  return apply1(layerNorm2dOp, [x, affineOr(x, gamma, [c], 1), affineOr(x, beta, [c], 0)], {
    eps: opts.eps ?? 1e-6,
    normCount: opts.normCount ?? c,
  });
}
