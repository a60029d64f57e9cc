/**
 * The reports `deno task train` writes: `report.json` (everything, machine-readable),
 * `report.md` (the same for people: before/after sizes and accuracy, verification, per-ZIG kept
 * channels, per-epoch history, settings) and `curves.svg` (loss, accuracy, group sparsity and
 * learning rate per epoch). Pure functions of a {@link TrainReport}.
 *
 * @example
 * ```ts
 * import { reportCurves, reportMarkdown, type TrainReport } from "./report.ts";
 * const report: TrainReport = JSON.parse(await Deno.readTextFile("out/small-cnn-sample/report.json"));
 * await Deno.writeTextFile("report.md", reportMarkdown(report));
 * await Deno.writeTextFile("curves.svg", reportCurves(report));
 * ```
 * @module
 */
import { curvesSvg, type Panel } from "./plot.ts";
import { table } from "./progress.ts";
import type { Preprocessing } from "./preprocessing.ts";
import { ACCURACY, metricField, type MetricSpec, type Split } from "./task.ts";

/**
 * One epoch of a run. The loss and the task's metrics measured after the epoch are fields
 * `testLoss` / `test<Key>` (or `valLoss` / `val<Key>` with a validation split: the test set is
 * then scored once, at the end); metrics measured on the training batches too are
 * `train<Key>`: `trainAccuracy` and `testAccuracy` for classification.
 */
export interface EpochRecord {
  epoch: number;
  /** Optimizer steps completed at the end of the epoch. */
  step: number;
  trainLoss: number;
  /** Zero groups / prunable groups (DHSPG runs; 0 for the baseline). */
  groupSparsity: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Wall seconds of the epoch's training (evaluation excluded). */
  seconds: number;
  /** Training images per second. */
  throughput: number;
  /** `testLoss` or `valLoss`, and the task's metrics (`trainAccuracy`, `testPsnr`, ...). */
  [metric: string]: number;
}

/**
 * A point of the running training loss (and metrics measured on training batches) within an
 * epoch: `epoch` is fractional (1.5 = half-way through the second epoch). About ten per epoch,
 * at fixed batches, so a resumed run records the same points.
 */
export interface CurvePoint {
  epoch: number;
  loss: number;
  [metric: string]: number;
}

/** Where a history's per-epoch evaluation was done: "val" with a validation split. */
export function evalSplit(h: readonly EpochRecord[]): Split {
  return h.length && "valLoss" in h[0] ? "val" : "test";
}

/** Size, cost and quality of one model; the task's metrics as `test<Key>` fields. */
export interface ModelSummary {
  params: number;
  /** Multiply-accumulates per image. */
  macs: number;
  /** Arithmetic operations per image. */
  flops: number;
  testLoss: number;
  /** ONNX file size in bytes (when exported). */
  onnxBytes?: number;
  /** The task's metrics on the test set (`testAccuracy`, `testPsnr`, ...). */
  [metric: string]: number | undefined;
}

/** Kept channels of one channel space. */
export interface ZigRecord {
  id: number;
  size: number;
  kept: number;
  prunable: boolean;
  reason?: string;
  layers: string[];
}

