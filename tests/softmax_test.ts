/**
 * softmax, logSoftmax and the fused crossEntropy loss: values against float64 references,
 * numerical stability, both backends (including > 65535 rows and long rows), gradients against
 * finite differences, and the errors for bad labels.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { assertClose, compareBackends, gradCheck, hostRand, onWebgpu, test } from "./helpers.ts";

const ints = (data: number[]) => ({ data, shape: [data.length], dtype: "i32" as const });

/** float64 log-softmax of each row of a [n, c] array. */
function logSoftmaxRows(x: ArrayLike<number>, n: number, c: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < n; r++) {
    const row = Array.from({ length: c }, (_, j) => x[r * c + j]);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    out.push(...row.map((v) => v - lse));
  }
  return out;
}

/** float64 cross-entropy with label smoothing, per row. */
function ceRows(x: ArrayLike<number>, y: number[], c: number, eps: number): number[] {
  const lp = logSoftmaxRows(x, y.length, c);
  return y.map((label, r) => {
    let s = 0;
    for (let j = 0; j < c; j++) s -= ((j === label ? 1 - eps : 0) + eps / c) * lp[r * c + j];
    return s;
  });
}

test("softmax and logSoftmax: values, any axis, both backends", async () => {
  const x = hostRand([4, 7], 1, -3, 3);
  const [s] = await compareBackends("softmax", (t) => o.softmax(t), [x]);
  assertClose(s.data, logSoftmaxRows(x.data, 4, 7).map(Math.exp), "softmax values");
  const [l] = await compareBackends("logSoftmax", (t) => o.logSoftmax(t), [x]);
  assertClose(l.data, logSoftmaxRows(x.data, 4, 7), "logSoftmax values");
  // Axis 0 of [4, 7] is the last axis of its transpose.
  const [s0] = await compareBackends("softmax axis 0", (t) => o.softmax(t, 0), [x]);
  const viaT = logSoftmaxRows(
    Array.from({ length: 28 }, (_, i) => x.data[(i % 4) * 7 + Math.floor(i / 4)]),
    7,
    4,
  ).map(Math.exp);
  assertClose(
    s0.data,
    Array.from({ length: 28 }, (_, i) => viaT[(i % 7) * 4 + Math.floor(i / 7)]),
    "softmax axis 0",
  );
  await compareBackends("softmax middle axis", (t) => o.softmax(t, 1), [hostRand([3, 5, 4], 2)]);
  await compareBackends("logSoftmax middle axis", (t) => o.logSoftmax(t, -2), [
    hostRand([3, 5, 4], 3),
  ]);
  // More rows than one grid dimension holds, and rows longer than the workgroup.
  await compareBackends("softmax 70001 rows", (t) => o.softmax(t), [hostRand([70001, 3], 4)]);
  await compareBackends("logSoftmax long rows", (t) => o.logSoftmax(t), [
    hostRand([3, 1001], 5, -5, 5),
  ]);
  const [sum] = await compareBackends("softmax sums to 1", (t) => o.sum(o.softmax(t, 1), 1), [
    hostRand([5, 300], 6, -4, 4),
  ]);
  assertClose(sum.data, [1, 1, 1, 1, 1], "softmax row sums");
});

test("softmax is numerically stable for huge logits", async () => {
  const big = { data: [1000, 1001, 1002, -1000, -1001, -1e30], shape: [2, 3] };
  const [s] = await compareBackends("softmax huge", (t) => o.softmax(t), [big]);
  const e = [Math.exp(-2), Math.exp(-1), 1];
  const z = e.reduce((a, b) => a + b);
  const z2 = 1 + Math.exp(-1);
  assertClose(
    s.data,
    [...e.map((v) => v / z), 1 / z2, Math.exp(-1) / z2, 0],
    "softmax huge values",
  );
  const [l] = await compareBackends("logSoftmax huge", (t) => o.logSoftmax(t), [big]);
  assert.ok(l.data.slice(0, 5).every(Number.isFinite), `finite log-probabilities: ${l.data}`);
  assertClose(l.data.slice(0, 3), [-2 - Math.log(z), -1 - Math.log(z), -Math.log(z)], "lsm");
});

test("softmax and logSoftmax gradients match finite differences", async () => {
  await gradCheck("softmax", (t) => o.softmax(t), [hostRand([3, 5], 7, -2, 2)]);
  await gradCheck("softmax axis 0", (t) => o.softmax(t, 0), [hostRand([4, 3], 8, -2, 2)]);
  await gradCheck("logSoftmax", (t) => o.logSoftmax(t), [hostRand([3, 5], 9, -2, 2)]);
  await gradCheck("logSoftmax middle", (t) => o.logSoftmax(t, 1), [hostRand([2, 3, 2], 10)]);
});

