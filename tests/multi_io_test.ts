/**
 * Models with several inputs and outputs: traced with one sample per input, every output kept
 * (a record keeps its keys, an array its order), compressed to a GraphModule that returns the
 * same structure, and exported to ONNX with every input and output (run in onnxruntime).
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import * as o from "../mod.ts";
import { type MultiInputOutputCase, type TwoScaleDetectorCase, zoo } from "../src/zoo/index.ts";
import { assertClose } from "./helpers.ts";
import { withPatchedOp } from "../src/ops/registry.ts";
import { analyze } from "../src/zig/partition.ts";
import { sliceIndices } from "../src/zig/types.ts";
import { compactGraph, keptPositions } from "../src/compress/compact.ts";
import { randomize } from "./zig_helpers.ts";

await o.init({ quiet: true, backend: "cpu" });

type Feeds = Record<string, o.Tensor>;

async function onnxOutputs(path: string, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(path);
  assert.deepEqual(session.inputNames, Object.keys(feeds));
  const ins: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) {
    ins[k] = new ort.Tensor("float32", (await t.data()) as Float32Array, [...t.shape]);
  }
  const out = await session.run(ins);
  return Object.fromEntries(
    session.outputNames.map((k: string) => [k, Float32Array.from(out[k].data as Float32Array)]),
  );
}

Deno.test("two inputs, a record of outputs: trace, partition, compress, ONNX with both outputs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = zoo["case-multi-io"].build({ seed: 1 }) as MultiInputOutputCase;
    randomize(model, 2);
    model.eval();
    const shapes = [[1, 3, 8, 8], [1, 5]];
    const g = o.trace(model, shapes);
    assert.equal(g.inputs.length, 2);
    assert.equal(g.outputKind, "record");
    assert.deepEqual(g.outputNames, ["logits", "boxes"]);
    const oto = await o.OTO.create(model, shapes);
    assert.deepEqual(oto.inputShapes, shapes);
    await o.zeroRandomGroups(model.stateDict(), oto.partition, { seed: 3 });
    const { model: small, report } = await oto.compress();
    assert.ok(report.paramsAfter < report.paramsBefore);
    const img = o.randn([1, 3, 8, 8], { seed: 4 }), feat = o.randn([1, 5], { seed: 5 });
    const full = model.call(img, feat);
    const comp = small.call(img, feat);
    assert.deepEqual(Object.keys(comp), ["logits", "boxes"]);
    assertClose(comp.logits.hostData(), full.logits.hostData(), "compact logits", 1e-5, 1e-4);
    assertClose(comp.boxes.hostData(), full.boxes.hostData(), "compact boxes", 1e-5, 1e-4);
    for (const [what, m] of [["full", model], ["compressed", small]] as const) {
      const path = `${dir}/${what}.onnx`;
      const info = await o.exportOnnx(m, path, shapes);
      assert.deepEqual(info.inputShapes, shapes);
      assert.deepEqual(info.outputShapes, [[1, 10], [1, 4, 8, 8]]);
      const r = await onnxOutputs(path, { input0: img, input1: feat });
      assertClose(r.logits, full.logits.hostData(), `${what} ONNX logits`, 1e-5, 1e-4);
      assertClose(r.boxes, full.boxes.hostData(), `${what} ONNX boxes`, 1e-5, 1e-4);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an array of outputs (two detection scales) keeps its order through compression and ONNX", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = zoo["case-two-scale-detector"].build({ seed: 1 }) as TwoScaleDetectorCase;
    randomize(model, 6);
    model.eval();
    const oto = await o.OTO.create(model, [1, 3, 16, 16]);
    await o.zeroRandomGroups(model.stateDict(), oto.partition, { seed: 7 });
    const { model: small } = await oto.compress();
    const x = o.randn([2, 3, 16, 16], { seed: 8 });
    const full = model.call(x), comp = small.call(x);
    assert.equal(comp.length, 2);
    full.forEach((t, i) =>
      assertClose(comp[i].hostData(), t.hostData(), `output ${i}`, 1e-5, 1e-4)
    );
    const path = `${dir}/small.onnx`;
    await o.exportOnnx(small, path, [2, 3, 16, 16]);
    const r = await onnxOutputs(path, { input: x });
    assert.deepEqual(Object.keys(r), ["output0", "output1"]);
    full.forEach((t, i) => assertClose(r[`output${i}`], t.hostData(), `ONNX ${i}`, 1e-5, 1e-4));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a forward that returns something else fails with a clear error", () => {
  class Bad extends o.Module<o.Tensor[]> {
    forward(): o.Tensor[] {
      return [];
    }
  }
  assert.throws(() => o.trace(new Bad(), [1, 3]), /must return a Tensor, an array of Tensors/);
});

Deno.test("compaction errors name the op and its layer", () => {
  class Add extends o.Module {
    forward(a: o.Tensor, b: o.Tensor) {
      return o.add(a, b);
    }
  }
  class Pair extends o.Module {
    a = this.module("a", new o.Conv2d(3, 4, 1));
    b = this.module("b", new o.Conv2d(3, 4, 1));
    merge = this.module("merge", new Add());
    head = this.module("head", new o.Conv2d(4, 2, 1));
    forward(x: o.Tensor) {
      return this.head.call(this.merge.call(this.a.call(x), this.b.call(x)));
    }
  }
  const m = new Pair();
  // A wrong channel rule (add declared a channel concat) must not compact silently.
  withPatchedOp("add", { channels: { kind: "concat", axis: () => 1 } }, () => {
    const g = o.trace(m, [1, 3, 4, 4]);
    const an = analyze(g);
    const z = an.partition.zigs.find((z) => z.members.some((s) => s.param === "a.weight"))!;
    const removed = new Map<string, Map<number, Set<number>>>();
    for (const s of [...z.members, ...z.consumers]) {
      const axes = removed.get(s.param) ?? new Map<number, Set<number>>();
      removed.set(s.param, axes.set(s.axis, new Set(sliceIndices(s, 0))));
    }
    const shapes = new Map(g.params.map((p) => {
      const s = [...p.shape];
      for (const [ax, set] of removed.get(p.name) ?? []) s[ax] -= set.size;
      return [p.name, s];
    }));
    assert.throws(
      () => compactGraph(g, shapes, keptPositions(an, removed)),
      /compress: add \(layer merge\)/,
    );
  });
});
