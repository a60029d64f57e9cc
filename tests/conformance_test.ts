/**
 * The op-conformance harness: one test walks the registry (`allOps()`) and, for every op and
 * every sample it declares (its `samples` facet), checks
 * - each backend in tests/conformance/backends.ts against the cpu oracle (outputs, mutated
 *   inputs, gradients; a kernel op must launch a kernel);
 * - the gradient against central differences of the cpu facet in f64 (tests/conformance/grad.ts),
 *   or, at a tie or kink, against the op's declared tie rule (ties.ts);
 * - the ONNX facet executed in onnxruntime against the cpu reference (onnx.ts);
 * - the declared channel rule against the cpu reference (channels.ts);
 * - all of these again for each fractional attribute moved to another value (variants.ts), so a
 *   facet that ignores an attribute every sample sets alike still fails.
 * A new op needs samples (the registry test and the type require them); every facet it declares
 * must be exercised by at least one of them. Failures name op, sample, backend, facet, element
 * and values.
 *
 * For debugging (tools/mutate*.ts use them): `OTO_CONFORM_OPS=a,b` checks only those ops,
 * `OTO_CONFORM_FACETS=backends,grad,onnx,channels` only those checks (default: all).
 */
import assert from "node:assert/strict";
import { allOps, type OpSpec } from "../mod.ts";
import type { OpSample } from "../src/ops/spec.ts";
import { type BackendRow, BACKENDS } from "./conformance/backends.ts";
import { checkChannels } from "./conformance/channels.ts";
import { mismatch, scaleOf } from "./conformance/compare.ts";
import { type SampleContext, where } from "./conformance/context.ts";
import { sampleInputs, widen } from "./conformance/data.ts";
import { checkGrad } from "./conformance/grad.ts";
import { checkOnnx, onnxAttrs } from "./conformance/onnx.ts";
import { cpu64, infoOf, runOn, type RunResult } from "./conformance/run.ts";
import { checkTies, probeTies } from "./conformance/ties.ts";
import { attrVariants } from "./conformance/variants.ts";

/** Another backend vs the cpu oracle: outputs, mutated inputs and gradients. */
async function checkBackend(c: SampleContext, row: BackendRow): Promise<string[]> {
  const problems: string[] = [];
  let res: RunResult;
  try {
    res = await runOn(c.op, c.inputs, c.sample.attrs, row.name, {
      wrt: c.wrt,
      counter: row.dispatches,
    });
  } catch (e) {
    return [`${where(c, "run", row.name)}: ${(e as Error).message}`];
  }
  const f = c.sample.tol ?? 1;
  const tol = (ref: ArrayLike<number>, rel = 1e-4) => ({
    atol: 0.1 * rel * f * Math.max(1, scaleOf(ref)),
    rtol: rel * f,
  });
  const cmp = (facet: string, got: ArrayLike<number>, ref: ArrayLike<number>, rel?: number) => {
    const m = mismatch(got, ref, tol(ref, rel));
    if (m) problems.push(`${where(c, facet, row.name)}: ${m}`);
  };
  c.cpu.outs.forEach((ref, k) => {
    const got = res.outs[k];
    if (got.shape.join() !== ref.shape.join() || got.dtype !== ref.dtype) {
      problems.push(
        `${where(c, `output ${k}`, row.name)}: ${got.dtype} [${got.shape}], expected ` +
          `${ref.dtype} [${ref.shape}]`,
      );
    } else cmp(`output ${k}`, got.data, ref.data);
  });
  for (const [i, ref] of c.cpu.mutated) {
    cmp(`input ${i} after the update`, res.mutated.get(i)!.data, ref.data);
  }
  c.wrt.forEach((i, k) => {
    const ref = c.cpu.grads?.[k], got = res.grads?.[k];
    if (!ref && !got) return;
    if (!ref || !got) {
      return void problems.push(
        `${where(c, `gradient of input ${i}`, row.name)}: present on one backend only`,
      );
    }
    cmp(`gradient of input ${i}`, got, ref, 1e-3);
  });
  const launches = !c.op.alias && c.info.outs.some((o) => o.shape.every((d) => d > 0)) ||
    (c.op.mutates ?? []).some((i) => c.inputs[i].host.length > 0);
  if (res.counted === 0 && launches) {
    problems.push(`${where(c, "kernel", row.name)}: the op launched no kernel`);
  }
  return problems;
}

/** The f64 cpu facet agrees with the cpu backend (so differences in f64 are of the same op). */
function checkF64(c: SampleContext): string[] {
  const outs = cpu64(
    c.op,
    c.info,
    c.inputs.map((x) => widen(x.host.slice() as typeof x.host)),
    c.sample.attrs,
  );
  const problems: string[] = [];
  outs.forEach((o, k) => {
    const m = mismatch(c.cpu.outs[k].data, o, { atol: 1e-5 * Math.max(1, scaleOf(o)), rtol: 1e-4 });
    if (m) problems.push(`${where(c, `output ${k} of the cpu facet in f64 vs f32`)}: ${m}`);
  });
  return problems;
}

/**
 * A sample with one attribute moved (conformance/variants.ts), on the base sample's inputs:
 * checked like a sample when the cpu reference computes something else with it.
 */
