/**
 * Image classification as a {@link Task}: the embedded Fashion-MNIST sample, Fashion-MNIST,
 * CIFAR-10 and a synthetic set; cross entropy; accuracy.
 * @module
 */
import type { Tensor } from "../../tensor.ts";
import { crossEntropyLoss } from "../../nn/losses.ts";
import { ClassificationMeter, evaluate, type MeterState } from "../../nn/metrics.ts";
import { DataLoader } from "../../data/loader.ts";
import { channelStats, type ImageDataset, subsetDataset } from "../../data/dataset.ts";
import { loadImageCsv, loadImageFolder } from "../../data/folder.ts";
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  loadFashionMnist,
  loadSample,
} from "../../data/idx.ts";
import { loadCifar10 } from "../../data/cifar.ts";
import { makeSynthetic } from "../../data/synthetic.ts";
import { Rng } from "../../random.ts";
import type { Settings } from "../settings.ts";
import { ACCURACY, type MeterReading, type Task, type TaskData, type TaskMeter } from "../task.ts";

/** Default CIFAR-10 location (binary version). */
export const CIFAR10_DIR = "/usr/share/datasets/cifar10";

/** Images per evaluation batch. */
const EVAL_BATCH = 250;

function named(d: ImageDataset, names: readonly string[]): ImageDataset {
  return d.classNames || d.numClasses !== names.length ? d : { ...d, classNames: [...names] };
}

/**
 * One split of a classification data set, pixels in [0, 1] (not normalised): the training
 * images (the first `limit`) or the test images. `seed` is the synthetic set's.
 */
export async function loadClassificationSplit(
  dataset: string,
  split: "train" | "test",
  opts: { dataDir?: string | null; limit?: number | null; seed?: number } = {},
): Promise<ImageDataset> {
  const limit = split === "train" ? opts.limit ?? undefined : undefined;
  switch (dataset) {
    case "sample":
      return named(await loadSample(split, { limit }), FASHION_MNIST_CLASSES);
    case "fashion-mnist": {
      const dir = opts.dataDir ?? FASHION_MNIST_DIR;
      return named(await loadFashionMnist(split, dir, { limit }), FASHION_MNIST_CLASSES);
    }
    case "cifar10":
      return await loadCifar10(opts.dataDir ?? CIFAR10_DIR, split, { limit });
    case "synthetic": {
      const seed = opts.seed ?? 0;
      return split === "train"
        ? makeSynthetic({ n: opts.limit ?? 2048, seed: 1000 + seed })
        : makeSynthetic({ n: 512, seed: 2000 + seed });
    }
  }
  throw new Error(`classification: no data set "${dataset}"`);
}

async function loadPair(
  s: Settings,
): Promise<{ train: ImageDataset; test: ImageDataset; notes?: string[] }> {
  if (s.dataset === "folder") return await loadFolder(s);
  const opts = { dataDir: s.dataDir, limit: s.limit, seed: s.seed };
  const [train, test] = await Promise.all([
    loadClassificationSplit(s.dataset, "train", opts),
    loadClassificationSplit(s.dataset, "test", opts),
  ]);
  return { train, test };
}

/**
 * An image folder or CSV: its own train/test split, or a seeded `--val-split` fraction of every
 * class held out as the test set (default 0.2).
 */
async function loadFolder(
  s: Settings,
): Promise<{ train: ImageDataset; test: ImageDataset; notes: string[] }> {
  const limit = s.limit ?? undefined;
  const dir = s.dataDir!;
  const opts = {
    size: s.imageSize,
    seed: s.seed,
    skipBadImages: s.skipBadImages,
    ...(s.valSplit !== null ? { valSplit: s.valSplit } : {}),
  };
  const d = dir.toLowerCase().endsWith(".csv")
    ? await loadImageCsv(dir, opts)
    : await loadImageFolder(dir, opts);
  let train = d.train;
  if (limit !== undefined && limit < train.n) {
    train = subsetDataset(train, Array.from({ length: limit }, (_, i) => i), train.name);
  }
  const notes = [
    ...d.skipped.map((b) => `skipped ${b.file}: ${b.problem}`),
    ...(d.ignored.length ? [`${d.ignored.length} files without an image extension ignored`] : []),
  ];
  return { train, test: d.test, notes };
}

/**
 * Training augmentation per data set: random crops (padding 1/8 of the side) and flips for CIFAR
 * and image folders, none otherwise.
 */
function augmentOf(s: Settings): { cropPadding: number; hflip: boolean } {
  if (s.dataset === "cifar10") return { cropPadding: 4, hflip: true };
  if (s.dataset === "folder") {
    return { cropPadding: Math.max(1, Math.round(s.imageSize / 8)), hflip: true };
  }
  return { cropPadding: 0, hflip: false };
}

/**
 * Split a training set into training and validation images: a seeded random `fraction` (at
 * least one image) is held out, each part keeping the original order.
 */
