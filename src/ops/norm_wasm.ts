/**
 * The normalisations' wasm column: the plan of `norm_plan.ts` run by kernels/wasm/norm.c
 * (per-group statistics and backward sums, the elementwise apply and dx).
 */
import * as wasmK from "../backend/wasm/ops.ts";
import { wasmRuntime } from "../backend/wasm/runtime.ts";
import { numel } from "../tensor.ts";
import type { OpInfo } from "./spec.ts";
import { type Core, makePlan, type NormBackwardAttrs, type Plan } from "./norm_plan.ts";

/** Forward with batch statistics (instance, group, layer, layer2d). */
export function forwardWasm(
  ins: readonly number[],
  y: number,
  core: Core,
  eps: number,
  info: OpInfo,
): void {
  if (numel(info.ins[0].shape) === 0) return;
  const p = makePlan(core, info.ins[0].shape);
  wasmK.withTemps([p.stat.count, p.stat.count], (mean, vars) => {
    wasmK.normStats(ins[0], mean, vars, p.stat, p.nc);
    wasmK.normApply(ins[0], mean, vars, ins[1], ins[2], y, p.elem, eps);
  });
}

/** Batch norm in eval mode: the running statistics. */
export function batchNormEvalWasm(ins: readonly number[], y: number, p: Plan, eps: number): void {
  const [x, gamma, beta, rm, rv] = ins;
  wasmK.normApply(x, rm, rv, gamma, beta, y, p.elem, eps);
}

/** Batch norm in training mode: batch statistics, running statistics updated in place. */
export function batchNormTrainWasm(
  ins: readonly number[],
  y: number,
  p: Plan,
  momentum: number,
  eps: number,
): void {
  const [x, gamma, beta, rm, rv] = ins;
  const C = p.stat.count;
  wasmK.withTemps([C, C], (mean, vars) => {
    wasmK.normStats(x, mean, vars, p.stat, p.nc);
    wasmK.normApply(x, mean, vars, gamma, beta, y, p.elem, eps);
    // C values: updated here, with the cpu reference's formula (f64, then stored as f32).
    const buf = wasmRuntime().heap.buffer;
    const f = (ptr: number) => new Float32Array(buf, ptr, C);
    const [rmv, rvv, mv, vv] = [f(rm), f(rv), f(mean), f(vars)];
    const unbias = p.nc / (p.nc - 1);
    for (let c = 0; c < C; c++) {
      rmv[c] = (1 - momentum) * rmv[c] + momentum * mv[c];
      rvv[c] = (1 - momentum) * rvv[c] + momentum * vv[c] * unbias;
    }
  });
}

/**
 * Batch norm's backward with batch statistics: its statistics groups are its parameter groups
 * (one per channel, gamma constant in each), so one two-pass kernel gives the statistics, dbeta
 * = Σ g and dgamma = Σ g·xhat, and dx's sums are those times gamma: three passes over the
 * activations instead of five.
 */
function batchBackwardWasm(
  x: number,
  g: number,
  gamma: number,
  outs: number[],
  a: NormBackwardAttrs,
  p: Plan,
): void {
  const C = p.stat.count;
  wasmK.withTemps([C, C, C, C, C, C], (mean, vars, s1, s2, t1, t2) => {
    wasmK.normStatsSums(x, g, mean, vars, s1, s2, p.stat, p.nc, a.eps);
    const buf = wasmRuntime().heap.buffer;
    const f = (ptr: number) => new Float32Array(buf, ptr, C);
    const [gm, v1, v2, w1, w2] = [f(gamma), f(s1), f(s2), f(t1), f(t2)];
    for (let c = 0; c < C; c++) (w1[c] = gm[c] * v1[c], w2[c] = gm[c] * v2[c]);
    wasmK.normBackward(x, g, mean, vars, gamma, t1, t2, outs[0], p.elem, a.eps, p.nc);
    if (a.params) (f(outs[2]).set(v1), f(outs[1]).set(v2));
  });
}

/** normBackward: statistics recomputed when they are the batch's, then dx and the sums. */
export function backwardWasm(
  ins: readonly number[],
  outs: number[],
  a: NormBackwardAttrs,
  info: OpInfo,
): void {
  if (numel(info.ins[0].shape) === 0) return;
  const [x, g, gamma] = ins;
  const p = makePlan(a.core, info.ins[0].shape);
  const R = p.stat.count;
  if (a.core.kind === "batch" && a.center) return batchBackwardWasm(x, g, gamma, outs, a, p);
  wasmK.withTemps([R, R, R, R], (mean, vars, s1, s2) => {
    const m = a.center ? mean : ins[3], v = a.center ? vars : ins[4];
    if (a.center) {
      wasmK.normStats(x, m, v, p.stat, p.nc);
      wasmK.normSums(x, g, m, v, gamma, s1, s2, p.stat, a.eps);
    }
    const [t1, t2] = a.center ? [s1, s2] : [0, 0];
    wasmK.normBackward(x, g, m, v, gamma, t1, t2, outs[0], p.elem, a.eps, p.nc);
    // dbeta = Σ g and dgamma = Σ g·xhat over each parameter group.
    if (a.params) wasmK.normSums(x, g, m, v, 0, outs[2], outs[1], p.param, a.eps);
  });
}
