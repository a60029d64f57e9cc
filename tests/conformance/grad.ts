/**
 * Gradients against an f64 reference: the analytic gradient (the op's grad facet through
 * autograd on the cpu backend, in f32) against central differences of the cpu facet run on f64
 * arrays, per element (all of them for small inputs, edges and a seeded subset plus random
 * directions for large ones). In f64 the differences are exact to ~1e-9, so the tolerance only
 * has to absorb the f32 rounding of the analytic side: a 1% error in a gradient constant fails.
 */
import { widen } from "./data.ts";
import { mismatch, scaleOf, type Tol } from "./compare.ts";
import type { SampleContext } from "./context.ts";
import { where } from "./context.ts";
import { cpu64, probeLoss, probeWeights } from "./run.ts";
import { seedOf, uniformValues } from "./data.ts";
import type { HostArray } from "../../src/ops/spec.ts";

/**
 * Analytic (f32) vs f64 differences: |a - r| <= atol·max|r| + rtol·|r|. The worst sample (gelu,
 * whose erf approximation the exact derivative does not follow) uses about 1/20 of it.
 */
export const GRAD_TOL: Tol = { atol: 5e-6, rtol: 5e-5 };
/** Inputs up to this size are checked at every element. */
const FULL = 512;
/** Larger inputs: this many elements (the first and last 8 and seeded others)... */
const SUBSET = 64;
/** ...and the derivative along this many seeded random directions. */
const DIRECTIONS = 3;

/** The probe loss in f64 as a function of the (widened) inputs. */
export function lossFn(c: SampleContext) {
  const w = probeWeights(c.info.outs);
  return (hosts: HostArray[]) => probeLoss(cpu64(c.op, c.info, hosts, c.sample.attrs), w);
}

/** Central difference of `loss` at element j of input i (in place, restored). */
export function diffAt(
  loss: (h: HostArray[]) => number,
  hosts: HostArray[],
  i: number,
  j: number,
  eps?: number,
): number {
  const x = hosts[i], v = x[j];
  const h = eps ?? 1e-6 * Math.max(1, Math.abs(v));
  x[j] = v + h;
  const up = loss(hosts);
  x[j] = v - h;
  const down = loss(hosts);
  x[j] = v;
  return (up - down) / (2 * h);
}

export function subset(n: number, seed: number): number[] {
  if (n <= FULL) return [...Array(n).keys()];
  const set = new Set<number>();
  for (let j = 0; j < 8; j++) (set.add(j), set.add(n - 1 - j));
  const r = uniformValues(4 * SUBSET, seed, 0, n);
  for (let k = 0; set.size < SUBSET && k < r.length; k++) set.add(Math.floor(r[k]));
  return [...set].sort((a, b) => a - b);
}

/** Check the cpu backend's analytic gradients (`c.cpu.grads`) against f64 differences. */
export function checkGrad(c: SampleContext, tol: Tol = GRAD_TOL): string[] {
  const problems: string[] = [];
  const loss = lossFn(c);
  const hosts = c.inputs.map((x) => widen(x.host));
  c.wrt.forEach((i, k) => {
    const analytic = c.cpu.grads?.[k] ?? null;
    const n = c.inputs[i].host.length;
    const idx = subset(n, seedOf(`${c.op.name}/${c.sample.name}/fd${i}`));
    const ref = Float64Array.from(idx, (j) => diffAt(loss, hosts, i, j));
    const what = where(c, `d/d(input ${i}) vs f64 differences`);
    if (!analytic) {
      if (scaleOf(ref) > 0) problems.push(`${what}: no gradient reached input ${i}`);
      return;
    }
    if (analytic.length !== n) {
      problems.push(`${what}: gradient has ${analytic.length} elements for ${n}`);
      return;
    }
    const scale = scaleOf(ref);
    const t = { atol: tol.atol * scale, rtol: tol.rtol };
    const m = mismatch(idx.map((j) => analytic[j]), ref, t, idx);
    if (m) problems.push(`${what}: ${m}`);
    if (n <= FULL) return;
    // Directional derivatives catch an error anywhere in a large input.
    for (let d = 0; d < DIRECTIONS; d++) {
      const v = uniformValues(n, seedOf(`${c.op.name}/${c.sample.name}/dir${i}.${d}`));
      const x = hosts[i], base = Float64Array.from(x);
      const along = (s: number) => {
        for (let j = 0; j < n; j++) x[j] = base[j] + s * v[j];
        return loss(hosts);
      };
      const h = 1e-6 * Math.max(1, scaleOf(base));
      const fd = (along(h) - along(-h)) / (2 * h);
      x.set(base);
      let dot = 0, mag = 0;
      for (let j = 0; j < n; j++) (dot += analytic[j] * v[j], mag += Math.abs(analytic[j] * v[j]));
      if (Math.abs(dot - fd) > tol.atol * mag + tol.rtol * Math.abs(fd)) {
        problems.push(
          `${what}: derivative along random direction ${d} is ${dot.toPrecision(7)}, ` +
            `differences give ${fd.toPrecision(7)}`,
        );
      }
    }
  });
  return problems;
}
