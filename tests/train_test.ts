/**
 * A real (short) training run: the example's small CNN (conv-BN-ReLU-pool twice + linear) on a
 * subset of the embedded Fashion-MNIST sample, on the default backend. Loss must fall and test
 * accuracy must be far above chance (10%) after less than one epoch.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { loadSample } from "../src/data/idx.ts";
import { subsetDataset } from "../src/data/dataset.ts";
import { evaluate, FASHION_MEAN, FASHION_STD, SmallCnn } from "../examples/train_mnist.ts";
import { useDefaultBackend } from "./helpers.ts";

Deno.test("training: small CNN on the Fashion-MNIST sample learns within one epoch", async () => {
  await useDefaultBackend();
  const [train, test] = await Promise.all([loadSample("train"), loadSample("test")]);
  const norm = { mean: [FASHION_MEAN], std: [FASHION_STD] };
  o.manualSeed(0);
  const model = new SmallCnn({ width: 8 });
  const loader = new o.DataLoader(train, { batchSize: 32, shuffle: true, seed: 1, ...norm });
  const opt = new o.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const testSet = subsetDataset(test, Array.from({ length: 500 }, (_, i) => i * 2));
  const testLoader = new o.DataLoader(testSet, { batchSize: 250, ...norm });
  const before = await evaluate(model, testLoader);

  const steps = 70; // 2240 of the 4000 images
  const losses: o.Tensor[] = [];
  let step = 0;
  for await (const { x, y } of loader) {
    if (step++ === steps) break;
    losses.push(
      o.tidy(() => {
        const loss = o.crossEntropyLoss(model.call(x), y);
        o.backward(loss);
        return loss;
      }).keep(),
    );
    opt.step();
    opt.zeroGrad();
  }
  const values: number[] = [];
  for (const l of losses) (values.push(await l.item()), l.dispose());
  const avg = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const first = avg(values.slice(0, 10)), last = avg(values.slice(-10));
  const after = await evaluate(model, testLoader);
  console.log(
    `loss ${first.toFixed(3)} -> ${last.toFixed(3)}; test accuracy ` +
      `${(100 * before.accuracy).toFixed(1)}% -> ${(100 * after.accuracy).toFixed(1)}%`,
  );
  assert.ok(values.every(Number.isFinite), "finite losses");
  assert.ok(last < 0.6 * first, `loss falls (${first.toFixed(3)} -> ${last.toFixed(3)})`);
  assert.ok(after.accuracy > 0.6, `test accuracy ${after.accuracy} well above chance`);
  assert.ok(after.loss < before.loss, "test loss falls");
  opt.dispose();
  model.dispose();
});
