/**
 * Image resampling on the host: separable bicubic / bilinear resizing with antialiasing, in the
 * two conventions people compare against, plus the crops of torchvision's transforms.
 *
 * - `"matlab"`: MATLAB's `imresize` (what DIV2K's low-resolution images were made with): output
 *   pixel i samples at u = (i + 0.5) / scale - 0.5, the kernel is widened by 1/scale when
 *   shrinking (antialiasing), taps outside the image are mirrored (symmetric padding), weights
 *   are normalised to sum 1.
 * - `"pil"`: PIL's `Image.resize` and torchvision / `F.interpolate(..., antialias=True)`: the
 *   same sample positions and widened kernel, but taps outside the image are dropped and the
 *   remaining weights renormalised.
 *
 * The two agree away from the borders. Bicubic is Keys' cubic with a = -0.5 in both. Sums are
 * accumulated in float64; nothing is rounded between the two passes.
 *
 * @module
 */

/** Interpolation kernel. */
export type ResizeKernel = "cubic" | "linear";
/** Border convention (see the module documentation). */
export type ResizeStyle = "matlab" | "pil";

/** Options of {@link resizePlanes}. */
export interface ResizeOptions {
  /** Default "cubic". */
  kernel?: ResizeKernel;
  /** Widen the kernel when shrinking (default true, as MATLAB and PIL). */
  antialias?: boolean;
  /** Default "matlab". */
  style?: ResizeStyle;
}

function cubic(x: number): number {
  const a = Math.abs(x), a2 = a * a, a3 = a2 * a;
  if (a <= 1) return 1.5 * a3 - 2.5 * a2 + 1;
  if (a < 2) return -0.5 * a3 + 2.5 * a2 - 4 * a + 2;
  return 0;
}

function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

/** Per output pixel along one axis: `taps` source indices and weights (zero-padded). */
export interface Contributions {
  taps: number;
  index: Int32Array;
  weight: Float64Array;
}

/** Source indices and weights of every output pixel of one axis of length `inLen` → `outLen`. */
export function contributions(
  inLen: number,
  outLen: number,
  opts: ResizeOptions = {},
): Contributions {
  if (!(Number.isInteger(inLen) && inLen > 0 && Number.isInteger(outLen) && outLen > 0)) {
    throw new RangeError(`resize: sizes must be positive integers, got ${inLen} -> ${outLen}`);
  }
  const kernel = opts.kernel ?? "cubic";
  const f = kernel === "cubic" ? cubic : triangle;
  const support = kernel === "cubic" ? 2 : 1;
  const scale = outLen / inLen;
  const shrink = (opts.antialias ?? true) && scale < 1 ? scale : 1;
  const half = support / shrink;
  const taps = Math.ceil(2 * half) + 2;
  const index = new Int32Array(outLen * taps);
  const weight = new Float64Array(outLen * taps);
  const matlab = (opts.style ?? "matlab") === "matlab";
  for (let i = 0; i < outLen; i++) {
    const u = (i + 0.5) / scale - 0.5; // source coordinate, 0-based pixel centres
    const left = Math.floor(u - half); // first tap may be one left of the support, weight 0
    let total = 0;
    for (let t = 0; t < taps; t++) {
      let j = left + t;
      let w = shrink * f((u - j) * shrink);
      if (j < 0 || j >= inLen) {
        if (matlab) {
          // Symmetric padding: ... 1 0 | 0 1 2 ... L-1 | L-1 L-2 ...
          const period = 2 * inLen;
          const m = ((j % period) + period) % period;
          j = m < inLen ? m : period - 1 - m;
        } else {
          (w = 0), (j = Math.min(Math.max(j, 0), inLen - 1));
        }
      }
      index[i * taps + t] = j;
      weight[i * taps + t] = w;
      total += w;
    }
    for (let t = 0; t < taps; t++) weight[i * taps + t] /= total;
  }
  return { taps, index, weight };
}

/**
 * Resize `channels` planes of `height * width` values (CHW) to `outH * outW`.
 *
 * @example
 * ```ts
 * import { resizePlanes } from "./resample.ts";
 * const hr = new Float32Array(3 * 8 * 8).map((_, i) => (i % 7) / 7);
 * const lr = resizePlanes(hr, 3, 8, 8, 4, 4); // MATLAB imresize(hr, 0.5, "bicubic")
 * console.log(lr.length); // 48
 * ```
 */
