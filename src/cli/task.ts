/**
 * What `deno task train` needs to know about a task, as one small record: its data sets, its
 * loss, its metrics, how a batch is evaluated, and what the per-epoch table and the reports
 * show. The training loop, checkpoints, compression and reports are the same for every task;
 * a task (classification, super-resolution, dense prediction) is one `Task` value.
 *
 * Metrics are stored in the per-epoch records and model summaries as `train<Key>` /
 * `test<Key>` (key "accuracy": `trainAccuracy`, `testAccuracy`; key "psnr": `testPsnr`).
 * @module
 */
import type { Tensor } from "../tensor.ts";
import type { Module } from "../nn/module.ts";
import type { TrainBatch } from "../nn/train_step.ts";
import type { Settings } from "./settings.ts";

/** One metric of a task, and how it is shown. */
export interface MetricSpec {
  /** Field suffix in records: "accuracy" gives `trainAccuracy` and `testAccuracy`. */
  key: string;
  /** Column header in the per-epoch table and the console ("acc", "PSNR"). */
  short: string;
  /** Name in sentences and plot titles ("accuracy", "PSNR (Y, dB)"). */
  name: string;
  /** The value as printed with `digits` decimals ("93.12%", "31.20 dB"). */
  format(value: number, digits: number): string;
  /** Whether larger is better (accuracy, PSNR, SSIM, IoU all are). */
  higherIsBetter: boolean;
  /**
   * Also measured on the training batches (cheap metrics such as accuracy); otherwise on the
   * test data only (SSIM over whole images).
   */
  onTrain: boolean;
}

/** What a {@link TaskMeter} reads back. */
export interface MeterReading {
  /** Mean loss per example. */
  loss: number;
  /** Examples (images) added. */
  images: number;
  /** Each of the task's metrics by key (test-only metrics may be absent on training). */
  metrics: Record<string, number>;
}

/**
 * Loss and metric sums over batches, kept on the device and read back on demand (the training
 * loop reads about once a second), with a JSON state so a run resumed mid-epoch continues the
 * epoch's sums exactly.
 */
export interface TaskMeter {
  /** Examples added so far. */
  readonly images: number;
  /** Add a batch (called inside the step's scope): the model's output, the targets, the loss. */
  add(output: Tensor, target: Tensor, loss: Tensor): void;
  /** The means so far (one readback). */
  read(): Promise<MeterReading>;
  /** The raw sums, as JSON (stored in mid-epoch checkpoints). */
  state(): Promise<unknown>;
  /** Continue from a {@link state}. */
  restore(state: unknown): void;
  /** Free the device sums. */
  dispose(): void;
}

/** The batches of a data set for the loop: deterministic per (epoch, batch index). */
export interface BatchSource {
  /** Batches per epoch. */
  readonly length: number;
  /** Examples per epoch. */
  readonly size: number;
  /** The batches of `epoch` from batch `from` on (each freed when the next is requested). */
  epochBatches(epoch: number, from?: number): AsyncIterable<TrainBatch>;
}

/** A task's loaded data: what the loop, the model and the reports need of it. */
export interface TaskData {
  /** Name of the train/test pair ("fashion-mnist-sample"). */
  name: string;
  /** Examples in the training and the test set. */
  trainCount: number;
  testCount: number;
  /** Training examples held out for validation (`--val-split`), when the task supports it. */
  valCount?: number;
  /** One example as the model takes it: [channels, height, width]. */
  inputShape: number[];
  /** Classes of a classifier (null for image-to-image tasks). */
  classes: number | null;
  /** Class names when the data set has them. */
  classNames?: string[];
  /** Per-channel normalisation the loaders apply: (pixel - mean) / std, pixels in [0, 1]. */
  mean: number[];
  std: number[];
  /** The zoo build options the data implies (inChannels, numClasses, inputSize, scale). */
  modelOptions: Record<string, number>;
  /** The console line after "data NAME: " ("512 train, 1000 test images of [1, 28, 28], ..."). */
  summary: string;
  /** Shuffled (and augmented) training batches. */
  trainBatches(opts: { batchSize: number; seed: number }): BatchSource;
  /**
   * Validation batches in order (held-out training examples), evaluated per epoch instead of
   * the test set; absent or null without a validation split.
   */
  valBatches?(): BatchSource | null;
  /** Test batches in order. */
  testBatches(): BatchSource;
  /** The first test batch on the host, normalised: the full-vs-compressed check's input. */
  verifyBatch(): { x: Float32Array; shape: number[] };
  /** A method to compare with, scored on the same test set (super-resolution: bicubic). */
  reference?: { name: string; metrics: Record<string, number> };
  /** Lines for the report's notes (images skipped as unreadable, ...). */
  notes?: string[];
}

/** A training task: the record the CLI's loop is generic over. */
export interface Task {
  /** Its name (`--task`). */
  name: string;
  /** Its data sets (`--dataset`), the first is the default. */
  datasets: readonly string[];
  /** The metrics shown per epoch and in reports; the first is the headline. */
  metrics: readonly MetricSpec[];
  /**
   * Settings this task uses when the flag is not given (its default model and data set,
   * epochs, batch size, optimizer, ...). The learning rate and weight decay follow the
   * optimizer unless given.
   */
  defaults?: Partial<Settings>;
  /** Fully convolutional: ONNX files get dynamic height and width. */
  dynamicSize?: boolean;
  /** Load (or generate) the train and test sets the settings name. */
  loadData(s: Settings): Promise<TaskData>;
  /**
   * Check the traced model's output shape for one example fits the task; throws a one-line
   * error naming the model otherwise.
   */
  checkModel(model: string, outputShape: readonly number[], data: TaskData): void;
  /** The training objective (a scalar): output against targets. */
  loss(output: Tensor, target: Tensor): Tensor;
  /** A fresh meter of the loss and metrics. */
  meter(): TaskMeter;
  /** Loss and metrics of `model` over test batches, in eval mode, without gradients. */
  evaluate(model: Module, batches: BatchSource): Promise<MeterReading>;
}

/** Where a record's values were measured: training batches, validation or test set. */
export type Split = "train" | "val" | "test";

/** `trainAccuracy` from ("train", "accuracy"). */
export function metricField(prefix: Split, key: string): string {
  return prefix + key[0].toUpperCase() + key.slice(1);
}

/** The record fields of a reading's metrics (`testAccuracy: 0.91`, ...), in the task's order. */
export function metricFields(
  prefix: Split,
  metrics: readonly MetricSpec[],
  reading: MeterReading,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics) {
    if (prefix === "train" && !m.onTrain) continue;
    out[metricField(prefix, m.key)] = reading.metrics[m.key];
  }
  return out;
}

/** Classification accuracy: shown as a percentage. */
export const ACCURACY: MetricSpec = {
  key: "accuracy",
  short: "acc",
  name: "accuracy",
  format: (v, digits) => `${(100 * v).toFixed(digits)}%`,
  higherIsBetter: true,
  onTrain: true,
};
