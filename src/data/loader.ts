/**
 * `DataLoader`: batches of an in-memory {@link ImageDataset} as tensors, for training loops.
 *
 * Each epoch draws a fresh seeded permutation (when shuffling) and fresh seeded augmentations
 * (random crop with zero padding, horizontal flip), so runs are reproducible and epoch `e` of
 * two loaders with the same seed is identical. Batches are assembled and normalised on the host
 * and uploaded once per step: `x` is [B, C, H, W] f32 and `y` is [B] i32, on the default backend.
 *
 * A batch lives until the next one is requested (or the loop ends): its tensors are disposed
 * then unless they were `keep()`-ed, so memory stays flat without any bookkeeping.
 *
 * @module
 */
import { type BackendName, fromHost, getDefaultBackend, type Tensor } from "../tensor.ts";
import { Rng } from "../random.ts";
import { DataError, type ImageDataset, imageSize } from "./dataset.ts";

/** One batch: images [B, C, H, W] (f32) and labels [B] (i32). */
export interface Batch {
  /** Inputs [N, C, H, W] (f32, normalised). */
  x: Tensor;
  /** Labels [N] (i32). */
  y: Tensor;
}

/** A batch still on the host (what {@link DataLoader.hostBatch} returns). */
export interface HostBatch {
  /** Inputs, N*C*H*W values (normalised). */
  x: Float32Array;
  /** Labels, N values. */
  y: Int32Array;
  /** Images in this batch. */
  n: number;
  /** Dataset indices of the images, in batch order. */
  indices: Int32Array;
}

/** Options of {@link DataLoader}. */
export interface LoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /** Reshuffle every epoch (default false: dataset order). */
  shuffle?: boolean;
  /** Seed of the shuffling and the augmentations (default 0). */
  seed?: number;
  /** Drop the last batch when it is smaller than `batchSize` (default false: keep it). */
  dropLast?: boolean;
  /** Per-channel mean subtracted after augmentation (default 0s). */
  mean?: readonly number[];
  /** Per-channel standard deviation divided by (default 1s). */
  std?: readonly number[];
  /**
   * Random crop of the original size from the image zero-padded by this many pixels on every
   * side (torchvision `RandomCrop(size, padding)`; default 0 = off).
   */
  cropPadding?: number;
  /** Flip each image horizontally with probability 1/2 (default false). */
  hflip?: boolean;
  /** Backend of the batch tensors (default: the default backend at iteration time). */
  backend?: BackendName;
  /** First epoch number (default 0); advanced by every full or partial iteration. */
  epoch?: number;
}

