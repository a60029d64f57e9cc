/**
 * Memory stays flat across training steps: a small MLP (matmul + bias + relu + crossEntropy,
 * manual SGD inside tidy) trains for 50 steps on WebGPU; live GPU bytes after step 5 equal those
 * after step 50, and the loss goes down.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { gpuTest } from "./helpers.ts";

const N = 64, D = 8, H = 16, C = 4;

/** A learnable task: the label is the argmax of a fixed random projection of the input. */
function data(backend: o.BackendName) {
  const x = o.randn([N, D], { seed: 1, backend: "cpu" });
  const proj = o.randn([D, C], { seed: 2, backend: "cpu" });
  const y = o.argmax(o.matmul(x, proj), 1);
  return (async () => ({
    x: (await o.toBackend(x, backend)).keep(),
    y: (await o.toBackend(y, backend)).keep(),
  }))();
}

function initParams(backend: o.BackendName): o.Tensor[] {
  const ps = [
    o.randn([D, H], { seed: 3, std: 0.5, backend }),
    o.zeros([H], { backend }),
    o.randn([H, C], { seed: 4, std: 0.5, backend }),
    o.zeros([C], { backend }),
  ];
  for (const p of ps) (p.keep(), p.requiresGrad = true);
  return ps;
}

/** One SGD step inside a memory scope; returns the new parameters and the loss tensor. */
function step(params: o.Tensor[], x: o.Tensor, y: o.Tensor, lr: number) {
  return o.tidy(() => {
    const [w1, b1, w2, b2] = params;
    const h = o.relu(o.add(o.matmul(x, w1), b1));
    const loss = o.crossEntropy(o.add(o.matmul(h, w2), b2), y);
    o.backward(loss);
    const next = o.noGrad(() => params.map((p) => o.sub(p, o.scale(p.grad!, lr)).keep()));
    o.zeroGrad(params);
    for (const p of params) p.dispose();
    for (const p of next) p.requiresGrad = true;
    return { next, loss };
  });
}

gpuTest(
  "50 MLP training steps on webgpu: live GPU memory is flat and the loss decreases",
  async () => {
    const { x, y } = await data("webgpu");
    let params = initParams("webgpu");
    const losses: number[] = [];
    let at5 = -1;
    for (let s = 1; s <= 50; s++) {
      const { next, loss } = step(params, x, y, 0.5);
      params = next;
      losses.push(await loss.item());
      loss.dispose();
      if (s === 5) at5 = o.gpuMemory().liveBytes;
    }
    const at50 = o.gpuMemory().liveBytes;
    assert.equal(at50, at5, `live bytes after step 50 (${at50}) differ from step 5 (${at5})`);
    assert.ok(losses.every(Number.isFinite), `finite losses: ${losses}`);
    assert.ok(
      losses[49] < 0.6 * losses[0],
      `loss should fall: first ${losses[0]}, last ${losses[49]}`,
    );
    // Everything this test made is released: only pooled buffers remain.
    const before = o.gpuMemory().liveBytes;
    for (const t of [...params, x, y]) t.dispose();
    assert.ok(o.gpuMemory().liveBytes < before);
  },
);

gpuTest("training on cpu gives the same losses as on webgpu", async () => {
  const run = async (be: o.BackendName) => {
    const { x, y } = await data(be);
    let params = initParams(be);
    const losses: number[] = [];
    for (let s = 0; s < 5; s++) {
      const { next, loss } = step(params, x, y, 0.5);
      params = next;
      losses.push(await loss.item());
      loss.dispose();
    }
    for (const t of [...params, x, y]) t.dispose();
    return losses;
  };
  const [c, g] = [await run("cpu"), await run("webgpu")];
  c.forEach((v, i) => assert.ok(Math.abs(v - g[i]) < 1e-4, `step ${i}: cpu ${v}, webgpu ${g[i]}`));
});

gpuTest("tidy frees every intermediate of a forward/backward pass", () => {
  const w = o.randn([32, 32], { seed: 5, backend: "webgpu" }).keep();
  w.requiresGrad = true;
  const before = o.gpuMemory().liveBytes;
  o.tidy(() => {
    const z = o.softmax(o.concat([o.matmul(w, w), o.pad(w, [[0, 0], [1, 1]])], 1));
    o.backward(o.mean(o.slice(z, [1], [-1])));
  });
  const grad = w.grad!.size * 4;
  assert.ok(
    o.gpuMemory().liveBytes - before <= Math.max(grad, 256) * 1.5,
    `only the kept gradient remains (${o.gpuMemory().liveBytes - before} bytes)`,
  );
  o.zeroGrad([w]);
  w.dispose();
});
