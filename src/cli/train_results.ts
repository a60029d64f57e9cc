/**
 * The end of a train CLI run: compress the pruned model, check it computes what the full one
 * does, write the weights, ONNX files and reports, and print the summary.
 * @module
 */
import { join } from "node:path";
import { fromHost, getDefaultBackend, type Tensor, tidy } from "../tensor.ts";
import { noGrad } from "../ops/registry.ts";
import type { Module } from "../nn/module.ts";
import type { OtoCompressed } from "../oto.ts";
import type { DHSPGStats } from "../optim/dhspg.ts";
import { saveWeights } from "../io/weights.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { exportOnnx } from "../onnx/export.ts";
import {
  epochTable,
  type ModelSummary,
  reportCurves,
  reportMarkdown,
  type TrainReport,
} from "./report.ts";
import { type MeterReading, metricField, metricFields } from "./task.ts";
import type { RunContext, TrainedRun } from "./train_loop.ts";
import { buildOptions, type PrunedSetup } from "./train_setup.ts";
import { ARCH_KEY, type Architecture } from "./shipped.ts";
import { preprocessingOf, shipMetadata } from "./preprocessing.ts";

/** Verification tolerance: max |full - compressed| / max |full| on a test batch. */
export const VERIFY_TOLERANCE = 1e-3;

/** A trained run: its model, per-epoch history and training seconds. */
export interface RunResult extends TrainedRun {
  model: Module;
}

/** The channels of the model's first convolution (or linear layer): the zoo's `width`. */
export function firstWidth(model: Module): number | null {
  const w = model.namedParameters().find(([, t]) => t.rank >= 2);
  return w ? w[1].shape[0] : null;
}

/** The output files of a run folder, by description. */
export function runFiles(out: string, checkpoint: string): Record<string, string> {
  return {
    "full model weights (safetensors)": join(out, "full.safetensors"),
    "compressed model weights (safetensors)": join(out, "compressed.safetensors"),
    "full model (ONNX, opset 17)": join(out, "full.onnx"),
    "compressed model (ONNX, opset 17)": join(out, "compressed.onnx"),
    "report (JSON)": join(out, "report.json"),
    "report (Markdown)": join(out, "report.md"),
    "training curves (SVG)": join(out, "curves.svg"),
    "checkpoint (weights + optimizer state + history)": checkpoint,
  };
}

