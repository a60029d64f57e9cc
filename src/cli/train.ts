/**
 * `deno task train`: train a zoo model once with DHSPG (pruning while training), compress it,
 * check the compact model computes the same outputs, and write the results.
 *
 * With no flags it trains `small-cnn` on the Fashion-MNIST sample embedded in the package (no
 * download). Run `deno task train --help` for every flag. Outputs (in `--out`):
 * `report.json`, `report.md`, `curves.svg`, `full.onnx`, `compressed.onnx`,
 * `full.safetensors`, `compressed.safetensors`, and `checkpoint.safetensors` (written atomically
 * after every epoch, every `--checkpoint-every` minutes and on Ctrl-C; `--resume` continues from
 * it, mid-epoch included, and gives the same final weights as an uninterrupted run).
 *
 * Exit codes: 0 done; 1 failure (bad data, verification failed, ...); 2 bad flags;
 * 3 stopped by `--stop-after-epoch` or `--stop-after-step` (testing); 130 / 143 interrupted by
 * SIGINT / SIGTERM after checkpointing. Errors are one line (set `OTO_DEBUG=1` for the
 * stack).
 *
 * @example
 * ```sh
 * deno task train
 * deno task train --model resnet-small --epochs 5 --target-sparsity 0.6 --baseline
 * deno task train --dataset fashion-mnist --epochs 10 --batch-size 128 --out out/fm
 * deno task train --out out/fm --resume      # after an interruption
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { init } from "../init.ts";
import { fromHost, getDefaultBackend, type Tensor, tidy } from "../tensor.ts";
import { globalRngState, manualSeed, type RngState, setGlobalRngState } from "../random.ts";
import { backward } from "../autograd.ts";
import { noGrad } from "../ops/registry.ts";
import { sync } from "../backend/webgpu.ts";
import { crossEntropyLoss } from "../nn/losses.ts";
import { ClassificationMeter, evaluate, type MeterState } from "../nn/metrics.ts";
import type { Module } from "../nn/module.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { SGD } from "../optim/sgd.ts";
import { reinitialized } from "../compress/scratch.ts";
import { Adam, AdamW } from "../optim/adam.ts";
import { DHSPG } from "../optim/dhspg.ts";
import { DataLoader } from "../data/loader.ts";
import type { ImageDataset } from "../data/dataset.ts";
import { FASHION_MNIST_DIR, loadFashionMnist, loadSample } from "../data/idx.ts";
import { loadCifar10 } from "../data/cifar.ts";
import { makeSynthetic } from "../data/synthetic.ts";
import { subsetDataset } from "../data/dataset.ts";
import { saveWeights } from "../io/weights.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { zoo } from "../zoo/index.ts";
import { OTO } from "../oto.ts";
import { exportOnnx } from "../onnx/export.ts";
import { Progress } from "./progress.ts";
import { loadCheckpoint, restoreCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import {
  type EpochRecord,
  epochTable,
  type ModelSummary,
  reportCurves,
  reportMarkdown,
  type TrainReport,
} from "./report.ts";

/** Default CIFAR-10 location (binary version). */
export const CIFAR10_DIR = "/usr/share/datasets/cifar10";
/** Verification tolerance: max |full - compressed| / max |full| on a test batch. */
export const VERIFY_TOLERANCE = 1e-3;

const DATASETS = ["sample", "fashion-mnist", "cifar10", "synthetic"] as const;
const OPTIMIZERS = ["sgd", "adam", "adamw"] as const;
type DatasetName = typeof DATASETS[number];
type OptimizerName = typeof OPTIMIZERS[number];

/** Everything that determines a run's result (stored in checkpoints and reports). */
export interface Settings {
  model: string;
  width: number | null;
  dataset: DatasetName;
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
  /** As given: "1" (epochs) or "300steps". */
  startPruning: string;
  epsilon: number;
  lambda: number | null;
  /** Where DHSPG ranks groups for pruning: "global" (OTOv2) or "zig" (same fraction per ZIG). */
  pruneScope: "global" | "zig";
  seed: number;
  baseline: boolean;
  /** Also train the compressed architecture from scratch (fresh weights, same schedule). */
  scratch: boolean;
}

/** Flags that do not change the result. */
export interface RunFlags {
  out: string;
  resume: boolean;
  quiet: boolean;
  /** Requested backend; null when not given (a resumed run keeps its checkpoint's). */
  backend: "auto" | "webgpu" | "cpu" | null;
  /** Minutes between checkpoints inside an epoch (0: at epoch ends only). */
  checkpointMinutes: number;
  stopAfterEpoch: number | null;
  stopAfterStep: number | null;
  help: boolean;
}

/** A bad command line: one line, exit code 2. */
export class UsageError extends Error {}

const DEFAULTS: Settings = {
  model: "small-cnn",
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
  startPruning: "0.25",
  epsilon: 0.99,
  lambda: null,
  pruneScope: "global",
  seed: 0,
  baseline: false,
  scratch: false,
};

/** Zoo models that return images, not class scores (listed apart in --help). */
const NOT_CLASSIFIERS = ["carn", "stacked-unets"];

/** Wrap `text` at `width` columns, continuation lines indented by `indent` spaces. */
function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${" ".repeat(indent)}`);
}

/** `--help`. */
export const HELP = `deno task train [flags]

Train a zoo model once with DHSPG (it prunes while it trains), remove the zero channels, check
the compact model gives the same outputs, and write reports, ONNX and safetensors files.
With no flags: small-cnn on the embedded Fashion-MNIST sample (4000 train / 1000 test images).