export function resizePlanes(
  src: ArrayLike<number>,
  channels: number,
  height: number,
  width: number,
  outH: number,
  outW: number,
  opts: ResizeOptions = {},
): Float32Array {
  if (src.length !== channels * height * width) {
    throw new RangeError(
      `resize: ${src.length} values, expected ${channels}x${height}x${width} = ` +
        `${channels * height * width}`,
    );
  }
  const ch = contributions(height, outH, opts);
  const cw = contributions(width, outW, opts);
  const out = new Float32Array(channels * outH * outW);
  const tmp = new Float64Array(outH * width); // after the vertical pass
  for (let c = 0; c < channels; c++) {
    const base = c * height * width;
    tmp.fill(0);
    for (let i = 0; i < outH; i++) {
      const row = i * width;
      for (let t = 0; t < ch.taps; t++) {
        const w = ch.weight[i * ch.taps + t];
        if (w === 0) continue;
        const s = base + ch.index[i * ch.taps + t] * width;
        for (let x = 0; x < width; x++) tmp[row + x] += w * src[s + x];
      }
    }
    const ob = c * outH * outW;
    for (let i = 0; i < outH; i++) {
      const row = i * width;
      for (let j = 0; j < outW; j++) {
        let acc = 0;
        for (let t = 0; t < cw.taps; t++) {
          acc += cw.weight[j * cw.taps + t] * tmp[row + cw.index[j * cw.taps + t]];
        }
        out[ob + i * outW + j] = acc;
      }
    }
  }
  return out;
}

/**
 * MATLAB's `imresize` on 8-bit planes: resized in float64 and rounded to the nearest level
 * (clamped to [0, 255]), as `imresize` returns for uint8 input.
 */
export function resizeBytes(
  src: Uint8Array,
  channels: number,
  height: number,
  width: number,
  outH: number,
  outW: number,
  opts: ResizeOptions = {},
): Uint8Array {
  const f = resizePlanes(src, channels, height, width, outH, outW, opts);
  const out = new Uint8Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(f[i])));
  return out;
}

/** Python's `round` (half to even), which torchvision's crops use. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Top-left corner of torchvision's `CenterCrop(outH, outW)` of a `height x width` image. */
export function centerCropOffset(
  height: number,
  width: number,
  outH: number,
  outW: number,
): [number, number] {
  return [roundHalfEven((height - outH) / 2), roundHalfEven((width - outW) / 2)];
}

/** The `outH x outW` window at (`top`, `left`) of every plane (CHW). */
export function cropPlanes<T extends Float32Array | Uint8Array>(
  src: T,
  channels: number,
  height: number,
  width: number,
  top: number,
  left: number,
  outH: number,
  outW: number,
): T {
  if (top < 0 || left < 0 || top + outH > height || left + outW > width) {
    throw new RangeError(
      `crop: window ${outH}x${outW} at (${top}, ${left}) outside the ${height}x${width} image`,
    );
  }
  const out = new (src.constructor as { new (n: number): T })(channels * outH * outW);
  for (let c = 0; c < channels; c++) {
    for (let r = 0; r < outH; r++) {
      const s = c * height * width + (top + r) * width + left;
      out.set(src.subarray(s, s + outW), c * outH * outW + r * outW);
    }
  }
  return out;
}

/**
 * torchvision's `Resize(min(outH, outW))` on the shorter side (PIL-style bilinear with
 * antialiasing) followed by `CenterCrop(outH, outW)`: the usual evaluation transform.
 */
export function resizeCenterCrop(
  src: ArrayLike<number>,
  channels: number,
  height: number,
  width: number,
  outH: number,
  outW: number,
): Float32Array {
  const short = Math.min(outH, outW);
  // torchvision: the shorter side becomes `short`, the longer int(short * long / short).
  const [rh, rw] = height <= width
    ? [short, Math.max(Math.trunc((short * width) / height), outW)]
    : [Math.max(Math.trunc((short * height) / width), outH), short];
  const resized = rh === height && rw === width
    ? Float32Array.from(src)
    : resizePlanes(src, channels, height, width, rh, rw, { kernel: "linear", style: "pil" });
  const [top, left] = centerCropOffset(rh, rw, outH, outW);
  return cropPlanes(resized, channels, rh, rw, top, left, outH, outW);
}
