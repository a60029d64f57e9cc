/**
 * Whole-model ONNX export checked by an independent runtime: zoo models (full, and compressed
 * after zeroing random groups) are written with `exportOnnx`, run in onnxruntime-node, and
 * compared with oto's outputs. The models cover conv/BN/ReLU/pool, flatten -> linear, residual
 * adds, concat, grouped and depthwise convs, transposed convs, pixel shuffle, instance norm,
 * PReLU, LayerNorm2d and GELU.
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import * as o from "../mod.ts";
import { zoo } from "../src/zoo/index.ts";
import { writeInto } from "../src/io/weights.ts";
import { assertClose } from "./helpers.ts";

const TOL = 1e-4;

/** Zoo models at test size: name, build options, input shape (batch 2 where cheap). */
const MODELS: [string, Record<string, number>, number[]][] = [
  ["small-cnn", { width: 4 }, [2, 1, 28, 28]],
  ["resnet-small", { width: 4 }, [2, 1, 16, 16]],
  ["case-concat-bn", {}, [2, 3, 8, 8]],
  ["case-flatten-linear", {}, [2, 3, 8, 8]],
  ["case-grouped-conv", {}, [2, 3, 8, 8]],
  ["case-conv-transpose", {}, [2, 3, 8, 8]],
  ["case-instance-norm", {}, [2, 3, 8, 8]],
  ["case-weight-sharing", {}, [1, 3, 8, 8]],
  ["carn", { width: 4 }, [1, 3, 8, 8]],
  ["stacked-unets", { width: 4 }, [1, 3, 16, 16]],
  ["convnext-tiny", { width: 8 }, [1, 3, 32, 32]],
];

/** Seeded non-trivial BatchNorm running statistics (so eval-mode BN is not the identity). */
function perturbBuffers(model: o.Module, seed: number): void {
  const rng = new o.Rng(seed);
  for (const [name, t] of model.namedBuffers()) {
    if (t.dtype !== "f32") continue;
    const v = new Float32Array(t.size);
    const isVar = name.endsWith("running_var") || name.endsWith("runningVar");
    for (let i = 0; i < v.length; i++) v[i] = isVar ? 0.5 + rng.next() : 0.2 * rng.normal();
    writeInto(t, v, name);
  }
}

async function runOnnx(path: string, x: o.Tensor): Promise<{ dims: number[]; data: Float32Array }> {
  const session = await ort.InferenceSession.create(path);
  assert.deepEqual(session.inputNames, ["input"]);
  assert.deepEqual(session.outputNames, ["output"]);
  const feeds = {
    input: new ort.Tensor("float32", (await x.data()) as Float32Array, [...x.shape]),
  };
  const out = (await session.run(feeds)).output;
  return { dims: [...out.dims], data: out.data as Float32Array };
}

async function check(what: string, model: o.Module, x: o.Tensor, path: string): Promise<number> {
  model.eval();
  const y = o.tidy(() => model.call(x));
  const expected = await y.data();
  const info = await o.exportOnnx(model, path, x.shape);
  assert.deepEqual(info.inputShape, [...x.shape]);
  assert.deepEqual(info.outputShape, [...y.shape], `${what}: output shape`);
  const got = await runOnnx(path, x);
  assert.deepEqual(got.dims, [...y.shape], `${what}: ONNX output shape`);
  assertClose(got.data, expected, `${what} (onnxruntime vs oto)`, TOL, TOL);
  y.dispose();
  return info.nodes;
}

Deno.test("exportOnnx: full zoo models run in onnxruntime with oto's outputs", async () => {
  o.setDefaultBackend("cpu");
  const dir = await Deno.makeTempDir({ prefix: "oto_onnx_" });
  try {
    const seen = new Set<string>();
    for (const [name, opts, shape] of MODELS) {
      const model = zoo[name].build({ seed: 3, ...opts });
      perturbBuffers(model, 7);
      for (const n of o.trace(model, shape).nodes) seen.add(n.op);
      const x = o.randn(shape, { seed: 11 });
      await check(`${name} full`, model, x, `${dir}/${name}.onnx`);
      x.dispose();
      model.dispose();
    }
    for (
      const op of [
        "conv2d",
        "convTranspose2d",
        "batchNorm",
        "instanceNorm",
        "layerNorm2d",
        "concat",
        "pixelShuffle",
        "reshape",
        "linear",
        "add",
        "prelu",
        "gelu",
        "maxPool2d",
        "adaptiveAvgPool2d",
      ]
    ) assert.ok(seen.has(op), `the model list covers ${op}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportOnnx: compressed models (random zero groups) run in onnxruntime unchanged", async () => {
  o.setDefaultBackend("cpu");
  const dir = await Deno.makeTempDir({ prefix: "oto_onnx_" });
  try {
    for (
      const [name, opts, shape] of MODELS.filter(([n]) =>
        [
          "small-cnn",
          "case-concat-bn",
          "case-flatten-linear",
          "case-grouped-conv",
          "case-conv-transpose",
          "carn",
          "convnext-tiny",
        ].includes(n)
      )
    ) {
      const model = zoo[name].build({ seed: 5, ...opts });
      perturbBuffers(model, 9);
      const oto = await o.OTO.create(model, shape);
      await o.zeroRandomGroups(model.stateDict(), oto.partition, { seed: 2, fraction: 0.5 });
      const { model: small, report } = await oto.compress();
      assert.ok(report.paramsAfter < report.paramsBefore, `${name}: compression removes params`);
      const x = o.randn(shape, { seed: 13 });
      await check(`${name} full (zeroed)`, model, x, `${dir}/${name}-full.onnx`);
      await check(`${name} compressed`, small, x, `${dir}/${name}-compressed.onnx`);
      // The compressed file holds fewer weights than the full one.
      const [fa, fb] = await Promise.all([
        Deno.stat(`${dir}/${name}-full.onnx`),
        Deno.stat(`${dir}/${name}-compressed.onnx`),
      ]);
      assert.ok(fb.size < fa.size, `${name}: compressed ONNX ${fb.size} < full ${fa.size} bytes`);
      x.dispose();
      small.dispose();
      model.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportOnnx: opset 17, weights as initializers named by state-dict path", async () => {
  o.setDefaultBackend("cpu");
  const model = zoo["small-cnn"].build({ seed: 1, width: 2 });
  const dir = await Deno.makeTempDir({ prefix: "oto_onnx_" });
  try {
    const path = `${dir}/m.onnx`;
    const info = await o.exportOnnx(model, path, [1, 1, 28, 28]);
    const m = onnxProto.onnx.ModelProto.decode(await Deno.readFile(path));
    assert.equal(Number(m.opsetImport[0].version), 17);
    assert.equal(info.opset, 17);
    const inits = new Map(m.graph!.initializer!.map((t) => [t.name!, t]));
    for (const [name, t] of model.namedParameters()) {
      const init = inits.get(name);
      assert.ok(init, `initializer ${name}`);
      assert.deepEqual(init!.dims!.map(Number), [...t.shape], `${name} dims`);
      const raw = init!.rawData!;
      const values = new Float32Array(raw.slice().buffer, 0, t.size);
      assert.deepEqual(Array.from(values), Array.from(await t.data()), `${name} values`);
    }
    assert.equal(info.initializers, m.graph!.initializer!.length);
    assert.equal(info.nodes, m.graph!.node!.length);
    // No temporary files are left behind by the atomic write.
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["m.onnx"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    model.dispose();
  }
});