Model and data
  --model NAME            zoo classifier (default small-cnn), one of
                          ${
  wrap(
    Object.keys(zoo).filter((k) => !k.startsWith("case-") && !NOT_CLASSIFIERS.includes(k))
      .join(", "),
    26,
    96,
  )
}
  --width N               scale the model's channel widths (first stage = N; default: the zoo's)
  --dataset NAME          sample (default; embedded Fashion-MNIST sample), fashion-mnist,
                          cifar10, synthetic (seeded generated 1x28x28 images, 10 classes,
                          2048 train or --limit, 512 test)
  --data-dir DIR          where the data set lives (fashion-mnist: ${FASHION_MNIST_DIR};
                          cifar10: ${CIFAR10_DIR}, the binary version)
  --limit N               use only the first N training images
  --test-limit N          use only the first N test images

Training
  --epochs N              epochs (default ${DEFAULTS.epochs})
  --batch-size N          images per step (default ${DEFAULTS.batchSize})
  --lr X                  initial learning rate, cosine-annealed per step to 0 (default
                          ${DEFAULTS.lr} for sgd, 0.001 for adam/adamw)
  --optimizer NAME        base optimizer of DHSPG (and of the baseline): sgd (with momentum),
                          adam, adamw (default sgd)
  --momentum X            sgd momentum (default ${DEFAULTS.momentum})
  --weight-decay X        weight decay (default 0 for sgd/adam, 0.01 for adamw)
  --seed N                seed of the weights, data order and augmentation (default 0)

Pruning (DHSPG, OTOv2)
  --target-sparsity X     fraction of the prunable channels (groups) to remove, in [0, 1)
                          (default ${DEFAULTS.targetSparsity})
  --start-pruning WHEN    when DHSPG starts pruning: a number of epochs ("1", "0.5" = half-way
                          through the first epoch) or of optimizer steps with a "steps" suffix
                          ("300steps"); before it, DHSPG trains as the plain optimizer
                          (default ${DEFAULTS.startPruning} epoch)
  --epsilon X             half-space projection aggressiveness in [0, 1) (default ${DEFAULTS.epsilon})
  --lambda X              group-lasso strength (default 1 for sgd, 100 for adam/adamw)
  --prune-scope S         how the channels to prune are chosen: "global" (OTOv2: one ranking
                          of every prunable channel, which may shrink one layer to a handful of
                          channels) or "zig" (each ZIG loses the same fraction)
                          (default ${DEFAULTS.pruneScope})
  --baseline              also train the same model without pruning (plain optimizer, same
                          schedule) and report both
  --scratch               also train the compressed architecture from scratch (fresh weights,
                          plain optimizer, same schedule): how much of the pruned model's
                          accuracy its shape alone gives (Liu et al. 2019)
  (--baseline and --scratch may be added when resuming a run, even a finished one; a later
  --resume continues them too.)
  (The pruning defaults prune early and fast, for short runs. OTOv2's long-run recipes start
  pruning after about a third of the training, with --epsilon 0.9 to 0.95.)

Output
  --out DIR               output directory (default ./out/<model>-<dataset>)
  --resume                continue from DIR/checkpoint.safetensors where the run stopped
                          (settings come from the checkpoint; flags that contradict it are
                          an error)
  --checkpoint-every MIN  also checkpoint inside an epoch every MIN minutes (default 10; 0: at
                          epoch ends only). Ctrl-C (SIGINT) or SIGTERM checkpoints after the
                          current step and exits with 130 / 143
  --backend NAME          auto (default: WebGPU if available, else cpu), webgpu, cpu; a resumed
                          run keeps its checkpoint's
  --quiet                 print only errors and the final summary line
  -h, --help              this text

Testing
  --stop-after-epoch N    exit with code 3 right after checkpointing epoch N (simulates a crash)
  --stop-after-step N     exit with code 3 right after checkpointing optimizer step N