/** Mix a seed, an epoch and a salt into one 32-bit seed (for per-epoch, per-batch draws). */
export function mixSeed(seed: number, epoch: number, salt: number): number {
  let h = (seed ^ Math.imul(epoch + 1, 0x9e3779b1) ^ salt) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Iterate an {@link ImageDataset} in batches.
 *
 * @example
 * ```ts
 * import {
 *   backward,
 *   crossEntropyLoss,
 *   DataLoader,
 *   init,
 *   loadFashionMnist,
 *   SGD,
 *   tidy,
 *   zoo,
 * } from "../../mod.ts";
 * await init();
 * const model = zoo["small-cnn"].build();
 * const opt = new SGD(model.parameters(), { lr: 0.02, momentum: 0.9 });
 * const train = await loadFashionMnist("train"); // or loadSample("train"): 4000 embedded images
 * const loader = new DataLoader(train, {
 *   batchSize: 64, shuffle: true, seed: 1, mean: [0.286], std: [0.353], hflip: true,
 * });
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   for await (const { x, y } of loader) {
 *     tidy(() => backward(crossEntropyLoss(model.call(x), y)));
 *     opt.step();
 *     opt.zeroGrad();
 *   }
 * }
 * ```
 */
export class DataLoader implements AsyncIterable<Batch> {
  /** The data set it reads. */
  readonly dataset: ImageDataset;
  /** Images per batch. */
  readonly batchSize: number;
  /** Whether each epoch visits the images in a new seeded order. */
  readonly shuffle: boolean;
  /** Seed of the order and the augmentation. */
  readonly seed: number;
  /** Whether an incomplete last batch is skipped. */
  readonly dropLast: boolean;
  /** Random-crop padding in pixels (0: no cropping). */
  readonly cropPadding: number;
  /** Whether images are flipped horizontally with probability 1/2. */
  readonly hflip: boolean;
  /** The epoch the next iteration will produce. */
  epoch: number;
  private readonly mean: Float32Array;
  private readonly invStd: Float32Array;
  private readonly backend?: BackendName;

  /** Batches of `dataset`; options are checked here (errors name the data set). */
  constructor(dataset: ImageDataset, opts: LoaderOptions) {
    const name = dataset.name;
    const bs = opts.batchSize;
    if (!Number.isInteger(bs) || bs <= 0) {
      throw new DataError(name, `DataLoader: batchSize must be a positive integer, got ${bs}`);
    }
    const c = dataset.channels;
    const mean = opts.mean ?? new Array(c).fill(0);
    const std = opts.std ?? new Array(c).fill(1);
    if (mean.length !== c || std.length !== c) {
      throw new DataError(
        name,
        `DataLoader: mean has ${mean.length} and std ${std.length} entries, ` +
          `the images have ${c} channels`,
      );
    }
    if (std.some((s) => !(s > 0))) {
      throw new DataError(name, `DataLoader: std must be positive, got [${std}]`);
    }
    const pad = opts.cropPadding ?? 0;
    if (!Number.isInteger(pad) || pad < 0) {
      throw new DataError(
        name,
        `DataLoader: cropPadding must be a non-negative integer, got ${pad}`,
      );
    }
    if (dataset.images.length !== dataset.n * imageSize(dataset)) {
      throw new DataError(name, "DataLoader: images length does not match n*c*h*w");
    }
    this.dataset = dataset;
    this.batchSize = bs;
    this.shuffle = opts.shuffle ?? false;
    this.seed = opts.seed ?? 0;
    this.dropLast = opts.dropLast ?? false;
    this.cropPadding = pad;
    this.hflip = opts.hflip ?? false;
    this.epoch = opts.epoch ?? 0;
    this.mean = Float32Array.from(mean);
    this.invStd = Float32Array.from(std, (s) => 1 / s);
    this.backend = opts.backend;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.n;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Images per epoch (excluding a dropped last batch). */
  get size(): number {
    return this.dropLast ? this.length * this.batchSize : this.dataset.n;
  }

  /** The order of the dataset indices in `epoch`. */
  order(epoch: number): Int32Array {
    const n = this.dataset.n;
    if (!this.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    return new Rng(mixSeed(this.seed, epoch, 0x51ed)).permutation(n);
  }

  /**
   * Batch `b` of `epoch`, assembled on the host (augmented and normalised). Deterministic:
   * the same (seed, epoch, b) always gives the same batch.
   */
  hostBatch(epoch: number, b: number, order: Int32Array = this.order(epoch)): HostBatch {
    if (!Number.isInteger(b) || b < 0 || b >= this.length) {
      throw new DataError(
        this.dataset.name,
        `DataLoader: batch ${b} out of range [0, ${this.length})`,
      );
    }
    const start = b * this.batchSize;
    const n = Math.min(this.batchSize, this.dataset.n - start);
    const indices = order.slice(start, start + n);
    // Augmentation draws depend on (seed, epoch, batch) only, not on earlier batches.
    const rng = new Rng(mixSeed(this.seed, epoch, 0xa5a5 + b * 0x10001));
    const { channels: C, height: H, width: W } = this.dataset;
    const plane = H * W, size = C * plane;
    const x = new Float32Array(n * size);
    const y = new Int32Array(n);
    const src = this.dataset.images;
    const pad = this.cropPadding;
    for (let j = 0; j < n; j++) {
      const i = indices[j];
      y[j] = this.dataset.labels[i];
      const oy = pad ? rng.int(2 * pad + 1) - pad : 0;
      const ox = pad ? rng.int(2 * pad + 1) - pad : 0;
      const flip = this.hflip ? rng.next() < 0.5 : false;
      const sb = i * size, db = j * size;
      for (let c = 0; c < C; c++) {
        const m = this.mean[c], s = this.invStd[c];
        const sc = sb + c * plane, dc = db + c * plane;
        if (!pad && !flip) {
          for (let k = 0; k < plane; k++) x[dc + k] = (src[sc + k] - m) * s;
          continue;
        }
        const zero = -m * s;
        for (let r = 0; r < H; r++) {
          const sr = r + oy;
          const drow = dc + r * W;
          if (sr < 0 || sr >= H) {
            x.fill(zero, drow, drow + W);
            continue;
          }
          const srow = sc + sr * W;
          for (let q = 0; q < W; q++) {
            const sq = (flip ? W - 1 - q : q) + ox;
            x[drow + q] = sq < 0 || sq >= W ? zero : (src[srow + sq] - m) * s;
          }
        }
      }
    }
    return { x, y, n, indices };
  }

  /**
   * The batches of one epoch (default: the next epoch, which advances {@link epoch}), from
   * batch `from` on (default 0; a run resumed mid-epoch skips the batches it has trained on).
   * Each batch's tensors are disposed when the next batch is requested or the loop ends, unless
   * they were kept.
   */
  async *epochBatches(epoch?: number, from = 0): AsyncGenerator<Batch> {
    checkFirstBatch(this.dataset.name, "DataLoader", from, this.length);
    const e = epoch ?? this.epoch++;
    const order = this.order(e);
    const { channels: C, height: H, width: W } = this.dataset;
    yield* uploadBatches(from, this.length, (b) => this.hostBatch(e, b, order), (hb) => {
      const be = this.backend ?? getDefaultBackend();
      return {
        x: fromHost(hb.x, [hb.n, C, H, W], "f32", be),
        y: fromHost(hb.y, [hb.n], "i32", be),
      };
    });
  }

  /** The batches of the next epoch (see {@link epochBatches}). */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.epochBatches();
  }
}

/** Dispose a batch's tensors unless they were kept. */
export function releaseBatch(b: Batch): void {
  if (!b.x.kept) b.x.dispose();
  if (!b.y.kept) b.y.dispose();
}

/** A loader's `from` (first batch of an epoch) must lie in [0, length]. */
export function checkFirstBatch(data: string, loader: string, from: number, length: number): void {
  if (!Number.isInteger(from) || from < 0 || from > length) {
    throw new DataError(data, `${loader}: first batch ${from} out of range [0, ${length}]`);
  }
}

/**
 * Batches `from` .. `end - 1` on the device: `host(b)` builds batch b on the host, `upload` makes
 * its tensors. Each batch's tensors are disposed when the next batch is requested or the loop
 * ends, unless they were kept.
 */
export async function* uploadBatches<H>(
  from: number,
  end: number,
  host: (b: number) => H,
  upload: (h: H) => Batch,
): AsyncGenerator<Batch> {
  let prev: Batch | null = null;
  try {
    for (let b = from; b < end; b++) {
      const h = host(b);
      if (prev) releaseBatch(prev);
      prev = upload(h);
      yield prev;
      // Yield to the event loop so timers and I/O run between steps.
      await Promise.resolve();
    }
  } finally {
    if (prev) releaseBatch(prev);
  }
}
