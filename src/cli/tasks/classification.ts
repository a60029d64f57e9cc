/**
 * Image classification as a {@link Task}: the embedded Fashion-MNIST sample, Fashion-MNIST,
 * CIFAR-10 and a synthetic set; cross entropy; accuracy.
 * @module
 */
import type { Tensor } from "../../tensor.ts";
import { crossEntropyLoss } from "../../nn/losses.ts";
import { ClassificationMeter, evaluate, type MeterState } from "../../nn/metrics.ts";
import { DataLoader } from "../../data/loader.ts";
import { type ImageDataset, subsetDataset } from "../../data/dataset.ts";
import { FASHION_MNIST_DIR, loadFashionMnist, loadSample } from "../../data/idx.ts";
import { loadCifar10 } from "../../data/cifar.ts";
import { makeSynthetic } from "../../data/synthetic.ts";
import type { Settings } from "../settings.ts";
import { ACCURACY, type MeterReading, type Task, type TaskData, type TaskMeter } from "../task.ts";

/** Default CIFAR-10 location (binary version). */
export const CIFAR10_DIR = "/usr/share/datasets/cifar10";

/** Images per evaluation batch. */
const EVAL_BATCH = 250;

/** Per-channel mean and standard deviation of a data set's pixels. */
export function channelStats(ds: ImageDataset): { mean: number[]; std: number[] } {
  const plane = ds.height * ds.width, C = ds.channels;
  const mean: number[] = [], std: number[] = [];
  for (let c = 0; c < C; c++) {
    let s = 0, s2 = 0;
    for (let i = 0; i < ds.n; i++) {
      const off = (i * C + c) * plane;
      for (let k = 0; k < plane; k++) {
        const x = ds.images[off + k];
        s += x;
        s2 += x * x;
      }
    }
    const n = Math.max(ds.n * plane, 1);
    const m = s / n;
    mean.push(m);
    std.push(Math.sqrt(Math.max(s2 / n - m * m, 1e-12)));
  }
  return { mean, std };
}

async function loadPair(s: Settings): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const limit = s.limit ?? undefined;
  switch (s.dataset) {
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

/** Training augmentation per data set: random crops and flips for CIFAR, none otherwise. */
function augmentOf(dataset: string): { cropPadding: number; hflip: boolean } {
  return dataset === "cifar10" ? { cropPadding: 4, hflip: true } : { cropPadding: 0, hflip: false };
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
  datasets: ["sample", "fashion-mnist", "cifar10", "synthetic"],
  metrics: [ACCURACY],
  async loadData(s) {
    let { train, test } = await loadPair(s);
    if (s.testLimit !== null && s.testLimit < test.n) {
      test = subsetDataset(test, Array.from({ length: s.testLimit }, (_, i) => i));
    }
    return classificationData(train, test, augmentOf(s.dataset));
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
