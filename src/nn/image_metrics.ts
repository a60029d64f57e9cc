/**
 * Super-resolution quality as the literature reports it: PSNR and SSIM on the Y (luma) channel
 * of ITU-R BT.601 YCbCr (MATLAB's `rgb2ycbcr`), after rounding both images to 8-bit levels and
 * cropping `crop` pixels (the scale factor, by convention) from every border. SSIM is Wang et
 * al.'s: 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, data range 255, valid
 * filtering. Computed on the host in float64 (evaluation reads the images back anyway).
 *
 * @module
 */

/** Options of {@link psnr}, {@link ssim} and {@link imageQuality}. */
export interface ImageQualityOptions {
  /** Pixels cropped from every border before measuring (default 0; SR papers use the scale). */
  crop?: number;
  /** Round both images to 8-bit levels first, as saved images would be (default true). */
  quantize?: boolean;
  /** Measure on the luma `"y"` (default) or on all channels `"rgb"` (1-channel images: as is). */
  on?: "y" | "rgb";
}

/** An image as CHW planes with values in [0, 1]. */
export interface Planes {
  /** `channels * height * width` values, plane after plane. */
  data: ArrayLike<number>;
  /** Planes (1 grey, 3 RGB). */
  channels: number;
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
}

function check(what: string, a: Planes, b: Planes): void {
  if (a.channels !== b.channels || a.height !== b.height || a.width !== b.width) {
    throw new RangeError(
      `${what}: images differ in shape: ${a.channels}x${a.height}x${a.width} vs ` +
        `${b.channels}x${b.height}x${b.width}`,
    );
  }
  for (const p of [a, b]) {
    if (p.data.length !== p.channels * p.height * p.width) {
      throw new RangeError(
        `${what}: ${p.data.length} values for a ${p.channels}x${p.height}x${p.width} image`,
      );
    }
  }
  if (a.channels !== 1 && a.channels !== 3) {
    throw new RangeError(`${what}: images must have 1 or 3 channels, got ${a.channels}`);
  }
}

/**
 * The planes measured, on the 0-255 scale, cropped: one Y plane (or the channels as they are).
 * Returns [planes, height, width].
 */
function measured(p: Planes, opts: ImageQualityOptions): [Float64Array[], number, number] {
  const crop = opts.crop ?? 0;
  const quantize = opts.quantize ?? true;
  const { channels: c, height: h, width: w, data } = p;
  if (!Number.isInteger(crop) || crop < 0 || 2 * crop >= Math.min(h, w)) {
    throw new RangeError(`image quality: border crop ${crop} leaves nothing of a ${h}x${w} image`);
  }
  const oh = h - 2 * crop, ow = w - 2 * crop, n = h * w;
  const level = (v: number) => {
    const s = v * 255;
    return quantize ? Math.round(Math.min(255, Math.max(0, s))) : s;
  };
  const planes: Float64Array[] = [];
  const luma = (opts.on ?? "y") === "y" && c === 3;
  for (let k = 0; k < (luma ? 1 : c); k++) {
    const out = new Float64Array(oh * ow);
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const i = (y + crop) * w + x + crop;
        out[y * ow + x] = luma
          ? 16 + (65.481 * level(data[i]) + 128.553 * level(data[n + i]) +
                24.966 * level(data[2 * n + i])) / 255
          : level(data[k * n + i]);
      }
    }
    planes.push(out);
  }
  return [planes, oh, ow];
}

/**
 * Peak signal-to-noise ratio in dB (peak 255) of `sr` against `hr` (both in [0, 1]); Infinity
 * when they are equal.
 *
 * @example
 * ```ts
 * import { psnr } from "./image_metrics.ts";
 * const hr = { data: new Float32Array(3 * 16 * 16).fill(0.5), channels: 3, height: 16, width: 16 };
 * const sr = { ...hr, data: hr.data.map((v, i) => v + (i % 2 ? 4 : -4) / 255) };
 * console.log(psnr(sr, hr, { crop: 2, on: "rgb" })); // 20 log10(255 / 4) = 36.09
 * ```
 */
