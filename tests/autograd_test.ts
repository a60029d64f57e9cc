/**
 * Autograd: accumulation, reuse of a tensor, noGrad, zeroGrad, errors. The gradient of every op
 * is checked by the conformance harness (tests/conformance_test.ts) from the op's samples.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { assertClose, forBackends, test } from "./helpers.ts";

const leaf = (data: number[], be: o.BackendName, shape = [data.length]) => {
  const t = o.fromHost(Float32Array.from(data), shape, "f32", be).keep();
  t.requiresGrad = true;
  return t;
};

test("gradients accumulate over two backward calls", async () => {
  await forBackends(async (be) => {
    const x = leaf([1, -2, 3], be);
    o.tidy(() => o.backward(o.sum(o.mul(x, o.fill([3], 3, be)))));
    assert.deepEqual(await x.grad!.array(), [3, 3, 3], be);
    o.tidy(() => o.backward(o.sum(o.square(x))));
    assert.deepEqual(await x.grad!.array(), [5, -1, 9], `${be}: 3 + 2x`);
    o.zeroGrad([x]);
    x.dispose();
  });
});

test("a tensor used twice gets both contributions (x*x, x+x)", async () => {
  await forBackends(async (be) => {
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
  });
});

test("noGrad records nothing; zeroGrad clears and frees", async () => {
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

test("backward of a non-scalar needs a seed; a seed works", async () => {
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

test("gradients reach only leaves that require grad; integer inputs get none", async () => {
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
