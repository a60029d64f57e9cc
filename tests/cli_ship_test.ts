/**
 * Issue 16, "a model that ships": the compressed ONNX of a training run, given raw images at
 * batch 8 and the preprocessing read from its own metadata, scores in onnxruntime what
 * report.json says; the safetensors files carry the same metadata; `deno task evaluate` scores
 * the run's files (oto and onnxruntime) as the report does; `deno task predict` classifies PNG
 * and JPEG files as the model does its test images.
 *
 * The run is 1 epoch on 512 images of the embedded sample (the default run's model, data set
 * and export path); `OTO_TEST_DEFAULT_RUN=1` uses the literal default run (3 epochs, 4000
 * images: about a minute more).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import pngjs from "pngjs";
import jpegjs from "jpeg-js";
import { loadSample } from "../src/data/idx.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";
import { assertOneLine, cli, withTempDir } from "./cli_helpers.ts";

const FULL = Deno.env.get("OTO_TEST_DEFAULT_RUN") === "1";
const RUN = FULL ? ["--quiet"] : ["--epochs", "1", "--limit", "512", "--quiet"];

/** A grey 8-bit image (pixels in [0, 1]) as PNG bytes, or as a quality-95 JPEG. */
function encode(pixels: Float32Array, w: number, h: number, as: "png" | "jpeg"): Uint8Array {
  // deno-lint-ignore no-explicit-any
  const { PNG } = pngjs as any;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const v = Math.round(pixels[i] * 255);
    rgba.set([v, v, v, 255], i * 4);
  }
  if (as === "jpeg") {
    return new Uint8Array(jpegjs.encode({ data: rgba, width: w, height: h }, 95).data);
  }
  const png = new PNG({ width: w, height: h });
  png.data.set(rgba);
  return new Uint8Array(PNG.sync.write(png, { colorType: 0 }));
}

/** Accuracy of an ONNX classifier on raw [0, 1] images, preprocessed from its metadata. */
async function onnxAccuracy(file: string, batch: number) {
  const model = onnxProto.onnx.ModelProto.decode(await Deno.readFile(file));
  const meta = Object.fromEntries(model.metadataProps.map((e) => [e.key, e.value]));
  const pre = JSON.parse(meta.preprocessing);
  const input = model.graph!.input![0];
  const dim0 = input.type!.tensorType!.shape!.dim![0];
  const test = await loadSample("test"); // pixels / 255, as the file's "scale" says
  assert.equal(pre.scale, "pixel / 255");
  assert.deepEqual([pre.channels, pre.height, pre.width], [1, 28, 28]);
  const session = await ort.InferenceSession.create(file);
  const size = pre.channels * pre.height * pre.width, plane = pre.height * pre.width;
  let correct = 0;
  const predicted: number[] = [];
  for (let s = 0; s < test.n; s += batch) {
    const n = Math.min(batch, test.n - s);
    const x = new Float32Array(n * size);
    for (let i = 0; i < n * size; i++) {
      const c = Math.floor((i % size) / plane);
      x[i] = (test.images[s * size + i] - pre.mean[c]) / pre.std[c];
    }
    const out = await session.run({
      [session.inputNames[0]]: new ort.Tensor("float32", x, [n, 1, 28, 28]),
    });
    const y = out[session.outputNames[0]];
    assert.deepEqual(y.dims, [n, 10], "one row of class scores per image of the batch");
    const v = y.data as Float32Array;
    for (let i = 0; i < n; i++) {
      const row = Array.from(v.subarray(i * 10, i * 10 + 10));
      predicted.push(row.indexOf(Math.max(...row)));
      if (predicted[s + i] === test.labels[s + i]) correct++;
    }
  }
  await session.release();
  return { accuracy: correct / test.n, images: test.n, meta, dim0, predicted };
}

