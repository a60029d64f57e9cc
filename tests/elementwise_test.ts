/**
 * Elementwise values against hand-computed ones, integer arithmetic and error messages. Every
 * elementwise op is also checked on every backend, with its gradient, by the conformance harness
 * (tests/conformance_test.ts) from its samples.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { assertClose, compareBackends, gradCheck, hostRand, test } from "./helpers.ts";

test("leakyRelu and affine use their scalars", async () => {
  const [r] = await compareBackends("leakyRelu", (x) => o.leakyRelu(x, 0.2), [
    { data: [-2, -0.5, 0, 3], shape: [4] },
  ]);
  assertClose(r.data, [-0.4, -0.1, 0, 3], "leakyRelu values");
  const [a] = await compareBackends("affine", (x) => o.affine(x, 3, -1), [{
    data: [1, 2],
    shape: [2],
  }]);
  assertClose(a.data, [2, 5], "affine values");
  await gradCheck("leakyRelu", (x) => o.leakyRelu(x, 0.2), [hostRand([11], 6, -2, 2)]);
});

test("add: hand-computed broadcast", async () => {
  const [r] = await compareBackends("add", o.add, [
    { data: [1, 2, 3], shape: [3, 1] },
    { data: [10, 20], shape: [1, 2] },
  ]);
  assert.deepEqual(r.shape, [3, 2]);
  assert.deepEqual(r.data, [11, 21, 12, 22, 13, 23]);
});

test("comparisons give 0/1 and integer arithmetic works", async () => {
  const [r] = await compareBackends("lt", o.lt, [
    { data: [1, 5, 3], shape: [3] },
    { data: [2, 2, 3], shape: [3] },
  ]);
  assert.deepEqual(r.data, [1, 0, 0]);
  const [e] = await compareBackends("eq i32", o.eq, [
    { data: [1, 5, 3], shape: [3], dtype: "i32" },
    { data: [1, 2, 3], shape: [3], dtype: "i32" },
  ]);
  assert.deepEqual(e.data, [1, 0, 1]);
  const [s] = await compareBackends("add i32", o.add, [
    { data: [1, -5, 3], shape: [3], dtype: "i32" },
    { data: [7], shape: [1], dtype: "i32" },
  ]);
  assert.deepEqual(s.data, [8, 2, 10]);
});

test("bad shapes throw errors naming the op and both shapes", () => {
  const a = o.zeros([2, 3], { backend: "cpu" }), b = o.zeros([4], { backend: "cpu" });
  assert.throws(
    () => o.add(a, b),
    /add: shapes cannot be broadcast together \(shapes \[2,3\], \[4\]\)/,
  );
  assert.throws(
    () => o.matmul(a, a),
    /matmul: inner dimensions differ \(3 vs 2\).*\[2,3\], \[2,3\]/,
  );
  assert.throws(() => o.reshape(a, [4, 2]), /reshape: cannot reshape 6 elements/);
});

test("fill and cast", async () => {
  const [f] = await compareBackends("fill", () => o.full([2, 3], 2.5), []);
  assert.deepEqual(f.data, [2.5, 2.5, 2.5, 2.5, 2.5, 2.5]);
  const [c] = await compareBackends("cast", (x) => o.cast(x, "i32"), [{
    data: [1.7, -2.2, 3],
    shape: [3],
  }]);
  assert.deepEqual(c.data, [1, -2, 3]);
});

test("cast saturates out-of-range floats and maps NaN to 0, on every backend", async () => {
  // Backends disagree when left alone (Mesa's GL path: i32(3e9) = -2^31, u32(-1.5) = 2^32 - 1).
  const data = [3e9, -3e9, NaN, -1.5, 2.9, -2.9, 1e10, 4294967296];
  const [i] = await compareBackends("f32 -> i32", (x) => o.cast(x, "i32"), [{ data, shape: [8] }]);
  const hi = 2147483520; // the largest f32 below 2^31
  assert.deepEqual(i.data, [hi, -2147483648, 0, -1, 2, -2, hi, hi]);
  const [u] = await compareBackends("f32 -> u32", (x) => o.cast(x, "u32"), [{ data, shape: [8] }]);
  const uhi = 4294967040; // the largest f32 below 2^32
  assert.deepEqual(u.data, [3e9, 0, 0, 0, 2, 0, uhi, uhi]);
  const ints = { data: [-5, 0, 2147483647], shape: [3], dtype: "i32" as const };
  const [iu] = await compareBackends("i32 -> u32", (x) => o.cast(x, "u32"), [ints]);
  assert.deepEqual(iu.data, [0, 0, 2147483647]);
  const uints = { data: [4294967295, 7], shape: [2], dtype: "u32" as const };
  const [ui] = await compareBackends("u32 -> i32", (x) => o.cast(x, "i32"), [uints]);
  assert.deepEqual(ui.data, [-1, 7]);
});