/** Max |a - b| and max |a| of two models' outputs on `x`. */
export async function compareOutputs(
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

/** The compressed model, checked against the full one on the first test batch. */
export interface Verified {
  compressed: OtoCompressed;
  fullEval: MeterReading;
  smallEval: MeterReading;
  verify: TrainReport["verify"];
}

/** Compress the pruned run's model, evaluate both models and compare their outputs. */
export async function compressAndVerify(ctx: RunContext, p: PrunedSetup): Promise<Verified> {
  const compressed = await p.oto.compress();
  const small = compressed.model;
  const testLoader = ctx.data.testBatches();
  const fullEval = await ctx.task.evaluate(p.model, testLoader);
  const smallEval = await ctx.task.evaluate(small, testLoader);
  const vb = ctx.data.verifyBatch();
  const vx = fromHost(vb.x, vb.shape, "f32", getDefaultBackend());
  const cmp = await compareOutputs(p.model, small, vx);
  vx.dispose();
  const relDiff = cmp.maxAbsDiff / Math.max(cmp.scale, 1e-12);
  return {
    compressed,
    fullEval,
    smallEval,
    verify: {
      images: vb.shape[0],
      maxAbsDiff: cmp.maxAbsDiff,
      relDiff,
      tolerance: VERIFY_TOLERANCE,
      passed: relDiff <= VERIFY_TOLERANCE,
    },
  };
}

/** Everything {@link writeResults} reports. */
export interface Outcome {
  pruned: PrunedSetup;
  run: TrainedRun;
  finalStats: DHSPGStats;
  verified: Verified;
  baseline: RunResult | null;
  scratch: RunResult | null;
  /** Checkpoint files of the extra runs. */
  extraCheckpoints: { baseline: string; scratch: string };
  backend: string;
}

/** Write the weights, ONNX files and reports; print the tables and the summary line. */
export async function writeResults(ctx: RunContext, o: Outcome): Promise<TrainReport> {
  const { s, flags, task, data } = ctx;
  const { oto, model, input, startStep } = o.pruned;
  const { compressed, fullEval, smallEval, verify } = o.verified;
  const small = compressed.model;
  const cr = compressed.report;
  const files = runFiles(flags.out, ctx.checkpoint);
  const preprocessing = preprocessingOf(data.inputShape, data.mean, data.std);
  const shipped = shipMetadata({
    preprocessing,
    classNames: data.classNames,
    task: task.name,
    model: s.model,
    dataset: data.name,
  });
  const meta = { ...shipped, settings: JSON.stringify(s) };
  // The architecture: enough for oto to rebuild a zoo model from its file alone. An imported
  // ONNX model has none (its graph is in the ONNX files).
  const arch: Architecture = { model: s.model, options: buildOptions(s, data), input };
  const kept = Object.fromEntries(cr.zigs.filter((z) => z.prunable).map((z) => [z.id, z.kept]));
  const archOf = (a: Architecture): Record<string, string> =>
    s.onnx ? {} : { [ARCH_KEY]: JSON.stringify(a) };
  await saveWeights(model, files["full model weights (safetensors)"], { ...meta, ...archOf(arch) });
  await saveWeights(small, files["compressed model weights (safetensors)"], {
    ...meta,
    ...archOf({ ...arch, kept }),
  });
  // Any batch size (and, for fully convolutional tasks, any image size); the preprocessing and
  // class names travel with the file.
  const dynamicAxes: Record<number, string> = task.dynamicSize
    ? { 0: "batch", 2: "height", 3: "width" }
    : { 0: "batch" };
  const onnxOpts = { dynamicAxes, metadata: shipped };
  const fullOnnx = await exportOnnx(model, files["full model (ONNX, opset 17)"], input, onnxOpts);
  const smallOnnx = await exportOnnx(
    small,
    files["compressed model (ONNX, opset 17)"],
    input,
    onnxOpts,
  );
  const testLoader = data.testBatches();
  const summarize = async (
    label: "baseline" | "scratch",
    x: RunResult,
    cost: { params: number; macs: number; flops: number },
  ): Promise<ModelSummary> => {
    const file = join(flags.out, `${label}.safetensors`);
    files[`${label} weights (safetensors)`] = file;
    files[`${label} checkpoint`] = o.extraCheckpoints[label];
    await saveWeights(x.model, file, meta);
    const e = await task.evaluate(x.model, testLoader);
    const { params, macs, flops } = cost;
    return { params, macs, flops, testLoss: e.loss, ...metricFields("test", task.metrics, e) };
  };
  const baseline = o.baseline ? await summarize("baseline", o.baseline, oto.cost) : undefined;
  const scratch = o.scratch
    ? await summarize("scratch", o.scratch, {
      params: cr.paramsAfter,
      macs: cr.macsAfter,
      flops: cr.flopsAfter,
    })
    : undefined;
  const zigs = oto.partition.zigs.map((z) => ({
    id: z.id,
    size: z.size,
    kept: cr.zigs.find((k) => k.id === z.id)?.kept ?? z.size,
    prunable: z.prunable,
    ...(z.reason ? { reason: z.reason } : {}),
    layers: z.layers,
  }));
  const st = o.finalStats;
  const report: TrainReport = {
    title: `oto: ${s.model} on ${data.name}`,
    // Defaults resolved: the values the run used, and the group-lasso budget they give.
    settings: {
      ...s,
      width: s.width ?? firstWidth(model),
      lambda: o.pruned.plan.lambda,
      lambdaBudget: o.pruned.plan.budget,
      firstStepReach: o.pruned.plan.firstStepReach,
      regime: o.pruned.plan.regime,
      startPruningStep: startStep,
    },
    backend: o.backend,
    dataset: {
      name: data.name,
      summary: data.summary,
      train: data.trainCount,
      ...(data.valCount ? { val: data.valCount } : {}),
      test: data.testCount,
      shape: input.slice(1),
      classes: data.classes,
      ...(data.classNames ? { classNames: data.classNames } : {}),
    },
    preprocessing,
    history: o.run.history,
    curve: o.run.curve,
    ...(o.baseline ? { baselineHistory: o.baseline.history } : {}),
    ...(o.scratch ? { scratchHistory: o.scratch.history } : {}),
    full: {
      params: cr.paramsBefore,
      macs: cr.macsBefore,
      flops: cr.flopsBefore,
      testLoss: fullEval.loss,
      ...metricFields("test", task.metrics, fullEval),
      onnxBytes: fullOnnx.bytes,
    },
    compressed: {
      params: cr.paramsAfter,
      macs: cr.macsAfter,
      flops: cr.flopsAfter,
      testLoss: smallEval.loss,
      ...metricFields("test", task.metrics, smallEval),
      onnxBytes: smallOnnx.bytes,
    },
    ...(baseline ? { baseline } : {}),
    ...(scratch ? { scratch } : {}),
    ...(data.reference
      ? {
        reference: {
          name: data.reference.name,
          ...Object.fromEntries(
            Object.entries(data.reference.metrics).map(([k, v]) => [metricField("test", k), v]),
          ),
        },
      }
      : {}),
    zigs,
    groups: {
      total: st.totalGroups,
      zero: st.zeroGroups,
      sparsity: st.groupSparsity,
      target: s.targetSparsity,
      reached: st.reachedTarget,
      reachedStep: st.reachedStep,
      reachedEpoch: st.reachedStep === null ? null : st.reachedStep / o.pruned.stepsPerEpoch,
    },
    verify,
    timings: {
      totalSeconds: ctx.clock.elapsed,
      sessions: ctx.clock.sessions + 1,
      trainSeconds: o.run.seconds,
      ...(o.baseline ? { baselineSeconds: o.baseline.seconds } : {}),
      ...(o.scratch ? { scratchSeconds: o.scratch.seconds } : {}),
    },
    files,
    notes: [
      ...(data.notes ?? []),
      ...cr.notes,
      ...(st.reachedTarget ? [] : [
        `the target group sparsity ${s.targetSparsity} was not reached ` +
        `(${st.groupSparsity.toFixed(3)}): the group-lasso budget lambda x sum of lr over the ` +
        `pruning steps was ${o.pruned.plan.budget.toPrecision(3)}; raise --lambda (the budget ` +
        "grows with it), start pruning earlier or train longer",
      ]),
    ],
  };
  await writeTextAtomic(files["report (JSON)"], JSON.stringify(report, null, 2) + "\n");
  await writeTextAtomic(files["report (Markdown)"], reportMarkdown(report, task.metrics));
  await writeTextAtomic(files["training curves (SVG)"], reportCurves(report, task.metrics));
  printSummary(ctx, report);
  return report;
}

/** The tables, the size change, the kept channels and the one-line summary. */
function printSummary(ctx: RunContext, report: TrainReport): void {
  const { s, task, data, io, flags } = ctx;
  const m = task.metrics;
  io.log("");
  io.log(epochTable(report.history, true, m));
  if (report.baselineHistory) {
    io.log("\nbaseline (no pruning):");
    io.log(epochTable(report.baselineHistory, false, m));
  }
  if (report.scratchHistory) {
    io.log("\nscratch (the compressed architecture trained from fresh weights):");
    io.log(epochTable(report.scratchHistory, false, m));
  }
  io.log("");
  const pctChange = (a: number, b: number) => `${(100 * (1 - b / a)).toFixed(1)}%`;
  const f = report.full, c = report.compressed;
  io.log(
    `params ${f.params.toLocaleString("en-US")} -> ${c.params.toLocaleString("en-US")} ` +
      `(-${pctChange(f.params, c.params)}), MACs ${f.macs.toLocaleString("en-US")} -> ` +
      `${c.macs.toLocaleString("en-US")} (-${pctChange(f.macs, c.macs)})`,
  );
  const g = report.groups;
  io.log(
    `group sparsity ${g.sparsity.toFixed(3)} (target ${g.target}): ` +
      (g.reachedStep == null
        ? "the target was not met"
        : `first met at step ${g.reachedStep} (epoch ${g.reachedEpoch!.toFixed(2)})` +
          // A target of 0 is met before pruning starts: no "steps after" to tell.
          (g.reachedStep >= Number(report.settings.startPruningStep)
            ? `, ${g.reachedStep - Number(report.settings.startPruningStep)} steps after ` +
              "pruning started"
            : "")),
  );
  const pz = report.zigs.filter((z) => z.prunable);
  io.log(
    `kept channels: ${pz.slice(0, 12).map((z) => `#${z.id} ${z.kept}/${z.size}`).join(", ")}` +
      (pz.length > 12 ? `, ... (${pz.length - 12} more in report.md)` : ""),
  );
  const head = m[0], key = metricField("test", head.key);
  const val = (x: ModelSummary) => head.format(x[key] ?? NaN, 2);
  const v = report.verify;
  console.log(
    `oto ${s.model} on ${data.name}: test ${head.name} full ${val(f)}, compressed ${val(c)}` +
      (report.baseline ? `, baseline ${val(report.baseline)}` : "") +
      (report.scratch ? `, scratch ${val(report.scratch)}` : "") +
      (report.reference
        ? `, ${report.reference.name} ${head.format(report.reference[key] as number, 2)}`
        : "") +
      `; params ${f.params} -> ${c.params}; verify max diff ` +
      `${v.maxAbsDiff.toExponential(2)} (rel ${v.relDiff.toExponential(2)}); ` +
      `${report.timings.totalSeconds.toFixed(1)} s; wrote ${flags.out}`,
  );
}
