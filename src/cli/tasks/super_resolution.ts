/**
 * Super-resolution as a {@link Task}: the embedded sample (default), DIV2K or a folder of
 * high-resolution images; L1 loss on random aligned patch pairs (as CARN trains); PSNR and SSIM
 * on the Y channel with a border crop of `scale` pixels, on whole held-out images, against the
 * bicubic upscaling of the same images.
 * @module
 */
import type { Tensor } from "../../tensor.ts";
import { add, reshape, scale } from "../../ops/index.ts";
import { noGrad } from "../../ops/registry.ts";
import { l1Loss } from "../../nn/losses.ts";
import { imageQuality } from "../../nn/image_metrics.ts";
import { bicubicQuality } from "../../nn/sr_eval.ts";
import { fromHost, getDefaultBackend, tidy } from "../../tensor.ts";
import { isDiv2k, loadDiv2k, loadSrFolder, loadSrSample, type SrData } from "../../data/sr.ts";
import { srImageArrays, SrImageLoader, SrPatchLoader } from "../../data/sr_loader.ts";
import type { Settings } from "../settings.ts";
import type { MeterReading, MetricSpec, Task, TaskData, TaskMeter } from "../task.ts";

/** PSNR on Y in dB, on whole test images. */
export const PSNR: MetricSpec = {
  key: "psnr",
  short: "PSNR",
  name: "PSNR (Y, dB)",
  format: (v, digits) => `${v.toFixed(digits)} dB`,
  higherIsBetter: true,
  onTrain: false,
};

/** SSIM on Y, on whole test images. */
export const SSIM: MetricSpec = {
  key: "ssim",
  short: "SSIM",
  name: "SSIM (Y)",
  format: (v, digits) => v.toFixed(digits + 2),
  higherIsBetter: true,
  onTrain: false,
};

/** Patches drawn per epoch: about this many, at least one per image. */
const PATCHES_PER_EPOCH = 512;

async function loadSr(s: Settings): Promise<SrData> {
  const opts = {
    scale: s.scale,
    skipBadImages: s.skipBadImages,
    ...(s.limit !== null ? { limit: s.limit } : {}),
    ...(s.testLimit !== null ? { testLimit: s.testLimit } : {}),
  };
  switch (s.dataset) {
    case "sample":
      return await loadSrSample(opts);
    case "div2k":
    case "folder": {
      const dir = s.dataDir!;
      if (s.dataset === "div2k" && !(await isDiv2k(dir))) {
        throw new Error(`${dir}: not DIV2K (no DIV2K_train_HR/ folder); use --dataset folder`);
      }
      return s.dataset === "div2k" ? await loadDiv2k(dir, opts) : await loadSrFolder(dir, {
        ...opts,
        ...(s.valSplit !== null ? { valSplit: s.valSplit } : {}),
        seed: s.seed,
      });
    }
  }
  throw new Error(`super-resolution: no data set "${s.dataset}"`);
}

/** Training sums of the L1 loss (on the device); PSNR / SSIM are measured on test images only. */
class L1Meter implements TaskMeter {
  private total: Tensor | null = null;
  images = 0;
  add(_output: Tensor, target: Tensor, loss: Tensor): void {
    const n = target.shape[0];
    const next = noGrad(() =>
      tidy(() => {
        const s = reshape(scale(loss, n), [1]);
        return this.total ? add(this.total, s) : s;
      })
    ).keep();
    this.total?.dispose();
    this.total = next;
    this.images += n;
  }
  async read(): Promise<MeterReading> {
    const st = await this.state();
    return { loss: st.lossSum / Math.max(1, st.images), images: st.images, metrics: {} };
  }
  async state(): Promise<{ lossSum: number; images: number }> {
    return { lossSum: this.total ? (await this.total.data())[0] : 0, images: this.images };
  }
  restore(state: unknown): void {
    const st = state as { lossSum: number; images: number };
    if (!Number.isFinite(st?.lossSum) || !(st.images >= 0)) {
      throw new Error(`super-resolution meter: not a meter state: ${JSON.stringify(state)}`);
    }
    this.dispose();
    this.total = fromHost(Float32Array.of(st.lossSum), [1], "f32", getDefaultBackend()).keep();
    this.images = st.images;
  }
  dispose(): void {
    this.total?.dispose();
    this.total = null;
    this.images = 0;
  }
}

