/**
 * The train CLI's settings: what determines a run's result (stored in its checkpoints and
 * reports) apart from the flags that only steer the process (output folder, resume, console).
 * @module
 */

/** Base optimizers of DHSPG and of the extra runs. */
export const OPTIMIZERS = ["sgd", "adam", "adamw"] as const;
/** One of {@link OPTIMIZERS}. */
export type OptimizerName = typeof OPTIMIZERS[number];

/** Everything that determines a run's result (stored in checkpoints and reports). */
export interface Settings {
  /** The task (`--task`): classification, super-resolution, segmentation. */
  task: string;
  /** Zoo model name, or the ONNX file's name without its extension. */
  model: string;
  /** ONNX file the model is imported from (null: a zoo model). */
  onnx: string | null;
  /** Input [C, H, W] an ONNX file is imported for where its dims are dynamic (null: the file's). */
  inputShape: number[] | null;
  width: number | null;
  /** A data set of the task (`Task.datasets`). */
  dataset: string;
  dataDir: string | null;
  limit: number | null;
  testLimit: number | null;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerName;
  momentum: number;
  weightDecay: number;
  targetSparsity: number;
  /** As given: "1" (epochs), "300steps" or "40%" (of the training); null: the default. */
  startPruning: string | null;
  epsilon: number;
  lambda: number | null;
  /** Where DHSPG ranks groups for pruning: "global" (OTOv2) or "zig" (same fraction per ZIG). */
  pruneScope: "global" | "zig";
  seed: number;
  baseline: boolean;
  /** Also train the compressed architecture from scratch (fresh weights, same schedule). */
  scratch: boolean;
  /**
   * `--val-split`: the fraction of the training images held out for validation (evaluated per
   * epoch; the test set is then scored once, at the end); for a folder data set without a split
   * of its own, the fraction held out as its test set. Null: none (folders: 0.2).
   */
  valSplit: number | null;
  /** Leave out unreadable images (and list them) instead of stopping. */
  skipBadImages: boolean;
  /** Side images of a classification folder are resized and centre-cropped to. */
  imageSize: number;
  /** Super-resolution: upscaling factor. */
  scale: number;
  /** Super-resolution: side of the random LR training patches. */
  patchSize: number;
}

/** Flags that do not change the result. */
export interface RunFlags {
  /** The output folder, resolved against the folder the command was started from. */
  out: string;
  resume: boolean;
  /** Start over in an `--out` that holds an unfinished run. */
  overwrite: boolean;
  /** Exit 0 even when pruning did not reach its target (or could not start). */
  allowUnreached: boolean;
  quiet: boolean;
  /** Requested backend; null when not given (a resumed run keeps its checkpoint's). */
  backend: "auto" | "webgpu" | "wasm" | "cpu" | null;
  /** Minutes between checkpoints inside an epoch (0: at epoch ends only). */
  checkpointMinutes: number;
  stopAfterEpoch: number | null;
  stopAfterStep: number | null;
  /** Testing: act as if Ctrl-C came part-way through this optimizer step. */
  interruptAtStep: number | null;
  help: boolean;
}

/** A bad command line: one line, exit code 2. */
export class UsageError extends Error {}

/** Settings when no flag is given (lr and weight decay then follow the optimizer). */
export const DEFAULTS: Readonly<Settings> = {
  task: "classification",
  model: "small-cnn",
  onnx: null,
  inputShape: null,
  width: null,
  dataset: "sample",
  dataDir: null,
  limit: null,
  testLimit: null,
  epochs: 3,
  batchSize: 64,
  lr: 0.02,
  optimizer: "sgd",
  momentum: 0.9,
  weightDecay: 0,
  targetSparsity: 0.5,
  startPruning: null,
  epsilon: 0.99,
  lambda: null,
  pruneScope: "global",
  seed: 0,
  baseline: false,
  scratch: false,
  valSplit: null,
  skipBadImages: false,
  imageSize: 32,
  scale: 2,
  patchSize: 24,
};

/** The learning rate an optimizer gets when `--lr` is not given. */
export function defaultLr(optimizer: OptimizerName): number {
  return optimizer === "sgd" ? DEFAULTS.lr : 1e-3;
}

/** The weight decay an optimizer gets when `--weight-decay` is not given. */
export function defaultWeightDecay(optimizer: OptimizerName): number {
  return optimizer === "adamw" ? 1e-2 : 0;
}

/**
 * Steps before pruning starts for `spec`: "1", "0.5" (epochs), "300steps", or "40%" of the
 * `totalSteps` of the run.
 */
export function startPruningStep(spec: string, stepsPerEpoch: number, totalSteps: number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(steps?|%)?\s*$/.exec(spec);
  if (!m) {
    throw new UsageError(
      `--start-pruning must be a number of epochs ("1", "0.5"), of steps ("300steps") or a ` +
        `percentage of the training ("40%"), got "${spec}"`,
    );
  }
  const v = Number(m[1]);
  if (m[2] === "%") {
    if (v > 100) throw new UsageError(`--start-pruning: at most 100%, got "${spec}"`);
    return Math.round((v / 100) * totalSteps);
  }
  if (m[2]) {
    if (!Number.isInteger(v)) {
      throw new UsageError(`--start-pruning: steps must be whole, got "${spec}"`);
    }
    return v;
  }
  return Math.round(v * stepsPerEpoch);
}

/** The settings among `keys` whose values differ, as "key new (checkpoint: old)". */
export function settingsDiff(
  saved: Settings,
  given: Settings,
  keys: Iterable<keyof Settings>,
): string[] {
  const out: string[] = [];
  for (const k of keys) {
    if (JSON.stringify(saved[k]) !== JSON.stringify(given[k])) {
      out.push(`${k} ${JSON.stringify(given[k])} (checkpoint: ${JSON.stringify(saved[k])})`);
    }
  }
  return out;
}
