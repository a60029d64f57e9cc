/**
 * The matmul kernel variants, each forced in turn and checked against the cpu reference:
 * `vec4` (register-tiled fast path for aligned shapes), `scalar` (bounds-checked register
 * tiling, any shape) and `shared` (workgroup-memory tiling, what hardware GPUs run). Shapes
 * cover single elements, odd sizes, partial tiles, every transpose combination, batches with
 * broadcasting and grids split past 65535 batches. Also checks which kernel the policy picks.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import {
  encodeMatmul,
  matmulKernelFor,
  type MatmulKernelName,
  type MatmulKernelPolicy,
  setMatmulKernel,
} from "../src/ops/matmul.ts";
import { compareBackends, gpuTest, type HostInput, hostRand, test } from "./helpers.ts";

const TOL = { atol: 1e-4, rtol: 1e-4 };

/** [m, n, k] of single-matrix cases. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [17, 33, 5], // odd everywhere: scalar kernel under every policy but shared
  [5, 12, 8], // aligned N and K, odd M: vec4 unless A is transposed
  [36, 20, 12], // aligned, smaller than one vec4 tile
  [40, 264, 36], // several vec4 tiles along N with a partial one, partial rows
  [70, 9, 33], // several scalar/shared tiles along M
];

const POLICIES: MatmulKernelPolicy[] = ["register", "scalar", "shared"];

function operands(m: number, n: number, k: number, ta: boolean, tb: boolean, seed: number) {
  return [hostRand(ta ? [k, m] : [m, k], seed), hostRand(tb ? [n, k] : [k, n], seed + 1)];
}

/** Run `fn` with the policy forced, restoring the previous one afterwards. */
async function withPolicy(p: MatmulKernelPolicy, fn: () => Promise<void>): Promise<void> {
  const prev = setMatmulKernel(p);
  try {
    await fn();
  } finally {
    setMatmulKernel(prev);
  }
}

for (const policy of POLICIES) {
  test(`matmul kernels (${policy}): odd sizes and every transpose match cpu`, async () => {
    await withPolicy(policy, async () => {
      let seed = 1;
      for (const [m, n, k] of SHAPES) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const what = `matmul ${policy} ${m}x${n}x${k} ta=${ta} tb=${tb}`;
            const [r] = await compareBackends(
              what,
              (a, b) => o.matmul(a, b, ta, tb),
              operands(m, n, k, ta, tb, seed += 2),
              TOL,
            );
            assert.deepEqual(r.shape, [m, n], what);
          }
        }
      }
    });
  });

  test(`matmul kernels (${policy}): batches, broadcasting, k = 0`, async () => {
    await withPolicy(policy, async () => {
      const cases: [number[], number[], boolean, boolean][] = [
        [[2, 3, 8, 12], [12, 16], false, false], // B broadcast over a 2-d batch (vec4)
        [[8, 12], [3, 16, 12], false, true], // A broadcast, B transposed (vec4)
        [[3, 12, 8], [1, 12, 16], true, false], // size-1 batch dim broadcasts (vec4)
        [[2, 7, 5], [2, 5, 9], false, false], // odd: scalar
        [[4, 3, 6], [4, 5, 3], true, true],
      ];
      let seed = 100;
      for (const [sa, sb, ta, tb] of cases) {
        await compareBackends(
          `matmul ${policy} [${sa}] x [${sb}] ta=${ta} tb=${tb}`,
          (a, b) => o.matmul(a, b, ta, tb),
          [hostRand(sa, seed++), hostRand(sb, seed++)],
          TOL,
        );
      }
      // Empty inner dimension: the product is all zeros.
      const [z] = await compareBackends(
        `matmul ${policy} k=0`,
        (a, b) => o.matmul(a, b),
        [{ data: [], shape: [4, 0] }, { data: [], shape: [0, 8] }],
      );
      assert.deepEqual(z.data, new Array(32).fill(0));
    });
  });
}

test("matmul kernels: more than 65535 batches split the grid", async () => {
  // 65537 tiny products: grid z would exceed the 65535 limit, so two dispatches run.
  const batch = 65537;
  const a: HostInput = hostRand([batch, 1, 4], 7);
  const b: HostInput = hostRand([batch, 4, 4], 8);
  for (const policy of ["register", "scalar"] as const) {
    await withPolicy(policy, async () => {
      await compareBackends(
        `matmul ${policy} batch ${batch}`,
        (x, y) => o.matmul(x, y),
        [a, b],
        TOL,
      );
    });
  }
});

