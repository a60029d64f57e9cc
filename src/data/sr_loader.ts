/**
 * Batches for super-resolution: random aligned LR/HR patch pairs for training (with random
 * flips and 90-degree rotations, as CARN and EDSR train), whole images for evaluation.
 *
 * Draws depend on (seed, epoch, batch) only, so an epoch is reproducible and a run resumed
 * mid-epoch sees the same patches. `x` is [B, C, p, p] and `y` [B, C, p·s, p·s], values in
 * [0, 1] (CARN normalises inside the model).
 *
 * @module
 */
import { type BackendName, fromHost, getDefaultBackend } from "../tensor.ts";
import { Rng } from "../random.ts";
import { DataError } from "./dataset.ts";
import { bytesToUnit } from "./idx.ts";
import { type Batch, checkFirstBatch, mixSeed, uploadBatches } from "./loader.ts";
import type { SrDataset, SrImage } from "./sr.ts";

/** Options of {@link SrPatchLoader}. */
export interface SrPatchOptions {
  /** Side of the LR patch (the HR patch is `patchSize * scale`). */
  patchSize: number;
  /** Patch pairs per batch. */
  batchSize: number;
  /** Patches drawn from every image per epoch (default 1). */
  patchesPerImage?: number;
  /** Seed of the order, the patch positions and the augmentation (default 0). */
  seed?: number;
  /** Random horizontal / vertical flips and transposition (default true). */
  augment?: boolean;
  /** First epoch number (default 0). */
  epoch?: number;
  /** Backend of the batch tensors (default: the default backend at iteration time). */
  backend?: BackendName;
}

/** A batch on the host: LR patches, HR patches, count. */
export interface SrHostBatch {
  /** LR patches, n * C * p * p values in [0, 1]. */
  x: Float32Array;
  /** HR patches, n * C * (p s) * (p s) values in [0, 1]. */
  y: Float32Array;
  /** Patch pairs in the batch. */
  n: number;
}

const UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/**
 * Copy a `size x size` window at (`top`, `left`) of a `c x h x w` plane stack into `out` at
 * `offset`, applying the dihedral transform (transpose, then flips), as floats in [0, 1].
 */
function patch(
  src: Uint8Array,
  c: number,
  h: number,
  w: number,
  top: number,
  left: number,
  size: number,
  t: { transpose: boolean; hflip: boolean; vflip: boolean },
  out: Float32Array,
  offset: number,
): void {
  for (let k = 0; k < c; k++) {
    const sp = k * h * w, dp = offset + k * size * size;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        let r = t.transpose ? j : i, q = t.transpose ? i : j;
        if (t.vflip) r = size - 1 - r;
        if (t.hflip) q = size - 1 - q;
        out[dp + i * size + j] = UNIT[src[sp + (top + r) * w + left + q]];
      }
    }
  }
}

/**
 * Random aligned patch pairs of an {@link SrDataset}, in batches.
 *
 * @example
 * ```ts
 * import { loadSrSample } from "./sr.ts";
 * import { SrPatchLoader } from "./sr_loader.ts";
 * const { train } = await loadSrSample({ scale: 2 });
 * const loader = new SrPatchLoader(train, { patchSize: 24, batchSize: 16, patchesPerImage: 8 });
 * const { x, y } = loader.hostBatch(0, 0); // 16 x 3 x 24 x 24 and 16 x 3 x 48 x 48
 * console.log(x.length, y.length);
 * ```
 */
export class SrPatchLoader implements AsyncIterable<Batch> {
  /** The image pairs it cuts patches from. */
  readonly dataset: SrDataset;
  /** Side of the LR patch in pixels. */
  readonly patchSize: number;
  /** Patch pairs per batch. */
  readonly batchSize: number;
  /** Patches drawn from every image per epoch. */
  readonly patchesPerImage: number;
  /** Seed of the patch positions and the augmentation. */
  readonly seed: number;
  /** Whether patches are flipped horizontally / vertically and transposed at random. */
  readonly augment: boolean;
  /** The epoch the next iteration will produce. */
  epoch: number;
  private readonly backend?: BackendName;

  /** Patch batches of `dataset`; options are checked here. */
  constructor(dataset: SrDataset, opts: SrPatchOptions) {
    const name = dataset.name;
    for (const k of ["patchSize", "batchSize"] as const) {
      if (!Number.isInteger(opts[k]) || opts[k] <= 0) {
        throw new DataError(name, `SrPatchLoader: ${k} must be a positive integer, got ${opts[k]}`);
      }
    }
    const per = opts.patchesPerImage ?? 1;
    if (!Number.isInteger(per) || per <= 0) {
      throw new DataError(
        name,
        `SrPatchLoader: patchesPerImage must be a positive integer, got ${per}`,
      );
    }
    if (dataset.images.length === 0) throw new DataError(name, "SrPatchLoader: no images");
    for (const img of dataset.images) {
      const lh = img.height / img.scale, lw = img.width / img.scale;
      if (lh < opts.patchSize || lw < opts.patchSize) {
        throw new DataError(
          img.name,
          `LR image ${lh}x${lw} is smaller than the ${opts.patchSize}x${opts.patchSize} patch`,
        );
      }
    }
    this.dataset = dataset;
    this.patchSize = opts.patchSize;
    this.batchSize = opts.batchSize;
    this.patchesPerImage = per;
    this.seed = opts.seed ?? 0;
    this.augment = opts.augment ?? true;
    this.epoch = opts.epoch ?? 0;
    this.backend = opts.backend;
  }

