/**
 * Tie rules: at a sample that sits on a kink or a tie, the op's output and gradient are the ones
 * it has just next to the tie on the side its rule picks (the mean over the rule's breaks: two
 * breaks that favour either side of a 2-way tie make an even split). The reference side is the
 * cpu facet in f64 at the moved inputs, differentiated there with steps far smaller than the
 * move.
 */
import type { HostArray, TieBreak } from "../../src/ops/spec.ts";
import { mismatch, scaleOf } from "./compare.ts";
import { type SampleContext, where } from "./context.ts";
import { seedOf, widen } from "./data.ts";
import { diffAt, lossFn, subset } from "./grad.ts";
import { cpu64, runOn } from "./run.ts";

/** How far a break moves an element (values of tie samples are >= 0.1 apart). */
const MOVE = 1e-3;

function moved(x: HostArray, how: TieBreak): HostArray {
  const y = widen(x) as unknown as Float64Array;
  if (!(x instanceof Float32Array) || how === "none") return y as unknown as HostArray;
  const n = y.length;
  for (let j = 0; j < n; j++) {
    const ramp = MOVE * (n - j) / n; // earlier elements move further
    y[j] += how === "up" ? MOVE : how === "down" ? -MOVE : how === "earlierHigher" ? ramp : -ramp;
  }
  return y as unknown as HostArray;
}

/** Check the op against its tie rule at a tie sample (outputs and cpu gradients). */
export function checkTies(c: SampleContext): string[] {
  const rule = c.sample.ties;
  if (!rule) return [];
  const problems: string[] = [];
  const what = (f: string) => where(c, `tie rule "${rule.rule}": ${f}`);
  if (rule.breaks.length === 0) return [what("no breaks given")];
  const loss = lossFn(c);
  const nBreaks = rule.breaks.length;
  const refGrads = c.wrt.map((i) => new Float64Array(c.inputs[i].host.length));
  const refOuts = c.info.outs.map((o) => new Float64Array(o.shape.reduce((p, q) => p * q, 1)));
  for (const brk of rule.breaks) {
    const hosts = c.inputs.map((x, i) => moved(x.host, brk[i] ?? "none"));
    const outs = cpu64(c.op, c.info, hosts.map(widen), c.sample.attrs);
    outs.forEach((o, k) => {
      if (c.info.outs[k].dtype === "f32") o.forEach((v, j) => (refOuts[k][j] += v / nBreaks));
      else {
        // An index (argmax) is what every break gives.
        const m = mismatch(c.cpu.outs[k].data, o, { atol: 0, rtol: 0 });
        if (m) problems.push(`${what(`output ${k} vs the broken tie [${brk}]`)}: ${m}`);
      }
    });
    // Steps far below the ramp's spacing keep the differences on one side of every tie.
    c.wrt.forEach((i, k) => {
      const n = hosts[i].length;
      const eps = MOVE / (100 * Math.max(n, 1));
      for (let j = 0; j < n; j++) refGrads[k][j] += diffAt(loss, hosts, i, j, eps) / nBreaks;
    });
  }
  // Values: the mean over the breaks (continuous ops: either side; sign(0): the midpoint).
  refOuts.forEach((ref, k) => {
    if (c.info.outs[k].dtype !== "f32") return;
    const t = { atol: 10 * MOVE * Math.max(1, scaleOf(ref)), rtol: 0 };
    const m = mismatch(c.cpu.outs[k].data, ref, t);
    if (m) problems.push(`${what(`output ${k} vs the mean of the broken ties`)}: ${m}`);
  });
  c.wrt.forEach((i, k) => {
    const g = c.cpu.grads?.[k];
    const ref = refGrads[k];
    if (!g) {
      if (scaleOf(ref) > 0) problems.push(`${what(`d/d(input ${i})`)}: no gradient`);
      return;
    }
    // The moved point is MOVE away: smooth parts of the gradient differ by O(MOVE).
    const m = mismatch(g, ref, { atol: 20 * MOVE * Math.max(1, scaleOf(ref)), rtol: 0 });
    if (m) problems.push(`${what(`d/d(input ${i})`)}: ${m}`);
  });
  return problems;
}

/**
 * Whether an op has a kink or tie it does not declare: its sample's inputs rounded to a grid of
 * halves (many zeros and equal values) and the analytic gradient compared with central
 * differences there. Where the derivative is not unique the two disagree by far more than
 * rounding, and the op must say which value it takes (a sample with a tie rule). Elements
 * where either side is not finite (log or 1/x at 0) say nothing.
 */
export async function probeTies(c: SampleContext): Promise<string[]> {
  const inputs = c.inputs.map((x) =>
    x.constant ? x : { ...x, host: Float32Array.from(x.host, (v) => Math.round(2 * v) / 2) }
  );
  const q: SampleContext = {
    ...c,
    inputs,
    cpu: await runOn(c.op, inputs, c.sample.attrs, "cpu", { wrt: c.wrt }),
  };
  const loss = lossFn(q);
  const hosts = inputs.map((x) => widen(x.host));
  for (const [k, i] of c.wrt.entries()) {
    const g = q.cpu.grads?.[k];
    if (!g) continue;
    for (const j of subset(g.length, seedOf(`${c.op.name}/probe${i}`))) {
      const fd = diffAt(loss, hosts, i, j);
      if (!Number.isFinite(fd) || !Number.isFinite(g[j])) continue;
      if (Math.abs(g[j] - fd) > 1e-3 * Math.max(1, Math.abs(fd))) {
        return [
          `${where(c, "ties")}: with inputs rounded to halves, d/d(input ${i}) at element ${j} ` +
          `is ${g[j]} but central differences give ${fd}: the derivative is not unique there ` +
          `(a kink or a tie); declare which value the op takes with a tie sample ` +
          `(OpSample.ties)`,
        ];
      }
    }
  }
  return [];
}
