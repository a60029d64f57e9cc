/**
 * The pure half of `deno task sweep` (bench/sweep.ts): a sweep spec (JSON) expanded into runs of
 * `deno task train`, what each run still needs given its folder (start, resume, add the
 * baseline or scratch control, nothing), and the summary table made from the runs'
 * `report.json` files. No process is started here, so the tests can check it on made-up
 * folders and reports.
 * @module
 */

import { CosineAnnealing } from "../src/optim/schedules.ts";
import { type Regime, regimeOf } from "../src/cli/pruning_plan.ts";

/** One value of an axis: its id (part of the run's name) and the train flags it adds. */
export type AxisValues = Record<string, string[]>;

/** A sweep as written in `bench/sweeps/<name>.json`. */
export interface SweepSpec {
  /** The folder name under bench/results/ (default: the spec file's name). */
  name?: string;
  description?: string;
  /** Flags every run gets. */
  common: string[];
  /** Axes in order; every combination of one value per axis is a run (named id_id_...). */
  axes: { name: string; values: AxisValues }[];
  /**
   * The axes an unpruned baseline depends on (e.g. ["model"]): one run of each combination of
   * their values gets `--baseline`, and the summary compares the others with it. Omit for none.
   */
  baselineBy?: string[];
  /**
   * Which runs also train their pruned shape from scratch (`--scratch`): true for all, or
   * per axis the value ids that qualify (a run qualifies when it matches every listed axis).
   */
  scratch?: boolean | Record<string, string[]>;
  /** Runs to leave out: per axis the value ids (a run is skipped if it matches every axis). */
  exclude?: Record<string, string[]>[];
}

/** One run of a sweep. */
export interface PlannedRun {
  /** Folder name: the axis value ids joined by "_". */
  id: string;
  /** Axis name -> value id. */
  values: Record<string, string>;
  /** The flags of a fresh start (common + axis values), without --out and the extras. */
  flags: string[];
  baseline: boolean;
  scratch: boolean;
  /** The id of the run in the same baseline group that carries the baseline (may be itself). */
  baselineRun: string | null;
}

const ID = /^[A-Za-z0-9.+-]+$/;

/** Check a parsed spec; throws one line naming the problem. */
export function checkSpec(spec: unknown, where: string): SweepSpec {
  const bad = (what: string): never => {
    throw new Error(`${where}: ${what}`);
  };
  if (typeof spec !== "object" || spec === null) bad("the spec must be a JSON object");
  const s = spec as SweepSpec;
  const strings = (a: unknown, what: string) => {
    if (!Array.isArray(a) || a.some((x) => typeof x !== "string")) {
      bad(`${what} must be an array of strings`);
    }
  };
  strings(s.common, '"common"');
  if (!Array.isArray(s.axes) || s.axes.length === 0) bad('"axes" must be a non-empty array');
  const names = new Set<string>();
  for (const [i, a] of s.axes.entries()) {
    if (typeof a?.name !== "string" || !a.name) bad(`axis ${i} needs a "name"`);
    if (names.has(a.name)) bad(`axis "${a.name}" appears twice`);
    names.add(a.name);
    const ids = Object.keys(a.values ?? {});
    if (!ids.length) bad(`axis "${a.name}" has no values`);
    for (const id of ids) {
      if (!ID.test(id)) bad(`axis "${a.name}": value id "${id}" may use only A-Z a-z 0-9 . + -`);
      strings(a.values[id], `axis "${a.name}" value "${id}"`);
    }
  }
  const known = (axis: string, what: string) => {
    if (!names.has(axis)) bad(`${what} names unknown axis "${axis}"`);
  };
  for (const a of s.baselineBy ?? []) known(a, '"baselineBy"');
  const filter = (f: Record<string, string[]>, what: string) => {
    for (const [axis, ids] of Object.entries(f)) {
      known(axis, what);
      strings(ids, `${what}.${axis}`);
      const values = s.axes.find((x) => x.name === axis)!.values;
      for (const id of ids) if (!(id in values)) bad(`${what}.${axis}: no value "${id}"`);
    }
  };
  if (typeof s.scratch === "object" && s.scratch !== null) filter(s.scratch, '"scratch"');
  for (const e of s.exclude ?? []) filter(e, '"exclude"');
  return s;
}

