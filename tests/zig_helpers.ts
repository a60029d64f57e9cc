/**
 * Shared by the ZIG tests and the fuzz task: randomize a model, zero a seeded half of every
 * prunable ZIG, compress, and compare the compact model with the original (eval mode at the
 * traced batch and at another batch size, and train mode).
 */
import assert from "node:assert/strict";
import { type AnyModule, randn, type Tensor, tidy } from "../mod.ts";
import { upload } from "../src/backend/webgpu.ts";
import { Rng } from "../src/random.ts";
import { sampleShapes, trace } from "../src/graph/trace.ts";
import { flattenOutput } from "../src/graph/graph.ts";
import { partition } from "../src/zig/partition.ts";
import { partitionCounts } from "../src/zig/report.ts";
import type { Partition } from "../src/zig/types.ts";
import { compress, type CompressReport, zeroRandomGroups } from "../src/compress/compress.ts";

/** Overwrite every parameter and buffer with seeded random values, in place (keeps sharing). */
export function randomize(m: AnyModule, seed: number): void {
  const rng = new Rng(seed);
  const seen = new Set<Tensor>();
  for (const [name, t] of m.stateDict()) {
    if (seen.has(t) || t.dtype !== "f32") continue;
    seen.add(t);
    const v = new Float32Array(t.size);
    const isVar = name.endsWith("running_var");
    for (let i = 0; i < v.length; i++) v[i] = isVar ? 0.5 + rng.next() : 0.5 * rng.normal();
    if (t.backend === "cpu") t.hostData().set(v);
    else upload(t.storage.gpu!, v);
  }
}

/** Every output of a model as host arrays. */
async function outputs(m: AnyModule, xs: Tensor[]): Promise<Float32Array[]> {
  const ts = tidy(() => flattenOutput(m.call(...xs)).tensors);
  return await Promise.all(ts.map(async (t) => Float32Array.from(await t.data())));
}

/** Max |a - b| relative to max |a| over every output; asserts the shapes agree. */
function compare(a: Float32Array[], b: Float32Array[], what: string): number {
  assert.equal(b.length, a.length, `${what}: number of outputs`);
  let diff = 0, scale = 0;
  a.forEach((x, k) => {
    assert.equal(b[k].length, x.length, `${what}: output ${k} size`);
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i] - b[k][i]));
      scale = Math.max(scale, Math.abs(x[i]));
    }
  });
  return diff / Math.max(scale, 1e-6);
}

/** What {@link roundTrip} measured. */
export interface RoundTrip {
  part: Partition;
  counts: ReturnType<typeof partitionCounts>;
  report: CompressReport;
  /** Relative max differences: eval at the traced batch, eval at batch 3, train at batch 3. */
  diffs: { batch1: number; batch3: number; train: number };
}

/**
 * Randomize `model`, zero a seeded `fraction` of every prunable ZIG, compress for `input`
 * (batch 1), and check the compact model's outputs: eval mode at batch 1 and 3, train mode at
 * batch 3 (relative max difference <= `tol`).
 */
export async function roundTrip(
  model: AnyModule,
  input: readonly number[] | readonly (readonly number[])[],
  opts: { seed?: number; fraction?: number; tol?: number; train?: boolean } = {},
): Promise<RoundTrip> {
  const seed = opts.seed ?? 1, tol = opts.tol ?? 1e-4;
  randomize(model, seed);
  const shapes = sampleShapes(input);
  const part = partition(trace(model, shapes));
  await zeroRandomGroups(model.stateDict(), part, { seed, fraction: opts.fraction ?? 0.5 });
  const r = await compress(model, undefined, part, { input: shapes });
  const xs = (batch: number, s: number) =>
    shapes.map((sh, i) => randn([batch, ...sh.slice(1)], { seed: s + 10 * i }));
  const diffs = { batch1: 0, batch3: 0, train: 0 };
  model.eval();
  r.model.eval();
  for (const [batch, key] of [[shapes[0][0], "batch1"], [3, "batch3"]] as const) {
    const x = xs(batch, seed + 100 + batch);
    diffs[key] = compare(await outputs(model, x), await outputs(r.model, x), `eval batch ${batch}`);
    assert.ok(diffs[key] <= tol, `eval batch ${batch}: compact output differs by ${diffs[key]}`);
  }
  if (opts.train !== false) {
    const x = xs(3, seed + 200);
    model.train();
    r.model.train();
    try {
      diffs.train = compare(await outputs(model, x), await outputs(r.model, x), "train");
    } finally {
      model.eval();
      r.model.eval();
    }
    assert.ok(diffs.train <= tol, `train mode: compact output differs by ${diffs.train}`);
  }
  return { part, counts: partitionCounts(part), report: r.report, diffs };
}
