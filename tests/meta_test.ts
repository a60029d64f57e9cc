/**
 * The meta backend: shapes only, no values and no kernels, so large models trace in
 * milliseconds. Creation functions make no host data; reading values throws clearly.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";

const meta = { backend: "meta" } as const;

Deno.test("creation functions work on meta without generating data", () => {
  const cases: [o.Tensor, number[], o.DType][] = [
    [o.tensor([[1, 2, 3], [4, 5, 6]], undefined, meta), [2, 3], "f32"],
    [o.tensor(new Int32Array(6), [3, 2], meta), [3, 2], "i32"],
    [o.tensor(7, undefined, meta), [], "f32"],
    [o.zeros([4, 5], meta), [4, 5], "f32"],
    [o.ones([2], { ...meta, dtype: "i32" }), [2], "i32"],
    [o.full([3], 2, meta), [3], "f32"],
    [o.randn([4096, 4096], meta), [4096, 4096], "f32"],
    [o.uniform([8, 3, 1024, 1024], meta), [8, 3, 1024, 1024], "f32"],
    [o.arange(1e8, { ...meta, dtype: "i32" }), [1e8], "i32"],
    [o.fill([2, 2], 1, "meta"), [2, 2], "f32"],
  ];
  for (const [t, shape, dtype] of cases) {
    assert.equal(t.backend, "meta");
    assert.deepEqual(t.shape, shape);
    assert.equal(t.dtype, dtype);
    assert.equal(t.storage.host, null, `no host data for [${shape}]`);
    assert.equal(t.storage.gpu, null);
  }
  assert.throws(
    () => o.tensor([1, 2, 3], [2, 2], meta),
    /tensor: 3 values do not fill shape \[2,2\]/,
  );
  assert.throws(() => o.randn([2, -1], meta), /randn: shape entries must be non-negative integers/);
});

Deno.test("meta tensors leave the global random generator untouched", async () => {
  o.manualSeed(42);
  const a = await o.randn([3], { backend: "cpu" }).array();
  o.manualSeed(42);
  o.randn([1000], meta);
  o.uniform([1000], meta);
  const b = await o.randn([3], { backend: "cpu" }).array();
  assert.deepEqual(b, a);
});

Deno.test("reading values of a meta tensor throws a clear error", async () => {
  const t = o.zeros([2, 3], meta);
  await assert.rejects(
    () => t.data(),
    /data: tensor #\d+ \[2,3\] is on the meta backend.*shapes only/,
  );
  await assert.rejects(() => t.item(), /item: tensor has shape \[2,3\]/);
  await assert.rejects(() => o.zeros([], meta).item(), /data: .* meta backend/);
  assert.throws(() => t.hostData(), /hostData: tensor #\d+ \[2,3\] is on the meta backend/);
  await assert.rejects(() => o.toBackend(t, "cpu"), /meta backend/);
});

/** A 50-op chain through every op family on huge shapes. */
function chain(x: o.Tensor, w: o.Tensor, labels: o.Tensor): o.Tensor[] {
  const shapes: o.Tensor[] = [];
  const r = (t: o.Tensor) => (shapes.push(t), t);
  let h = r(o.matmul(x, w)); // [B, 4096]
  for (let i = 0; i < 8; i++) {
    h = r(o.relu(r(o.add(r(o.scale(h, 0.5)), r(o.mul(h, h)))))); // 4 ops each
  }
  const parts = o.split(h, [1024, 3072], 1).map(r);
  const c = r(o.concat([parts[1], parts[0], parts[0]], 1)); // [B, 5120]
  const p = r(o.pad(c, [[0, 0], [2, 2]])); // [B, 5124]
  const s = r(o.slice(p, [0, -1], [Infinity, -Infinity], [2, -2])); // [B/2, 2562]
  const t = r(o.transpose(r(o.reshape(s, [-1, 2562, 1])), 1, 2)); // [B/2, 1, 2562]
  const m = r(o.mean(t, 1)); // [B/2, 2562]
  const e = r(o.expand(r(o.reshape(r(o.sum(m, 1, true)), [-1, 1])), [m.shape[0], 10]));
  const sm = r(o.logSoftmax(r(o.softmax(e))));
  const g = r(o.gather(sm, 0, r(o.cast(r(o.argmax(sm, 1)), "i32"))));
  r(o.oneHot(labels, 10));
  r(o.max(g));
  r(o.crossEntropy(sm, o.slice(labels, [0], [sm.shape[0]])));
  return shapes;
}

Deno.test("a 50-op chain on meta takes milliseconds and gives the right shapes", () => {
  const x = o.randn([4096, 8192], meta), w = o.randn([8192, 4096], meta);
  const labels = o.zeros([4096], { ...meta, dtype: "i32" });
  chain(x, w, labels); // warm up (JIT)
  const t0 = performance.now();
  const outs = chain(x, w, labels);
  const ms = performance.now() - t0;
  assert.ok(outs.length >= 50, `${outs.length} ops`);
  assert.ok(ms < 25, `50 ops on meta took ${ms.toFixed(1)} ms (the real thing would take minutes)`);
  assert.ok(outs.every((t) => t.backend === "meta" && t.storage.host === null));
  const shape = (i: number) => outs[i].shape;
  assert.deepEqual(shape(0), [4096, 4096]);
  const last = outs.length - 1;
  assert.deepEqual(outs.find((t) => t.shape[1] === 5120)!.shape, [4096, 5120]);
  assert.deepEqual(outs.find((t) => t.shape[1] === 5124)!.shape, [4096, 5124]);
  assert.deepEqual(outs.find((t) => t.shape[1] === 2562)!.shape, [2048, 2562]);
  assert.deepEqual(outs[last].shape, []); // the loss
  assert.deepEqual(outs[last - 2].shape, [4096, 10]); // oneHot
  assert.deepEqual(outs[last - 3].shape, [2048, 10]); // gather
});

Deno.test("backward on meta computes gradient shapes", () => {
  const w = o.randn([512, 256], meta).keep();
  w.requiresGrad = true;
  const x = o.randn([64, 512], meta);
  const loss = o.crossEntropy(o.matmul(x, w), o.zeros([64], { ...meta, dtype: "i32" }));
  o.backward(loss);
  assert.deepEqual(w.grad!.shape, [512, 256]);
  assert.equal(w.grad!.backend, "meta");
  o.zeroGrad([w]);
});

Deno.test("one meta input makes an op shape-only, and shape errors still fire", () => {
  const cpuW = o.zeros([3, 4], { backend: "cpu" });
  const y = o.matmul(o.randn([2, 3], meta), cpuW);
  assert.equal(y.backend, "meta");
  assert.deepEqual(y.shape, [2, 4]);
  assert.throws(
    () => o.concat([o.zeros([2, 3], meta), o.zeros([3, 3], meta)], 1),
    /concat: sizes differ on axis 0 \(2 vs 3\).*\[2,3\], \[3,3\]/,
  );
});
