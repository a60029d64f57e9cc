/**
 * The train CLI's command line: one table of flags (type, --help text, the setting it sets and
 * how its value is read), the --help text made from it, and the parser. Adding a flag is one
 * entry in {@link TRAIN_FLAGS} (plus, for a run flag, one line in {@link parseCli}).
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { userPath } from "./paths.ts";
import { zoo } from "../zoo/index.ts";
import { FASHION_MNIST_DIR } from "../data/idx.ts";
import {
  defaultLr,
  DEFAULTS,
  defaultWeightDecay,
  type OptimizerName,
  OPTIMIZERS,
  type RunFlags,
  type Settings,
  startPruningStep,
  UsageError,
} from "./settings.ts";
import { PRUNING_DEFAULTS } from "./pruning_plan.ts";
import { CIFAR10_DIR } from "./tasks/classification.ts";
import { taskOf, TASKS } from "./tasks/index.ts";

/** One flag of `deno task train`. */
export interface FlagSpec {
  type: "string" | "boolean";
  /** One-letter alias ("h"). */
  short?: string;
  /** The value's name in --help ("N", "DIR"). */
  arg?: string;
  /** The --help section it is listed in. */
  section: string;
  /** The --help text (wrapped to the terminal width). */
  help: string;
  /** The setting it sets (settings are stored in checkpoints and checked on --resume). */
  setting?: keyof Settings;
  /** Read and validate the value (string flags of a setting); throws a UsageError. */
  read?: (value: string, flag: string) => unknown;
}

const HELP_WIDTH = 96;
const HELP_INDENT = 26;

type NumKind = "int" | "pos-int" | "real" | "non-neg" | "unit";
const NUM_OK: Record<NumKind, [(x: number) => boolean, string]> = {
  "int": [(x) => Number.isInteger(x) && x >= 0, "a non-negative integer"],
  "pos-int": [(x) => Number.isInteger(x) && x > 0, "a positive integer"],
  "real": [() => true, "a number"],
  "non-neg": [(x) => x >= 0, "a non-negative number"],
  "unit": [(x) => x >= 0 && x < 1, "a number in [0, 1)"],
};

/** Read `--flag v` as a number of `kind`, or throw a one-line UsageError. */
export function num(flag: string, v: string, kind: NumKind): number {
  const x = Number(v);
  const [ok, want] = NUM_OK[kind];
  if (!(v.trim() !== "" && Number.isFinite(x) && ok(x))) {
    throw new UsageError(`--${flag} must be ${want}, got "${v}"`);
  }
  return x;
}

const number = (kind: NumKind) => (v: string, flag: string) => num(flag, v, kind);
const positive = (v: string, flag: string) => {
  const x = num(flag, v, "real");
  if (!(x > 0)) throw new UsageError(`--${flag} must be positive, got "${v}"`);
  return x;
};
const oneOf = (choices: readonly string[], hint?: string) => (v: string, flag: string) => {
  if (!choices.includes(v)) {
    throw new UsageError(
      `unknown --${flag} "${v}"; choose ${hint ?? `one of ${choices.join(", ")}`}`,
    );
  }
  return v;
};
const nonEmpty = (what: string) => (v: string, flag: string) => {
  if (!v) throw new UsageError(`--${flag} needs ${what}`);
  return v;
};

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

/** The zoo models of a task (test cases excluded). */
const modelsOf = (task: string) =>
  Object.keys(zoo).filter((k) => !k.startsWith("case-") && zoo[k].task === task);

/** A task's own defaults as the flags that would give them ("--epochs 20 --optimizer adam"). */
function taskDefaultFlags(task: string): string {
  return Object.entries(TASKS[task].defaults ?? {})
    .map(([k, v]) => `--${k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} ${v}`)
    .join(" ");
}