Files written to DIR: report.json, report.md, curves.svg, full.onnx, compressed.onnx,
full.safetensors, compressed.safetensors, checkpoint.safetensors (atomically, see --resume);
with --baseline also baseline.safetensors and baseline-checkpoint.safetensors, with --scratch
scratch.safetensors and scratch-checkpoint.safetensors.
Exit codes: 0 done, 1 failed (data, verification, ...), 2 bad flags, 3 --stop-after-*,
130 / 143 interrupted by SIGINT / SIGTERM (checkpoint saved).`;

type NumKind = "int" | "pos-int" | "real" | "non-neg" | "unit";
const NUM_OK: Record<NumKind, (x: number) => boolean> = {
  "int": (x) => Number.isInteger(x) && x >= 0,
  "pos-int": (x) => Number.isInteger(x) && x > 0,
  "real": () => true,
  "non-neg": (x) => x >= 0,
  "unit": (x) => x >= 0 && x < 1,
};

function num(flag: string, v: string, kind: NumKind): number {
  const x = Number(v);
  const ok = v.trim() !== "" && Number.isFinite(x) && NUM_OK[kind](x);
  if (!ok) {
    const want = {
      "int": "a non-negative integer",
      "pos-int": "a positive integer",
      "real": "a number",
      "non-neg": "a non-negative number",
      "unit": "a number in [0, 1)",
    }[kind];
    throw new UsageError(`--${flag} must be ${want}, got "${v}"`);
  }
  return x;
}

/** Steps before pruning starts for `spec` ("1", "0.5", "300steps"). */
export function startPruningStep(spec: string, stepsPerEpoch: number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(steps?)?\s*$/.exec(spec);
  if (!m) {
    throw new UsageError(
      `--start-pruning must be a number of epochs ("1", "0.5") or steps ("300steps"), got "${spec}"`,
    );
  }
  const v = Number(m[1]);
  if (m[2]) {
    if (!Number.isInteger(v)) {
      throw new UsageError(`--start-pruning: steps must be whole, got "${spec}"`);
    }
    return v;
  }
  return Math.round(v * stepsPerEpoch);
}

/**
 * Parse the command line. Returns the settings (defaults filled in), the run flags, and which
 * settings were given explicitly (checked against a checkpoint on `--resume`).
 */
export function parseCli(args: string[]): {
  settings: Settings;
  flags: RunFlags;
  explicit: Set<keyof Settings>;
} {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: "string" },
        width: { type: "string" },
        dataset: { type: "string" },
        "data-dir": { type: "string" },
        limit: { type: "string" },
        "test-limit": { type: "string" },
        epochs: { type: "string" },
        "batch-size": { type: "string" },
        lr: { type: "string" },
        optimizer: { type: "string" },
        momentum: { type: "string" },
        "weight-decay": { type: "string" },
        "target-sparsity": { type: "string" },
        "start-pruning": { type: "string" },
        epsilon: { type: "string" },
        lambda: { type: "string" },
        "prune-scope": { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
        resume: { type: "boolean" },
        baseline: { type: "boolean" },
        scratch: { type: "boolean" },
        backend: { type: "string" },
        quiet: { type: "boolean" },
        "checkpoint-every": { type: "string" },
        "stop-after-epoch": { type: "string" },
        "stop-after-step": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see --help)`);
  }
  const s: Settings = { ...DEFAULTS };
  const explicit = new Set<keyof Settings>();
  const set = <K extends keyof Settings>(k: K, val: Settings[K]) => {
    s[k] = val;
    explicit.add(k);
  };
  const str = (k: string) => v[k] as string | undefined;
  if (str("model") !== undefined) {
    const m = str("model")!;
    if (!zoo[m]) {
      throw new UsageError(`unknown --model "${m}"; choose one of ${Object.keys(zoo).join(", ")}`);
    }
    set("model", m);
  }
  if (str("width") !== undefined) set("width", num("width", str("width")!, "pos-int"));
  if (str("dataset") !== undefined) {
    const d = str("dataset")!;
    if (!(DATASETS as readonly string[]).includes(d)) {
      throw new UsageError(`unknown --dataset "${d}"; choose one of ${DATASETS.join(", ")}`);
    }
    set("dataset", d as DatasetName);
  }
  if (str("data-dir") !== undefined) {
    if (!str("data-dir")) throw new UsageError("--data-dir needs a directory");
    set("dataDir", str("data-dir")!);
  }
  if (str("limit") !== undefined) set("limit", num("limit", str("limit")!, "pos-int"));
  if (str("test-limit") !== undefined) {
    set("testLimit", num("test-limit", str("test-limit")!, "pos-int"));
  }
  if (str("epochs") !== undefined) set("epochs", num("epochs", str("epochs")!, "pos-int"));
  if (str("batch-size") !== undefined) {
    set("batchSize", num("batch-size", str("batch-size")!, "pos-int"));
  }
  if (str("optimizer") !== undefined) {
    const o = str("optimizer")!;
    if (!(OPTIMIZERS as readonly string[]).includes(o)) {
      throw new UsageError(`unknown --optimizer "${o}"; choose one of ${OPTIMIZERS.join(", ")}`);
    }
    set("optimizer", o as OptimizerName);
  }
  const adam = s.optimizer !== "sgd";
  s.lr = adam ? 1e-3 : DEFAULTS.lr;
  s.weightDecay = s.optimizer === "adamw" ? 1e-2 : 0;
  if (str("lr") !== undefined) {
    const lr = num("lr", str("lr")!, "real");
    if (!(lr > 0)) throw new UsageError(`--lr must be positive, got "${str("lr")}"`);
    set("lr", lr);
  }
  if (str("momentum") !== undefined) set("momentum", num("momentum", str("momentum")!, "unit"));
  if (str("weight-decay") !== undefined) {
    const wd = num("weight-decay", str("weight-decay")!, "real");
    if (wd < 0) throw new UsageError(`--weight-decay must be >= 0, got "${str("weight-decay")}"`);
    set("weightDecay", wd);
  }
  if (str("target-sparsity") !== undefined) {
    set("targetSparsity", num("target-sparsity", str("target-sparsity")!, "unit"));
  }
  if (str("start-pruning") !== undefined) {
    startPruningStep(str("start-pruning")!, 1); // validates
    set("startPruning", str("start-pruning")!.trim());
  }
  if (str("epsilon") !== undefined) set("epsilon", num("epsilon", str("epsilon")!, "unit"));
  if (str("lambda") !== undefined) {
    const l = num("lambda", str("lambda")!, "real");
    if (!(l > 0)) throw new UsageError(`--lambda must be positive, got "${str("lambda")}"`);
    set("lambda", l);
  }
  const scope = str("prune-scope");
  if (scope !== undefined) {
    if (scope !== "global" && scope !== "zig") {
      throw new UsageError(`unknown --prune-scope "${scope}"; choose global or zig`);
    }
    set("pruneScope", scope);
  }
  if (str("seed") !== undefined) set("seed", num("seed", str("seed")!, "int"));
  if (v.baseline) set("baseline", true);
  if (v.scratch) set("scratch", true);
  const backend = str("backend") ?? null;
  if (backend !== null && !["auto", "webgpu", "cpu"].includes(backend)) {
    throw new UsageError(`unknown --backend "${backend}"; choose auto, webgpu or cpu`);
  }
  if (str("out") !== undefined && !str("out")) throw new UsageError("--out needs a directory");
  const flags: RunFlags = {
    out: str("out") ?? join("out", `${s.model}-${s.dataset}`),
    resume: Boolean(v.resume),
    quiet: Boolean(v.quiet),
    backend: backend as RunFlags["backend"],
    checkpointMinutes: str("checkpoint-every") === undefined
      ? 10
      : num("checkpoint-every", str("checkpoint-every")!, "non-neg"),
    stopAfterEpoch: str("stop-after-epoch") === undefined
      ? null
      : num("stop-after-epoch", str("stop-after-epoch")!, "pos-int"),
    stopAfterStep: str("stop-after-step") === undefined
      ? null
      : num("stop-after-step", str("stop-after-step")!, "pos-int"),
    help: Boolean(v.help),
  };
  return { settings: s, flags, explicit };
}