const matches = (values: Record<string, string>, f: Record<string, string[]>) =>
  Object.entries(f).every(([axis, ids]) => ids.includes(values[axis]));

/** Every run of a spec, in axis order (the first axis varies slowest). */
export function expand(spec: SweepSpec): PlannedRun[] {
  let combos: Record<string, string>[] = [{}];
  for (const a of spec.axes) {
    combos = combos.flatMap((c) => Object.keys(a.values).map((id) => ({ ...c, [a.name]: id })));
  }
  combos = combos.filter((c) => !(spec.exclude ?? []).some((e) => matches(c, e)));
  const groupKey = (c: Record<string, string>) =>
    spec.baselineBy ? spec.baselineBy.map((a) => c[a]).join("_") : null;
  const carrier = new Map<string, string>();
  return combos.map((c) => {
    const id = spec.axes.map((a) => c[a.name]).join("_");
    const key = groupKey(c);
    let baseline = false;
    if (key !== null && !carrier.has(key)) {
      carrier.set(key, id);
      baseline = true;
    }
    const scratch = spec.scratch === true ||
      (typeof spec.scratch === "object" && spec.scratch !== null && matches(c, spec.scratch));
    return {
      id,
      values: c,
      flags: [...spec.common, ...spec.axes.flatMap((a) => a.values[c[a.name]])],
      baseline,
      scratch,
      baselineRun: key === null ? null : carrier.get(key)!,
    };
  });
}

/** What is in a run's folder. */
export interface FolderState {
  /** report.json, parsed (null when absent or unreadable). */
  report: Record<string, unknown> | null;
  /** checkpoint.safetensors exists. */
  checkpoint: boolean;
  /** The folder exists at all. */
  exists: boolean;
}

/** What a run needs next. */
export type Action =
  | { kind: "done" }
  /** Nothing usable in the folder: (clear it and) start with the run's flags. */
  | { kind: "start"; args: string[] }
  /** Continue from the checkpoint, adding the extras still missing. */
  | { kind: "resume"; args: string[] }
  /** A finished run lacks a control and has no checkpoint to add it from. */
  | { kind: "blocked"; reason: string };

/**
 * The next action of `run` in folder `out`: done when the report holds every requested
 * control; resume (the CLI continues mid-epoch, or adds --baseline / --scratch to a finished
 * run) when a checkpoint exists; otherwise a fresh start.
 */
export function nextAction(run: PlannedRun, out: string, st: FolderState): Action {
  const extras = (has: (k: "baseline" | "scratch") => boolean) => [
    ...(run.baseline && !has("baseline") ? ["--baseline"] : []),
    ...(run.scratch && !has("scratch") ? ["--scratch"] : []),
  ];
  if (st.report) {
    const missing = extras((k) => st.report![k] !== undefined);
    if (!missing.length) return { kind: "done" };
    if (st.checkpoint) return { kind: "resume", args: ["--resume", "--out", out, ...missing] };
    return {
      kind: "blocked",
      reason: `${out} is finished but lacks ${missing.join(" ")} and has no ` +
        "checkpoint.safetensors to add it from; delete the folder to run it again",
    };
  }
  if (st.checkpoint) {
    return { kind: "resume", args: ["--resume", "--out", out, ...extras(() => false)] };
  }
  return { kind: "start", args: [...run.flags, ...extras(() => false), "--out", out] };
}

// ---------------------------------------------------------------------------------------------
// The summary.

/** One row of the summary (also written to summary.json). */
export interface SummaryRow {
  id: string;
  values: Record<string, string>;
  model: string;
  lambda: number | null;
  epsilon: number;
  startPruningStep: number;
  totalSteps: number;
  /** lambda · Σ lr over the pruning steps (recomputed from the settings and the schedule). */
  budget: number | null;
  /** lr · lambda / (1 − epsilon) at the first pruning step. */
  firstStepReach: number | null;
  /** The regime these numbers predict (src/cli/pruning_plan.ts). */
  regime: Regime | null;
  target: number;
  /** Where per-epoch accuracy was measured: "val" (held-out training images) or "test". */
  split: "val" | "test";
  /** Final per-epoch accuracy on `split`, and the one test score of the compressed model. */
  acc: number;
  testAcc: number;
  baselineAcc: number | null;
  baselineTestAcc: number | null;
  scratchAcc: number | null;
  scratchTestAcc: number | null;
  sparsity: number;
  reached: boolean;
  reachedStep: number | null;
  reachedEpoch: number | null;
  macsFull: number;
  macs: number;
  paramsFull: number;
  params: number;
  /** "kept/size" of every prunable ZIG, in ZIG order. */
  kept: string[];
  trainSeconds: number;
}

