/**
 * CPU references of the normalisations: the plan's addressing (`norm_plan.ts`) walked directly,
 * with f64 accumulation, as the oracle the kernels are checked against.
 */
import type { HostArray, OpInfo } from "./spec.ts";
import {
  type Core,
  type Elem,
  type Groups,
  makePlan,
  type NormBackwardAttrs,
  type Plan,
} from "./norm_plan.ts";

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

export function statsCpu(x: HostArray, p: Plan): { mean: Float64Array; vars: Float64Array } {
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

export function applyCpu(
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
export function sumsCpu(
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

/** Forward of a normalisation with batch statistics: y from x, gamma, beta (inputs 0..2). */
export function forwardCpu(
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

/**
 * Batch norm in training mode: normalise with the batch statistics and update the running
 * statistics in place (running variance from the unbiased batch variance).
 */
export function batchNormTrainCpu(
  [x, gamma, beta, rm, rv]: readonly HostArray[],
  y: HostArray,
  p: Plan,
  momentum: number,
  eps: number,
): void {
  const st = statsCpu(x, p);
  applyCpu(x, st.mean, st.vars, gamma, beta, y, p, eps);
  const unbias = p.nc / (p.nc - 1);
  for (let c = 0; c < rm.length; c++) {
    rm[c] = (1 - momentum) * rm[c] + momentum * st.mean[c];
    rv[c] = (1 - momentum) * rv[c] + momentum * st.vars[c] * unbias;
  }
}

/** The cpu facet of `normBackward`: dx (and dgamma, dbeta when `a.params`). */
export function backwardCpu(
  ins: readonly HostArray[],
  outs: HostArray[],
  a: NormBackwardAttrs,
  info: OpInfo,
): void {
  const [x, g, gamma] = ins;
  const p = makePlan(a.core, info.ins[0].shape);
  const st = a.center ? statsCpu(x, p) : { mean: ins[3], vars: ins[4] };
  const [dx] = outs;
  const [s1, s2] = a.center ? sumsCpu(x, g, st.mean, st.vars, gamma, p.stat, a.eps) : [null, null];
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
}
