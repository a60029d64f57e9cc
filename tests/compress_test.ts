/**
 * Compression details: zero detection on trainable slices only, never removing a whole space,
 * the compact GraphModule (names, saving/loading, train mode and gradients, tracing it again),
 * costs before/after and clear errors.
 */
import assert from "node:assert/strict";
import {
  AdaptiveAvgPool2d,
  backward,
  BatchNorm2d,
  Conv2d,
  flatten,
  init,
  Linear,
  Module,
  mul,
  randn,
  reinitialized,
  relu,
  Rng,
  sum,
  type Tensor,
  tidy,
} from "../mod.ts";
import { loadWeights, saveWeights, writeInto } from "../src/io/weights.ts";
import { trace } from "../src/graph/trace.ts";
import { partition } from "../src/zig/partition.ts";
import {
  compactGraph,
  compress,
  gatherAxes,
  zeroGroups,
  zeroGroupsInPlace,
  zeroRandomGroups,
} from "../src/compress/compress.ts";
import { graphCost } from "../src/compress/flops.ts";
import { defaultLayerInit } from "../src/nn/init.ts";
import { carnSmall, DIV2K_MEAN } from "../src/zoo/carn.ts";
import type { Zig } from "../src/zig/types.ts";

await init({ quiet: true });

class Small extends Module {
  c1 = this.module("c1", new Conv2d(2, 6, 3, { padding: 1 }));
  b1 = this.module("b1", new BatchNorm2d(6));
  c2 = this.module("c2", new Conv2d(6, 4, 3, { padding: 1 }));
  fc = this.module("fc", new Linear(4, 3));
  forward(x: Tensor): Tensor {
    const h = relu(this.c2.call(relu(this.b1.call(this.c1.call(x)))));
    return this.fc.call(flatten(new AdaptiveAvgPool2d(1).call(h)));
  }
}

const INPUT = [1, 2, 5, 5];
const zig = (p: ReturnType<typeof partition>, param: string): Zig =>
  p.zigs.find((z) => z.members.some((m) => m.param === param && m.axis === 0))!;