/** Upscale images by `--scale`: L1 loss, PSNR and SSIM on Y. */
export const superResolution: Task = {
  name: "super-resolution",
  datasets: ["sample", "div2k", "folder"],
  metrics: [PSNR, SSIM],
  dynamicSize: true,
  // DHSPG's gradual regime, not the one-shot classification defaults: CARN has no normalisation,
  // and zeroing half of every layer in one step takes carn-small back to its bilinear start
  // (33.98 -> 32.5 dB) with too few steps left to learn again; pulled to zero over about six
  // epochs after its take-off, half of every ZIG goes while the rest takes over (README
  // "Tasks", measured on the embedded sample: 0.24 dB under unpruned at -74% MACs).
  defaults: {
    model: "carn-small",
    epochs: 30,
    batchSize: 16,
    optimizer: "adam",
    startPruning: "20%",
    lambda: 110,
    epsilon: 0.9,
    pruneScope: "zig",
  },
  async loadData(s): Promise<TaskData> {
    const sr = await loadSr(s);
    const { train, test } = sr;
    const p = s.patchSize;
    const c = train.channels;
    // The bicubic baseline: the score any SR model should beat.
    const bicubic = bicubicQuality(test);
    const perImage = Math.max(1, Math.ceil(PATCHES_PER_EPOCH / train.images.length));
    const skipped = sr.skipped.map((b) => `skipped ${b.file}: ${b.problem}`);
    return {
      name: train.name.replace(/\/train$/, ""),
      trainCount: train.images.length * perImage,
      testCount: test.images.length,
      inputShape: [c, p, p],
      classes: null,
      mean: new Array(c).fill(0),
      std: new Array(c).fill(1),
      modelOptions: { inChannels: c, scale: s.scale },
      summary: `${train.images.length} train images (${perImage} random ${p}x${p} LR patches ` +
        `each per epoch), ${test.images.length} test images, x${s.scale}, LR made by ` +
        `${sr.generatedLr ? "bicubic downscaling here" : "the data set"}; bicubic test PSNR ` +
        `${bicubic.psnr.toFixed(2)} dB, SSIM ${bicubic.ssim.toFixed(4)}` +
        (skipped.length ? `; ${skipped.length} bad images skipped` : ""),
      reference: {
        name: "bicubic upscaling",
        metrics: { psnr: bicubic.psnr, ssim: bicubic.ssim },
      },
      notes: skipped,
      trainBatches: ({ batchSize, seed }) =>
        new SrPatchLoader(train, { patchSize: p, batchSize, patchesPerImage: perImage, seed }),
      testBatches: () => new SrImageLoader(test),
      verifyBatch: () => {
        const img = test.images[0];
        return {
          x: srImageArrays(img).lr,
          shape: [1, c, img.height / img.scale, img.width / img.scale],
        };
      },
    };
  },
  checkModel(model, out, data) {
    const [c, h, w] = data.inputShape, r = data.modelOptions.scale;
    if (out.length !== 4 || out[1] !== c || out[2] !== h * r || out[3] !== w * r) {
      throw new Error(
        `model ${model} maps [1,${c},${h},${w}] to [${out}], not an image ${r} times larger; ` +
          `choose a super-resolution model (carn-small, carn)`,
      );
    }
  },
  loss: (output, target) => l1Loss(output, target),
  meter: () => new L1Meter(),
  async evaluate(model, batches) {
    const was = model.training;
    model.eval();
    let l1 = 0, psnr = 0, ssim = 0, n = 0;
    try {
      for await (const { x, y } of batches.epochBatches(0)) {
        const out = noGrad(() => tidy(() => model.call(x).keep()));
        const sr = (await out.data()) as Float32Array;
        out.dispose();
        const hr = (await y.data()) as Float32Array;
        const [, c, h, w] = y.shape;
        const r = h / x.shape[2];
        let abs = 0;
        for (let i = 0; i < sr.length; i++) abs += Math.abs(sr[i] - hr[i]);
        const planes = (data: Float32Array) => ({ data, channels: c, height: h, width: w });
        const q = imageQuality(planes(sr), planes(hr), { crop: r });
        l1 += abs / sr.length, psnr += q.psnr, ssim += q.ssim, n++;
      }
    } finally {
      model.train(was);
    }
    const k = Math.max(1, n);
    return { loss: l1 / k, images: n, metrics: { psnr: psnr / k, ssim: ssim / k } };
  },
};