  /** Patches per epoch. */
  get size(): number {
    return this.dataset.images.length * this.patchesPerImage;
  }

  /** Batches per epoch (the last one may be smaller). */
  get length(): number {
    return Math.ceil(this.size / this.batchSize);
  }

  /** Which image each patch of `epoch` comes from, in order. */
  order(epoch: number): Int32Array {
    const n = this.dataset.images.length;
    const idx = Int32Array.from({ length: this.size }, (_, i) => i % n);
    const perm = new Rng(mixSeed(this.seed, epoch, 0x5eed)).permutation(idx.length);
    return perm.map((p) => idx[p]);
  }

  /** Batch `b` of `epoch` on the host (deterministic in seed, epoch and b). */
  hostBatch(epoch: number, b: number, order: Int32Array = this.order(epoch)): SrHostBatch {
    if (!Number.isInteger(b) || b < 0 || b >= this.length) {
      throw new DataError(
        this.dataset.name,
        `SrPatchLoader: batch ${b} out of range [0, ${this.length})`,
      );
    }
    const start = b * this.batchSize;
    const n = Math.min(this.batchSize, this.size - start);
    const { channels: c, scale: s } = this.dataset;
    const p = this.patchSize, ps = p * s;
    const x = new Float32Array(n * c * p * p), y = new Float32Array(n * c * ps * ps);
    const rng = new Rng(mixSeed(this.seed, epoch, 0xc0de + b * 0x10001));
    for (let j = 0; j < n; j++) {
      const img: SrImage = this.dataset.images[order[start + j]];
      const lh = img.height / s, lw = img.width / s;
      const top = rng.int(lh - p + 1), left = rng.int(lw - p + 1);
      const t = this.augment
        ? { transpose: rng.next() < 0.5, hflip: rng.next() < 0.5, vflip: rng.next() < 0.5 }
        : { transpose: false, hflip: false, vflip: false };
      patch(img.lr, c, lh, lw, top, left, p, t, x, j * c * p * p);
      patch(img.hr, c, img.height, img.width, top * s, left * s, ps, t, y, j * c * ps * ps);
    }
    return { x, y, n };
  }

  /** The batches of one epoch (default: the next), from batch `from` on. */
  async *epochBatches(epoch?: number, from = 0): AsyncGenerator<Batch> {
    checkFirstBatch(this.dataset.name, "SrPatchLoader", from, this.length);
    const e = epoch ?? this.epoch++;
    const order = this.order(e);
    const { channels: c, scale: s } = this.dataset;
    const p = this.patchSize;
    yield* uploadBatches(from, this.length, (b) => this.hostBatch(e, b, order), (hb) => {
      const be = this.backend ?? getDefaultBackend();
      return {
        x: fromHost(hb.x, [hb.n, c, p, p], "f32", be),
        y: fromHost(hb.y, [hb.n, c, p * s, p * s], "f32", be),
      };
    });
  }

  /** The batches of the next epoch. */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.epochBatches();
  }
}

/** An image's LR input and HR target as [1, C, h, w] and [1, C, H, W] floats in [0, 1]. */
export function srImageArrays(img: SrImage): { lr: Float32Array; hr: Float32Array } {
  return { lr: bytesToUnit(img.lr), hr: bytesToUnit(img.hr) };
}

/**
 * Whole images of an {@link SrDataset}, one per batch (their sizes differ): `x` [1, C, h, w]
 * and `y` [1, C, H, W], in dataset order. For evaluation.
 */
export class SrImageLoader implements AsyncIterable<Batch> {
  constructor(readonly dataset: SrDataset, private readonly backend?: BackendName) {}

  /** Images (= batches) per pass. */
  get length(): number {
    return this.dataset.images.length;
  }

  /** Images per pass. */
  get size(): number {
    return this.dataset.images.length;
  }

  /** The images from `from` on (`epoch` is ignored: evaluation has no randomness). */
  async *epochBatches(_epoch = 0, from = 0): AsyncGenerator<Batch> {
    const host = (i: number) => {
      const img = this.dataset.images[i];
      return { img, ...srImageArrays(img) };
    };
    yield* uploadBatches(from, this.length, host, ({ img, lr, hr }) => {
      const c = img.channels, s = img.scale;
      const be = this.backend ?? getDefaultBackend();
      return {
        x: fromHost(lr, [1, c, img.height / s, img.width / s], "f32", be),
        y: fromHost(hr, [1, c, img.height, img.width], "f32", be),
      };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.epochBatches();
  }
}