async function maxDiff(a: Tensor, b: Tensor): Promise<number> {
  const [x, y] = [await a.data(), await b.data()];
  assert.equal(x.length, y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
}

Deno.test("zero detection uses trainable slices only; running statistics do not matter", async () => {
  const m = new Small();
  const g = trace(m, INPUT);
  const p = partition(g);
  const z = zig(p, "c1.weight");
  await zeroGroupsInPlace(m.stateDict(), z, [1, 4]);
  const values = new Map(
    await Promise.all(m.stateDict().entries().map(async ([n, t]) => [n, await t.data()] as const)),
  );
  // Running mean/var of b1 are nonzero (1 for the variance) and ignored.
  assert.deepEqual(zeroGroups(g, p, values).get(z.id), [false, true, false, false, true, false]);
  // A group with one nonzero trainable entry (the BN shift) is not zero.
  values.get("b1.bias")![4] = 1e-30;
  assert.deepEqual(zeroGroups(g, p, values).get(z.id), [false, true, false, false, false, false]);
});

Deno.test("a space whose groups are all zero keeps one channel", async () => {
  const m = new Small();
  const p = partition(trace(m, INPUT));
  const z = zig(p, "c2.weight");
  await zeroGroupsInPlace(m.stateDict(), z, [0, 1, 2, 3]);
  const r = await compress(m, undefined, p, { input: INPUT });
  assert.equal(r.report.zigs[z.id].kept, 1);
  assert.deepEqual(r.kept.get(z.id), [0]);
  const x = randn([2, 2, 5, 5], { seed: 1 });
  m.eval();
  assert.ok((await maxDiff(m.call(x), r.model.call(x))) < 1e-5);
});

Deno.test("the compact model is a Module: same names, save/load, train mode, gradients, re-trace", async () => {
  const m = new Small();
  const p = partition(trace(m, INPUT));
  const zeroed = await zeroRandomGroups(m.stateDict(), p, { seed: 3 });
  assert.deepEqual([...zeroed.values()].map((v) => v.length), [3, 2]);
  const r = await compress(m, undefined, p, { input: INPUT });
  const small = r.model;
  assert.deepEqual(
    small.namedParameters().map(([n]) => n),
    m.namedParameters().map(([n]) => n),
  );
  assert.deepEqual(small.getParam("weight"), undefined);
  assert.deepEqual(
    small.stateDict().get("c2.weight")!.shape,
    [2, 3, 3, 3],
    "c2 keeps 2 of 4 outputs and reads 3 of 6 inputs",
  );
  assert.equal(small.numParameters(), r.report.paramsAfter);

  // Train mode: batch statistics on the zero channels are zero, so outputs still match.
  const x = randn([3, 2, 5, 5], { seed: 2 });
  m.train();
  small.train();
  const [yf, ys] = tidy(() => [m.call(x), small.call(x)]);
  assert.ok((await maxDiff(yf, ys)) < 1e-4, "train-mode outputs match");
  const loss = sum(small.call(x));
  backward(loss);
  const gw = small.stateDict().get("c1.weight")!.grad;
  assert.ok(gw && gw.shape.join() === "3,2,3,3", "gradients reach the compact parameters");

  // Save, load into a fresh compact model, trace it again.
  small.eval();
  const file = await Deno.makeTempFile({ suffix: ".safetensors" });
  await saveWeights(small, file);
  const again = await compress(m, undefined, p, { input: INPUT });
  for (const [, t] of again.model.stateDict()) writeInto(t, new Float32Array(t.size));
  assert.ok((await maxDiff(small.call(x), again.model.call(x))) > 0, "zeroed copy differs");
  await loadWeights(again.model, file);
  await Deno.remove(file);
  assert.ok((await maxDiff(small.call(x), again.model.call(x))) === 0, "loaded weights");
  const p2 = partition(trace(small, INPUT));
  assert.deepEqual(
    p2.zigs.filter((z) => z.prunable).map((z) => z.size),
    [3, 2],
    "the compact model partitions into the kept channels",
  );
});

Deno.test("compress a Graph with explicit parameters; costs match the graph's", async () => {
  const m = new Small();
  const g = trace(m, INPUT);
  const p = partition(g);
  await zeroRandomGroups(m.stateDict(), p, { seed: 9 });
  const r = await compress(g, m.stateDict(), p);
  const after = graphCost(r.graph);
  assert.equal(r.report.macsAfter, after.macs);
  assert.equal(r.report.flopsAfter, after.flops);
  assert.equal(r.report.macsBefore, graphCost(g).macs);
  assert.ok(r.report.flopsAfter < r.report.flopsBefore);
  // c1 3 of 6 at 5x5: 3*18*25, c2 2 of 4 reading 3: 2*27*25, fc 3*2.
  assert.equal(after.macs, 3 * 18 * 25 + 2 * 27 * 25 + 3 * 2);
  m.eval();
  assert.throws(() => r.model.train().call(randn(INPUT)), /traced in eval mode only/);
});

Deno.test("errors: a partition of another graph, shapes that do not fit", async () => {
  const m = new Small();
  const g = trace(m, INPUT);
  const p = partition(g);
  const other = structuredClone(p);
  other.zigs[1].size = 60;
  await assert.rejects(() => compress(g, m.stateDict(), other), /does not match this graph/);
  await assert.rejects(() => compress(m, undefined, p), /pass opts.input/);
  const bad = new Map(g.params.map((q) => [q.name, q.shape]));
  bad.set("c2.weight", [4, 5, 3, 3]);
  assert.throws(() => compactGraph(g, bad), /conv2d \(layer c2\) rejects the compact shapes/);
});

Deno.test("gatherAxes keeps the listed indices of every axis", () => {
  const data = Float32Array.from({ length: 24 }, (_, i) => i);
  const r = gatherAxes(data, [2, 3, 4], [null, [0, 2], [1, 3]], "f32");
  assert.deepEqual(r.shape, [2, 2, 2]);
  assert.deepEqual([...r.data], [1, 3, 9, 11, 13, 15, 21, 23]);
});

Deno.test("reinitialized: the compact shapes with fresh layer draws and the fresh model's constants", async () => {
  const m = new Small();
  const p = partition(trace(m, INPUT));
  await zeroRandomGroups(m.stateDict(), p, { seed: 3 });
  // Train-ish state to forget: scale every tensor so nothing equals its initial value.
  for (const [, t] of m.stateDict()) {
    const v = await t.data();
    writeInto(t, Float32Array.from(v, (x) => 3 * x + 0.5));
  }
  const { model: small } = await compress(m, undefined, p, { input: INPUT });
  const a = await reinitialized(small, new Small(), { seed: 7 });
  const b = await reinitialized(small, new Small(), { seed: 7 });
  const st = a.stateDict();
  assert.deepEqual(
    [...st].map(([n, t]) => [n, t.shape]),
    [...small.stateDict()].map(([n, t]) => [n, t.shape]),
    "same names and compact shapes",
  );
  // Layers in graph order, each as its constructor draws it (weight, then bias).
  const rng = new Rng(7);
  for (const layer of ["c1", "c2", "fc"]) {
    const w = st.get(`${layer}.weight`)!;
    const want = defaultLayerInit(w.shape, w.shape[0], { rng });
    assert.deepEqual(await w.data(), await want.weight.data(), `${layer}.weight`);
    assert.deepEqual(await st.get(`${layer}.bias`)!.data(), await want.bias!.data(), layer);
  }
  const c = (n: string) => st.get(n)!.data();
  assert.ok((await c("b1.weight")).every((v) => v === 1), "norm scale 1");
  assert.ok((await c("b1.bias")).every((v) => v === 0), "norm shift 0");
  assert.ok((await c("b1.running_mean")).every((v) => v === 0));
  assert.ok((await c("b1.running_var")).every((v) => v === 1));
  for (const [n, t] of b.stateDict()) assert.deepEqual(await t.data(), await st.get(n)!.data(), n);
  // It trains like the compact model (gradients reach its parameters).
  a.train();
  backward(sum(a.call(randn([3, 2, 5, 5], { seed: 2 }))));
  assert.equal(st.get("c1.weight")!.grad?.shape.join(), st.get("c1.weight")!.shape.join());

  // A parameter compression left whole is the fresh model's, whatever its values; one it
  // narrowed that is neither a layer weight nor a constant cannot be re-drawn.
  class Scaled extends Small {
    out = this.param("out", randn([3], { seed: 4 }));
    s = this.param("s", randn([1, 6, 1, 1], { seed: 5 }));
    override forward(x: Tensor): Tensor {
      const h = relu(mul(this.b1.call(this.c1.call(x)), this.s));
      const y = this.fc.call(flatten(new AdaptiveAvgPool2d(1).call(relu(this.c2.call(h)))));
      return mul(y, this.out);
    }
  }
  const sm = new Scaled();
  const sp = partition(trace(sm, INPUT));
  await zeroRandomGroups(sm.stateDict(), sp, { seed: 3 });
  const sc = await compress(sm, undefined, sp, { input: INPUT });
  assert.ok(sc.model.stateDict().get("s")!.shape[1] < 6, "s is narrowed");
  await assert.rejects(
    () => reinitialized(sc.model, new Scaled()),
    /cannot re-draw "s" \[1,\d,1,1\]: it is not the weight of a conv or linear layer/,
  );
  class Kept extends Small {
    out = this.param("out", randn([3], { seed: 4 }));
    override forward(x: Tensor): Tensor {
      return mul(super.forward(x), this.out);
    }
  }
  const km = new Kept();
  const kp = partition(trace(km, INPUT));
  await zeroRandomGroups(km.stateDict(), kp, { seed: 3 });
  const kc = await compress(km, undefined, kp, { input: INPUT });
  const fresh = new Kept();
  const kr = await reinitialized(kc.model, fresh, { seed: 1 });
  assert.deepEqual(await kr.stateDict().get("out")!.data(), await fresh.out.data());
});

Deno.test("reinitialized: a model with its own initialisation (CARN) starts the scratch control its way", async () => {
  const input = [1, 3, 6, 6];
  const m = carnSmall({ seed: 0 });
  const p = partition(trace(m, input));
  await zeroRandomGroups(m.stateDict(), p, { seed: 2 });
  for (const [, t] of m.stateDict()) {
    const v = await t.data();
    writeInto(t, Float32Array.from(v, (x) => 3 * x + 0.5));
  }
  const { model: small } = await compress(m, undefined, p, { input });
  const st = (await reinitialized(small, carnSmall({ seed: 0 }), { seed: 5 })).stateDict();
  const data = async (n: string) => await st.get(n)!.data() as Float32Array;
  assert.ok((await data("exit.weight")).every((v) => v === 0), "zero exit conv");
  assert.deepEqual([...await data("sub_mean.mean")].map((v) => +v.toFixed(4)), [...DIV2K_MEAN]);
  // He-normal at the compact fan-in, x0.1 on every residual block's second conv; zero biases.
  let checked = 0;
  for (const [name, t] of st) {
    if (!name.endsWith(".weight") || name === "exit.weight" || t.shape.length !== 4) continue;
    const v = await t.data() as Float32Array;
    const gain = /\.body\.2\.weight$/.test(name) ? 0.1 : 1;
    const want = gain * Math.sqrt(2 / (t.shape[1] * t.shape[2] * t.shape[3]));
    const std = Math.sqrt(v.reduce((a, x) => a + x * x, 0) / v.length);
    if (v.length >= 400) {
      assert.ok(Math.abs(std / want - 1) < 0.25, `${name}: std ${std} vs ${want}`);
      checked++;
    }
    const b = st.get(name.replace(/weight$/, "bias"));
    if (b) assert.ok((await b.data()).every((x) => x === 0), `${name}: zero bias`);
  }
  assert.ok(checked >= 10, `checked ${checked} layers`);
});
