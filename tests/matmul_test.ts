/**
 * matmul correctness (the kernel's speed is someone else's job): odd sizes that are not
 * multiples of the tile, every transpose combination, batches with broadcasting, gradients.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import {
  assertClose,
  compareBackends,
  gradCheck,
  type HostInput,
  hostRand,
  test,
} from "./helpers.ts";

/** Reference product in float64: A [b?, m, k] (or [k, m] with transA) etc., batch broadcast. */
function reference(a: HostInput, b: HostInput, ta: boolean, tb: boolean): number[] {
  const as = a.shape, bs = b.shape;
  const m = ta ? as.at(-1)! : as.at(-2)!, k = ta ? as.at(-2)! : as.at(-1)!;
  const n = tb ? bs.at(-2)! : bs.at(-1)!;
  const ba = as.slice(0, -2).reduce((p, q) => p * q, 1);
  const bb = bs.slice(0, -2).reduce((p, q) => p * q, 1);
  const batch = Math.max(ba, bb);
  const out: number[] = [];
  for (let t = 0; t < batch; t++) {
    const oa = ba === 1 ? 0 : t * m * k, ob = bb === 1 ? 0 : t * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) {
          s += a.data[oa + (ta ? q * m + i : i * k + q)] *
            b.data[ob + (tb ? j * k + q : q * n + j)];
        }
        out.push(s);
      }
    }
  }
  return out;
}

test("matmul: hand-computed 2x3 @ 3x2", async () => {
  const [r] = await compareBackends("matmul small", (a, b) => o.matmul(a, b), [
    { data: [1, 2, 3, 4, 5, 6], shape: [2, 3] },
    { data: [7, 8, 9, 10, 11, 12], shape: [3, 2] },
  ]);
  assert.deepEqual(r.shape, [2, 2]);
  assert.deepEqual(r.data, [58, 64, 139, 154]);
});

test("matmul: odd sizes and every transpose combination match a float64 reference", async () => {
  const [m, k, n] = [33, 17, 65];
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const a = hostRand(ta ? [k, m] : [m, k], 1);
      const b = hostRand(tb ? [n, k] : [k, n], 2);
      const [r] = await compareBackends(
        `matmul ta=${ta} tb=${tb}`,
        (x, y) => o.matmul(x, y, ta, tb),
        [a, b],
      );
      assert.deepEqual(r.shape, [m, n]);
      assertClose(r.data, reference(a, b, ta, tb), `matmul ta=${ta} tb=${tb} vs reference`);
    }
  }
  // Degenerate shapes: a row times a column and a column times a row.
  await compareBackends("matmul 1xk kx1", (a, b) => o.matmul(a, b), [
    hostRand([1, 70], 3),
    hostRand([70, 1], 4),
  ]);
  await compareBackends("matmul kx1 1xk", (a, b) => o.matmul(a, b), [
    hostRand([37, 1], 5),
    hostRand([1, 41], 6),
  ]);
});

test("matmul: batches and batch broadcasting", async () => {
  const cases: [number[], number[], boolean, boolean, number[]][] = [
    [[3, 5, 4], [3, 4, 6], false, false, [3, 5, 6]],
    [[2, 3, 5, 4], [2, 3, 4, 6], false, false, [2, 3, 5, 6]],
    [[5, 4], [3, 4, 6], false, false, [3, 5, 6]], // A broadcast over the batch
    [[3, 5, 4], [1, 6, 4], false, true, [3, 5, 6]], // B broadcast, transposed
    [[1, 4, 5], [2, 4, 3], true, false, [2, 5, 3]],
  ];
  for (const [sa, sb, ta, tb, want] of cases) {
    const a = hostRand(sa, 7), b = hostRand(sb, 8);
    const [r] = await compareBackends(`matmul ${sa} x ${sb}`, (x, y) => o.matmul(x, y, ta, tb), [
      a,
      b,
    ]);
    assert.deepEqual(r.shape, want);
    assertClose(r.data, reference(a, b, ta, tb), `matmul ${sa} x ${sb} vs reference`);
  }
});

test("matmul gradients: transposes and batch broadcast", async () => {
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      await gradCheck(`matmul ta=${ta} tb=${tb}`, (x, y) => o.matmul(x, y, ta, tb), [
        hostRand(ta ? [3, 2] : [2, 3], 9),
        hostRand(tb ? [4, 3] : [3, 4], 10),
      ]);
    }
  }
  await gradCheck("matmul batch", (x, y) => o.matmul(x, y), [
    hostRand([2, 2, 3], 11),
    hostRand([2, 3, 2], 12),
  ]);
  await gradCheck("matmul broadcast A", (x, y) => o.matmul(x, y, false, true), [
    hostRand([2, 3], 13),
    hostRand([3, 4, 3], 14),
  ]);
  await gradCheck("matmul broadcast B", (x, y) => o.matmul(x, y, true, false), [
    hostRand([2, 3, 2], 15),
    hostRand([1, 3, 2], 16),
  ]);
});

test("matmul errors name the op and both shapes", () => {
  const z = (s: number[]) => o.zeros(s, { backend: "cpu" });
  assert.throws(
    () => o.matmul(z([2, 3]), z([4, 5])),
    /matmul: inner dimensions differ \(3 vs 4\) \(shapes \[2,3\], \[4,5\]\)/,
  );
  assert.throws(
    () => o.matmul(z([3]), z([3, 2])),
    /matmul: operands must have at least 2 dimensions \(shapes \[3\], \[3,2\]\)/,
  );
  assert.throws(
    () => o.matmul(z([2, 2, 3]), z([3, 3, 4])),
    /matmul: shapes cannot be broadcast together \(shapes \[2\], \[3\]\)/,
  );
  assert.throws(
    () => o.matmul(z([2, 3]), z([2, 3]), false, false),
    /matmul: inner dimensions differ/,
  );
});