type Rec = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === "number" ? v : null);

/** The per-epoch accuracy split of a history and its last value. */
function lastAcc(h: unknown): { split: "val" | "test"; acc: number | null } {
  const hist = Array.isArray(h) ? h as Rec[] : [];
  const last = hist[hist.length - 1] ?? {};
  if (typeof last.valAccuracy === "number") return { split: "val", acc: last.valAccuracy };
  return { split: "test", acc: num(last.testAccuracy) };
}

/**
 * Budget, first-step reach and regime of a run from its settings (lr, lambda, epsilon, start)
 * and the cosine schedule the train CLI uses over `totalSteps` (null when a setting is
 * missing).
 */
function planNumbers(s: Rec, totalSteps: number) {
  const lr = num(s.lr), lambda = num(s.lambda), eps = num(s.epsilon);
  const start = num(s.startPruningStep);
  if (lr === null || lambda === null || eps === null || start === null || !totalSteps) {
    return { budget: null, firstStepReach: null, regime: null };
  }
  const cos = new CosineAnnealing(null, { tMax: totalSteps });
  let sum = 0;
  for (let t = start; t < totalSteps; t++) sum += cos.lrAt(t, lr);
  const budget = lambda * sum;
  const firstStepReach = start < totalSteps ? cos.lrAt(start, lr) * lambda / (1 - eps) : 0;
  return { budget, firstStepReach, regime: regimeOf(firstStepReach, budget) };
}

/** A summary row from a run's report.json (and its sweep run), baseline from `base`. */
export function summaryRow(run: PlannedRun, report: Rec, base: Rec | null): SummaryRow {
  const s = report.settings as Rec;
  const full = report.full as Rec, comp = report.compressed as Rec;
  const groups = report.groups as Rec;
  const hist = report.history as Rec[];
  const { split, acc } = lastAcc(hist);
  const baseSummary = base?.baseline as Rec | undefined;
  const scratch = report.scratch as Rec | undefined;
  const zigs = (report.zigs as Rec[]).filter((z) => z.prunable);
  const totalSteps = (hist[hist.length - 1]?.step as number) ?? 0;
  const plan = planNumbers(s, totalSteps);
  return {
    id: run.id,
    values: run.values,
    model: `${s.model}${s.width !== null && s.width !== undefined ? ` w${s.width}` : ""}`,
    lambda: num(s.lambda),
    epsilon: s.epsilon as number,
    startPruningStep: s.startPruningStep as number,
    totalSteps,
    ...plan,
    target: groups.target as number,
    split,
    acc: acc ?? NaN,
    testAcc: comp.testAccuracy as number,
    baselineAcc: baseSummary ? lastAcc(base!.baselineHistory).acc : null,
    baselineTestAcc: baseSummary ? num(baseSummary.testAccuracy) : null,
    scratchAcc: scratch ? lastAcc(report.scratchHistory).acc : null,
    scratchTestAcc: scratch ? num(scratch.testAccuracy) : null,
    sparsity: groups.sparsity as number,
    reached: groups.reached as boolean,
    reachedStep: num(groups.reachedStep),
    reachedEpoch: num(groups.reachedEpoch),
    macsFull: full.macs as number,
    macs: comp.macs as number,
    paramsFull: full.params as number,
    params: comp.params as number,
    kept: zigs.map((z) => `${z.kept}/${z.size}`),
    trainSeconds: ((report.timings as Rec)?.trainSeconds as number) ?? NaN,
  };
}

const pct = (v: number | null) => (v === null || !Number.isFinite(v) ? "" : (100 * v).toFixed(2));
const diff = (a: number | null, b: number | null) =>
  a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b)
    ? ""
    : `${a >= b ? "+" : "-"}${Math.abs(100 * (a - b)).toFixed(2)}`;
const cell = (v: number | null, ref: number | null) =>
  v === null ? "" : `${pct(v)}${ref === null ? "" : ` (${diff(v, ref)})`}`;