/** Every flag of `deno task train`, in --help order. */
export const TRAIN_FLAGS: Readonly<Record<string, FlagSpec>> = {
  task: {
    type: "string",
    arg: "NAME",
    section: "Model and data",
    help: "classification (default), super-resolution (L1 loss, PSNR / SSIM on Y; defaults " +
      `${taskDefaultFlags("super-resolution")}) or segmentation (per-pixel cross entropy, pixel ` +
      `accuracy / IoU; defaults ${taskDefaultFlags("segmentation")})`,
    setting: "task",
    read: oneOf(Object.keys(TASKS)),
  },
  model: {
    type: "string",
    arg: "NAME",
    section: "Model and data",
    help: `zoo model of the task: classification ${modelsOf("classification").join(", ")} ` +
      `(default ${DEFAULTS.model}); super-resolution ${modelsOf("super-resolution").join(", ")} ` +
      `(default carn-small); segmentation ${modelsOf("segmentation").join(", ")}`,
    setting: "model",
    read: (m) => {
      if (!zoo[m]) {
        throw new UsageError(
          `unknown --model "${m}"; choose one of ${Object.keys(zoo).join(", ")}`,
        );
      }
      return m;
    },
  },
  onnx: {
    type: "string",
    arg: "FILE",
    section: "Model and data",
    help: "train and prune a model exported to ONNX (e.g. by torch.onnx.export with BatchNorm " +
      "kept) instead of a zoo model; its parameter and input/output names are kept in the files " +
      "written",
    setting: "onnx",
    read: nonEmpty("a file"),
  },
  "input-shape": {
    type: "string",
    arg: "C,H,W",
    section: "Model and data",
    help: "input shape of an --onnx model whose file leaves it dynamic (default: the data set's)",
    setting: "inputShape",
    read: (v, flag) => {
      const dims = v.split(",").map((d) => num(flag, d.trim(), "pos-int"));
      if (dims.length < 1) throw new UsageError(`--${flag} needs dimensions like 3,64,64`);
      return dims;
    },
  },
  width: {
    type: "string",
    arg: "N",
    section: "Model and data",
    help: "scale the model's channel widths (first stage = N; default: the zoo's)",
    setting: "width",
    read: number("pos-int"),
  },
  dataset: {
    type: "string",
    arg: "NAME",
    section: "Model and data",
    help: "classification: sample (default; embedded Fashion-MNIST sample), fashion-mnist, " +
      "cifar10, synthetic (seeded generated 1x28x28 images, 10 classes, 2048 train or --limit, " +
      "512 test), folder (--data-dir DIR with DIR/<class>/*.png|jpg, split by DIR/train and " +
      "DIR/test|val or by --val-split; or a CSV of path,label[,split]). super-resolution: " +
      "sample (default; 8 + 3 embedded photographs), div2k (--data-dir with DIV2K_train_HR/, " +
      "DIV2K_valid_HR/ and their LR_bicubic/X<scale>/ folders), folder (--data-dir of " +
      "high-resolution PNG/JPEG images; LR made by bicubic downscaling). segmentation: shapes " +
      "(default; seeded generated discs and squares, 32x32)",
    setting: "dataset",
    read: nonEmpty("a data set name"),
  },
  "data-dir": {
    type: "string",
    arg: "DIR",
    section: "Model and data",
    help: `where the data set's files are (fashion-mnist: ${FASHION_MNIST_DIR}; cifar10: ` +
      `${CIFAR10_DIR}, the binary version; folder, div2k: required); an error for the data sets ` +
      "without files",
    setting: "dataDir",
    read: (v, flag) => userPath(nonEmpty("a directory")(v, flag)),
  },
  "val-split": {
    type: "string",
    arg: "X",
    section: "Model and data",
    help: "hold out this fraction of the training images (seeded) for validation: the per-epoch " +
      "table then shows validation loss and metrics, and the test set is scored once, at the " +
      "end, so that settings are chosen on held-out training data. A folder data set without a " +
      "train/test split of its own holds this fraction of each class (of the images, for " +
      "super-resolution) out as its test set instead (default 0.2)",
    setting: "valSplit",
    read: (v, flag) => {
      const x = num(flag, v, "unit");
      if (!(x > 0)) throw new UsageError(`--${flag} must be in (0, 1), got "${v}"`);
      return x;
    },
  },
  "skip-bad-images": {
    type: "boolean",
    section: "Model and data",
    help: "folder and DIV2K data: leave out images that cannot be read or decoded (listed in " +
      "the report) instead of stopping at the first",
    setting: "skipBadImages",
  },
  "image-size": {
    type: "string",
    arg: "N",
    section: "Model and data",
    help: "classification folders: resize the shorter side to N and centre-crop NxN " +
      `(default ${DEFAULTS.imageSize})`,
    setting: "imageSize",
    read: number("pos-int"),
  },
  scale: {
    type: "string",
    arg: "N",
    section: "Model and data",
    help: `super-resolution: upscaling factor 2, 3 or 4 (default ${DEFAULTS.scale})`,
    setting: "scale",
    read: (v, flag) => Number(oneOf(["2", "3", "4"], "2, 3 or 4")(v, flag)),
  },
  "patch-size": {
    type: "string",
    arg: "N",
    section: "Model and data",
    help: "super-resolution: side of the random low-resolution training patches (default " +
      `${DEFAULTS.patchSize}); the test images are whole`,
    setting: "patchSize",
    read: number("pos-int"),
  },
  limit: {
    type: "string",
    arg: "N",
    section: "Model and data",
    help: "use only the first N training images",
    setting: "limit",
    read: number("pos-int"),
  },
  "test-limit": {
    type: "string",
    arg: "N",
    section: "Model and data",
    help: "use only the first N test images",
    setting: "testLimit",
    read: number("pos-int"),
  },
  epochs: {
    type: "string",
    arg: "N",
    section: "Training",
    help: `epochs (default ${DEFAULTS.epochs})`,
    setting: "epochs",
    read: number("pos-int"),
  },
  "batch-size": {
    type: "string",
    arg: "N",
    section: "Training",
    help: `images per step (default ${DEFAULTS.batchSize})`,
    setting: "batchSize",
    read: number("pos-int"),
  },
  lr: {
    type: "string",
    arg: "X",
    section: "Training",
    help: `initial learning rate, cosine-annealed per step to 0 (default ${defaultLr("sgd")} ` +
      `for sgd, ${defaultLr("adam")} for adam/adamw)`,
    setting: "lr",
    read: positive,
  },
  optimizer: {
    type: "string",
    arg: "NAME",
    section: "Training",
    help: "base optimizer of DHSPG (and of the baseline): sgd (with momentum), adam, adamw " +
      "(default sgd)",
    setting: "optimizer",
    read: oneOf(OPTIMIZERS),
  },
  momentum: {
    type: "string",
    arg: "X",
    section: "Training",
    help: `sgd momentum (default ${DEFAULTS.momentum}; an error with adam/adamw)`,
    setting: "momentum",
    read: number("unit"),
  },
  "weight-decay": {
    type: "string",
    arg: "X",
    section: "Training",
    help: "weight decay (default 0 for sgd/adam, 0.01 for adamw)",
    setting: "weightDecay",
    read: (v, flag) => {
      const wd = num(flag, v, "real");
      if (wd < 0) throw new UsageError(`--${flag} must be >= 0, got "${v}"`);
      return wd;
    },
  },
  seed: {
    type: "string",
    arg: "N",
    section: "Training",
    help: "seed of the weights, data order and augmentation (default 0)",
    setting: "seed",
    read: number("int"),
  },
  "target-sparsity": {
    type: "string",
    arg: "X",
    section: "Pruning (DHSPG, OTOv2)",
    help: "fraction of the prunable channels (groups) to remove, in [0, 1) (default " +
      `${DEFAULTS.targetSparsity})`,
    setting: "targetSparsity",
    read: number("unit"),
  },
  "start-pruning": {
    type: "string",
    arg: "WHEN",
    section: "Pruning (DHSPG, OTOv2)",
    help: 'when DHSPG starts pruning: epochs ("1", "0.5" = half-way through the first epoch), ' +
      'optimizer steps ("300steps") or a percentage of the training ("40%"); before it, DHSPG ' +
      `trains as the plain optimizer (default ${PRUNING_DEFAULTS.startPruning} epoch)`,
    setting: "startPruning",
    read: (v) => {
      startPruningStep(v, 1, 100); // validates
      return v.trim();
    },
  },
  epsilon: {
    type: "string",
    arg: "X",
    section: "Pruning (DHSPG, OTOv2)",
    help: "half-space projection threshold in [0, 1): a penalised channel is set to zero when " +
      "one step would take more than 1 - X of its norm; larger X zeroes channels sooner " +
      `(default ${DEFAULTS.epsilon})`,
    setting: "epsilon",
    read: number("unit"),
  },
  lambda: {
    type: "string",
    arg: "X",
    section: "Pruning (DHSPG, OTOv2)",
    help: "group-lasso strength: how hard the penalised channels are pulled toward zero " +
      `(default ${PRUNING_DEFAULTS.lambda.sgd} for sgd, ${PRUNING_DEFAULTS.lambda.adam} for ` +
      "adam/adamw; see below)",
    setting: "lambda",
    read: positive,
  },
  "prune-scope": {
    type: "string",
    arg: "S",
    section: "Pruning (DHSPG, OTOv2)",
    help: 'how the channels to prune are chosen: "global" (OTOv2: one ranking of every ' +
      "prunable channel, which may shrink one layer to a handful of channels) or " +
      `"zig" (each ZIG loses the same fraction) (default ${DEFAULTS.pruneScope})`,
    setting: "pruneScope",
    read: oneOf(["global", "zig"], "global or zig"),
  },
  baseline: {
    type: "boolean",
    section: "Pruning (DHSPG, OTOv2)",
    help: "also train the same model without pruning (plain optimizer, same schedule) and " +
      "report both",
    setting: "baseline",
  },
  scratch: {
    type: "boolean",
    section: "Pruning (DHSPG, OTOv2)",
    help: "also train the compressed architecture from scratch (fresh weights, plain " +
      "optimizer, same schedule): how much of the pruned model's accuracy its shape alone " +
      "gives (Liu et al. 2019)",
    setting: "scratch",
  },
  "allow-unreached": {
    type: "boolean",
    section: "Pruning (DHSPG, OTOv2)",
    help: "exit with 0 even when pruning cannot start within the run or the target sparsity " +
      "is not reached (otherwise: a line on the terminal and exit code 4)",
  },
  out: {
    type: "string",
    arg: "DIR",
    section: "Output",
    help: "output directory (default ./out/<model>-<dataset>; relative to the folder the " +
      "command was started from). One run at a time: a lock file keeps a second run out",
  },
  resume: {
    type: "boolean",
    section: "Output",
    help: "continue from DIR/checkpoint.safetensors where the run stopped (settings come from " +
      "the checkpoint; flags that contradict it are an error, except a larger --epochs: the " +
      "cosine learning rate then follows the longer schedule from the current step on)",
  },
  overwrite: {
    type: "boolean",
    section: "Output",
    help: "start over in a DIR that holds an unfinished run (without it, such a DIR is refused)",
  },
  "checkpoint-every": {
    type: "string",
    arg: "MIN",
    section: "Output",
    help: "also checkpoint inside an epoch every MIN minutes (default 10; 0: at epoch ends " +
      "only). Ctrl-C (SIGINT), SIGTERM or SIGHUP stops the step in progress (between layers), " +
      "checkpoints and exits with 130 / 143 / 129; a second one exits at once (the last " +
      "checkpoint stays valid)",
  },
  backend: {
    type: "string",
    arg: "NAME",
    section: "Output",
    help: "auto (default: WebGPU on a hardware adapter, else wasm), webgpu, wasm (SIMD " +
      "kernels on every CPU core), cpu (the slow TypeScript reference); a resumed run keeps " +
      "its checkpoint's",
  },
  quiet: {
    type: "boolean",
    section: "Output",
    help: "print only errors and the final summary line",
  },
  help: { type: "boolean", short: "h", section: "Output", help: "this text" },
  "stop-after-epoch": {
    type: "string",
    arg: "N",
    section: "Testing",
    help: "exit with code 3 right after checkpointing epoch N (simulates a crash)",
  },
  "stop-after-step": {
    type: "string",
    arg: "N",
    section: "Testing",
    help: "exit with code 3 right after checkpointing optimizer step N",
  },
  "interrupt-at-step": {
    type: "string",
    arg: "N",
    section: "Testing",
    help: "act as if Ctrl-C came part-way through optimizer step N (after its first layer): " +
      "checkpoint the state from before that step and exit with 130",
  },
};

