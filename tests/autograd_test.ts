/**
 * Autograd: accumulation, reuse of a tensor, noGrad, zeroGrad, errors, and a finite-difference
 * check of the gradient of every differentiable op of the core engine (walked from the
 * registry, so a new op without a check fails here).
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { apply1 } from "../src/ops/registry.ts";
import { assertClose, coreOps, gradCheck, hasWebgpu, type HostInput, hostRand } from "./helpers.ts";

const backends = async () => (await hasWebgpu()) ? ["cpu", "webgpu"] as const : ["cpu"] as const;
const leaf = (data: number[], be: o.BackendName, shape = [data.length]) => {
  const t = o.fromHost(Float32Array.from(data), shape, "f32", be).keep();
  t.requiresGrad = true;
  return t;
};

Deno.test("gradients accumulate over two backward calls", async () => {
  for (const be of await backends()) {
    const x = leaf([1, -2, 3], be);
    o.tidy(() => o.backward(o.sum(o.mul(x, o.fill([3], 3, be)))));
    assert.deepEqual(await x.grad!.array(), [3, 3, 3], be);
    o.tidy(() => o.backward(o.sum(o.square(x))));
    assert.deepEqual(await x.grad!.array(), [5, -1, 9], `${be}: 3 + 2x`);
    o.zeroGrad([x]);
    x.dispose();
  }
});

Deno.test("a tensor used twice gets both contributions (x*x, x+x)", async () => {
  for (const be of await backends()) {
    const x = leaf([1.5, -2, 0.25], be);
    o.backward(o.sum(o.mul(x, x)));
    assertClose(await x.grad!.array(), [3, -4, 0.5], `${be}: d(x*x) = 2x`);
    o.zeroGrad([x]);
    // A diamond: y = x + x feeds two branches that meet again.
    const y = o.add(x, x);
    o.backward(o.sum(o.mul(o.relu(y), o.exp(o.scale(y, 0)))));
    assertClose(await x.grad!.array(), [2, 0, 2], `${be}: diamond`);
    o.zeroGrad([x]);
    x.dispose();
  }
});

Deno.test("noGrad records nothing; zeroGrad clears and frees", async () => {
  const x = leaf([1, 2], "cpu");
  const y = o.noGrad(() => o.mul(x, x));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.node, null);
  assert.throws(
    () => o.backward(o.sum(y)),
    /backward: the tensor does not depend on any tensor that requires grad/,
  );
  // Grad recording resumes after the scope, also after an exception inside it.
  assert.throws(() => o.noGrad(() => o.add(x, o.zeros([3], { backend: "cpu" }))));
  const z = o.sum(o.mul(x, x));
  assert.equal(z.requiresGrad, true);
  o.backward(z);
  const g = x.grad!;
  assert.deepEqual(await g.array(), [2, 4]);
  o.zeroGrad([x]);
  assert.equal(x.grad, null);
  assert.equal(g.isDisposed, true);
  x.dispose();
});

Deno.test("backward of a non-scalar needs a seed; a seed works", async () => {
  const x = leaf([1, 2, 3], "cpu");
  const y = o.scale(x, 2);
  assert.throws(
    () => o.backward(y),
    /backward: root has shape \[3\]; pass a seed gradient or reduce/,
  );
  o.backward(y, o.fromHost(Float32Array.from([1, 10, 100]), [3], "f32", "cpu"));
  assert.deepEqual(await x.grad!.array(), [2, 20, 200]);
  o.zeroGrad([x]);
  x.dispose();
});

Deno.test("gradients reach only leaves that require grad; integer inputs get none", async () => {
  const w = leaf([1, 2, 3], "cpu");
  const c = o.fromHost(Float32Array.from([4, 5, 6]), [3], "f32", "cpu");
  const idx = o.tensor([2, 2], [2], { dtype: "i32", backend: "cpu" });
  o.backward(o.sum(o.mul(o.gather(w, 0, idx), o.gather(c, 0, idx))));
  assert.deepEqual(await w.grad!.array(), [0, 0, 12]);
  assert.equal(c.grad, null);
  assert.equal(idx.grad, null);
  o.zeroGrad([w]);
  w.dispose();
});

// ---------------------------------------------------------------------------------------------
// Every differentiable op of the core engine against finite differences.

/** Values at least 0.1 from every kink (0 for relu/abs/sign/step) and from each other. */
const smooth = (shape: number[], seed: number): HostInput => {
  const h = hostRand(shape, seed, 0.2, 1.5);
  const data = Array.from(h.data, (v, i) => (i % 2 ? -v : v));
  return { data, shape };
};
const pos = (shape: number[], seed: number) => hostRand(shape, seed, 0.5, 2);
const ints = (data: number[], shape = [data.length]): HostInput => ({ data, shape, dtype: "i32" });
const op = (name: string, attrs: unknown) => (...xs: o.Tensor[]) =>
  apply1(o.getOp(name) as never, xs, attrs as never);