export function splitValidation(
  ds: ImageDataset,
  fraction: number,
  seed: number,
): { train: ImageDataset; val: ImageDataset } {
  const nVal = Math.max(1, Math.round(ds.n * fraction));
  if (nVal >= ds.n) {
    throw new Error(
      `${ds.name}: --val-split ${fraction} leaves no training images (${ds.n} in all)`,
    );
  }
  const held = new Set(new Rng(0x7a11d ^ seed).permutation(ds.n).subarray(0, nVal));
  const keep = (want: boolean) =>
    Array.from({ length: ds.n }, (_, i) => i).filter((i) => held.has(i) === want);
  return {
    train: subsetDataset(ds, keep(false), ds.name),
    val: subsetDataset(ds, keep(true), ds.name.replace(/\/train$/, "") + "/val"),
  };
}

/**
 * A classification data set as {@link TaskData}: normalised by the training images'
 * statistics; `val` (held-out training images) is evaluated per epoch instead of `test`.
 */
export function classificationData(
  train: ImageDataset,
  test: ImageDataset,
  augment: { cropPadding: number; hflip: boolean },
  val: ImageDataset | null = null,
): TaskData {
  if (train.n === 0 || test.n === 0) {
    throw new Error(`${train.name}: the data set is empty (${train.n} train, ${test.n} test)`);
  }
  const { mean, std } = channelStats(train);
  const norm = { mean, std };
  const testLoader = () => new DataLoader(test, { batchSize: EVAL_BATCH, ...norm });
  const shape = [train.channels, train.height, train.width];
  return {
    // "fashion-mnist-sample/train" -> "fashion-mnist-sample" (the name of the pair).
    name: train.name.replace(/\/train$/, ""),
    trainCount: train.n,
    valCount: val?.n ?? 0,
    testCount: test.n,
    inputShape: shape,
    classes: train.numClasses,
    ...(train.classNames ? { classNames: train.classNames } : {}),
    mean,
    std,
    modelOptions: {
      inChannels: train.channels,
      numClasses: train.numClasses,
      inputSize: train.height,
    },
    summary: `${train.n} train, ${val ? `${val.n} validation, ` : ""}${test.n} test images ` +
      `of [${shape.join(", ")}], ${train.numClasses} classes`,
    trainBatches: ({ batchSize, seed }) =>
      new DataLoader(train, { batchSize, shuffle: true, seed, ...norm, ...augment }),
    valBatches: () => val && new DataLoader(val, { batchSize: EVAL_BATCH, ...norm }),
    testBatches: testLoader,
    verifyBatch: () => {
      const b = testLoader().hostBatch(0, 0);
      return { x: b.x, shape: [b.n, ...shape] };
    },
  };
}

/** The device sums of a {@link ClassificationMeter} seen as a {@link TaskMeter}. */
class AccuracyMeter implements TaskMeter {
  private readonly m = new ClassificationMeter();
  get images(): number {
    return this.m.images;
  }
  add(output: Tensor, target: Tensor, loss: Tensor): void {
    this.m.add(output, target, loss);
  }
  async read(): Promise<MeterReading> {
    const r = await this.m.read();
    return { loss: r.loss, images: r.images, metrics: { accuracy: r.accuracy } };
  }
  state(): Promise<MeterState> {
    return this.m.state();
  }
  restore(state: unknown): void {
    this.m.restore(state as MeterState);
  }
  dispose(): void {
    this.m.dispose();
  }
}

/** Classify images: cross entropy over class scores [N, classes], accuracy. */
export const classification: Task = {
  name: "classification",
  datasets: ["sample", "fashion-mnist", "cifar10", "synthetic", "folder"],
  metrics: [ACCURACY],
  async loadData(s) {
    const pair = await loadPair(s);
    const train = pair.train;
    let test = pair.test;
    if (s.testLimit !== null && s.testLimit < test.n) {
      test = subsetDataset(test, Array.from({ length: s.testLimit }, (_, i) => i));
    }
    // --val-split holds validation images out of the training set; a folder without a split
    // of its own uses it for its test set instead (loadFolder).
    const split = s.valSplit !== null && s.dataset !== "folder"
      ? splitValidation(train, s.valSplit, s.seed)
      : null;
    const d = split
      ? classificationData(split.train, test, augmentOf(s), split.val)
      : classificationData(train, test, augmentOf(s));
    if (pair.notes?.length) {
      d.notes = pair.notes;
      const skipped = pair.notes.filter((n) => n.startsWith("skipped ")).length;
      if (skipped) d.summary += `; ${skipped} bad images skipped`;
    }
    return d;
  },
  checkModel(model, out, data) {
    if (out.length !== 2 || out[1] !== data.classes) {
      throw new Error(
        `model ${model} returns [${out}] for one image, not ${data.classes} class ` +
          `scores; choose a classifier (small-cnn, vgg-small, resnet-small, resnet18, ...)`,
      );
    }
  },
  loss: (output, target) => crossEntropyLoss(output, target),
  meter: () => new AccuracyMeter(),
  async evaluate(model, batches) {
    const r = await evaluate(model, batches.epochBatches(0));
    return { loss: r.loss, images: r.images, metrics: { accuracy: r.accuracy } };
  },
};