/** Lines printed at the end of a --help section. */
const SECTION_NOTES: Record<string, string[]> = {
  "Pruning (DHSPG, OTOv2)": [
    "(--baseline and --scratch may be added when resuming a run, even a finished one; a later",
    "--resume continues them too.)",
    "(What the defaults do: after --start-pruning each step pulls a penalised channel toward",
    "zero by lr x lambda, and the projection zeroes it once its norm is below the reach, lr x",
    "lambda / (1 - epsilon); channels start near norm 1. With the defaults and the default lr",
    "the reach is about 2 (sgd) or 10 (adam): the target is met one step after pruning starts",
    "(one-shot pruning by OTOv2's saliency, then fine-tuning), which met every target of the",
    "measured short runs and was as accurate as gradual pruning. For gradual pruning (OTOv2's",
    "group-sparsity exploration) give a lambda whose printed budget (lambda x sum of lr over",
    "the pruning steps) is 32 or more with a reach under 1, e.g. --epsilon 0.9 and a later",
    "--start-pruning in a long run; budgets of 4 to 16 mostly stopped short. OTOv2's own lambda",
    "(1e-3 sgd, 1e-2 adam) is sized for hundreds of epochs and leaves a short run unpruned.",
    'README: "DHSPG: regimes and defaults".)',
  ],
};