export function psnr(sr: Planes, hr: Planes, opts: ImageQualityOptions = {}): number {
  check("psnr", sr, hr);
  const [a] = measured(sr, opts);
  const [b] = measured(hr, opts);
  let se = 0, count = 0;
  for (let k = 0; k < a.length; k++) {
    for (let i = 0; i < a[k].length; i++) se += (a[k][i] - b[k][i]) ** 2;
    count += a[k].length;
  }
  return 10 * Math.log10((255 * 255) / (se / count));
}

/** The normalised 11-tap Gaussian with sigma 1.5 (MATLAB `fspecial('gaussian', 11, 1.5)`). */
function gaussianTaps(): Float64Array {
  const g = Float64Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 ** 2)));
  const s = g.reduce((a, v) => a + v, 0);
  return g.map((v) => v / s);
}

/** Valid separable 11x11 Gaussian filtering of an h x w plane. */
function blur(x: Float64Array, h: number, w: number, g: Float64Array): Float64Array {
  const oh = h - 10, ow = w - 10;
  const rows = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let j = 0; j < ow; j++) {
      let s = 0;
      for (let t = 0; t < 11; t++) s += g[t] * x[y * w + j + t];
      rows[y * ow + j] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      let s = 0;
      for (let t = 0; t < 11; t++) s += g[t] * rows[(i + t) * ow + j];
      out[i * ow + j] = s;
    }
  }
  return out;
}

/** Mean SSIM of one pair of planes (0-255 scale). */
function ssimPlane(a: Float64Array, b: Float64Array, h: number, w: number): number {
  const g = gaussianTaps();
  const c1 = (0.01 * 255) ** 2, c2 = (0.03 * 255) ** 2;
  const sq = (p: Float64Array, q: Float64Array) => p.map((v, i) => v * q[i]);
  const ma = blur(a, h, w, g), mb = blur(b, h, w, g);
  const saa = blur(sq(a, a), h, w, g), sbb = blur(sq(b, b), h, w, g);
  const sab = blur(sq(a, b), h, w, g);
  let total = 0;
  for (let i = 0; i < ma.length; i++) {
    const va = saa[i] - ma[i] * ma[i], vb = sbb[i] - mb[i] * mb[i], cov = sab[i] - ma[i] * mb[i];
    total += ((2 * ma[i] * mb[i] + c1) * (2 * cov + c2)) /
      ((ma[i] * ma[i] + mb[i] * mb[i] + c1) * (va + vb + c2));
  }
  return total / ma.length;
}

/**
 * Structural similarity (mean SSIM, Wang et al. 2004) of `sr` against `hr` (both in [0, 1]);
 * averaged over channels when measuring `"rgb"`.
 *
 * @throws {RangeError} when the cropped image is smaller than the 11x11 window
 */
export function ssim(sr: Planes, hr: Planes, opts: ImageQualityOptions = {}): number {
  check("ssim", sr, hr);
  const [a, h, w] = measured(sr, opts);
  const [b] = measured(hr, opts);
  if (h < 11 || w < 11) {
    throw new RangeError(`ssim: ${h}x${w} after the border crop is smaller than the 11x11 window`);
  }
  let s = 0;
  for (let k = 0; k < a.length; k++) s += ssimPlane(a[k], b[k], h, w);
  return s / a.length;
}

/** PSNR and SSIM of one image pair. */
export interface ImageQuality {
  /** Peak signal-to-noise ratio (dB). */
  psnr: number;
  /** Structural similarity in [-1, 1]. */
  ssim: number;
}

/** {@link psnr} and {@link ssim} together. */
export function imageQuality(
  sr: Planes,
  hr: Planes,
  opts: ImageQualityOptions = {},
): ImageQuality {
  return { psnr: psnr(sr, hr, opts), ssim: ssim(sr, hr, opts) };
}
