/**
 * Dense prediction data: images with a class per pixel. A seeded synthetic set of shapes on
 * textured backgrounds (discs and squares: the class is the shape, colour only hints at it),
 * and a loader of batches `x` [B, C, H, W] (f32) with `y` [B, H, W] (i32), flipped together.
 *
 * @module
 */
import { type BackendName, fromHost, getDefaultBackend } from "../tensor.ts";
import { Rng } from "../random.ts";
import { DataError } from "./dataset.ts";
import { type Batch, checkFirstBatch, mixSeed, uploadBatches } from "./loader.ts";
import { gaussian, mulberry32 } from "./synthetic.ts";

/** Images (NCHW, [0, 1]) with one class per pixel (N x H x W). */
export interface SegmentationDataset {
  /** Short name, e.g. `"shapes/train"`. */
  name: string;
  /** Pixels, N*C*H*W (NCHW), values in [0, 1]. */
  images: Float32Array;
  /** One class per pixel, N*H*W. */
  masks: Int32Array;
  /** Number of images. */
  n: number;
  /** Channels per image. */
  channels: number;
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** Number of classes (labels are in [0, numClasses)). */
  numClasses: number;
  /** Class names by label. */
  classNames: string[];
}

/** Options of {@link makeShapesSegmentation}. */
export interface ShapesOptions {
  /** Number of images. */
  n: number;
  /** Side of the square images (default 32). */
  size?: number;
  /** Seed of the images (default 0). */
  seed?: number;
  /** Largest number of shapes per image (default 3). */
  maxShapes?: number;
  /** Standard deviation of the pixel noise (default 0.06). */
  noise?: number;
}

/** Class names of {@link makeShapesSegmentation}. */
export const SHAPES_CLASSES: readonly string[] = ["background", "disc", "square"];

/**
 * A seeded synthetic segmentation set: 1 to `maxShapes` discs and squares of random size,
 * position and colour (discs reddish, squares bluish on average, with overlapping ranges) on a
 * smooth random background, with Gaussian noise. Later shapes cover earlier ones.
 */
export function makeShapesSegmentation(opts: ShapesOptions): SegmentationDataset {
  const { n, size = 32, seed = 0, maxShapes = 3, noise = 0.06 } = opts;
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(size) || size < 8) {
    throw new RangeError(`makeShapesSegmentation: n ${n} and size ${size} (>= 8) must be integers`);
  }
  const next = mulberry32(seed ^ 0x51a9e5);
  const plane = size * size;
  const images = new Float32Array(n * 3 * plane);
  const masks = new Int32Array(n * plane);
  for (let i = 0; i < n; i++) {
    const img = images.subarray(i * 3 * plane, (i + 1) * 3 * plane);
    const mask = masks.subarray(i * plane, (i + 1) * plane);
    // Background: a random linear gradient per channel.
    for (let c = 0; c < 3; c++) {
      const a = 0.2 + 0.5 * next(), gx = (next() - 0.5) * 0.4, gy = (next() - 0.5) * 0.4;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          img[c * plane + y * size + x] = a + gx * (x / size) + gy * (y / size);
        }
      }
    }
    const shapes = 1 + Math.floor(next() * maxShapes);
    for (let s = 0; s < shapes; s++) {
      const cls = 1 + Math.floor(next() * 2);
      const r = size * (0.1 + 0.15 * next());
      const cx = r + next() * (size - 2 * r), cy = r + next() * (size - 2 * r);
      const tint = cls === 1 ? [0.75, 0.35, 0.3] : [0.3, 0.4, 0.75];
      const col = tint.map((t) => Math.min(1, Math.max(0, t + 0.35 * (next() - 0.5))));
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
          const inside = cls === 1
            ? dx * dx + dy * dy <= r * r
            : Math.abs(dx) <= r * 0.9 && Math.abs(dy) <= r * 0.9;
          if (!inside) continue;
          mask[y * size + x] = cls;
          for (let c = 0; c < 3; c++) img[c * plane + y * size + x] = col[c];
        }
      }
    }
    for (let k = 0; k < img.length; k++) {
      img[k] = Math.min(1, Math.max(0, img[k] + noise * gaussian(next)));
    }
  }
  return {
    name: `shapes-${seed}`,
    images,
    masks,
    n,
    channels: 3,
    height: size,
    width: size,
    numClasses: SHAPES_CLASSES.length,
    classNames: [...SHAPES_CLASSES],
  };
}

/** Options of {@link SegmentationLoader}. */
export interface SegmentationLoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /** Reshuffle every epoch (default false). */
  shuffle?: boolean;
  /** Seed of the order and the flips (default 0). */
  seed?: number;
  /** Flip image and mask horizontally with probability 1/2 (default false). */
  hflip?: boolean;
  /** Per-channel mean subtracted (default 0s) and standard deviation divided by (default 1s). */
  mean?: readonly number[];
  /** See `mean`. */
  std?: readonly number[];
  /** First epoch number (default 0). */
  epoch?: number;
  /** Backend of the batches' tensors (default: the default backend). */
  backend?: BackendName;
}

