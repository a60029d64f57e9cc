/**
 * Check what `deno task train --onnx FILE` wrote for a classifier trained on the embedded
 * Fashion-MNIST sample, in onnxruntime alone: `full.onnx` and `compressed.onnx` on the 1000 test
 * images (normalised with the training images' mean and standard deviation, as the CLI trains),
 * the largest logit difference between them and both test accuracies.
 *
 * Usage: `deno run -A tools/onnx_run_check.ts OUT_DIR`
 * @module
 */
import * as ort from "onnxruntime-node";
import { loadSample } from "../src/data/idx.ts";
import { channelStats, imageSize } from "../src/data/dataset.ts";

const dir = Deno.args[0];
if (!dir) {
  console.error("usage: deno run -A tools/onnx_run_check.ts OUT_DIR");
  Deno.exit(2);
}
const train = await loadSample("train"), test = await loadSample("test");
const { mean, std } = channelStats(train);
const size = imageSize(test), plane = test.height * test.width;
const x = test.images.map((v, i) => {
  const c = Math.floor((i % size) / plane);
  return (v - mean[c]) / std[c];
});

/** Logits of every test image, one image per run (the files keep their export batch of 1). */
async function logits(file: string): Promise<Float32Array[]> {
  const s = await ort.InferenceSession.create(`${dir}/${file}`);
  const shape = [1, test.channels, test.height, test.width];
  const out: Float32Array[] = [];
  for (let i = 0; i < test.n; i++) {
    const t = new ort.Tensor("float32", x.slice(i * size, (i + 1) * size), shape);
    out.push((await s.run({ [s.inputNames[0]]: t }))[s.outputNames[0]].data as Float32Array);
  }
  console.log(`${file}: input ${s.inputNames}, output ${s.outputNames}`);
  return out;
}

const argmax = (v: Float32Array) => v.reduce((b, x, k) => (x > v[b] ? k : b), 0);
const accuracy = (ys: Float32Array[]) =>
  ys.filter((y, i) => argmax(y) === test.labels[i]).length / test.n;
const full = await logits("full.onnx"), small = await logits("compressed.onnx");
let diff = 0, scale = 0;
full.forEach((f, i) =>
  f.forEach((v, k) => {
    diff = Math.max(diff, Math.abs(v - small[i][k]));
    scale = Math.max(scale, Math.abs(v));
  })
);
console.log(
  `normalisation (x - ${mean.map((m) => m.toFixed(4))}) / ${std.map((s) => s.toFixed(4))}; ` +
    `max |full - compressed| ${diff.toExponential(2)} (largest logit ${scale.toFixed(2)}); ` +
    `test accuracy full ${(100 * accuracy(full)).toFixed(2)}%, compressed ` +
    `${(100 * accuracy(small)).toFixed(2)}% on ${test.n} images`,
);