/** Everything `report.json` holds. */
export interface TrainReport {
  title: string;
  /** The settings of the run (flags after defaults). */
  settings: Record<string, unknown>;
  backend: string;
  dataset: {
    name: string;
    train: number;
    /** Training images held out for validation (`--val-split`). */
    val?: number;
    test: number;
    shape: number[];
    /** Classes of a classifier; null for image-to-image tasks. */
    classes: number | null;
    /** The data in one line (patches, splits, reference scores, skipped images). */
    summary?: string;
    classNames?: string[];
  };
  /** What the model expects of its input (also in the ONNX and safetensors metadata). */
  preprocessing?: Preprocessing;
  history: EpochRecord[];
  /** Running training loss within epochs (the pruned run). */
  curve?: CurvePoint[];
  baselineHistory?: EpochRecord[];
  /** The compressed architecture trained from fresh weights (`--scratch`). */
  scratchHistory?: EpochRecord[];
  full: ModelSummary;
  compressed: ModelSummary;
  baseline?: ModelSummary;
  scratch?: ModelSummary;
  /** A method the task compares with on the same test set (super-resolution: bicubic). */
  reference?: { name: string; [metric: string]: number | string };
  zigs: ZigRecord[];
  groups: {
    total: number;
    zero: number;
    sparsity: number;
    target: number;
    reached: boolean;
    /** Optimizer steps completed when the sparsity first met the target (null: never). */
    reachedStep?: number | null;
    /** The same in epochs (reachedStep / steps per epoch). */
    reachedEpoch?: number | null;
  };
  verify: {
    images: number;
    maxAbsDiff: number;
    /** maxAbsDiff / max |full output|. */
    relDiff: number;
    tolerance: number;
    passed: boolean;
  };
  timings: {
    /** Wall seconds over every process that worked on the run (to its last checkpoint). */
    totalSeconds: number;
    /** Processes that worked on the run (1 + resumes). */
    sessions?: number;
    trainSeconds: number;
    baselineSeconds?: number;
    scratchSeconds?: number;
  };
  files: Record<string, string>;
  notes: string[];
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const change = (a: number, b: number) =>
  a === 0 ? "" : `${b <= a ? "-" : "+"}${(100 * Math.abs(1 - b / a)).toFixed(1)}%`;
const exp = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));

/** ", target met at step N (epoch E), K steps after pruning started" (or "", when unknown). */
function reachedWhen(r: TrainReport): string {
  const { reachedStep, reachedEpoch } = r.groups;
  const start = r.settings.startPruningStep;
  if (reachedStep === undefined) return "";
  if (reachedStep === null) return ", the target was never met";
  return `, the target first met at step ${int(reachedStep)}` +
    (reachedEpoch != null ? ` (epoch ${reachedEpoch.toFixed(2)})` : "") +
    (typeof start === "number" && reachedStep >= start
      ? `, ${int(reachedStep - start)} steps after pruning started`
      : "");
}

/** The task's metrics by default: classification's. */
const DEFAULT_METRICS: readonly MetricSpec[] = [ACCURACY];

/** A model's or epoch's value of metric `m` on `split` (default test), formatted. */
const test = (m: MetricSpec, r: Record<string, number | undefined>, split: Split = "test") =>
  m.format(r[metricField(split, m.key)] ?? NaN, 2);

/**
 * The per-epoch table (header + one row per epoch), as printed after training; one column per
 * metric of the task (`metrics`, default accuracy).
 */
export function epochTable(
  h: readonly EpochRecord[],
  pruning = true,
  metrics: readonly MetricSpec[] = DEFAULT_METRICS,
): string {
  const onTrain = metrics.filter((m) => m.onTrain);
  const ev = evalSplit(h);
  const rows: (string | number)[][] = [[
    "epoch",
    "train loss",
    ...onTrain.map((m) => `train ${m.short}`),
    `${ev} loss`,
    ...metrics.map((m) => `${ev} ${m.short}`),
    ...(pruning ? ["group sparsity"] : []),
    "lr",
    "img/s",
    "time",
  ]];
  for (const r of h) {
    rows.push([
      r.epoch,
      r.trainLoss.toFixed(4),
      ...onTrain.map((m) => m.format(r[metricField("train", m.key)], 2)),
      r[`${ev}Loss`].toFixed(4),
      ...metrics.map((m) => test(m, r, ev)),
      ...(pruning ? [r.groupSparsity.toFixed(3)] : []),
      r.lr.toPrecision(3),
      r.throughput.toFixed(1),
      `${r.seconds.toFixed(1)} s`,
    ]);
  }
  return table(rows);
}