/** Batches of a {@link SegmentationDataset}; the same (seed, epoch, batch) gives the same batch. */
export class SegmentationLoader implements AsyncIterable<Batch> {
  /** The data set it reads. */
  readonly dataset: SegmentationDataset;
  /** Images per batch. */
  readonly batchSize: number;
  /** Whether each epoch visits the images in a new seeded order. */
  readonly shuffle: boolean;
  /** Seed of the order and the flips. */
  readonly seed: number;
  /** Whether image and mask are flipped horizontally with probability 1/2. */
  readonly hflip: boolean;
  /** The epoch the next iteration produces. */
  epoch: number;
  private readonly mean: number[];
  private readonly invStd: number[];
  private readonly backend?: BackendName;

  /** Batches of `dataset`; options are checked here. */
  constructor(dataset: SegmentationDataset, opts: SegmentationLoaderOptions) {
    const c = dataset.channels;
    if (!Number.isInteger(opts.batchSize) || opts.batchSize <= 0) {
      throw new DataError(
        dataset.name,
        `SegmentationLoader: batchSize must be a positive integer, got ${opts.batchSize}`,
      );
    }
    const mean = opts.mean ?? new Array(c).fill(0), std = opts.std ?? new Array(c).fill(1);
    if (mean.length !== c || std.length !== c || std.some((s) => !(s > 0))) {
      throw new DataError(
        dataset.name,
        `SegmentationLoader: mean [${mean}] and std [${std}] need ${c} entries, std > 0`,
      );
    }
    if (dataset.masks.length !== dataset.n * dataset.height * dataset.width) {
      throw new DataError(dataset.name, "SegmentationLoader: masks length does not match n*h*w");
    }
    this.dataset = dataset;
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle ?? false;
    this.seed = opts.seed ?? 0;
    this.hflip = opts.hflip ?? false;
    this.epoch = opts.epoch ?? 0;
    this.mean = [...mean];
    this.invStd = std.map((s) => 1 / s);
    this.backend = opts.backend;
  }

  /** Batches per epoch. */
  get length(): number {
    return Math.ceil(this.dataset.n / this.batchSize);
  }

  /** Images per epoch. */
  get size(): number {
    return this.dataset.n;
  }

  /** Dataset order in `epoch`. */
  order(epoch: number): Int32Array {
    const n = this.dataset.n;
    if (!this.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    return new Rng(mixSeed(this.seed, epoch, 0x5e6)).permutation(n);
  }

  /** Batch `b` of `epoch` on the host. */
  hostBatch(
    epoch: number,
    b: number,
    order: Int32Array = this.order(epoch),
  ): { x: Float32Array; y: Int32Array; n: number } {
    if (!Number.isInteger(b) || b < 0 || b >= this.length) {
      throw new DataError(
        this.dataset.name,
        `SegmentationLoader: batch ${b} out of range [0, ${this.length})`,
      );
    }
    const { channels: C, height: H, width: W } = this.dataset;
    const plane = H * W;
    const start = b * this.batchSize, n = Math.min(this.batchSize, this.dataset.n - start);
    const x = new Float32Array(n * C * plane), y = new Int32Array(n * plane);
    const rng = new Rng(mixSeed(this.seed, epoch, 0xf11b + b * 0x10001));
    for (let j = 0; j < n; j++) {
      const i = order[start + j];
      const flip = this.hflip && rng.next() < 0.5;
      for (let r = 0; r < H; r++) {
        for (let q = 0; q < W; q++) {
          const sq = flip ? W - 1 - q : q;
          y[j * plane + r * W + q] = this.dataset.masks[i * plane + r * W + sq];
          for (let c = 0; c < C; c++) {
            const v = this.dataset.images[(i * C + c) * plane + r * W + sq];
            x[(j * C + c) * plane + r * W + q] = (v - this.mean[c]) * this.invStd[c];
          }
        }
      }
    }
    return { x, y, n };
  }

  /** The batches of one epoch (default: the next), from batch `from` on. */
  async *epochBatches(epoch?: number, from = 0): AsyncGenerator<Batch> {
    checkFirstBatch(this.dataset.name, "SegmentationLoader", from, this.length);
    const e = epoch ?? this.epoch++;
    const order = this.order(e);
    const { channels: C, height: H, width: W } = this.dataset;
    yield* uploadBatches(from, this.length, (b) => this.hostBatch(e, b, order), (hb) => {
      const be = this.backend ?? getDefaultBackend();
      return {
        x: fromHost(hb.x, [hb.n, C, H, W], "f32", be),
        y: fromHost(hb.y, [hb.n, H, W], "i32", be),
      };
    });
  }

  /** The batches of the next epoch. */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.epochBatches();
  }
}