function helpText(): string {
  const sections = new Map<string, string[]>();
  for (const [name, f] of Object.entries(TRAIN_FLAGS)) {
    const left = `${f.short ? `-${f.short}, ` : ""}--${name}${f.arg ? ` ${f.arg}` : ""}`;
    const line = `  ${left.padEnd(HELP_INDENT - 4)}  ${wrap(f.help, HELP_INDENT, HELP_WIDTH)}`;
    if (!sections.has(f.section)) sections.set(f.section, []);
    sections.get(f.section)!.push(line);
  }
  const body = [...sections].map(([title, lines]) =>
    [title, ...lines, ...(SECTION_NOTES[title] ?? []).map((l) => `  ${l}`)].join("\n")
  );
  return `deno task train [flags]

Train a zoo model once with DHSPG (it prunes while it trains), remove the zero channels, check
the compact model gives the same outputs, and write reports, ONNX and safetensors files.
With no flags: small-cnn on the embedded Fashion-MNIST sample (4000 train / 1000 test images).

${body.join("\n\n")}

Files written to DIR: report.json, report.md, curves.svg, full.onnx, compressed.onnx,
full.safetensors, compressed.safetensors, checkpoint.safetensors (atomically, see --resume);
with --baseline also baseline.safetensors and baseline-checkpoint.safetensors, with --scratch
scratch.safetensors and scratch-checkpoint.safetensors.
Exit codes: 0 done, 1 failed (data, verification, ...), 2 bad flags, 3 --stop-after-*,
4 pruning did not reach its target (see --allow-unreached), 129 / 130 / 143 interrupted by
SIGHUP / SIGINT / SIGTERM.`;
}

