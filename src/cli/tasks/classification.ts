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
import { FASHION_MNIST_DIR, loadFashionMnist, loadSample } from "../../data/idx.ts";
import { loadCifar10 } from "../../data/cifar.ts";
import { makeSynthetic } from "../../data/synthetic.ts";
import type { Settings } from "../settings.ts";
import { ACCURACY, type MeterReading, type Task, type TaskData, type TaskMeter } from "../task.ts";

/** Default CIFAR-10 location (binary version). */
export const CIFAR10_DIR = "/usr/share/datasets/cifar10";

/** Images per evaluation batch. */
const EVAL_BATCH = 250;

async function loadPair(
  s: Settings,
): Promise<{ train: ImageDataset; test: ImageDataset; notes?: string[] }> {
  const limit = s.limit ?? undefined;
  switch (s.dataset) {
    case "folder": {
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
        ...(d.ignored.length
          ? [`${d.ignored.length} files without an image extension ignored`]
          : []),
      ];
      return { train, test: d.test, notes };
    }
    case "sample": {
      const [train, test] = await Promise.all([loadSample("train", { limit }), loadSample("test")]);
      return { train, test };
    }
    case "fashion-mnist": {
      const dir = s.dataDir ?? FASHION_MNIST_DIR;
      const [train, test] = await Promise.all([
        loadFashionMnist("train", dir, { limit }),
        loadFashionMnist("test", dir),
      ]);
      return { train, test };
    }
    case "cifar10": {
      const dir = s.dataDir ?? CIFAR10_DIR;
      const [train, test] = await Promise.all([
        loadCifar10(dir, "train", { limit }),
        loadCifar10(dir, "test"),
      ]);
      return { train, test };
    }
    case "synthetic":
      return {
        train: makeSynthetic({ n: s.limit ?? 2048, seed: 1000 + s.seed }),
        test: makeSynthetic({ n: 512, seed: 2000 + s.seed }),
      };
  }
  throw new Error(`classification: no data set "${s.dataset}"`);
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

/** A classification data pair as {@link TaskData}: normalised by the training set's statistics. */
export function classificationData(
  train: ImageDataset,
  test: ImageDataset,
  augment: { cropPadding: number; hflip: boolean },
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
    summary: `${train.n} train, ${test.n} test images of [${shape.join(", ")}], ` +
      `${train.numClasses} classes`,
    trainBatches: ({ batchSize, seed }) =>
      new DataLoader(train, { batchSize, shuffle: true, seed, ...norm, ...augment }),
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
    let test = pair.test;
    if (s.testLimit !== null && s.testLimit < test.n) {
      test = subsetDataset(test, Array.from({ length: s.testLimit }, (_, i) => i));
    }
    const d = classificationData(pair.train, test, augmentOf(s));
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
