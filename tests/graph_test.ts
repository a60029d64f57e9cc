/**
 * Graph capture: tracing records ops, paths, parameter roles and shapes (shape-only by default),
 * and executing the graph reproduces the model (same values) on the real backend, including
 * weight sharing, constants made in forward and another batch size.
 */
import assert from "node:assert/strict";
import {
  AdaptiveAvgPool2d,
  add,
  BatchNorm2d,
  Conv2d,
  flatten,
  init,
  InstanceNorm2d,
  Linear,
  Module,
  mul,
  randn,
  relu,
  type Tensor,
  tensor,
  tidy,
} from "../mod.ts";
import { trace, traceWithOutput } from "../src/graph/trace.ts";
import { executeGraph } from "../src/graph/execute.ts";
import { expandTarget, reshapeTarget } from "../src/graph/graph.ts";
import { toDot } from "../src/zig/dot.ts";
import { partition } from "../src/zig/partition.ts";

const { backend } = await init({ quiet: true });

class Net extends Module {
  conv = this.module("conv", new Conv2d(3, 4, 3, { padding: 1 }));
  bn = this.module("bn", new BatchNorm2d(4));
  inorm = this.module("inorm", new InstanceNorm2d(4));
  fc = this.module("fc", new Linear(4 * 4, 3));
  forward(x: Tensor): Tensor {
    // conv applied twice (weight sharing), a constant made in forward, a fill inside a norm.
    const h = relu(this.bn.call(this.conv.call(x)));
    const scale = tensor([1, 2, 3, 4], [1, 4, 1, 1], {
      backend: x.backend === "meta" ? "cpu" : x.backend,
    });
    const g = mul(this.inorm.call(h), scale);
    const pooled = new AdaptiveAvgPool2d(2).call(add(g, h));
    return this.fc.call(flatten(pooled));
  }
}

async function same(a: Tensor, b: Tensor, what: string, tol = 1e-5): Promise<void> {
  assert.deepEqual(b.shape, a.shape, `${what}: shapes`);
  const [x, y] = [await a.data(), await b.data()];
  for (let i = 0; i < x.length; i++) {
    assert.ok(
      Math.abs(x[i] - y[i]) <= tol * (1 + Math.abs(x[i])),
      `${what}: element ${i} ${x[i]} vs ${y[i]}`,
    );
  }
}

Deno.test("trace records ops, module paths, parameter roles and shapes (shape-only)", () => {
  const m = new Net();
  const g = trace(m, [1, 3, 4, 4]);
  const ops = g.nodes.map((n) => n.op);
  assert.deepEqual(ops.slice(0, 3), ["conv2d", "batchNorm", "relu"]);
  const conv = g.nodes[0];
  assert.equal(conv.path, "conv");
  assert.deepEqual(conv.params.map((p) => [p.name, p.role, p.trainable]), [
    ["conv.weight", "weight", true],
    ["conv.bias", "bias", true],
  ]);
  const bn = g.nodes[1];
  assert.deepEqual(bn.params.map((p) => `${p.role}:${p.trainable}`), [
    "gamma:true",
    "beta:true",
    "runningMean:false",
    "runningVar:false",
  ]);
  assert.deepEqual(g.tensors[conv.outputs[0]].shape, [1, 4, 4, 4]);
  assert.equal(g.tensors[g.inputs[0]].kind, "input");
  assert.deepEqual(g.tensors[g.outputs[0]].shape, [1, 3]);
  // Adjacency: the relu output feeds the instance norm and the add.
  const relu0 = g.nodes[2];
  assert.deepEqual(g.consumers(relu0.outputs[0]).map((n) => n.op), ["instanceNorm", "add"]);
  assert.equal(g.producer(relu0.outputs[0]), relu0);
  assert.ok(g.nodes.some((n) => n.op === "fill"), "the norm's missing gamma is a fill node");
  assert.ok([...g.constants.keys()].length === 1, "the tensor() made in forward is a constant");
  // Every model parameter is listed once, with its shape; numParameters counts trainable ones.
  assert.equal(g.numParameters(), m.numParameters());
  assert.equal(g.params.find((p) => p.name === "bn.running_var")?.trainable, false);
});