/** `--help`. */
export const HELP: string = helpText();

/** What {@link parseCli} returns. */
export interface ParsedCli {
  /** The settings, defaults filled in. */
  settings: Settings;
  flags: RunFlags;
  /** The settings given explicitly (checked against a checkpoint on `--resume`). */
  explicit: Set<keyof Settings>;
}

/** The data sets read from files (`--data-dir`); the others are embedded or generated. */
const DATASETS_WITH_FILES = ["fashion-mnist", "cifar10", "folder", "div2k"];

/** Flags that apply only to some tasks or data sets. */
const APPLIES: {
  setting: keyof Settings;
  flag: string;
  when: (s: Settings) => boolean;
  what: string;
}[] = [
  {
    setting: "scale",
    flag: "scale",
    when: (s) => s.task === "super-resolution",
    what: "--task super-resolution",
  },
  {
    setting: "patchSize",
    flag: "patch-size",
    when: (s) => s.task === "super-resolution",
    what: "--task super-resolution",
  },
  {
    setting: "imageSize",
    flag: "image-size",
    when: (s) => s.task === "classification" && s.dataset === "folder",
    what: "--dataset folder (classification)",
  },
  {
    setting: "valSplit",
    flag: "val-split",
    when: (s) => s.task === "classification" || s.dataset === "folder",
    what: "--task classification and --dataset folder",
  },
  {
    setting: "dataDir",
    flag: "data-dir",
    when: (s) => DATASETS_WITH_FILES.includes(s.dataset),
    what: `the data sets read from files (${DATASETS_WITH_FILES.join(", ")}), not to --dataset`,
  },
  {
    setting: "skipBadImages",
    flag: "skip-bad-images",
    when: (s) => ["folder", "div2k"].includes(s.dataset),
    what: "--dataset folder or div2k",
  },
];

/**
 * Fill in the task's defaults for the settings not given, and check the model, the data set and
 * the task-specific flags belong to the task.
 */
function checkTask(s: Settings, explicit: Set<keyof Settings>): void {
  const task = taskOf(s.task);
  for (const [k, val] of Object.entries(task.defaults ?? {})) {
    if (!explicit.has(k as keyof Settings)) (s as unknown as Record<string, unknown>)[k] = val;
  }
  if (!explicit.has("dataset")) s.dataset = task.datasets[0];
  if (!s.onnx && zoo[s.model].task !== task.name) {
    throw new UsageError(
      `--model ${s.model} is a ${zoo[s.model].task} model; for --task ${task.name} choose one of ` +
        modelsOf(task.name).join(", "),
    );
  }
  if (!task.datasets.includes(s.dataset)) {
    throw new UsageError(
      `unknown --dataset "${s.dataset}" for --task ${task.name}; choose one of ` +
        task.datasets.join(", "),
    );
  }
  if (["folder", "div2k"].includes(s.dataset) && s.dataDir === null) {
    throw new UsageError(`--dataset ${s.dataset} needs --data-dir DIR`);
  }
  for (const a of APPLIES) {
    if (explicit.has(a.setting) && !a.when(s)) {
      throw new UsageError(
        a.setting === "dataDir"
          ? `--data-dir does not apply to --dataset ${s.dataset} (it has no files); drop it or ` +
            `choose one of ${DATASETS_WITH_FILES.join(", ")}`
          : `--${a.flag} applies only to ${a.what}`,
      );
    }
  }
}

