/**
 * Running a super-resolution model on whole images (optionally in overlapping tiles, so large
 * images fit in memory) and measuring it as papers do: PSNR / SSIM on Y with a border crop of
 * `scale` pixels, against the bicubic upscaling baseline.
 *
 * @module
 */
import { fromHost, getDefaultBackend, tidy } from "../tensor.ts";
import { noGrad } from "../ops/registry.ts";
import type { Module } from "./module.ts";
import type { SrDataset } from "../data/sr.ts";
import { srImageArrays } from "../data/sr_loader.ts";
import { resizePlanes } from "../data/resample.ts";
import { type ImageQuality, imageQuality } from "./image_metrics.ts";

/** Options of {@link upscale}. */
export interface UpscaleOptions {
  /** Run the model on LR tiles of this side (default: the whole image at once). */
  tile?: number;
  /**
   * LR pixels of context around each tile (default 16). Outputs equal the whole-image outputs
   * when it covers the model's receptive field radius.
   */
  overlap?: number;
}

/**
 * The model's output for one LR image (CHW planes, `channels x height x width`): returns the
 * `channels x height·scale x width·scale` planes. The model runs in eval mode without gradients.
 */
export async function upscale(
  model: Module,
  lr: Float32Array,
  channels: number,
  height: number,
  width: number,
  scale: number,
  opts: UpscaleOptions = {},
): Promise<Float32Array> {
  const tile = opts.tile ?? Math.max(height, width);
  const ov = opts.overlap ?? 16;
  if (!Number.isInteger(tile) || tile <= 0 || !Number.isInteger(ov) || ov < 0) {
    throw new RangeError(`upscale: tile ${tile} and overlap ${ov} must be integers > 0 and >= 0`);
  }
  const H = height * scale, W = width * scale;
  const out = new Float32Array(channels * H * W);
  const was = model.training;
  model.eval();
  try {
    for (let t0 = 0; t0 < height; t0 += tile) {
      for (let l0 = 0; l0 < width; l0 += tile) {
        const t1 = Math.min(t0 + tile, height), l1 = Math.min(l0 + tile, width);
        // The window with context, clipped to the image (the model pads the true borders).
        const wt = Math.max(0, t0 - ov), wl = Math.max(0, l0 - ov);
        const wh = Math.min(height, t1 + ov) - wt, ww = Math.min(width, l1 + ov) - wl;
        const x = new Float32Array(channels * wh * ww);
        for (let c = 0; c < channels; c++) {
          for (let r = 0; r < wh; r++) {
            const s = c * height * width + (wt + r) * width + wl;
            x.set(lr.subarray(s, s + ww), (c * wh + r) * ww);
          }
        }
        const y = noGrad(() =>
          tidy(() =>
            model.call(fromHost(x, [1, channels, wh, ww], "f32", getDefaultBackend())).keep()
          )
        );
        const shape = [1, channels, wh * scale, ww * scale];
        if (y.shape.length !== 4 || y.shape.some((d, i) => d !== shape[i])) {
          y.dispose();
          throw new Error(
            `upscale: the model maps [1,${channels},${wh},${ww}] to [${y.shape}], expected ` +
              `[${shape}] for scale ${scale}`,
          );
        }
        const yd = await y.data() as Float32Array;
        y.dispose();
        const yw = ww * scale, yh = wh * scale;
        for (let c = 0; c < channels; c++) {
          for (let r = (t0 - wt) * scale; r < (t1 - wt) * scale; r++) {
            const s = (c * yh + r) * yw + (l0 - wl) * scale;
            out.set(
              yd.subarray(s, s + (l1 - l0) * scale),
              (c * H + wt * scale + r) * W + l0 * scale,
            );
          }
        }
      }
    }
  } finally {
    model.train(was);
  }
  return out;
}

/**
 * PSNR and SSIM (means over the images) of bicubic upscaling (MATLAB `imresize`) of the LR
 * images: the baseline a super-resolution model should beat.
 */
export function bicubicQuality(ds: SrDataset, crop: number = ds.scale): ImageQuality {
  let psnr = 0, ssim = 0;
  for (const img of ds.images) {
    const { lr, hr } = srImageArrays(img);
    const c = img.channels, lh = img.height / img.scale, lw = img.width / img.scale;
    const up = resizePlanes(lr, c, lh, lw, img.height, img.width, {
      kernel: "cubic",
      style: "matlab",
    });
    const planes = (data: Float32Array) => ({
      data,
      channels: c,
      height: img.height,
      width: img.width,
    });
    const q = imageQuality(planes(up), planes(hr), { crop });
    psnr += q.psnr, ssim += q.ssim;
  }
  const n = Math.max(1, ds.images.length);
  return { psnr: psnr / n, ssim: ssim / n };
}

/** Options of {@link evaluateSuperResolution}. */
export interface SrEvalOptions extends UpscaleOptions {
  /** Border crop for PSNR / SSIM (default: the scale). */
  crop?: number;
  /** Also measure bicubic upscaling (MATLAB `imresize`) of the LR images (default false). */
  bicubic?: boolean;
}

/** What {@link evaluateSuperResolution} measured (means over the images). */
export interface SrEvalResult {
  /** PSNR (dB) on Y, mean over images. */
  psnr: number;
  /** SSIM on Y, mean over images. */
  ssim: number;
  /** Mean absolute error of the raw outputs against HR (the training loss), over all pixels. */
  l1: number;
  /** Images evaluated. */
  images: number;
  /** The bicubic baseline, when asked for. */
  bicubic?: ImageQuality;
  /** PSNR and SSIM of each image, by name. */
  perImage: ({ name: string } & ImageQuality)[];
}

/**
 * PSNR, SSIM and L1 of a super-resolution model over every image of `ds`.
 *
 * @example
 * ```ts
 * import { init } from "../../mod.ts";
 * import { zoo } from "../zoo/index.ts";
 * import { loadSrSample } from "../data/sr.ts";
 * import { evaluateSuperResolution } from "./sr_eval.ts";
 * await init();
 * const { test } = await loadSrSample({ scale: 2 });
 * const model = zoo["carn-small"].build({ seed: 0 });
 * const r = await evaluateSuperResolution(model, test, { bicubic: true });
 * console.log(r.psnr, r.ssim, r.bicubic); // an untrained model is far below bicubic
 * ```
 */
export async function evaluateSuperResolution(
  model: Module,
  ds: SrDataset,
  opts: SrEvalOptions = {},
): Promise<SrEvalResult> {
  const crop = opts.crop ?? ds.scale;
  const perImage: SrEvalResult["perImage"] = [];
  let absSum = 0, count = 0;
  for (const img of ds.images) {
    const { lr, hr } = srImageArrays(img);
    const c = img.channels, lh = img.height / img.scale, lw = img.width / img.scale;
    const sr = await upscale(model, lr, c, lh, lw, img.scale, opts);
    for (let i = 0; i < sr.length; i++) absSum += Math.abs(sr[i] - hr[i]);
    count += sr.length;
    const planes = (data: Float32Array) => ({
      data,
      channels: c,
      height: img.height,
      width: img.width,
    });
    perImage.push({ name: img.name, ...imageQuality(planes(sr), planes(hr), { crop }) });
  }
  const mean = (xs: number[]) => xs.reduce((a, v) => a + v, 0) / Math.max(1, xs.length);
  return {
    psnr: mean(perImage.map((q) => q.psnr)),
    ssim: mean(perImage.map((q) => q.ssim)),
    l1: absSum / Math.max(1, count),
    images: perImage.length,
    bicubic: opts.bicubic ? bicubicQuality(ds, crop) : undefined,
    perImage,
  };
}