async function checkVariant(
  sample: OpSample<unknown>,
  base: SampleContext,
  backends: readonly BackendRow[],
): Promise<string[]> {
  let info;
  try {
    info = infoOf(base.op, base.inputs, sample.attrs);
  } catch {
    return []; // the moved value is not valid for this op
  }
  const cpu = await runOn(base.op, base.inputs, sample.attrs, "cpu", { wrt: base.wrt });
  if (sameRun(cpu, base.cpu)) return []; // the attribute does not matter on these inputs
  const c: SampleContext = { ...base, sample, info, cpu };
  const problems: string[] = [];
  if (wants("grad")) {
    problems.push(...checkF64(c));
    if (c.wrt.length) problems.push(...checkGrad(c));
  }
  if (wants("backends")) {
    for (const row of backends) problems.push(...await checkBackend(c, row));
  }
  if (wants("onnx")) problems.push(...await checkOnnx(c));
  if (wants("channels")) problems.push(...checkChannels(c).problems);
  return problems;
}

/** Whether two cpu runs computed exactly the same outputs, updates and gradients. */
function sameRun(a: RunResult, b: RunResult): boolean {
  const same = (x?: ArrayLike<number> | null, y?: ArrayLike<number> | null) =>
    (!x && !y) || (!!x && !!y && x.length === y.length &&
      Array.prototype.every.call(x, (v: number, i: number) => Object.is(v, y[i])));
  return a.outs.every((o, k) => same(o.data, b.outs[k]?.data)) &&
    [...a.mutated].every(([i, v]) => same(v.data, b.mutated.get(i)?.data)) &&
    (a.grads ?? []).every((g, k) => same(g, b.grads?.[k]));
}

const FACETS = Deno.env.get("OTO_CONFORM_FACETS")?.split(",");
const wants = (facet: string) => !FACETS || FACETS.includes(facet);

/** Every check of one op; returns the problems found. */
async function conform(op: OpSpec<never>, backends: readonly BackendRow[]): Promise<string[]> {
  const samples = op.samples;
  if (!Array.isArray(samples)) {
    const reason = (samples as { none?: string })?.none;
    return reason ? [] : [`${op.name}: samples must be a list or { none: reason }`];
  }
  if (samples.length === 0) return [`${op.name}: declares no samples`];
  const problems: string[] = [];
  let gradChecked = false, onnxChecked = false, channelsChecked = false;
  let probe: SampleContext | undefined;
  const varied = new Set<string>();
  const variants: { sample: OpSample<unknown>; base: SampleContext }[] = [];
  for (const sample of samples as readonly OpSample<unknown>[]) {
    const inputs = sampleInputs(op.name, sample);
    let info;
    try {
      info = infoOf(op, inputs, sample.attrs);
    } catch (e) {
      problems.push(
        `${op.name} / "${sample.name}": the shape rule rejects it: ${(e as Error).message}`,
      );
      continue;
    }
    const differentiable = typeof op.grad === "function" && !op.mutates?.length;
    const wrt = differentiable ? inputs.flatMap((x, i) => (x.constant ? [] : [i])) : [];
    const cpu = await runOn(op, inputs, sample.attrs, "cpu", { wrt });
    const c: SampleContext = { op, sample, inputs, info, wrt, cpu };
    for (const v of attrVariants(sample, varied)) variants.push({ sample: v.sample, base: c });
    if (!probe && wrt.length && inputs.some((x, i) => wrt.includes(i) && x.host.length > 0)) {
      probe = c;
    }
    if (wants("grad")) {
      problems.push(...checkF64(c));
      if (sample.ties) problems.push(...checkTies(c));
      else if (wrt.length) problems.push(...checkGrad(c));
    }
    gradChecked ||= wrt.length > 0 && !sample.ties;
    if (wants("backends")) {
      for (const row of backends) problems.push(...await checkBackend(c, row));
    }
    if (!("none" in onnxAttrs(c))) {
      if (wants("onnx")) problems.push(...await checkOnnx(c));
      onnxChecked = true;
    }
    if (wants("channels")) {
      const ch = checkChannels(c);
      problems.push(...ch.problems);
      channelsChecked ||= ch.checked;
    } else channelsChecked = true;
  }
  for (const { sample, base } of variants) {
    problems.push(...await checkVariant(sample, base, backends));
  }
  // An op with a kink or tie must declare its tie rule (a sample with `ties`).
  if (wants("grad") && probe && !(samples as readonly OpSample<unknown>[]).some((s) => s.ties)) {
    problems.push(...await probeTies(probe));
  }
  if (typeof op.grad === "function" && !op.mutates?.length && !gradChecked) {
    problems.push(`${op.name}: no sample checks its gradient (add one with an f32 input)`);
  }
  if (typeof op.onnx === "function" && !onnxChecked) {
    problems.push(`${op.name}: no sample checks its ONNX facet`);
  }
  if (op.channels.kind !== "block" && !channelsChecked) {
    problems.push(
      `${op.name}: no sample checks its ${op.channels.kind} channel rule (add one with a channel ` +
        `axis where the rule is not a block)`,
    );
  }
  return problems;
}

Deno.test("every op conforms on every sample: backends, gradients, ties, ONNX, channel rules", async (t) => {
  const backends: BackendRow[] = [];
  for (const row of BACKENDS) {
    if (await row.available()) backends.push(row);
    else {
      await t.step({ name: `${row.name} backend (not available here)`, ignore: true, fn() {} });
    }
  }
  const only = Deno.env.get("OTO_CONFORM_OPS")?.split(",");
  for (const [name, op] of allOps()) {
    if (only && !only.includes(name)) continue;
    await t.step(name, async () => {
      const problems = await conform(op, backends);
      if (problems.length) assert.fail(`${problems.length} problem(s):\n${problems.join("\n")}`);
    });
  }
});