/**
 * `--lr -1` as `--lr=-1`: parseArgs takes a value that starts with "-" for a flag, so negative
 * numbers reach the flag's own check ("must be positive") instead of "ambiguous".
 */
export function joinNegativeValues(args: string[], flags: Readonly<Record<string, FlagSpec>>) {
  const takesValue = new Set(
    Object.entries(flags).flatMap(([k, f]) =>
      f.type === "string" ? [`--${k}`, ...(f.short ? [`-${f.short}`] : [])] : []
    ),
  );
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (takesValue.has(args[i]) && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}

/** Parse the command line; bad flags throw a one-line {@link UsageError}. */
export function parseCli(args: string[]): ParsedCli {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args: joinNegativeValues(args, TRAIN_FLAGS),
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        Object.entries(TRAIN_FLAGS).map(([k, f]) => [
          k,
          { type: f.type, ...(f.short ? { short: f.short } : {}) },
        ]),
      ),
    }).values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see --help)`);
  }
  const s: Settings = { ...DEFAULTS };
  const explicit = new Set<keyof Settings>();
  for (const [name, f] of Object.entries(TRAIN_FLAGS)) {
    const val = v[name];
    if (!f.setting || val === undefined || val === false) continue;
    (s as unknown as Record<string, unknown>)[f.setting] = typeof val === "string"
      ? f.read!(val, name)
      : val;
    explicit.add(f.setting);
  }
  if (explicit.has("onnx")) {
    for (
      const [k, flag] of [["model", "--model"], ["width", "--width"], ["scratch", "--scratch"]]
    ) {
      if (explicit.has(k as keyof Settings)) {
        throw new UsageError(
          `${flag} does not apply to --onnx models` +
            (k === "scratch" ? " (an ONNX file has no initializer to train from scratch)" : ""),
        );
      }
    }
    s.model = s.onnx!.replace(/^.*[\\/]/, "").replace(/\.onnx$/i, "") || "onnx";
  } else if (explicit.has("inputShape")) {
    throw new UsageError("--input-shape applies to --onnx models only");
  }
  checkTask(s, explicit);
  const opt = s.optimizer as OptimizerName;
  if (!explicit.has("lr")) s.lr = defaultLr(opt);
  if (!explicit.has("weightDecay")) s.weightDecay = defaultWeightDecay(opt);
  if (explicit.has("momentum") && opt !== "sgd") {
    throw new UsageError(`--momentum applies to --optimizer sgd only (not ${opt})`);
  }
  if (v.resume && v.overwrite) {
    throw new UsageError("--resume continues a run, --overwrite starts it over: give one");
  }

  const str = (k: string) => v[k] as string | undefined;
  const backend = str("backend") ?? null;
  if (backend !== null) {
    oneOf(["auto", "webgpu", "wasm", "cpu"], "auto, webgpu, wasm or cpu")(backend, "backend");
  }
  if (str("out") !== undefined) nonEmpty("a directory")(str("out")!, "out");
  const optional = (k: string, kind: NumKind) =>
    str(k) === undefined ? null : num(k, str(k)!, kind);
  const flags: RunFlags = {
    out: userPath(str("out") ?? join("out", `${s.model}-${s.dataset}`)),
    resume: Boolean(v.resume),
    overwrite: Boolean(v.overwrite),
    allowUnreached: Boolean(v["allow-unreached"]),
    quiet: Boolean(v.quiet),
    backend: backend as RunFlags["backend"],
    checkpointMinutes: optional("checkpoint-every", "non-neg") ?? 10,
    stopAfterEpoch: optional("stop-after-epoch", "pos-int"),
    stopAfterStep: optional("stop-after-step", "pos-int"),
    interruptAtStep: optional("interrupt-at-step", "pos-int"),
    help: Boolean(v.help),
  };
  return { settings: s, flags, explicit };
}