gpuTest("matmul kernels: gradients through every transpose on the forced kernels", async () => {
  // The backward pass runs the transposed products; compare webgpu grads with cpu grads.
  for (const policy of ["register", "shared"] as const) {
    await withPolicy(policy, async () => {
      for (const [ta, tb] of [[false, false], [true, false], [false, true]]) {
        const [a, b] = operands(8, 12, 16, ta, tb, 40);
        const grads = async (be: "cpu" | "webgpu") => {
          const x = o.fromHost(Float32Array.from(a.data), a.shape, "f32", be).keep();
          const y = o.fromHost(Float32Array.from(b.data), b.shape, "f32", be).keep();
          x.requiresGrad = y.requiresGrad = true;
          o.tidy(() => o.backward(o.sum(o.square(o.matmul(x, y, ta, tb)))));
          const out = [Array.from(await x.grad!.data()), Array.from(await y.grad!.data())];
          for (const t of [x, y]) (t.grad?.dispose(), t.dispose());
          return out;
        };
        const [cg, gg] = [await grads("cpu"), await grads("webgpu")];
        for (const i of [0, 1]) {
          cg[i].forEach((v, j) => {
            const e = Math.abs(gg[i][j] - v);
            assert.ok(
              e <= 1e-3 + 1e-4 * Math.abs(v),
              `matmul ${policy} ta=${ta} tb=${tb}: grad ${i}[${j}] webgpu ${gg[i][j]} cpu ${v}`,
            );
          });
        }
      }
    });
  }
});

test("matmul kernels: the policy picks register tiling on software adapters", () => {
  const pick = (
    p: MatmulKernelPolicy,
    software: boolean,
    m: number,
    n: number,
    k: number,
    ta = false,
  ) => {
    const prev = setMatmulKernel(p);
    try {
      return matmulKernelFor({ m, n, k, transA: ta }, software);
    } finally {
      setMatmulKernel(prev);
    }
  };
  const cases: [MatmulKernelPolicy, boolean, number, number, number, boolean, MatmulKernelName][] =
    [
      ["auto", true, 1024, 1024, 1024, false, "vec4"],
      ["auto", true, 17, 33, 5, false, "scalar"],
      ["auto", true, 5, 12, 8, false, "vec4"], // M need not be aligned when A is not transposed
      ["auto", true, 5, 12, 8, true, "scalar"], // ... but is when A is transposed
      ["auto", true, 8, 10, 8, false, "scalar"], // N % 4 != 0
      ["auto", true, 8, 12, 6, false, "scalar"], // K % 4 != 0
      ["auto", false, 1024, 1024, 1024, false, "shared"],
      ["register", false, 1024, 1024, 1024, false, "vec4"],
      ["scalar", true, 1024, 1024, 1024, false, "scalar"],
      ["shared", true, 1024, 1024, 1024, false, "shared"],
    ];
  for (const [p, sw, m, n, k, ta, want] of cases) {
    assert.equal(pick(p, sw, m, n, k, ta), want, `policy ${p} software=${sw} ${m}x${n}x${k}`);
  }
  assert.throws(
    () => setMatmulKernel("fast" as MatmulKernelPolicy),
    /setMatmulKernel: unknown policy 'fast'/,
  );
});

gpuTest("matmul kernels: encodeMatmul records into caller-owned buffers", async () => {
  // What fused ops (linear) use: C = A·Bᵀ straight into an existing buffer.
  const [a, b] = operands(6, 8, 12, false, true, 60);
  const x = o.fromHost(Float32Array.from(a.data), a.shape, "f32", "webgpu");
  const w = o.fromHost(Float32Array.from(b.data), b.shape, "f32", "webgpu");
  const c = o.zeros([6, 8], { backend: "webgpu" });
  encodeMatmul(x.storage.gpu!, w.storage.gpu!, c.storage.gpu!, {
    m: 6,
    n: 8,
    k: 12,
    batch: 1,
    sa: 0,
    sb: 0,
    transA: false,
    transB: true,
  });
  const want = o.matmul(
    o.fromHost(Float32Array.from(a.data), a.shape, "f32", "cpu"),
    o.fromHost(Float32Array.from(b.data), b.shape, "f32", "cpu"),
    false,
    true,
  ).hostData();
  const got = await c.data();
  want.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-4, `element ${i}: ${got[i]} vs ${v}`));
  for (const t of [x, w, c]) t.dispose();
});
