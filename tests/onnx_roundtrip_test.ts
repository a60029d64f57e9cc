/**
 * exportOnnx -> importOnnx: every zoo model comes back with the same outputs (batch 1, which the
 * file fixes, and batch 2, which the import follows) and the same prunable groups; an imported
 * model trains with DHSPG to its target sparsity and compresses with equal outputs; the
 * partition CLI reads ONNX files.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { zoo } from "../src/zoo/index.ts";
import { importOnnx } from "../src/onnx/import.ts";
import { writeInto } from "../src/io/weights.ts";

const TOL = 1e-4;

/** Every zoo model at test size: build options and input shapes (batch 1). */
const SCALED: Record<string, [Record<string, number | boolean>, number[][]]> = {
  "vgg16": [{ width: 4 }, [[1, 3, 32, 32]]],
  "vgg16-bn": [{ width: 4 }, [[1, 3, 32, 32]]],
  "resnet18": [{ width: 4 }, [[1, 3, 16, 16]]],
  "resnet50": [{ width: 2, numClasses: 7 }, [[1, 3, 64, 64]]],
  "densenet121": [{ growth: 2, numClasses: 5 }, [[1, 3, 16, 16]]],
  "convnext-tiny": [{ width: 4, numClasses: 6 }, [[1, 3, 32, 32]]],
  "mobilenet-v2": [{ widthMult: 0.25, numClasses: 5 }, [[1, 3, 32, 32]]],
  "carn": [{ width: 4 }, [[1, 3, 6, 6]]],
  // Drawn weights (its residual initialisation zeroes the exit: the output would not depend on
  // the cascade).
  "carn-small": [{ residualInit: false }, [[1, 3, 6, 6]]],
  "stacked-unets": [{ width: 2 }, [[1, 3, 16, 16]]],
  "small-cnn": [{ width: 4 }, [[1, 1, 28, 28]]],
  "vgg-small": [{ width: 4 }, [[1, 1, 28, 28]]],
  "resnet-small": [{ width: 4 }, [[1, 1, 28, 28]]],
  "case-concat-bn": [{}, [[1, 3, 8, 8]]],
  "case-weight-sharing": [{}, [[1, 3, 8, 8]]],
  "case-grouped-conv": [{}, [[1, 3, 8, 8]]],
  "case-conv-transpose": [{}, [[1, 3, 8, 8]]],
  "case-instance-norm": [{}, [[1, 3, 8, 8]]],
  "case-flatten-linear": [{}, [[1, 3, 8, 8]]],
  "case-bn-no-affine": [{}, [[1, 3, 8, 8]]],
  "case-crop": [{}, [[1, 3, 8, 8]]],
  "case-channel-split": [{}, [[1, 3, 8, 8]]],
  "case-mobile": [{}, [[1, 3, 8, 8]]],
  "case-reductions": [{}, [[1, 3, 8, 8]]],
  "case-squeeze-excite": [{}, [[1, 3, 8, 8]]],
  "case-cbam": [{}, [[1, 3, 8, 8]]],
  "case-channels-last": [{}, [[1, 3, 8, 8]]],
  "case-shuffle": [{}, [[1, 3, 8, 8]]],
  "case-vit": [{}, [[1, 3, 8, 8]]],
  "case-multi-io": [{}, [[1, 3, 8, 8], [1, 5]]],
  "case-two-scale-detector": [{}, [[1, 3, 16, 16]]],
};

/** Seeded non-trivial BatchNorm statistics (so eval-mode BN is not the identity). */
function perturbBuffers(model: o.Module, seed: number): void {
  const rng = new o.Rng(seed);
  for (const [name, t] of model.namedBuffers()) {
    if (t.dtype !== "f32") continue;
    const v = new Float32Array(t.size);
    const isVar = /running_?var/i.test(name);
    for (let i = 0; i < v.length; i++) v[i] = isVar ? 0.5 + rng.next() : 0.2 * rng.normal();
    writeInto(t, v, name);
  }
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "output lengths");
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]) || (a[i] === b[i] ? 0 : Infinity));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-12);
}

/** Every output's values, in order (a tensor, an array or a record of tensors). */
async function run(model: o.AnyModule, xs: o.Tensor[]): Promise<Float32Array[]> {
  model.eval();
  const y = o.tidy(() => model.call(...xs)) as o.ModuleOutput;
  const outs = y instanceof o.Tensor ? [y] : Array.isArray(y) ? y : Object.values(y);
  const d = await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
  for (const t of outs) t.dispose();
  return d;
}

Deno.test("exportOnnx -> importOnnx: every zoo model, same outputs and prunable groups", async () => {
  o.setDefaultBackend("cpu");
  assert.deepEqual(Object.keys(SCALED).sort(), Object.keys(zoo).sort(), "every zoo model");
  const dir = await Deno.makeTempDir({ prefix: "oto_roundtrip_" });
  try {
    for (const [name, [opts, shapes]] of Object.entries(SCALED)) {
      const model = zoo[name].build({ seed: 4, ...opts });
      perturbBuffers(model, 8);
      const file = `${dir}/${name}.onnx`;
      await o.exportOnnx(model, file, shapes);
      const back = await importOnnx<o.ModuleOutput>(file);
      assert.deepEqual(back.inputShapes, shapes, `${name}: input shapes`);
      for (const batch of [1, 2]) {
        const xs = shapes.map((s, i) => o.randn([batch, ...s.slice(1)], { seed: 21 + i }));
        const [got, want] = [await run(back, xs), await run(model, xs)];
        assert.equal(got.length, want.length, `${name}: outputs`);
        want.forEach((w, i) => {
          const d = relDiff(got[i], w);
          assert.ok(d <= TOL, `${name} batch ${batch} output ${i}: rel diff ${d.toExponential(2)}`);
        });
        for (const x of xs) x.dispose();
      }
      // The prunable ZIGs and groups match (an exporter's form of an op, such as a transposed
      // matmul written as Transpose + MatMul, may add unprunable spaces).
      const counts = (m: o.AnyModule) => {
        const c = o.partitionCounts(o.partition(o.trace(m, shapes)));
        return { prunableZigs: c.prunableZigs, prunableGroups: c.prunableGroups };
      };
      assert.deepEqual(counts(back), counts(model), `${name}: partition counts`);
      // Every parameter comes back under its own name (constants captured in forward, such as
      // CARN's mean shift buffer, come back as trained operands or constants).
      const names = new Set(back.namedParameters().map(([n]) => n));
      for (const [n] of model.namedParameters()) assert.ok(names.has(n), `${name}: ${n}`);
      back.dispose();
      model.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
