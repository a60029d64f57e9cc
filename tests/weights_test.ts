import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { Module } from "../src/nn/module.ts";
import { Linear } from "../src/nn/layers/linear.ts";
import {
  loadSafetensors,
  SafetensorsMismatchError,
  saveSafetensors,
} from "../src/io/safetensors.ts";
import { useDefaultBackend } from "./helpers.ts";

class Net extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(hidden = 5) {
    super();
    this.fc1 = this.module("fc1", new Linear(3, hidden));
    this.fc2 = this.module("fc2", new Linear(hidden, 2, { bias: false }));
    this.buffer("steps", o.tensor([7], [1], { dtype: "i32" }));
  }
  forward(x: o.Tensor): o.Tensor {
    return this.fc2.call(o.relu(this.fc1.call(x)));
  }
}

async function values(m: Module): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of m.stateDict()) out[k] = await t.array();
  return out;
}

Deno.test("saveWeights/loadWeights: a model round-trips through safetensors, in place", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await useDefaultBackend();
    o.manualSeed(1);
    const a = new Net();
    o.manualSeed(2);
    const b = new Net();
    const before = b.fc1.weight;
    const path = `${dir}/net.safetensors`;
    await o.saveWeights(a, path, { note: "test" });
    const file = await loadSafetensors(path);
    assert.deepEqual(Object.keys(file.tensors).sort(), [
      "fc1.bias",
      "fc1.weight",
      "fc2.weight",
      "steps",
    ]);
    assert.equal(file.tensors["steps"].dtype, "I32");
    assert.notDeepEqual(await values(a), await values(b));
    const meta = await o.loadWeights(b, path);
    assert.equal(meta.note, "test");
    assert.deepEqual(await values(b), await values(a));
    assert.equal(b.fc1.weight, before, "tensors are overwritten in place");
    // The loaded model computes the same function.
    const x = o.tensor([[0.1, -0.2, 0.3], [1, 2, -1]]);
    assert.deepEqual(await a.call(x).array(), await b.call(x).array());
    a.dispose();
    b.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadWeights lists every missing, unexpected and mis-shaped tensor, changes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/bad.safetensors`;
    const f32 = (shape: number[]) => ({
      dtype: "F32" as const,
      shape,
      data: new Float32Array(shape.reduce((p, q) => p * q, 1)),
    });
    await saveSafetensors(path, {
      "fc1.weight": f32([4, 3]), // mis-shaped (model: [5, 3])
      "fc2.weight": f32([2, 5]),
      "extra.weight": f32([1]), // unexpected
      "bn.num_batches_tracked": { dtype: "I32", shape: [], data: new Int32Array([3]) }, // ignored
      // fc1.bias and steps missing
    });
    const net = new Net();
    const before = await values(net);
    await assert.rejects(() => o.loadWeights(net, path), (e: unknown) => {
      assert.ok(e instanceof SafetensorsMismatchError);
      assert.deepEqual(e.missing.sort(), ["fc1.bias", "steps"]);
      assert.deepEqual(e.unexpected, ["extra.weight"]);
      assert.deepEqual(e.mismatched.map((m) => m.name), ["fc1.weight"]);
      assert.match(e.message, /4 problems/);
      assert.match(e.message, /tensor "fc1.weight" has shape \[4,3\], model expects \[5,3\]/);
      assert.match(e.message, /bad\.safetensors/);
      return true;
    });
    assert.deepEqual(await values(net), before, "nothing written on error");
    net.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveWeights is atomic: a failed save leaves the previous file intact", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/w.safetensors`;
    const net = new Net();
    await o.saveWeights(net, path);
    const good = await Deno.readFile(path);
    net.fc1.weight.dispose(); // saving now fails while reading the tensors
    await assert.rejects(() => o.saveWeights(net, path), /disposed/);
    assert.deepEqual(await Deno.readFile(path), good);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["w.safetensors"]);
    net.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveWeights/loadWeights: a conv-BN CNN (with running stats) round-trips exactly", async () => {
  const { SmallCnn } = await import("../examples/train_mnist.ts");
  const dir = await Deno.makeTempDir();
  try {
    o.manualSeed(5);
    const a = new SmallCnn({ width: 4 });
    const x = o.randn([3, 1, 28, 28], { seed: 9 }).keep();
    o.tidy(() => a.call(x)); // training mode: updates the BatchNorm running statistics
    a.eval();
    const want = await o.tidy(() => a.call(x)).array();
    const path = `${dir}/cnn.safetensors`;
    await o.saveWeights(a, path);
    const { tensors } = await loadSafetensors(path);
    assert.deepEqual(Object.keys(tensors).sort(), [
      "fc.bias",
      "fc.weight",
      "features.0.weight",
      "features.1.bias",
      "features.1.running_mean",
      "features.1.running_var",
      "features.1.weight",
      "features.4.weight",
      "features.5.bias",
      "features.5.running_mean",
      "features.5.running_var",
      "features.5.weight",
    ]);
    o.manualSeed(6);
    const b = new SmallCnn({ width: 4 });
    await o.loadWeights(b, path);
    b.eval();
    assert.deepEqual(await o.tidy(() => b.call(x)).array(), want);
    // A model of another width is refused with every mis-shaped tensor listed.
    const c = new SmallCnn({ width: 8 });
    await assert.rejects(() => o.loadWeights(c, path), /11 problems .*11 mis-shaped/s);
    [a, b, c].forEach((m) => m.dispose());
    x.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
