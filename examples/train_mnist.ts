/**
 * Train a small CNN (conv-BN-ReLU-pool twice, then a linear classifier) on Fashion-MNIST and
 * print the loss, accuracy and throughput of every epoch.
 *
 * ```sh
 * deno run -A examples/train_mnist.ts --data-dir /usr/share/datasets/fashion-mnist --epochs 6
 * deno run -A examples/train_mnist.ts --sample --epochs 1      # the embedded 4000-image sample
 * ```
 *
 * Flags: `--data-dir DIR` (Fashion-MNIST IDX files), `--sample` (use the embedded sample
 * instead), `--epochs N` (6), `--batch-size B` (64), `--lr LR` (0.05, SGD with momentum 0.9 and
 * cosine decay per iteration), `--wd W` (weight decay, 1e-4), `--width C` (first conv's
 * channels, 16), `--limit N` (first N training images), `--seed S` (0),
 * `--hflip` (random horizontal flips), `--save PATH` (write the weights as safetensors),
 * `--backend webgpu|cpu|auto`.
 *
 * The pieces (`SmallCnn`, `trainEpoch`, `evaluate`) are exported for the tests and benches.
 * @module
 */
import { FlagError, flags, numberFlag, runMain } from "./cli.ts";
import {
  BatchNorm2d,
  ClassificationMeter,
  type ClassificationStats,
  Conv2d,
  CosineAnnealing,
  DataLoader,
  evaluate as evaluateClassifier,
  flatten,
  init,
  Linear,
  type LRScheduler,
  manualSeed,
  MaxPool2d,
  Module,
  type Optimizer,
  ReLU,
  saveWeights,
  Sequential,
  SGD,
  sync,
  type Tensor,
  trainStep,
} from "../mod.ts";
import { FASHION_MNIST_DIR, loadFashionMnist, loadSample } from "../src/data/idx.ts";
import type { ImageDataset } from "../src/data/dataset.ts";

/** Fashion-MNIST pixel mean and standard deviation (training set, pixels in [0, 1]). */
export const FASHION_MEAN = 0.2860;
export const FASHION_STD = 0.3530;

/** Options of {@link SmallCnn}. */
export interface SmallCnnOptions {
  /** Channels of the first conv (the second has twice as many; default 16). */
  width?: number;
  /** BatchNorm after each conv (default true; convs then have no bias). */
  batchNorm?: boolean;
  /** Input height = width (default 28). */
  size?: number;
  numClasses?: number;
}

