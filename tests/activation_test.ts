/**
 * Mobile-network activations (clamp/ReLU6, hard swish, hard sigmoid, Mish, ELU/CELU/SELU) and global max
 * pooling: values and gradients against PyTorch 1.13 (printed by `torch.nn.functional` on the
 * same inputs), webgpu against the cpu oracle, finite differences, and onnxruntime for the ONNX
 * facets.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { assertClose, compareBackends, gradCheck, hostRand, test } from "./helpers.ts";
import { checkOnnx } from "./onnx_check.ts";

const X = [-4, -3, -2.5, -1, -0.25, 0, 0.5, 1.5, 3, 4.5, 6, 7];

// torch 1.13: y = f(x) and d(sum y)/dx for x = X.
const TORCH: [string, (x: o.Tensor) => o.Tensor, number[], number[]][] = [
  [
    "relu6",
    o.relu6,
    [0, 0, 0, 0, 0, 0, 0.5, 1.5, 3, 4.5, 6, 6],
    [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0],
  ],
  [
    "clamp(-1.5, 2)",
    (x) => o.clamp(x, -1.5, 2),
    [-1.5, -1.5, -1.5, -1, -0.25, 0, 0.5, 1.5, 2, 2, 2, 2],
    [0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0],
  ],
  [
    "hardSwish",
    o.hardSwish,
    [0, 0, -0.2083333, -0.3333333, -0.1145833, 0, 0.2916667, 1.125, 3, 4.5, 6, 7],
    [0, -0.5, -0.3333333, 0.1666667, 0.4166667, 0.5, 0.6666667, 1, 1.5, 1, 1, 1],
  ],
  [
    "hardSigmoid",
    (x) => o.hardSigmoid(x),
    [0, 0, 0.0833333, 0.3333333, 0.4583333, 0.5, 0.5833333, 0.75, 1, 1, 1, 1],
    [0, 0, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 0, 0, 0, 0],
  ],
  [
    "mish",
    o.mish,
    [
      -0.0725918,
      -0.1456475,
      -0.1968162,
      -0.3034014,
      -0.129927,
      0,
      0.3752452,
      1.4033782,
      2.9865351,
      4.4989138,
      5.9999266,
      6.9999886,
    ],
    [
      -0.0537732,
      -0.0933931,
      -0.1097436,
      0.0592167,
      0.4398156,
      0.6,
      0.8864244,
      1.088488,
      1.021107,
      1.0019071,
      1.000134,
      1.0000217,
    ],
  ],
  [
    "elu(0.5)",
    (x) => o.elu(x, 0.5),
    [-0.4908422, -0.4751065, -0.4589575, -0.3160603, -0.1105996, 0, 0.5, 1.5, 3, 4.5, 6, 7],
    [0.0091578, 0.0248935, 0.0410425, 0.1839397, 0.3894004, 0.5, 1, 1, 1, 1, 1, 1],
  ],
  [
    "celu(1.5)",
    (x) => o.celu(x, 1.5),
    [-1.3957748, -1.2969971, -1.2166867, -0.7298743, -0.2302774, 0, 0.5, 1.5, 3, 4.5, 6, 7],
    [0.0694834, 0.1353353, 0.1888756, 0.5134171, 0.8464817, 1, 1, 1, 1, 1, 1, 1],
  ],
  [
    "selu",
    o.selu,
    [
      -1.7258986,
      -1.6705687,
      -1.6137857,
      -1.1113307,
      -0.3888902,
      0,
      0.5253505,
      1.5760515,
      3.1521029,
      4.7281547,
      6.3042059,
      7.354907,
    ],
    [
      0.0322007,
      0.0875306,
      0.1443136,
      0.6467686,
      1.3692092,
      1.7580993,
      1.050701,
      1.050701,
      1.050701,
      1.050701,
      1.050701,
      1.050701,
    ],
  ],
];

for (const [name, f, y, dy] of TORCH) {
  test(`${name}: values and gradient equal PyTorch's; webgpu equals cpu`, async () => {
    const x = o.fromHost(Float32Array.from(X), [X.length], "f32", "cpu");
    x.requiresGrad = true;
    const out = f(x);
    assertClose(out.hostData(), y, `${name} values`, 1e-6, 1e-5);
    o.backward(o.sum(out));
    assertClose(x.grad!.hostData(), dy, `${name} gradient`, 1e-6, 1e-5);
    await compareBackends(name, f, [{ data: X, shape: [X.length] }]);
    await compareBackends(name, f, [hostRand([3, 5, 37], 1, -8, 8)]);
    await compareBackends(name, f, [hostRand([70001], 2, -8, 8)]);
    // Away from the kinks, finite differences agree.
    await gradCheck(name, f, [{ data: [-2.2, -0.7, 0.4, 1.3, 2.6, 5.1], shape: [2, 3] }]);
  });
}

test("mish stays finite for large |x|; clamp takes infinite bounds", async () => {
  const big = { data: [-200, -90, 90, 200], shape: [4] };
  const [r] = await compareBackends("mish big", o.mish, [big]);
  assertClose(r.data, [-0, -0, 90, 200], "mish tails", 1e-6, 1e-6);
  const [c] = await compareBackends("clamp -inf", (x) => o.clamp(x, -Infinity, 1), [big]);
  assertClose(c.data, [-200, -90, 1, 1], "clamp(-inf, 1)");
  assert.throws(() => o.clamp(o.zeros([2]), 2, 1), /need min <= max/);
});

test("globalMaxPool2d: plane maxima, ties share the gradient, webgpu equals cpu", async () => {
  const x = o.fromHost(Float32Array.from([1, 5, 5, 2, -3, -1, -2, -7]), [1, 2, 2, 2], "f32", "cpu");
  x.requiresGrad = true;
  const y = o.globalMaxPool2d(x);
  assert.deepEqual(y.shape, [1, 2, 1, 1]);
  assert.deepEqual(Array.from(y.hostData()), [5, -1]);
  o.backward(o.sum(o.mul(y, o.fromHost(Float32Array.from([2, 3]), [1, 2, 1, 1], "f32", "cpu"))));
  assert.deepEqual(Array.from(x.grad!.hostData()), [0, 1, 1, 0, 0, 3, 0, 0]);
  for (const shape of [[2, 3, 4, 5], [1, 2, 20, 30], [3, 70, 1, 1]]) {
    await compareBackends(`gmp ${shape}`, o.globalMaxPool2d, [hostRand(shape, 3, -4, 4)]);
  }
  await gradCheck("globalMaxPool2d", o.globalMaxPool2d, [hostRand([2, 2, 3, 3], 4, -2, 2)]);
  assert.throws(() => o.globalMaxPool2d(o.zeros([2, 3])), /NCHW/);
  assert.throws(() => new o.AdaptiveMaxPool2d(2), /only output size 1/);
});

test("ONNX: Clip, HardSwish, HardSigmoid, Mish (opset 17 form), GlobalMaxPool in onnxruntime", async () => {
  const cpu = (h: { data: ArrayLike<number>; shape: readonly number[] }) =>
    o.fromHost(Float32Array.from(h.data), h.shape, "f32", "cpu");
  const x = cpu(hostRand([2, 3, 4, 5], 5, -8, 8));
  const ops = await checkOnnx(
    "activations",
    (a) =>
      o.add(
        o.add(o.relu6(a), o.clamp(a, -Infinity, 1.5)),
        o.add(
          o.add(o.hardSwish(a), o.hardSigmoid(a, 0.2, 0.4)),
          o.add(o.mish(a), o.clamp(a, -2, Infinity)),
        ),
      ),
    [x],
    1e-5,
  );
  for (const n of ["clamp", "hardSwish", "hardSigmoid", "mish"]) assert.ok(ops.includes(n), n);
  // ELU and CELU are one op (Elu or Celu in ONNX by their attributes).
  const elus = await checkOnnx(
    "exponential linear units",
    (a) => o.add(o.add(o.elu(a, 0.7), o.celu(a, 1.5)), o.selu(a)),
    [x],
    1e-5,
  );
  assert.equal(elus.filter((n) => n === "elu").length, 3);
  await checkOnnx("globalMaxPool2d", o.globalMaxPool2d, [x]);
});

test("layers ReLU6, Hardtanh, Hardswish, Hardsigmoid, Mish, AdaptiveMaxPool2d(1)", () => {
  const x = o.fromHost(Float32Array.from([-4, -0.5, 0.5, 8]), [1, 1, 2, 2], "f32", "cpu");
  const v = (m: o.Module) => Array.from((m.call(x) as o.Tensor).hostData());
  assert.deepEqual(v(new o.ReLU6()), [0, 0, 0.5, 6]);
  assert.deepEqual(v(new o.Hardtanh()), [-1, -0.5, 0.5, 1]);
  assertClose(v(new o.Hardswish()), [0, -0.5 * 2.5 / 6, 0.5 * 3.5 / 6, 8], "Hardswish");
  assertClose(v(new o.Hardsigmoid()), [0, 2.5 / 6, 3.5 / 6, 1], "Hardsigmoid");
  assertClose(v(new o.Mish()), Array.from(o.mish(x).hostData()), "Mish");
  assert.deepEqual(v(new o.AdaptiveMaxPool2d(1)), [8]);
});