/**
 * The summary as Markdown: one row per finished run with its accuracy on the split the epochs
 * were measured on (validation when the runs hold images out) and the one test score, each
 * against the baseline, the scratch control, the sparsity and when the target was first met,
 * MACs and kept channels per ZIG.
 */
export function summaryMarkdown(
  name: string,
  spec: SweepSpec,
  rows: SummaryRow[],
  pending: string[],
): string {
  const split = rows.length && rows.every((r) => r.split === "val") ? "val" : "test";
  const val = split === "val";
  const head = [
    "run",
    "lambda",
    "eps",
    "budget",
    "first-step reach",
    "prune from step",
    "target",
    ...(val ? ["val acc (vs base)"] : []),
    "test acc (vs base)",
    val ? "scratch val / test" : "scratch test",
    "sparsity",
    "target met at step (epoch)",
    "MACs (change)",
    "params",
    "kept channels per ZIG",
  ];
  const lines = rows.map((r) => {
    const when = r.reachedStep === null
      ? `**not met** (of ${r.totalSteps})`
      : `${r.reachedStep} (${r.reachedEpoch?.toFixed(2)}), +${r.reachedStep - r.startPruningStep}`;
    return [
      r.id,
      r.lambda === null ? "" : String(r.lambda),
      String(r.epsilon),
      r.budget === null ? "" : r.budget.toPrecision(3),
      r.firstStepReach === null ? "" : `${r.firstStepReach.toPrecision(2)} (${r.regime})`,
      `${r.startPruningStep} of ${r.totalSteps}`,
      String(r.target),
      ...(val ? [cell(r.acc, r.baselineAcc)] : []),
      cell(r.testAcc, r.baselineTestAcc),
      r.scratchAcc === null
        ? ""
        : val
        ? `${pct(r.scratchAcc)} / ${pct(r.scratchTestAcc)}`
        : pct(r.scratchTestAcc),
      r.sparsity.toFixed(3),
      when,
      `${r.macs.toLocaleString("en-US")} (-${(100 * (1 - r.macs / r.macsFull)).toFixed(1)}%)`,
      r.params.toLocaleString("en-US"),
      r.kept.join(" "),
    ];
  });
  const bases = new Map<string, SummaryRow>();
  for (const r of rows) if (r.baselineAcc !== null) bases.set(r.model, r);
  const md = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    `# Sweep ${name}`,
    "",
    ...(spec.description ? [spec.description, ""] : []),
    `Common flags: \`${spec.common.join(" ")}\`. Axes: ` +
    spec.axes.map((a) =>
      `${a.name} (${
        Object.entries(a.values).map(([id, f]) => `${id}: \`${f.join(" ") || "(none)"}\``)
          .join("; ")
      })`
    ).join("; ") + ".",
    "",
    (val
      ? "Accuracy in % after the last epoch on the validation images held out of the training " +
        "set, and the compressed model's one score on the test set."
      : "Test accuracy in % after the last epoch (these runs held no validation images out).") +
    " In brackets: " +
    "points against the unpruned baseline of the same model and schedule (`--baseline`). " +
    "Scratch: the pruned shape trained from fresh weights (`--scratch`). Budget: lambda " +
    "times the sum of the learning rates over the pruning steps; first-step reach: " +
    "lr x lambda / (1 - epsilon) at the first pruning step, and the regime they predict " +
    "(src/cli/pruning_plan.ts). " +
    '"Target met at step": the optimizer steps completed when the group sparsity first ' +
    "reached the target, and how many steps after pruning started.",
    "",
    md(head),
    md(head.map(() => "---")),
    ...lines.map(md),
    "",
    ...(bases.size
      ? [
        "Baselines: " + [...bases.values()].map((r) =>
          `${r.model} ${val ? `val ${pct(r.baselineAcc)}, ` : ""}test ${pct(r.baselineTestAcc)}, ` +
          `${r.macsFull.toLocaleString("en-US")} MACs, ${r.paramsFull.toLocaleString("en-US")} ` +
          "params"
        ).join("; ") + ".",
        "",
      ]
      : []),
    ...(pending.length ? [`Not finished yet: ${pending.join(", ")}.`, ""] : []),
  ].join("\n");
}