/** conv3x3-(BN)-ReLU-maxpool twice, then Linear: 1→16→32 channels, 1568→10 for 28x28 input. */
export class SmallCnn extends Module {
  readonly features: Sequential;
  readonly fc: Linear;
  constructor(opts: SmallCnnOptions = {}) {
    super();
    const w = opts.width ?? 16, bn = opts.batchNorm ?? true;
    const s = Math.floor((opts.size ?? 28) / 4);
    const block = (cin: number, cout: number) => [
      new Conv2d(cin, cout, 3, { padding: 1, bias: !bn }),
      ...(bn ? [new BatchNorm2d(cout)] : []),
      new ReLU(),
      new MaxPool2d(2),
    ];
    this.features = this.module("features", new Sequential(...block(1, w), ...block(w, 2 * w)));
    this.fc = this.module("fc", new Linear(2 * w * s * s, opts.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    return this.fc.call(flatten(this.features.call(x)));
  }
}

/** Loss and accuracy over some images, and the seconds it took. */
export interface EpochStats extends ClassificationStats {
  seconds: number;
}

/**
 * One epoch of training: {@link trainStep} (forward, cross entropy, backward, optimizer step)
 * and a scheduler step (per iteration) for every batch. Loss and accuracy are accumulated on the device and read
 * back once at the end (plus a sync every `syncEvery` steps so the host never runs far ahead).
 */
export async function trainEpoch(
  model: Module,
  loader: DataLoader,
  opt: Optimizer<{ lr: number }>,
  opts: {
    scheduler?: LRScheduler;
    maxSteps?: number;
    syncEvery?: number;
    onStep?: (step: number, images: number) => void;
  } = {},
): Promise<EpochStats> {
  model.train();
  const t0 = performance.now();
  const meter = new ClassificationMeter();
  let step = 0;
  for await (const { x, y } of loader) {
    if (opts.maxSteps !== undefined && step >= opts.maxSteps) break;
    trainStep(model, opt, { x, y }, { observe: (out, t, loss) => meter.add(out, t, loss) });
    opts.scheduler?.step();
    step++;
    if (step % (opts.syncEvery ?? 25) === 0) await sync();
    opts.onStep?.(step, meter.images);
  }
  const stats = await meter.read();
  meter.dispose();
  return { ...stats, seconds: (performance.now() - t0) / 1000 };
}

/** Loss and accuracy of `model` (in eval mode) over every batch of `loader`. */
export async function evaluate(model: Module, loader: DataLoader): Promise<EpochStats> {
  const t0 = performance.now();
  const stats = await evaluateClassifier(model, loader);
  return { ...stats, seconds: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const a = flags(Deno.args, {
    "data-dir": { type: "string", default: FASHION_MNIST_DIR },
    sample: { type: "boolean", default: false },
    epochs: { type: "string", default: "6" },
    width: { type: "string", default: "16" },
    wd: { type: "string", default: "1e-4" },
    "batch-size": { type: "string", default: "64" },
    lr: { type: "string", default: "0.05" },
    limit: { type: "string" },
    seed: { type: "string", default: "0" },
    hflip: { type: "boolean", default: false },
    save: { type: "string" },
    backend: { type: "string", default: "auto" },
  });
  const posInt = (x: number) => Number.isInteger(x) && x > 0;
  const epochs = numberFlag("epochs", a.epochs, "a positive integer", posInt);
  const bs = numberFlag("batch-size", a["batch-size"], "a positive integer", posInt);
  const lr = numberFlag("lr", a.lr, "a positive number", (x) => x > 0);
  const seed = numberFlag("seed", a.seed, "an integer", Number.isInteger);
  const limit = a.limit === undefined
    ? undefined
    : numberFlag("limit", a.limit, "a positive integer", posInt);
  const width = numberFlag("width", a.width, "a positive integer", posInt);
  const weightDecay = numberFlag("wd", a.wd, "a non-negative number", (x) => x >= 0);
  if (!["auto", "webgpu", "cpu"].includes(a.backend!)) {
    throw new FlagError(`unknown --backend "${a.backend}"; choose auto, webgpu or cpu`);
  }
  const { backend, adapter } = await init({ backend: a.backend as "webgpu" | "cpu" | "auto" });
  console.log(`backend ${backend} (${adapter})`);
  let train: ImageDataset, test: ImageDataset;
  if (a.sample) {
    [train, test] = await Promise.all([loadSample("train", { limit }), loadSample("test")]);
  } else {
    [train, test] = await Promise.all([
      loadFashionMnist("train", a["data-dir"], { limit }),
      loadFashionMnist("test", a["data-dir"]),
    ]);
  }
  console.log(`data ${train.name} ${train.n} images, ${test.name} ${test.n} images`);
  manualSeed(seed);
  const model = new SmallCnn({ width });
  const norm = { mean: [FASHION_MEAN], std: [FASHION_STD] };
  const trainLoader = new DataLoader(train, {
    batchSize: bs,
    shuffle: true,
    seed,
    hflip: a.hflip,
    ...norm,
  });
  const testLoader = new DataLoader(test, { batchSize: 500, ...norm });
  const opt = new SGD(model.parameters(), { lr, momentum: 0.9, weightDecay });
  const scheduler = new CosineAnnealing(opt, { tMax: epochs * trainLoader.length });
  console.log(
    `model SmallCnn ${model.numParameters()} parameters; SGD lr ${lr} momentum 0.9 ` +
      `weight decay ${weightDecay}, ` +
      `cosine over ${epochs} epochs of ${trainLoader.length} batches of ${bs}`,
  );
  for (let e = 1; e <= epochs; e++) {
    const tr = await trainEpoch(model, trainLoader, opt, {
      scheduler,
      onStep: (step, n) => {
        if (step % 100 === 0) {
          console.log(`  epoch ${e} step ${step}/${trainLoader.length} ${n} images`);
        }
      },
    });
    const te = await evaluate(model, testLoader);
    console.log(
      `epoch ${e}/${epochs}: train loss ${tr.loss.toFixed(4)} acc ${
        (100 * tr.accuracy).toFixed(2)
      }%` +
        ` | test loss ${te.loss.toFixed(4)} acc ${(100 * te.accuracy).toFixed(2)}%` +
        ` | ${(tr.images / tr.seconds).toFixed(1)} images/s train (${tr.seconds.toFixed(1)} s), ` +
        `${(te.images / te.seconds).toFixed(1)} images/s eval`,
    );
  }
  if (a.save) {
    await saveWeights(model, a.save, { model: "SmallCnn", data: train.name });
    console.log(`saved ${a.save}`);
  }
}

if (import.meta.main) await runMain("train_mnist", main);
