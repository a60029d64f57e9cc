/**
 * The meta backend: shapes only, no values and no kernels, so large models trace in
 * milliseconds (bench/meta.bench.ts measures how many). Creation functions make no host data; reading values throws clearly.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { dispatchCount } from "../src/backend/webgpu.ts";
import { setTracer } from "../src/ops/registry.ts";
import { chain } from "./meta_chain.ts";

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

Deno.test("a 50-op chain on meta runs no kernel, makes no data and gives the right shapes", () => {
  // Every op application is seen through the graph-capture hook; none may produce storage
  // (a cpu or webgpu run would). Its speed is measured in bench/meta.bench.ts.
  const seen: { op: string; outs: readonly o.Tensor[] }[] = [];
  const prev = setTracer({ record: (op, _ins, outs) => seen.push({ op: op.name, outs }) });
  let outs: o.Tensor[];
  const dispatchesBefore = dispatchCount();
  try {
    const x = o.randn([4096, 8192], meta), w = o.randn([8192, 4096], meta);
    const labels = o.zeros([4096], { ...meta, dtype: "i32" });
    outs = chain(x, w, labels);
  } finally {
    setTracer(prev);
  }
  assert.ok(outs.length >= 50, `${outs.length} ops`);
  assert.ok(seen.length >= outs.length, `${seen.length} op applications recorded`);
  for (const { op, outs: os } of seen) {
    for (const t of os) {
      assert.equal(t.backend, "meta", `${op} left the meta backend`);
      assert.ok(t.storage.host === null && t.storage.gpu === null, `${op} allocated storage`);
    }
  }
  assert.equal(dispatchCount(), dispatchesBefore, "no GPU kernel was recorded");
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