Deno.test(`executeGraph reproduces the model on ${backend} (also at another batch size)`, async () => {
  const m = new Net();
  m.eval();
  const g = trace(m, [1, 3, 4, 4]);
  for (const batch of [1, 3]) {
    const x = randn([batch, 3, 4, 4], { seed: batch });
    const [a, b] = tidy(() => [m.call(x), executeGraph(g, m.stateDict(), x)]);
    await same(a, b, `batch ${batch}`);
  }
});

Deno.test("real-mode trace computes the output and the graph replays it", async () => {
  const m = new Net();
  const x = randn([2, 3, 4, 4], { seed: 5 });
  const { graph, output } = traceWithOutput(m, x, { mode: "real" });
  assert.equal(m.training, true, "the module's mode is restored after tracing");
  await same(output, executeGraph(graph, m.stateDict(), x), "real trace");
});

Deno.test("weight sharing: one tensor registered under two names is one graph parameter", async () => {
  class Shared extends Module {
    a = this.module("a", new Conv2d(2, 2, 1));
    b: Conv2d;
    constructor() {
      super();
      this.b = this.module("b", this.a); // the same module under two names
    }
    forward(x: Tensor): Tensor {
      return this.b.call(relu(this.a.call(x)));
    }
  }
  const m = new Shared();
  const g = trace(m, [1, 2, 3, 3]);
  const w = g.params.find((p) => p.name === "a.weight")!;
  assert.deepEqual(w.aliases, ["b.weight"]);
  assert.equal(g.nodes.filter((n) => n.op === "conv2d").length, 2);
  const x = randn([1, 2, 3, 3], { seed: 1 });
  await same(
    m.call(x),
    executeGraph(
      g,
      new Map([["b.weight", m.a.getParam("weight")!], ["b.bias", m.a.getParam("bias")!]]),
      x,
    ),
    "aliases",
  );
  const p = partition(g);
  assert.equal(p.zigs.filter((z) => z.members.some((s) => s.param === "a.weight")).length, 1);
});

Deno.test("missing parameters and bad inputs give clear errors", () => {
  const g = trace(new Net(), [1, 3, 4, 4]);
  const x = randn([1, 3, 4, 4], { seed: 1 });
  assert.throws(() => executeGraph(g, new Map(), x), /parameter "conv.weight" is missing.*conv2d/);
  assert.throws(() => executeGraph(g, new Map(), [x, x]), /takes 1 input\(s\), got 2/);
});

Deno.test("reshape and expand targets follow a new input shape", () => {
  assert.deepEqual(reshapeTarget([1, 8, 2, 2], [1, 32], [4, 4, 2, 2]), [4, 16]);
  assert.deepEqual(reshapeTarget([8], [1, 8, 1, 1], [6]), [1, 6, 1, 1]);
  assert.deepEqual(reshapeTarget([1, 32], [1, 8, 2, 2], [1, 16]), [1, 4, 2, 2]);
  assert.deepEqual(reshapeTarget([2, 6, 1, 1], [2, 6], [2, 3, 1, 1]), [2, 3]);
  assert.deepEqual(expandTarget([1, 4, 1, 1], [2, 4, 3, 3], [1, 2, 1, 1]), [2, 2, 3, 3]);
  assert.throws(() => reshapeTarget([1, 6], [1, 2, 3], [1, 5]), /does not divide/);
});

Deno.test("DOT export colours nodes by ZIG and marks unprunable spaces", () => {
  const g = trace(new Net(), [1, 3, 4, 4]);
  const dot = toDot(g, partition(g));
  assert.match(dot, /^digraph oto \{/);
  assert.match(dot, /n0 \[label="conv2d\\nconv\\n\[1,4,4,4\]\\nZIG #\d+"/);
  assert.match(dot, /unprunable: feeds the model output/);
  assert.match(dot, /unprunable: tied to the model input/);
  assert.equal((dot.match(/ -> /g) ?? []).length >= g.nodes.length, true);
});