test("crossEntropy: mean, sum, none, label smoothing against a float64 reference", async () => {
  const x = hostRand([6, 5], 11, -3, 3);
  const y = [0, 4, 2, 2, 1, 3];
  for (const eps of [0, 0.1]) {
    const rows = ceRows(x.data, y, 5, eps);
    const [none] = await compareBackends(
      `ce none eps=${eps}`,
      (a, b) => o.crossEntropy(a, b, { reduction: "none", labelSmoothing: eps }),
      [x, ints(y)],
    );
    assert.deepEqual(none.shape, [6]);
    assertClose(none.data, rows, `ce none eps=${eps}`);
    const [mean] = await compareBackends(
      `ce mean eps=${eps}`,
      (a, b) => o.crossEntropy(a, b, { labelSmoothing: eps }),
      [x, ints(y)],
    );
    assert.deepEqual(mean.shape, []);
    assertClose(mean.data, [rows.reduce((p, q) => p + q) / 6], `ce mean eps=${eps}`);
    const [sum] = await compareBackends(
      `ce sum eps=${eps}`,
      (a, b) => o.crossEntropy(a, b, { reduction: "sum", labelSmoothing: eps }),
      [x, ints(y)],
    );
    assertClose(sum.data, [rows.reduce((p, q) => p + q)], `ce sum eps=${eps}`);
  }
  // Many rows (two-pass mean on the GPU), many classes (rows longer than the workgroup).
  const n = 5003;
  const labels = Array.from({ length: n }, (_, i) => (i * 7) % 10);
  const big = hostRand([n, 10], 12, -4, 4);
  const [m] = await compareBackends("ce 5003 rows", (a, b) => o.crossEntropy(a, b), [
    big,
    ints(labels),
  ]);
  assertClose(
    m.data,
    [ceRows(big.data, labels, 10, 0).reduce((p, q) => p + q) / n],
    "ce big",
    1e-4,
  );
  await compareBackends("ce 1000 classes", (a, b) => o.crossEntropy(a, b, { reduction: "none" }), [
    hostRand([3, 1000], 13, -4, 4),
    ints([999, 0, 500]),
  ]);
  // Stable with huge logits.
  const [h] = await compareBackends(
    "ce huge",
    (a, b) => o.crossEntropy(a, b, { reduction: "none" }),
    [
      { data: [1000, 0, -1000, 0], shape: [2, 2] },
      ints([1, 0]),
    ],
  );
  assertClose(h.data, [1000, 1000], "ce huge logits");
});

test("crossEntropy gradient is (softmax - smoothed one-hot) * g / N", async () => {
  const x = hostRand([4, 3], 14, -2, 2);
  const y = [2, 0, 1, 1];
  for (const reduction of ["mean", "sum", "none"] as const) {
    for (const eps of [0, 0.2]) {
      await gradCheck(
        `ce ${reduction} eps=${eps}`,
        (a, b) => o.crossEntropy(a, b, { reduction, labelSmoothing: eps }),
        [x, ints(y)],
      );
    }
  }
  // By hand: d(mean CE)/dx = (softmax - q) / N.
  const eps = 0.2;
  const lx = o.fromHost(Float32Array.from(x.data), [4, 3], "f32", "cpu");
  lx.requiresGrad = true;
  o.backward(
    o.crossEntropy(lx, o.tensor(y, [4], { dtype: "i32", backend: "cpu" }), { labelSmoothing: eps }),
  );
  const p = logSoftmaxRows(x.data, 4, 3).map(Math.exp);
  const want = p.map((v, i) =>
    (v - ((y[Math.floor(i / 3)] === i % 3 ? 1 - eps : 0) + eps / 3)) / 4
  );
  assertClose(await lx.grad!.array(), want, "ce gradient by hand");
});

test("crossEntropy errors: dtype, batch sizes, labels out of range", async () => {
  const x = o.zeros([3, 4], { backend: "cpu" });
  assert.throws(
    () => o.crossEntropy(x, o.zeros([3], { backend: "cpu" })),
    /crossEntropy: labels must be i32 class indices, got f32 .*\(shapes \[3,4\], \[3\]\)/,
  );
  assert.throws(
    () => o.crossEntropy(x, o.zeros([2], { backend: "cpu", dtype: "i32" })),
    /crossEntropy: logits have 3 rows but labels have shape \[2\] .*\(shapes \[3,4\], \[2\]\)/,
  );
  assert.throws(
    () =>
      o.crossEntropy(
        o.zeros([3, 4, 1], { backend: "cpu" }),
        o.zeros([3], { backend: "cpu", dtype: "i32" }),
      ),
    /crossEntropy: logits must be \[N, C\]/,
  );
  assert.throws(
    () =>
      o.crossEntropy(x, o.zeros([3], { backend: "cpu", dtype: "i32" }), {
        reduction: "avg" as "sum",
      }),
    /crossEntropy: reduction must be/,
  );
  const bad = o.tensor([0, 7, 1], [3], { dtype: "i32", backend: "cpu" });
  assert.throws(
    () => o.crossEntropy(x, bad),
    /crossEntropy: label 7 at row 1 is out of range for 4 classes/,
  );
  assert.throws(
    () => o.crossEntropy(x, o.tensor([-1, 0, 0], [3], { dtype: "i32", backend: "cpu" })),
    /label -1 at row 0/,
  );
  await onWebgpu("clamped labels", async () => {
    // The GPU clamps bad labels instead of reading out of bounds: the result is finite and equals
    // the loss for the clamped labels; gradients stay finite too.
    const logits = hostRand([3, 4], 15, -2, 2);
    const gx = o.fromHost(Float32Array.from(logits.data), [3, 4], "f32", "webgpu");
    gx.requiresGrad = true;
    const wild = o.tensor([0, 1e9, -5], [3], { dtype: "i32", backend: "webgpu" });
    const loss = o.crossEntropy(gx, wild, { reduction: "none" });
    assertClose(await loss.array(), ceRows(logits.data, [0, 3, 0], 4, 0), "clamped labels");
    o.backward(o.sum(loss));
    assert.ok((await gx.grad!.array()).every(Number.isFinite), "finite gradient with bad labels");
  });
});
