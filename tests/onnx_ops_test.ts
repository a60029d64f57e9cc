/**
 * Every op's ONNX facet, checked by an independent runtime: record the op on the cpu backend,
 * write it as ONNX, run it in onnxruntime-node and compare with oto's output.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { hostRand } from "./helpers.ts";
import { checkOnnx } from "./onnx_check.ts";

const cpu = (h: { data: ArrayLike<number>; shape: readonly number[] }) =>
  o.fromHost(Float32Array.from(h.data), h.shape, "f32", "cpu");

Deno.test("ONNX facets of elementwise, reduce, movement and matmul ops match onnxruntime", async () => {
  const x = cpu(hostRand([2, 3, 4], 1, -2, 2));
  const y = cpu(hostRand([3, 4], 2, 0.5, 2));
  const covered = new Set<string>();
  const cases: [string, (...t: o.Tensor[]) => o.Tensor, o.Tensor[]][] = [
    ["unary", (a) => o.gelu(o.silu(o.tanh(o.sigmoid(o.relu(o.leakyRelu(o.neg(o.abs(a)), 0.1)))))), [
      x,
    ]],
    ["math", (a) => o.cos(o.sin(o.sqrt(o.exp(o.square(o.affine(a, 0.5, 0.25)))))), [x]],
    ["log/recip", (a) => o.reciprocal(o.log(a)), [y]],
    ["binary", (a, b) => o.maximum(o.minimum(o.div(o.mul(o.sub(o.add(a, b), b), b), b), a), b), [
      x,
      y,
    ]],
    [
      "compare",
      (a, b) =>
        o.add(o.add(o.lt(a, b), o.gt(a, b)), o.add(o.le(a, b), o.add(o.ge(a, b), o.eq(a, a)))),
      [x, y],
    ],
    ["step/sign", (a) => o.add(o.step(a), o.sign(a)), [x]],
    [
      "reduce",
      (a) =>
        o.add(
          o.add(o.sum(a, [0, 2], true), o.mean(a, 1, true)),
          o.add(o.max(a, [2], true), o.min(a, [0, 1, 2], true)),
        ),
      [x],
    ],
    [
      "movement",
      (a) => o.reshape(o.transpose(o.permute(o.expand(a, [2, 2, 3, 4]), [1, 0, 3, 2])), [-1, 12]),
      [x],
    ],
    ["matmul", (a, b) => o.matmul(a, b, false, true), [x, y]],
    ["matmul transA", (a, b) => o.matmul(a, b, true, true), [o.reshape(x, [2, 4, 3]), y]],
    ["cast/fill", (a) => o.add(o.cast(o.cast(a, "i32"), "f32"), o.full([3, 4], 2)), [x]],
    ["argmax", (a) => o.cast(o.argmax(a, 1), "f32"), [x]],
  ];
  for (const [what, fn, ins] of cases) {
    for (const n of await checkOnnx(what, fn, ins)) covered.add(n);
  }
  for (const n of ["relu", "gelu", "add", "sum", "max", "permute", "matmul", "argmax", "fill"]) {
    assert.ok(covered.has(n), `case list covers ${n}`);
  }
});
