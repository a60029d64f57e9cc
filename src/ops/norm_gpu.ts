/**
 * GPU dispatch of the normalisations: five small kernels serve every variant (per-group
 * statistics, one workgroup per group with a tree reduction or one thread per group; the
 * elementwise affine apply; per-group backward sums; the elementwise dx; the running-stat
 * update), laid out by the plan (`norm_plan.ts`).
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
import type { OpInfo } from "./spec.ts";
import { numel } from "../tensor.ts";
import {
  type Core,
  type Groups,
  makePlan,
  type NormBackwardAttrs,
  type Plan,
} from "./norm_plan.ts";

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

/** Forward of a normalisation with batch statistics: y from x, gamma, beta (inputs 0..2). */
export function forwardGpu(
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

/** Batch norm in eval mode: normalise with the running statistics (inputs 3 and 4). */
export function batchNormEvalGpu(
  [x, gamma, beta, rm, rv]: readonly GPUBuffer[],
  y: GPUBuffer,
  p: Plan,
  eps: number,
): void {
  applyGpu([x, rm, rv, gamma, beta, y], p, eps);
}

/** Batch norm in training mode: batch statistics, and the running statistics updated in place. */
export function batchNormTrainGpu(
  [x, gamma, beta, rm, rv]: readonly GPUBuffer[],
  y: GPUBuffer,
  p: Plan,
  momentum: number,
  eps: number,
): void {
  const C = p.stat.count;
  const mean = acquireBuffer(C * 4), vars = acquireBuffer(C * 4);
  statsGpu(x, mean, vars, p);
  applyGpu([x, mean, vars, gamma, beta, y], p, eps);
  const u = new Uniforms().u32(C).f32(momentum, p.nc / (p.nc - 1)).u32(0);
  dispatch(specialize("bn_update", updateSrc), [mean, vars, rm, rv], [Math.ceil(C / 64)], u);
  releaseBuffer(mean);
  releaseBuffer(vars);
}

/** The gpu facet of `normBackward`: dx (and dgamma, dbeta when `a.params`). */
export function backwardGpu(
  ins: readonly GPUBuffer[],
  outs: GPUBuffer[],
  a: NormBackwardAttrs,
  info: OpInfo,
): void {
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
}
