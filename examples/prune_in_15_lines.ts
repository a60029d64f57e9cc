// Train a zoo CNN once with DHSPG on the embedded Fashion-MNIST sample, compress it, export it.
import { DataLoader, exportOnnx, init, loadSample, OTO, trainStep, zoo } from "../mod.ts";

await init();
const model = zoo["small-cnn"].build({ seed: 0 }); // or any Module you write
const oto = await OTO.create(model, [1, 1, 28, 28]); // trace + Zero-Invariant Groups
const opt = oto.dhspg({
  lr: 0.02,
  lambda: 1,
  targetGroupSparsity: 0.5,
  startPruningStep: 15,
  epsilon: 0.99,
});
const data = new DataLoader(await loadSample("train"), { batchSize: 64, shuffle: true });
for (let epoch = 0; epoch < 2; epoch++) {
  // forward, cross entropy, backward, DHSPG step, zero the gradients:
  for await (const batch of data) trainStep(model, opt, batch);
}
const { model: small, report } = await oto.compress(); // zero groups removed, same outputs
console.log(await opt.stats(), report.paramsBefore, "->", report.paramsAfter, "params");
await exportOnnx(small, "small-cnn-pruned.onnx", [1, 1, 28, 28]);