type Sample = [(...xs: o.Tensor[]) => o.Tensor, HostInput[]];
const u = (f: (x: o.Tensor) => o.Tensor, x = smooth([2, 3], 1)): Sample => [f, [x]];
const b = (f: (x: o.Tensor, y: o.Tensor) => o.Tensor): Sample => [f, [
  smooth([2, 3], 2),
  { data: [0.05, -0.9, 1.7], shape: [3] }, // broadcast, never within eps of the first operand
]];

const SAMPLES: Record<string, Sample> = {
  neg: u(o.neg),
  abs: u(o.abs),
  sign: u(o.sign),
  exp: u(o.exp),
  log: u(o.log, pos([5], 3)),
  sqrt: u(o.sqrt, pos([5], 4)),
  square: u(o.square),
  reciprocal: u(o.reciprocal, pos([5], 5)),
  relu: u(o.relu),
  step: u(o.step),
  leakyRelu: u((x) => o.leakyRelu(x, 0.1)),
  sigmoid: u(o.sigmoid),
  tanh: u(o.tanh),
  silu: u(o.silu),
  gelu: u(o.gelu),
  geluGrad: u(op("geluGrad", { alpha: 0, beta: 0 })),
  affine: u((x) => o.affine(x, -1.5, 0.3)),
  sin: u(o.sin),
  cos: u(o.cos),
  add: b(o.add),
  sub: b(o.sub),
  mul: b(o.mul),
  div: [o.div, [smooth([2, 3], 6), pos([3], 7)]],
  maximum: b(o.maximum),
  minimum: b(o.minimum),
  cast: u((x) => o.cast(x, "f32")),
  reshape: u((x) => o.reshape(x, [3, -1])),
  expand: u((x) => o.expand(x, [2, 2, 3]), smooth([2, 1], 8)),
  permute: u((x) => o.permute(x, [2, 0, 1]), smooth([2, 3, 2], 9)),
  sum: u((x) => o.sum(x, [0, 2], true), smooth([2, 3, 2], 10)),
  mean: u((x) => o.mean(x, 1), smooth([2, 3, 2], 11)),
  max: u((x) => o.max(x, 0), smooth([3, 4], 12)),
  min: u((x) => o.min(x, [0, 1]), smooth([3, 4], 13)),
  matmul: [(x, y) => o.matmul(x, y, true, false), [smooth([2, 3, 2], 14), smooth([1, 3, 4], 15)]],
  pad: u((x) => o.pad(x, [[1, 0], [2, 1]], 0.5)),
  slice: u((x) => o.slice(x, [1, -1], [3, 0], [1, -2]), smooth([4, 5], 16)),
  sliceGrad: u(
    op("sliceGrad", { inShape: [4, 5], starts: [1, 4], steps: [2, -3] }),
    smooth([2, 2], 17),
  ),
  concat: [(x, y) => o.concat([y, x, y], 0), [smooth([2, 3], 18), smooth([1, 3], 19)]],
  split: u((x) => o.split(x, [1, 3, 1], 1)[1], smooth([2, 5], 20)),
  gather: [(x, i) => o.gather(x, 1, i), [smooth([2, 4], 21), ints([3, -1, 0, 2], [2, 2])]],
  gatherGrad: [op("gatherGrad", { axis: 0, dim: 3 }), [smooth([4, 2], 22), ints([2, 0, 2, 1])]],
  softmax: u((x) => o.softmax(x, 0)),
  logSoftmax: u((x) => o.logSoftmax(x)),
  crossEntropy: [
    (x, y) => o.crossEntropy(x, y, { labelSmoothing: 0.1, reduction: "none" }),
    [smooth([3, 4], 23), ints([3, 0, 1])],
  ],
};

Deno.test("every differentiable core op has a finite-difference gradient sample", async () => {
  const names = await coreOps();
  assert.ok(names.includes("matmul") && names.includes("crossEntropy"), `core ops: ${names}`);
  const missing = names.filter((n) => typeof o.getOp(n).grad === "function" && !(n in SAMPLES));
  assert.deepEqual(missing, [], `add a gradient sample to tests/autograd_test.ts for ${missing}`);
  const stale = Object.keys(SAMPLES).filter((n) => !names.includes(n));
  assert.deepEqual(stale, [], `samples for ops that are not registered: ${stale}`);
});

for (const [name, [fn, inputs]] of Object.entries(SAMPLES)) {
  Deno.test(`gradient of ${name} matches finite differences`, async () => {
    await gradCheck(name, fn, inputs);
  });
}