// ---------------------------------------------------------------------------------------------
// Data.

interface Data {
  name: string;
  train: ImageDataset;
  test: ImageDataset;
  mean: number[];
  std: number[];
  augment: { cropPadding: number; hflip: boolean };
}

/** Per-channel mean and standard deviation of a data set's pixels. */
function channelStats(ds: ImageDataset): { mean: number[]; std: number[] } {
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

async function loadData(s: Settings): Promise<Data> {
  const limit = s.limit ?? undefined;
  let train: ImageDataset, test: ImageDataset;
  let augment = { cropPadding: 0, hflip: false };
  switch (s.dataset) {
    case "sample":
      [train, test] = await Promise.all([loadSample("train", { limit }), loadSample("test")]);
      break;
    case "fashion-mnist": {
      const dir = s.dataDir ?? FASHION_MNIST_DIR;
      [train, test] = await Promise.all([
        loadFashionMnist("train", dir, { limit }),
        loadFashionMnist("test", dir),
      ]);
      break;
    }
    case "cifar10": {
      const dir = s.dataDir ?? CIFAR10_DIR;
      [train, test] = await Promise.all([
        loadCifar10(dir, "train", { limit }),
        loadCifar10(dir, "test"),
      ]);
      augment = { cropPadding: 4, hflip: true };
      break;
    }
    case "synthetic":
      train = makeSynthetic({ n: s.limit ?? 2048, seed: 1000 + s.seed });
      test = makeSynthetic({ n: 512, seed: 2000 + s.seed });
      break;
  }
  if (s.testLimit !== null && s.testLimit < test.n) {
    test = subsetDataset(test, Array.from({ length: s.testLimit }, (_, i) => i));
  }
  if (train.n === 0 || test.n === 0) {
    throw new Error(`${train.name}: the data set is empty (${train.n} train, ${test.n} test)`);
  }
  // "fashion-mnist-sample/train" -> "fashion-mnist-sample" (the name of the pair).
  const name = train.name.replace(/\/train$/, "");
  return { name, train, test, ...channelStats(train), augment };
}

// ---------------------------------------------------------------------------------------------
// Model and optimizers.

function buildModel(s: Settings, d: Data): { model: Module; input: number[] } {
  const entry = zoo[s.model];
  const opts = {
    seed: s.seed,
    inChannels: d.train.channels,
    numClasses: d.train.numClasses,
    inputSize: d.train.height,
    ...(s.width !== null ? { width: s.width } : {}),
  };
  const model = entry.build(opts);
  return { model, input: [1, d.train.channels, d.train.height, d.train.width] };
}

function lambdaOf(s: Settings): number {
  return s.lambda ?? (s.optimizer === "sgd" ? 1 : 100);
}

function makeBaselineOptimizer(s: Settings, model: Module): Optimizer<{ lr: number }> {
  const params = model.parameters();
  if (s.optimizer === "sgd") {
    return new SGD(params, { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay });
  }
  const Opt = s.optimizer === "adam" ? Adam : AdamW;
  return new Opt(params, { lr: s.lr, weightDecay: s.weightDecay }) as Optimizer<{ lr: number }>;
}

/** Learning rate before step `t` (0-based) of `total`: cosine from `lr` to 0. */
function lrAt(lr: number, t: number, total: number): number {
  return lr * 0.5 * (1 + Math.cos(Math.PI * Math.min(t, total) / Math.max(total, 1)));
}

/** Seed of the global generator at the start of `epoch` (dropout masks). */
function epochSeed(seed: number, epoch: number): number {
  let h = (seed ^ Math.imul(epoch + 0x632be5ab, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  return (h ^ (h >>> 13)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Training and evaluation.

/** Output of the console: progress bar, per-epoch lines, messages. */
class Console {
  constructor(readonly quiet: boolean) {}
  log(msg: string): void {
    if (!this.quiet) console.log(msg);
  }
}

interface RunContext {
  s: Settings;
  flags: RunFlags;
  data: Data;
  io: Console;
  /** Checkpoint file of this run. */
  checkpoint: string;
  label: string;
}

/** Where a run stopped inside an epoch (stored in mid-epoch checkpoints). */
interface PartialEpoch {
  /** Batches of the epoch already trained on. */
  batch: number;
  meter: MeterState;
  /** Training seconds spent in the epoch so far. */
  seconds: number;
  /** The global generator (dropout draws) after the last trained batch. */
  rng: RngState;
}

/**
 * SIGINT (Ctrl-C) and SIGTERM while training: noted, and acted on after the current step (the
 * run checkpoints, then stops with exit code 128 + the signal's number).
 */
class StopSignals {
  static readonly CODES = { SIGINT: 130, SIGTERM: 143 } as const;
  caught: keyof typeof StopSignals.CODES | null = null;
  private readonly offs: (() => void)[];

  constructor() {
    this.offs = (Object.keys(StopSignals.CODES) as (keyof typeof StopSignals.CODES)[]).map(
      (name) => {
        const fn = () => (this.caught = name);
        try {
          Deno.addSignalListener(name, fn);
          return () => Deno.removeSignalListener(name, fn);
        } catch {
          return () => {}; // not supported on this platform (SIGTERM on Windows)
        }
      },
    );
  }

  /** Throw the stop, naming where the run stopped, if a signal came. */
  check(where: string): void {
    if (this.caught) {
      throw new StopRequested(
        `interrupted (${this.caught}) ${where}`,
        StopSignals.CODES[this.caught],
      );
    }
  }

  dispose(): void {
    for (const off of this.offs) off();
  }
}

/**
 * Train `model` with `opt` for the configured epochs, checkpointing after every epoch, every
 * `--checkpoint-every` minutes inside an epoch, and on SIGINT/SIGTERM (then it stops). Resumes
 * from the checkpoint when one is given, mid-epoch included. Returns the history.
 */
async function trainRun(
  ctx: RunContext,
  model: Module,
  opt: Optimizer<{ lr: number }>,
  resumeFrom: Awaited<ReturnType<typeof loadCheckpoint>> | null,
): Promise<{ history: EpochRecord[]; seconds: number }> {
  const { s, data, io, flags } = ctx;
  const loader = new DataLoader(data.train, {
    batchSize: s.batchSize,
    shuffle: true,
    seed: s.seed,
    mean: data.mean,
    std: data.std,
    ...data.augment,
  });
  const testLoader = new DataLoader(data.test, { batchSize: 250, mean: data.mean, std: data.std });
  const total = s.epochs * loader.length;
  let history: EpochRecord[] = [];
  let startEpoch = 0, step = 0, seconds = 0;
  let partial: PartialEpoch | null = null;
  if (resumeFrom) {
    restoreCheckpoint(resumeFrom, { model, optimizer: opt });
    startEpoch = resumeFrom.meta.epoch;
    step = resumeFrom.meta.step;
    history = (resumeFrom.meta.history as EpochRecord[]) ?? [];
    seconds = (resumeFrom.meta.seconds as number) ?? 0;
    partial = (resumeFrom.meta.partial as PartialEpoch | undefined) ?? null;
    if (startEpoch < s.epochs) {
      io.log(
        `${ctx.label}: resuming ` +
          (partial
            ? `in epoch ${startEpoch + 1} after batch ${partial.batch}/${loader.length}`
            : `after epoch ${startEpoch}`) +
          ` (step ${step})`,
      );
    }
  }
  const dhspg = opt instanceof DHSPG ? opt : null;
  const save = (epochsDone: number, part: PartialEpoch | null) =>
    saveCheckpoint(ctx.checkpoint, {
      model,
      optimizer: opt,
      meta: {
        epoch: epochsDone,
        step,
        settings: s,
        history,
        seconds,
        label: ctx.label,
        backend: getDefaultBackend(),
        // Batches depend on (seed, epoch, batch) only; the global generator is reseeded per
        // epoch, and its state is saved with a partial epoch.
        loader: { seed: s.seed, batchesPerEpoch: loader.length },
        ...(part ? { partial: part } : {}),
      },
    });
  const signals = new StopSignals();
  try {
    for (let epoch = startEpoch; epoch < s.epochs; epoch++) {
      manualSeed(epochSeed(s.seed, epoch));
      model.train();
      const meter = new ClassificationMeter();
      let batch = 0, before = 0;
      if (partial && epoch === startEpoch) {
        setGlobalRngState(partial.rng);
        meter.restore(partial.meter);
        ({ batch, seconds: before } = partial);
      }
      const bar = flags.quiet
        ? null
        : new Progress(`${ctx.label} epoch ${epoch + 1}/${s.epochs}`, loader.size)
          .resumeAt(meter.images);
      const t0 = performance.now();
      let lastRead = t0, lastSave = t0, shown = "";
      for await (const { x, y } of loader.epochBatches(epoch, batch)) {
        opt.lr = lrAt(s.lr, step, total);
        tidy(() => {
          const logits = model.call(x);
          const loss = crossEntropyLoss(logits, y);
          backward(loss);
          meter.add(logits, y, loss);
        });
        opt.step();
        opt.zeroGrad();
        step++;
        batch++;
        // Read the running sums about once a second: it keeps the host close to the GPU and
        // gives the progress bar a live loss.
        const now = performance.now();
        if (now - lastRead > 1000) {
          lastRead = now;
          const r = await meter.read();
          shown = `loss ${r.loss.toFixed(3)} acc ${(100 * r.accuracy).toFixed(1)}%`;
        }
        bar?.tick(x.shape[0], shown);
        const stopAtStep = flags.stopAfterStep === step;
        const due = flags.checkpointMinutes > 0 &&
          now - lastSave > flags.checkpointMinutes * 60_000;
        if ((signals.caught || stopAtStep || due) && batch < loader.length) {
          await save(epoch, {
            batch,
            meter: await meter.state(),
            seconds: before + (performance.now() - t0) / 1000,
            rng: globalRngState(),
          });
          lastSave = performance.now();
          const where = `in epoch ${epoch + 1} after batch ${batch}/${loader.length}`;
          signals.check(where);
          if (stopAtStep) throw new StopRequested(`stopped at step ${step} ${where}`, 3);
        }
      }
      const tr = await meter.read();
      const images = tr.images;
      meter.dispose();
      if (getDefaultBackend() === "webgpu") await sync();
      const secs = before + (performance.now() - t0) / 1000;
      seconds += secs;
      const te = await evaluate(model, testLoader.epochBatches(0));
      const sparsity = dhspg ? (await dhspg.stats()).groupSparsity : 0;
      const rec: EpochRecord = {
        epoch: epoch + 1,
        step,
        trainLoss: tr.loss,
        trainAccuracy: tr.accuracy,
        testLoss: te.loss,
        testAccuracy: te.accuracy,
        groupSparsity: sparsity,
        lr: opt.lr,
        seconds: secs,
        throughput: images / Math.max(secs, 1e-9),
      };
      if (!Number.isFinite(rec.trainLoss)) {
        throw new Error(
          `${ctx.label}: the training loss became ${rec.trainLoss} in epoch ${epoch + 1}; ` +
            `lower --lr (now ${s.lr})`,
        );
      }
      history.push(rec);
      io.log(
        `${ctx.label} epoch ${rec.epoch}/${s.epochs}: train loss ${rec.trainLoss.toFixed(4)}, ` +
          `test loss ${rec.testLoss.toFixed(4)}, test acc ${(100 * rec.testAccuracy).toFixed(2)}%` +
          (dhspg ? `, group sparsity ${rec.groupSparsity.toFixed(3)}` : "") +
          `, lr ${rec.lr.toPrecision(3)}, ${rec.throughput.toFixed(1)} img/s`,
      );
      await save(epoch + 1, null);
      signals.check(`after epoch ${epoch + 1}`);
      if (flags.stopAfterEpoch === epoch + 1 || flags.stopAfterStep === step) {
        throw new StopRequested(`stopped after epoch ${epoch + 1}`, 3);
      }
    }
  } finally {
    signals.dispose();
  }
  return { history, seconds };
}

/** A deliberate stop after a checkpoint (testing flags or a signal); `--resume` continues. */
class StopRequested extends Error {
  constructor(what: string, readonly code: number) {
    super(`${what}; checkpoint saved, continue with --resume`);
  }
}

/** Max |a - b| and max |a| of two output tensors. */
async function compareOutputs(
  full: Module,
  small: Module,
  x: Tensor,
): Promise<{ maxAbsDiff: number; scale: number }> {
  full.eval();
  small.eval();
  const run = async (m: Module) => {
    const y = noGrad(() => tidy(() => m.call(x)));
    const v = await y.data();
    y.dispose();
    return v;
  };
  const a = await run(full), b = await run(small);
  if (a.length !== b.length) {
    throw new Error(
      `verify: the compressed model returns ${b.length} values, the full ${a.length}`,
    );
  }
  let d = 0, sc = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    sc = Math.max(sc, Math.abs(a[i]));
  }
  return { maxAbsDiff: d, scale: sc };
}

function settingsDiff(a: Settings, b: Settings, keys: Iterable<keyof Settings>): string[] {
  const out: string[] = [];
  for (const k of keys) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) {
      out.push(`${k} ${JSON.stringify(b[k])} (checkpoint: ${JSON.stringify(a[k])})`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Main.

/** Run the CLI; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const t0 = performance.now();
  let parsed;
  try {
    parsed = parseCli(args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`train: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const { flags, explicit } = parsed;
  let s = parsed.settings;
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  const io = new Console(flags.quiet);
  const ckPath = join(flags.out, "checkpoint.safetensors");
  // Checkpoints of the extra runs (--baseline, --scratch).
  const extraCk = {
    baseline: join(flags.out, "baseline-checkpoint.safetensors"),
    scratch: join(flags.out, "scratch-checkpoint.safetensors"),
  };
  let ck = null;
  if (flags.resume) {
    try {
      ck = await loadCheckpoint(ckPath);
    } catch (e) {
      throw new Error(`--resume: ${(e as Error).message}; run without --resume to start over`);
    }
    const saved = { ...DEFAULTS, ...(ck.meta.settings as Settings) };
    // The extra runs do not change the pruned one: they may be added to a run on resume.
    const extra = (["baseline", "scratch"] as const).filter((k) => explicit.has(k));
    const diff = settingsDiff(saved, s, [...explicit].filter((k) => !extra.includes(k as never)));
    if (diff.length) {
      console.error(`train: --resume: flags differ from the checkpoint: ${diff.join("; ")}`);
      return 2;
    }
    s = { ...saved, ...Object.fromEntries(extra.map((k) => [k, true])) };
    // An extra run added on an earlier resume continues too.
    for (const [k, f] of Object.entries(extraCk) as [keyof typeof extraCk, string][]) {
      if (!s[k] && (await Deno.stat(f).catch(() => null))) s = { ...s, [k]: true };
    }
  }

  const want = flags.backend ?? (ck?.meta.backend as RunFlags["backend"]) ?? "auto";
  const { backend, adapter } = await init({ backend: want ?? "auto", quiet: flags.quiet });
  io.log(`backend ${backend} (${adapter})`);
  const data = await loadData(s);
  io.log(
    `data ${data.name}: ${data.train.n} train, ${data.test.n} test images of ` +
      `[${data.train.channels}, ${data.train.height}, ${data.train.width}], ` +
      `${data.train.numClasses} classes`,
  );

  // The pruned run.
  const { model, input } = buildModel(s, data);
  let oto: OTO;
  try {
    oto = await OTO.create(model, input, { name: s.model });
  } catch (e) {
    throw new Error(
      `model ${s.model} does not accept [${input}] inputs (${data.name}): ` +
        (e as Error).message.split("\n")[0],
    );
  }
  const outShape = oto.graph.tensors[oto.graph.outputs[0]].shape;
  if (outShape.length !== 2 || outShape[1] !== data.train.numClasses) {
    throw new Error(
      `model ${s.model} returns [${outShape}] for one image, not ${data.train.numClasses} class ` +
        `scores; choose a classifier (small-cnn, vgg-small, resnet-small, resnet18, ...)`,
    );
  }
  const counts = oto.zigs.counts;
  if (counts.prunableGroups === 0) {
    throw new Error(`model ${s.model} has no prunable channels (every ZIG is fixed)`);
  }
  await Deno.mkdir(flags.out, { recursive: true });
  const stepsPerEpoch = Math.ceil(data.train.n / s.batchSize);
  const startStep = startPruningStep(s.startPruning, stepsPerEpoch);
  const opt = oto.dhspg({
    variant: s.optimizer,
    lr: s.lr,
    targetGroupSparsity: s.targetSparsity,
    startPruningStep: startStep,
    epsilon: s.epsilon,
    lambda: lambdaOf(s),
    partitionScope: s.pruneScope ?? "global",
    weightDecay: s.weightDecay,
    ...(s.optimizer === "sgd" ? { firstMomentum: s.momentum } : {}),
  });
  io.log(
    `model ${s.model}: ${oto.cost.params.toLocaleString("en-US")} parameters, ` +
      `${oto.cost.macs.toLocaleString("en-US")} MACs per image; ${counts.prunableZigs} prunable ` +
      `ZIGs with ${counts.prunableGroups} channels; DHSPG (${s.optimizer}) target ` +
      `${s.targetSparsity}, pruning from step ${startStep} of ${s.epochs * stepsPerEpoch}`,
  );
  if (!flags.resume) {
    for (const f of [ckPath, ...Object.values(extraCk)]) await Deno.remove(f).catch(() => {});
  }
  const ctx: RunContext = { s, flags, data, io, checkpoint: ckPath, label: "oto" };
  const run = await trainRun(ctx, model, opt, ck);
  const finalStats = await opt.stats();

  // The extra runs: plain optimizer, same schedule, a checkpoint of their own.
  type Extra = { model: Module; history: EpochRecord[]; seconds: number };
  const trainExtra = async (label: keyof typeof extraCk, m: Module): Promise<Extra> => {
    const ckFile = extraCk[label];
    const xopt = makeBaselineOptimizer(s, m);
    const xck = flags.resume ? await loadCheckpoint(ckFile).catch(() => null) : null;
    const r = await trainRun({ ...ctx, checkpoint: ckFile, label }, m, xopt, xck);
    xopt.dispose();
    return { model: m, ...r };
  };
  const baseline = s.baseline ? await trainExtra("baseline", buildModel(s, data).model) : null;

  // Compress and verify.
  const compressed = await oto.compress();
  const small = compressed.model;
  const testLoader = new DataLoader(data.test, { batchSize: 250, mean: data.mean, std: data.std });
  const fullEval = await evaluate(model, testLoader.epochBatches(0));
  const smallEval = await evaluate(small, testLoader.epochBatches(0));
  const vb = testLoader.hostBatch(0, 0);
  const vx = fromHost(vb.x, [vb.n, ...input.slice(1)], "f32", getDefaultBackend());
  const cmp = await compareOutputs(model, small, vx);
  vx.dispose();
  const relDiff = cmp.maxAbsDiff / Math.max(cmp.scale, 1e-12);
  const passed = relDiff <= VERIFY_TOLERANCE;

  // Scratch control: the compact shape with fresh weights.
  let scratch: Extra | null = null;
  if (s.scratch) {
    const fresh = buildModel(s, data).model;
    const sm = await reinitialized(small, fresh, { seed: epochSeed(s.seed, -1) });
    fresh.dispose();
    scratch = await trainExtra("scratch", sm);
  }

  // Files.
  const files: Record<string, string> = {
    "full model weights (safetensors)": join(flags.out, "full.safetensors"),
    "compressed model weights (safetensors)": join(flags.out, "compressed.safetensors"),
    "full model (ONNX, opset 17)": join(flags.out, "full.onnx"),
    "compressed model (ONNX, opset 17)": join(flags.out, "compressed.onnx"),
    "report (JSON)": join(flags.out, "report.json"),
    "report (Markdown)": join(flags.out, "report.md"),
    "training curves (SVG)": join(flags.out, "curves.svg"),
    "checkpoint (weights + optimizer state + history)": ckPath,
  };
  const meta = { model: s.model, dataset: data.name, settings: JSON.stringify(s) };
  await saveWeights(model, files["full model weights (safetensors)"], meta);
  await saveWeights(small, files["compressed model weights (safetensors)"], meta);
  const fullOnnx = await exportOnnx(model, files["full model (ONNX, opset 17)"], input);
  const smallOnnx = await exportOnnx(small, files["compressed model (ONNX, opset 17)"], input);
  const summarize = async (
    label: keyof typeof extraCk,
    x: Extra,
    cost: { params: number; macs: number; flops: number },
  ): Promise<ModelSummary> => {
    const file = join(flags.out, `${label}.safetensors`);
    files[`${label} weights (safetensors)`] = file;
    files[`${label} checkpoint`] = extraCk[label];
    await saveWeights(x.model, file, meta);
    const e = await evaluate(x.model, testLoader.epochBatches(0));
    const { params, macs, flops } = cost;
    return { params, macs, flops, testLoss: e.loss, testAccuracy: e.accuracy };
  };
  const baselineSummary = baseline ? await summarize("baseline", baseline, oto.cost) : undefined;
  const scratchSummary = scratch
    ? await summarize("scratch", scratch, {
      params: compressed.report.paramsAfter,
      macs: compressed.report.macsAfter,
      flops: compressed.report.flopsAfter,
    })
    : undefined;

  const zigs = oto.partition.zigs.map((z) => ({
    id: z.id,
    size: z.size,
    kept: compressed.report.zigs.find((k) => k.id === z.id)?.kept ?? z.size,
    prunable: z.prunable,
    ...(z.reason ? { reason: z.reason } : {}),
    layers: z.layers,
  }));
  const report: TrainReport = {
    title: `oto: ${s.model} on ${data.name}`,
    settings: { ...s, startPruningStep: startStep },
    backend: `${backend} (${adapter})`,
    dataset: {
      name: data.name,
      train: data.train.n,
      test: data.test.n,
      shape: input.slice(1),
      classes: data.train.numClasses,
    },
    history: run.history,
    ...(baseline ? { baselineHistory: baseline.history } : {}),
    ...(scratch ? { scratchHistory: scratch.history } : {}),
    full: {
      params: compressed.report.paramsBefore,
      macs: compressed.report.macsBefore,
      flops: compressed.report.flopsBefore,
      testLoss: fullEval.loss,
      testAccuracy: fullEval.accuracy,
      onnxBytes: fullOnnx.bytes,
    },
    compressed: {
      params: compressed.report.paramsAfter,
      macs: compressed.report.macsAfter,
      flops: compressed.report.flopsAfter,
      testLoss: smallEval.loss,
      testAccuracy: smallEval.accuracy,
      onnxBytes: smallOnnx.bytes,
    },
    ...(baselineSummary ? { baseline: baselineSummary } : {}),
    ...(scratchSummary ? { scratch: scratchSummary } : {}),
    zigs,
    groups: {
      total: finalStats.totalGroups,
      zero: finalStats.zeroGroups,
      sparsity: finalStats.groupSparsity,
      target: s.targetSparsity,
      reached: finalStats.reachedTarget,
    },
    verify: {
      images: vb.n,
      maxAbsDiff: cmp.maxAbsDiff,
      relDiff,
      tolerance: VERIFY_TOLERANCE,
      passed,
    },
    timings: {
      totalSeconds: (performance.now() - t0) / 1000,
      trainSeconds: run.seconds,
      ...(baseline ? { baselineSeconds: baseline.seconds } : {}),
      ...(scratch ? { scratchSeconds: scratch.seconds } : {}),
    },
    files,
    notes: [
      ...compressed.report.notes,
      ...(finalStats.reachedTarget ? [] : [
        `the target group sparsity ${s.targetSparsity} was not reached ` +
        `(${
          finalStats.groupSparsity.toFixed(3)
        }); train longer, start pruning earlier or raise --lambda`,
      ]),
    ],
  };
  await writeTextAtomic(files["report (JSON)"], JSON.stringify(report, null, 2) + "\n");
  await writeTextAtomic(files["report (Markdown)"], reportMarkdown(report));
  await writeTextAtomic(files["training curves (SVG)"], reportCurves(report));

  io.log("");
  io.log(epochTable(run.history));
  if (baseline) {
    io.log("\nbaseline (no pruning):");
    io.log(epochTable(baseline.history, false));
  }
  if (scratch) {
    io.log("\nscratch (the compressed architecture trained from fresh weights):");
    io.log(epochTable(scratch.history, false));
  }
  io.log("");
  const pctChange = (a: number, b: number) => `${(100 * (1 - b / a)).toFixed(1)}%`;
  io.log(
    `params ${report.full.params.toLocaleString("en-US")} -> ` +
      `${report.compressed.params.toLocaleString("en-US")} (-${
        pctChange(report.full.params, report.compressed.params)
      }), ` +
      `MACs ${report.full.macs.toLocaleString("en-US")} -> ${
        report.compressed.macs.toLocaleString("en-US")
      } ` +
      `(-${pctChange(report.full.macs, report.compressed.macs)})`,
  );
  const pz = zigs.filter((z) => z.prunable);
  io.log(
    `kept channels: ${pz.slice(0, 12).map((z) => `#${z.id} ${z.kept}/${z.size}`).join(", ")}` +
      (pz.length > 12 ? `, ... (${pz.length - 12} more in report.md)` : ""),
  );
  const summary = `oto ${s.model} on ${data.name}: test accuracy full ` +
    `${(100 * fullEval.accuracy).toFixed(2)}%, compressed ${
      (100 * smallEval.accuracy).toFixed(2)
    }%` +
    (baselineSummary ? `, baseline ${(100 * baselineSummary.testAccuracy).toFixed(2)}%` : "") +
    (scratchSummary ? `, scratch ${(100 * scratchSummary.testAccuracy).toFixed(2)}%` : "") +
    `; params ${report.full.params} -> ${report.compressed.params}; verify max diff ` +
    `${cmp.maxAbsDiff.toExponential(2)} (rel ${relDiff.toExponential(2)}); ` +
    `${report.timings.totalSeconds.toFixed(1)} s; wrote ${flags.out}`;
  console.log(summary);
  small.dispose();
  scratch?.model.dispose();
  opt.dispose();
  if (!passed) {
    console.error(
      `train: verification FAILED: the compressed model differs from the full one by ` +
        `${cmp.maxAbsDiff.toExponential(2)} (relative ${
          relDiff.toExponential(2)
        } > ${VERIFY_TOLERANCE})`,
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    if (e instanceof StopRequested) {
      console.error(`train: ${e.message}`);
      code = e.code;
    } else {
      const err = e as Error;
      console.error(`train: ${(err?.message ?? String(e)).split("\n")[0]}`);
      if (Deno.env.get("OTO_DEBUG")) console.error(err?.stack);
      code = e instanceof UsageError ? 2 : 1;
    }
  }
  Deno.exit(code);
}
