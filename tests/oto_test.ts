/**
 * The `OTO` facade: create (trace + partition), zigs report, dhspg over the partition, compress
 * (same outputs, fewer parameters and MACs), visualize and ONNX export, and clear errors.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { zoo } from "../src/zoo/index.ts";
import { makeSynthetic } from "../src/data/synthetic.ts";
import { assertClose, useDefaultBackend } from "./helpers.ts";

Deno.test("OTO.create traces and partitions; zigs reports the prunable channel spaces", async () => {
  const model = zoo["small-cnn"].build({ seed: 0, width: 4 });
  const oto = await o.OTO.create(model, [1, 1, 28, 28]);
  // conv1+bn1 (4 channels) and conv2+bn2 (8, flattened into fc) are prunable; the input and
  // the logits are fixed.
  const z = oto.zigs;
  assert.deepEqual(z.counts, { zigs: 4, prunableZigs: 2, prunableGroups: 12 });
  assert.deepEqual(z.list.filter((q) => q.prunable).map((q) => q.size), [4, 8]);
  assert.ok(z.list.some((q) => !q.prunable && /output/.test(q.reason ?? "")));
  assert.match(z.report, /2 prunable ZIG families with 12 groups/);
  assert.match(z.report, /features\.0/);
  assert.equal(z.json.prunableGroups, 12);
  assert.equal(oto.cost.params, model.numParameters());
  assert.equal(oto.cost.macs, 28 * 28 * 4 * 9 + 14 * 14 * 8 * 4 * 9 + 8 * 7 * 7 * 10);
  // A tensor works as the sample input (only its shape is used).
  const t = o.zeros([2, 1, 28, 28], { backend: "cpu" });
  const oto2 = await o.OTO.create(model, t);
  assert.deepEqual(oto2.inputShape, [2, 1, 28, 28]);
  t.dispose();
  model.dispose();
});

Deno.test("OTO.create rejects bad inputs with a clear message", async () => {
  const model = zoo["small-cnn"].build({ seed: 0, width: 2 });
  await assert.rejects(() => o.OTO.create(model, [1, 1, 0, 28]), /positive integers/);
  await assert.rejects(() => o.OTO.create(model, [1, 3, 28, 28]), /channel|conv/i);
  model.dispose();
});

Deno.test("oto.compress removes zero groups: same outputs, fewer params/MACs; ONNX + DOT", async () => {
  o.setDefaultBackend("cpu");
  const model = zoo["resnet-small"].build({ seed: 1, width: 4 });
  const oto = await o.OTO.create(model, [1, 1, 16, 16]);
  const zeroed = await o.zeroRandomGroups(model.stateDict(), oto.partition, { seed: 3 });
  const { model: small, report, kept, cost } = await oto.compress();
  assert.ok(report.paramsAfter < report.paramsBefore);
  assert.ok(report.macsAfter < report.macsBefore);
  assert.equal(report.paramsAfter, small.numParameters());
  assert.equal(cost.params, small.numParameters());
  for (const [id, zeros] of zeroed) {
    const z = oto.partition.zigs[id];
    assert.equal(kept.get(id)!.length, z.size - zeros.length, `ZIG #${id} kept channels`);
  }
  model.eval();
  const x = o.randn([3, 1, 16, 16], { seed: 4 });
  const a = await o.tidy(() => model.call(x)).data();
  const b = await o.tidy(() => small.call(x)).data();
  assertClose(b, a, "compressed vs full", 1e-5, 1e-4);

  const { dot } = await oto.visualize();
  assert.match(dot, /^digraph/);
  for (const zg of oto.partition.zigs.filter((q) => q.prunable)) {
    assert.ok(dot.includes(`#${zg.id}`), `DOT legend lists ZIG #${zg.id}`);
  }
  const dir = await Deno.makeTempDir({ prefix: "oto_facade_" });
  try {
    const info = await oto.exportOnnx(`${dir}/small.onnx`, small);
    assert.ok(info.bytes > 0 && info.nodes > 0);
    assert.deepEqual(info.outputShape, [1, 10]);
    await oto.visualize(`${dir}/graph`);
    assert.ok((await Deno.stat(`${dir}/graph.dot`)).size > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  x.dispose();
  small.dispose();
  model.dispose();
});

Deno.test("oto.dhspg trains and prunes; the compressed model matches the trained one", async () => {
  await useDefaultBackend(); // what init() picks (webgpu on a hardware GPU, else wasm)
  const model = zoo["small-cnn"].build({ seed: 2, width: 4 });
  const oto = await o.OTO.create(model, [1, 1, 28, 28]);
  const opt = oto.dhspg({
    lr: 0.05,
    firstMomentum: 0.9,
    lambda: 10,
    epsilon: 0.95,
    targetGroupSparsity: 0.5,
    startPruningStep: 2,
  });
  assert.ok(opt instanceof o.DHSPG);
  assert.equal(opt.numGroups, oto.zigs.counts.prunableGroups);
  const data = makeSynthetic({ n: 16 * 24, seed: 5 });
  const loader = new o.DataLoader(data, { batchSize: 16, shuffle: true, seed: 1 });
  for await (const { x, y } of loader) {
    o.tidy(() => o.backward(o.crossEntropyLoss(model.call(x), y)));
    opt.step();
    opt.zeroGrad();
  }
  const st = await opt.stats();
  assert.ok(st.partitioned && st.zeroGroups > 0, `DHSPG zeroed groups: ${JSON.stringify(st)}`);
  const { model: small, report } = await oto.compress();
  const keptTotal = report.zigs.filter((z) => z.prunable).reduce((s, z) => s + z.kept, 0);
  assert.equal(keptTotal, st.totalGroups - st.zeroGroups, "kept = non-zero groups");
  model.eval();
  const x = o.fromHost(data.images.slice(0, 4 * 784), [4, 1, 28, 28], "f32", "cpu");
  const xb = o.fromHost(x.hostData(), x.shape, "f32", model.parameters()[0].backend);
  const a = await o.tidy(() => model.call(xb)).data();
  const b = await o.tidy(() => small.call(xb)).data();
  assertClose(b, a, "trained: compressed vs full", 1e-5, 1e-4);
  opt.dispose();
  small.dispose();
  model.dispose();
  x.dispose();
  xb.dispose();
});