/** Markdown table from rows (first row = header); `left` columns are left-aligned. */
function mdTable(rows: (string | number)[][], left: number[] = [0]): string {
  const cells = rows.map((r) => r.map((c) => String(c).replace(/\|/g, "\\|")));
  return [
    `| ${cells[0].join(" | ")} |`,
    `|${cells[0].map((_, i) => (left.includes(i) ? "---" : "---:")).join("|")}|`,
    ...cells.slice(1).map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/** `report.md`; `metrics` are the task's (default accuracy). */
export function reportMarkdown(
  r: TrainReport,
  metrics: readonly MetricSpec[] = DEFAULT_METRICS,
): string {
  const s = r.settings;
  const f = r.full, c = r.compressed;
  const lines = [
    `# ${r.title}`,
    "",
    `${s.epochs} epochs of DHSPG (${s.optimizer}) on ${r.dataset.name} ` +
    (r.dataset.summary
      ? `(${r.dataset.summary}; model input [${r.dataset.shape}])`
      : `(${int(r.dataset.train)} training / ${int(r.dataset.test)} test images of ` +
        `[${r.dataset.shape}])`) +
    `, backend ${r.backend}. Target group sparsity ${s.targetSparsity}; ` +
    `reached ${r.groups.sparsity.toFixed(3)} (${r.groups.zero} of ${r.groups.total} ` +
    `prunable channels are zero)${reachedWhen(r)}.`,
    "",
    "## Full vs compressed model",
    "",
    mdTable([
      ["", "full", "compressed", "change"],
      ["parameters", int(f.params), int(c.params), change(f.params, c.params)],
      [`MACs per [${r.dataset.shape}] input`, int(f.macs), int(c.macs), change(f.macs, c.macs)],
      [
        `FLOPs per [${r.dataset.shape}] input`,
        int(f.flops),
        int(c.flops),
        change(f.flops, c.flops),
      ],
      ...metrics.map((m) => [`test ${m.name}`, test(m, f), test(m, c), ""]),
      ["test loss", f.testLoss.toFixed(4), c.testLoss.toFixed(4), ""],
      ...(f.onnxBytes && c.onnxBytes
        ? [[
          "ONNX file",
          `${int(f.onnxBytes)} B`,
          `${int(c.onnxBytes)} B`,
          change(f.onnxBytes, c.onnxBytes),
        ]]
        : []),
    ]),
    "",
  ];
  const quality = (m: ModelSummary) =>
    `${metrics.map((k) => `test ${k.name} ${test(k, m)}`).join(", ")}, test loss ` +
    `${m.testLoss.toFixed(4)}, ${int(m.params)} parameters.`;
  if (r.baseline) {
    lines.push(
      `Baseline (same model and schedule, plain ${s.optimizer}, no pruning): ` +
        quality(r.baseline),
      "",
    );
  }
  if (r.scratch) {
    lines.push(
      `Scratch (the compressed architecture trained from fresh weights, plain ${s.optimizer}, ` +
        `same schedule): ${quality(r.scratch)}`,
      "",
    );
  }
  const ref = r.reference;
  if (ref) {
    const vals = metrics
      .filter((m) => typeof ref[metricField("test", m.key)] === "number")
      .map((m) => `test ${m.name} ${m.format(ref[metricField("test", m.key)] as number, 2)}`);
    lines.push(`Reference (${ref.name}, same test images): ${vals.join(", ")}.`, "");
  }
  const v = r.verify;
  lines.push(
    `Verification on ${v.images} test images: max |full - compressed| = ${exp(v.maxAbsDiff)} ` +
      `(relative ${exp(v.relDiff)}, tolerance ${exp(v.tolerance)}): ` +
      `**${v.passed ? "passed" : "FAILED"}**.`,
    "",
    "## Kept channels per ZIG",
    "",
    mdTable([
      ["ZIG", "channels", "kept", "removed", "layers"],
      ...r.zigs.map((z) => [
        `#${z.id}`,
        z.size,
        z.kept,
        z.prunable ? z.size - z.kept : "-",
        (z.prunable ? "" : `(not prunable: ${z.reason ?? "fixed"}) `) + z.layers.join(", "),
      ]),
    ], [0, 4]),
    "",
    "## Per epoch",
    "",
    "```",
    epochTable(r.history, true, metrics),
    "```",
    ...(evalSplit(r.history) === "val"
      ? [
        "",
        "(Per epoch on the validation images held out of the training set; the test set " +
        "is scored once, in the table above.)",
      ]
      : []),
    "",
  );
  if (r.baselineHistory?.length) {
    lines.push("Baseline:", "", "```", epochTable(r.baselineHistory, false, metrics), "```", "");
  }
  if (r.scratchHistory?.length) {
    lines.push("Scratch:", "", "```", epochTable(r.scratchHistory, false, metrics), "```", "");
  }
  lines.push(
    "## Settings",
    "",
    mdTable([
      ["setting", "value"],
      ...Object.entries(s).map(([k, val]) => [k, JSON.stringify(val)]),
    ], [0, 1]),
    "",
    `Time: ${r.timings.totalSeconds.toFixed(1)} s in all, ${r.timings.trainSeconds.toFixed(1)} s ` +
      `training` +
      (r.timings.baselineSeconds !== undefined
        ? `, ${r.timings.baselineSeconds.toFixed(1)} s baseline training`
        : "") +
      (r.timings.scratchSeconds !== undefined
        ? `, ${r.timings.scratchSeconds.toFixed(1)} s scratch training`
        : "") +
      ((r.timings.sessions ?? 1) > 1
        ? ` (over ${r.timings.sessions} processes: the run was resumed; time after a ` +
          `process's last checkpoint is not counted).`
        : "."),
    "",
    ...(r.preprocessing
      ? [
        "## Input",
        "",
        `${r.preprocessing.layout} float32 [N, ${r.preprocessing.channels}, ` +
        `${r.preprocessing.height}, ${r.preprocessing.width}] (any N): ` +
        `${r.preprocessing.formula} with mean [${r.preprocessing.mean.map((v) => v.toFixed(4))}] ` +
        `and std [${r.preprocessing.std.map((v) => v.toFixed(4))}]` +
        (r.dataset.classNames ? `; classes ${r.dataset.classNames.join(", ")}` : "") +
        ". The ONNX and safetensors files carry the same in their metadata.",
        "",
      ]
      : []),
    "## Files",
    "",
    ...Object.entries(r.files).map(([k, p]) => `- \`${p}\`: ${k}`),
    "",
  );
  if (r.notes.length) lines.push("## Notes", "", ...r.notes.map((n) => `- ${n}`), "");
  return lines.join("\n");
}

/**
 * `curves.svg`: loss, each test metric of the task (`metrics`, default accuracy), group
 * sparsity and learning rate per epoch.
 */
export function reportCurves(
  r: TrainReport,
  metrics: readonly MetricSpec[] = DEFAULT_METRICS,
): string {
  const h = r.history, b = r.baselineHistory ?? [], sc = r.scratchHistory ?? [];
  const ev = evalSplit(h);
  const x = h.map((e) => e.epoch);
  const pad = (vals: number[]) => x.map((_, i) => vals[i] ?? NaN);
  const curve = r.curve ?? [];
  // The running training loss within epochs when it was recorded (a 1-epoch run still shows
  // a curve), else the per-epoch means.
  const trainSeries = (key: string, name: string) =>
    curve.length
      ? { name, values: curve.map((p) => p[key]), x: curve.map((p) => p.epoch) }
      : { name, values: h.map((e) => e[metricField("train", key)]) };
  const evLoss = `${ev}Loss`;
  const panels: Panel[] = [
    {
      title: "loss",
      series: [
        trainSeries("loss", "train (running)"),
        { name: ev, values: h.map((e) => e[evLoss]) },
        ...(b.length ? [{ name: `baseline ${ev}`, values: pad(b.map((e) => e[evLoss])) }] : []),
        ...(sc.length ? [{ name: `scratch ${ev}`, values: pad(sc.map((e) => e[evLoss])) }] : []),
      ],
    },
    ...metrics.map((m) => {
      const key = metricField(ev, m.key);
      return {
        title: `${ev} ${m.name}`,
        series: [
          ...(m.onTrain && curve.length ? [trainSeries(m.key, "train (running)")] : []),
          { name: "oto", values: h.map((e) => e[key]) },
          ...(b.length ? [{ name: "baseline", values: pad(b.map((e) => e[key])) }] : []),
          ...(sc.length ? [{ name: "scratch", values: pad(sc.map((e) => e[key])) }] : []),
          ...(typeof r.reference?.[key] === "number"
            ? [{ name: r.reference.name, values: x.map(() => r.reference![key] as number) }]
            : []),
        ],
      };
    }),
    {
      title: "group sparsity",
      series: [{ name: "zero groups / prunable", values: h.map((e) => e.groupSparsity) }],
      yRange: [0, 1],
    },
    { title: "learning rate", series: [{ name: "lr (end of epoch)", values: h.map((e) => e.lr) }] },
  ];
  return curvesSvg(x, panels, r.title);
}