Deno.test("a run's compressed ONNX at batch 8 + its own preprocessing scores what report.json says", async () => {
  await withTempDir("oto_ship_", async (dir) => {
    const r = await cli("train", [...RUN, "--out", dir]);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(await Deno.readTextFile(join(dir, "report.json")));
    for (const [file, want] of [["compressed.onnx", rep.compressed], ["full.onnx", rep.full]]) {
      const got = await onnxAccuracy(join(dir, file), 8);
      assert.equal(got.dim0.dimParam, "batch", `${file}: any batch size`);
      assert.equal(got.images, rep.dataset.test);
      // The same images and weights; the runtimes' float sums differ only in rounding, which
      // could flip at most an exact tie.
      assert.ok(
        Math.abs(got.accuracy - want.testAccuracy) <= 1 / got.images,
        `${file}: onnxruntime ${got.accuracy}, report.json ${want.testAccuracy}`,
      );
      assert.deepEqual(JSON.parse(got.meta.preprocessing), rep.preprocessing);
      assert.deepEqual(JSON.parse(got.meta.class_names), rep.dataset.classNames);
      assert.equal(JSON.parse(got.meta.class_names)[9], "Ankle boot");
      assert.equal(got.meta.task, "classification");
    }
    // The normalisation is the training images' (Fashion-MNIST: mean ~0.286, std ~0.353).
    assert.ok(Math.abs(rep.preprocessing.mean[0] - 0.286) < 0.01, `${rep.preprocessing.mean}`);
    assert.ok(Math.abs(rep.preprocessing.std[0] - 0.353) < 0.01, `${rep.preprocessing.std}`);
    for (const f of ["full.safetensors", "compressed.safetensors"]) {
      const { metadata } = decodeSafetensors(await Deno.readFile(join(dir, f)), f);
      assert.deepEqual(JSON.parse(metadata.preprocessing), rep.preprocessing, f);
      assert.deepEqual(JSON.parse(metadata.class_names), rep.dataset.classNames, f);
      const arch = JSON.parse(metadata.architecture);
      assert.equal(arch.model, "small-cnn");
      assert.equal("kept" in arch, f.startsWith("compressed"), `${f}: kept channels`);
    }

    // deno task evaluate: the run folder (compressed.safetensors, run by oto) and the ONNX
    // file (onnxruntime) both score the test set as the report does.
    const pct = `${(100 * rep.compressed.testAccuracy).toFixed(2)}%`;
    for (const model of [dir, join(dir, "compressed.onnx")]) {
      const e = await cli("evaluate", ["--model", model, "--dataset", "sample", "--json"]);
      assert.equal(e.code, 0, e.stderr);
      const got = JSON.parse(e.stdout.trim().split("\n").pop()!);
      assert.equal(got.images, rep.dataset.test);
      assert.ok(
        Math.abs(got.accuracy - rep.compressed.testAccuracy) <= 1 / got.images,
        `evaluate ${model}: ${got.accuracy} vs ${pct}`,
      );
      assert.ok(Math.abs(got.loss - rep.compressed.testLoss) < 1e-3, `${got.loss}`);
    }
    // --backend: the oracle backend scores the run folder as the report does; a backend for an
    // ONNX file (onnxruntime runs it) or an unknown one is a flag error.
    const onCpu = await cli("evaluate", [
      "--model",
      dir,
      "--dataset",
      "sample",
      "--backend",
      "cpu",
      "--json",
    ]);
    assert.equal(onCpu.code, 0, onCpu.stderr);
    const cpuScore = JSON.parse(onCpu.stdout.trim().split("\n").pop()!);
    assert.equal(cpuScore.backend, "cpu");
    assert.ok(Math.abs(cpuScore.accuracy - rep.compressed.testAccuracy) <= 1 / cpuScore.images);
    for (
      const [model, backend, want] of [
        [
          join(dir, "compressed.onnx"),
          "wasm",
          /--backend applies to \.safetensors models.*onnxruntime/,
        ],
        [dir, "tpu", /--backend must be one of auto, webgpu, wasm, cpu, got "tpu"/],
      ] as const
    ) {
      for (const tool of ["evaluate", "predict"] as const) {
        const extra = tool === "evaluate" ? ["--dataset", "sample"] : [join(dir, "x.png")];
        const r = await cli(tool, ["--model", model, "--backend", backend, ...extra]);
        assert.equal(r.code, 2, `${tool} --backend ${backend}: ${r.stderr}`);
        assert.match(assertOneLine(r.stderr, tool, `--backend ${backend}`), want);
      }
    }

    // deno task predict on PNG files of test images: the classes onnxruntime gave them.
    const test = await loadSample("test");
    const { predicted } = await onnxAccuracy(join(dir, "compressed.onnx"), 8);
    const files: string[] = [];
    for (let i = 0; i < 6; i++) {
      const f = join(dir, `test-${i}.png`);
      await Deno.writeFile(f, encode(test.images.subarray(i * 784, (i + 1) * 784), 28, 28, "png"));
      files.push(f);
    }
    // A larger JPEG (resized back to 28x28 by predict) and a file that is not an image.
    const big = new Float32Array(56 * 56).map((_, i) =>
      test.images[(i >> 7) * 28 + ((i % 56) >> 1)]
    );
    await Deno.writeFile(join(dir, "big.jpg"), encode(big, 56, 56, "jpeg"));
    for (const model of [join(dir, "compressed.onnx"), dir]) {
      const p = await cli("predict", ["--model", model, "--json", ...files, join(dir, "big.jpg")]);
      assert.equal(p.code, 0, p.stderr);
      const preds = JSON.parse(p.stdout.trim().split("\n").pop()!);
      assert.equal(preds.length, 7);
      assert.deepEqual(
        preds.slice(0, 6).map((x: { top: { index: number }[] }) => x.top[0].index),
        predicted.slice(0, 6),
        `${model}: the classes of the test images`,
      );
      for (const x of preds) {
        assert.equal(x.top.length, 3);
        assert.ok(x.top[0].probability >= x.top[1].probability);
        assert.equal(x.top[0].name, rep.dataset.classNames[x.top[0].index]);
      }
    }
    const text = await cli("predict", ["--model", dir, files[0]]);
    assert.match(
      text.stdout,
      new RegExp(`test-0\\.png: ${rep.dataset.classNames[predicted[0]]} \\d+\\.\\d%`),
    );
    await Deno.writeTextFile(join(dir, "notes.png"), "not an image");
    const corrupt = await cli("predict", ["--model", dir, files[0], join(dir, "notes.png")]);
    assert.equal(corrupt.code, 1);
    assert.match(
      assertOneLine(corrupt.stderr, "predict", "not an image"),
      /notes\.png: not a PNG or JPEG image/,
    );
    const noImages = await cli("predict", ["--model", dir]);
    assert.equal(noImages.code, 2);
    assertOneLine(noImages.stderr, "predict", "no images");

    const bad = await cli("evaluate", ["--model", dir, "--dataset", "mnist"]);
    assert.equal(bad.code, 2);
    assertOneLine(bad.stderr, "evaluate", "unknown dataset");
    const none = await cli("evaluate", ["--model", join(dir, "nope"), "--dataset", "sample"]);
    assert.equal(none.code, 1);
    assert.match(assertOneLine(none.stderr, "evaluate", "missing model"), /nope not found/);
  });
});
