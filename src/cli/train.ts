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
 * The pieces: `train_flags.ts` (the flag table, --help, parsing), `train_setup.ts` (model,
 * OTO, optimizers), `train_loop.ts` (epochs, checkpoints, signals), `train_results.ts`
 * (compression, verification, files, reports); the task (data, loss, metrics) is a
 * {@link Task} record (`tasks/`).
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
import { join } from "node:path";
import { init } from "../init.ts";
import type { Module } from "../nn/module.ts";
import { reinitialized } from "../compress/scratch.ts";
import { type Checkpoint, loadCheckpoint, readCheckpointMeta } from "./checkpoint.ts";
import { DEFAULTS, type RunFlags, type Settings, settingsDiff, UsageError } from "./settings.ts";
import { HELP, parseCli } from "./train_flags.ts";
import type { Task } from "./task.ts";
import { taskOf } from "./tasks/index.ts";
import { baseOptimizer, buildModel, epochSeed, setupPruned } from "./train_setup.ts";
import { describePlan } from "./pruning_plan.ts";
import { Console, RunClock, type RunContext, trainRun } from "./train_loop.ts";
import { compressAndVerify, runFiles, type RunResult, writeResults } from "./train_results.ts";
import { lockRunDir, type RunDir, RunDirError } from "./run_dir.ts";
import { StopRequested, type StopSignal, StopSignals } from "./stop.ts";

export { HELP, parseCli, TRAIN_FLAGS } from "./train_flags.ts";
export { type RunFlags, type Settings, startPruningStep, UsageError } from "./settings.ts";
export { CIFAR10_DIR } from "./tasks/classification.ts";
export { VERIFY_TOLERANCE } from "./train_results.ts";
export { StopRequested } from "./stop.ts";

/** Exit code when pruning could not start or did not reach its target (see --allow-unreached). */
export const EXIT_UNREACHED = 4;

/** Checkpoint files of a run folder: the pruned run's and the extra runs'. */
function checkpointFiles(out: string) {
  return {
    pruned: join(out, "checkpoint.safetensors"),
    baseline: join(out, "baseline-checkpoint.safetensors"),
    scratch: join(out, "scratch-checkpoint.safetensors"),
  };
}
type CheckpointFiles = ReturnType<typeof checkpointFiles>;

/** What the folder's checkpoints say about the run in it. */
interface FolderState {
  /** Why the run there is unfinished, or null (no run, or a finished one). */
  unfinished: string | null;
  /** Wall seconds and processes recorded by its latest checkpoint. */
  elapsed: number;
  sessions: number;
}

async function folderState(files: CheckpointFiles, out: string): Promise<FolderState> {
  const st: FolderState = { unfinished: null, elapsed: 0, sessions: 0 };
  let any = false;
  for (const [label, f] of Object.entries(files)) {
    const meta = await readCheckpointMeta(f).catch((e) => {
      st.unfinished ??= (e as Error).message;
      return null;
    });
    if (!meta) continue;
    any = true;
    st.elapsed = Math.max(st.elapsed, (meta.elapsed as number) ?? 0);
    st.sessions = Math.max(st.sessions, (meta.sessions as number) ?? 0);
    const epochs = (meta.settings as Settings | undefined)?.epochs ?? 0;
    if (meta.epoch < epochs) {
      st.unfinished ??= `${label === "pruned" ? "" : `its ${label} run `}stopped at epoch ` +
        `${meta.epoch} of ${epochs} (step ${meta.step})`;
    }
  }
  const report = join(out, "report.json");
  if (any && !st.unfinished && !(await Deno.stat(report).catch(() => null))) {
    st.unfinished = "training finished but its results were never written";
  }
  return st;
}

/**
 * `--resume`: the checkpoint and the settings it was written with. Explicit flags that
 * contradict it are refused (exit 2), except a larger `--epochs`; the extra runs may be
 * added, and an extra run added by an earlier resume continues too.
 */
async function resumeSettings(
  s: Settings,
  explicit: Set<keyof Settings>,
  files: CheckpointFiles,
): Promise<{ ck: Checkpoint; s: Settings } | string> {
  let ck;
  try {
    ck = await loadCheckpoint(files.pruned);
  } catch (e) {
    throw new Error(`--resume: ${(e as Error).message}; run without --resume to start over`);
  }
  const saved = { ...DEFAULTS, ...(ck.meta.settings as Settings) };
  // The extra runs do not change the pruned one: they may be added to a run on resume.
  const extra = (["baseline", "scratch"] as const).filter((k) => explicit.has(k));
  const longer = explicit.has("epochs") && s.epochs > saved.epochs;
  const checked = [...explicit].filter((k) =>
    !extra.includes(k as never) && !(k === "epochs" && longer)
  );
  const diff = settingsDiff(saved, s, checked);
  if (diff.length) {
    return `--resume: flags differ from the checkpoint: ${diff.join("; ")}` +
      (explicit.has("epochs") && !longer ? " (--epochs may only grow)" : "");
  }
  let out: Settings = {
    ...saved,
    ...Object.fromEntries(extra.map((k) => [k, true])),
    ...(longer ? { epochs: s.epochs } : {}),
  };
  for (const k of ["baseline", "scratch"] as const) {
    if (!out[k] && (await Deno.stat(files[k]).catch(() => null))) out = { ...out, [k]: true };
  }
  return { ck, s: out };
}

/** Run the CLI; returns the exit code. */
export async function main(args: string[]): Promise<number> {
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
  if (parsed.flags.help) {
    console.log(HELP);
    return 0;
  }
  let dir: RunDir;
  try {
    dir = await lockRunDir(parsed.flags.out);
  } catch (e) {
    if (!(e instanceof RunDirError)) throw e;
    console.error(`train: ${e.message}`);
    return 1;
  }
  const signals = new StopSignals((sig: StopSignal, code: number) => {
    console.error(
      `train: stopped at once (${sig}${signals.count > 1 ? ", second signal" : ""}); the last ` +
        `checkpoint in ${dir.path} is intact: continue with --resume`,
    );
    dir.release();
    Deno.exit(code);
  });
  try {
    await signals.start();
    return await run(parsed, dir, signals);
  } finally {
    signals.dispose();
    dir.release();
  }
}

async function run(
  parsed: ReturnType<typeof parseCli>,
  dir: RunDir,
  signals: StopSignals,
): Promise<number> {
  const { flags, explicit } = parsed;
  let s = parsed.settings;
  const io = new Console(flags.quiet);
  if (dir.tookOver) {
    io.log(
      `--out ${dir.path}: took over the stale lock of pid ${dir.tookOver.pid} ` +
        `(${dir.tookOver.why})`,
    );
  }
  const ckFiles = checkpointFiles(flags.out);
  const state = await folderState(ckFiles, flags.out);
  if (!flags.resume && state.unfinished && !flags.overwrite) {
    console.error(
      `train: --out ${flags.out} holds an unfinished run (${state.unfinished}); continue it ` +
        `with --resume, start it over with --overwrite, or choose another --out`,
    );
    return 2;
  }
  let ck: Checkpoint | null = null;
  if (flags.resume) {
    const r = await resumeSettings(s, explicit, ckFiles);
    if (typeof r === "string") {
      console.error(`train: ${r}`);
      return 2;
    }
    ({ ck, s } = r);
  }
  const clock = flags.resume ? new RunClock(state.elapsed, state.sessions) : new RunClock();

  const want = flags.backend ?? (ck?.meta.backend as RunFlags["backend"]) ?? "auto";
  const { backend, adapter, reason } = await init({ backend: want ?? "auto", quiet: flags.quiet });
  io.log(`backend ${backend} (${adapter})${reason ? `: ${reason}` : ""}`);
  const task: Task = taskOf(s.task);
  const data = await task.loadData(s);
  io.log(`data ${data.name}: ${data.summary}`);

  // The pruned run.
  const pruned = await setupPruned(s, task, data);
  const { oto, opt, model, startStep, stepsPerEpoch, plan } = pruned;
  const totalSteps = s.epochs * stepsPerEpoch;
  if (startStep >= totalSteps && !flags.allowUnreached) {
    console.error(
      `train: --start-pruning ${
        s.startPruning ?? "(the default)"
      } is step ${startStep}, but the run has ` +
        `${totalSteps} steps (${s.epochs} epoch${s.epochs > 1 ? "s" : ""} of ${stepsPerEpoch}): ` +
        `DHSPG would never prune; lower --start-pruning or raise --epochs ` +
        `(or pass --allow-unreached)`,
    );
    return 2;
  }
  const counts = oto.zigs.counts;
  io.log(
    `model ${s.model}: ${oto.cost.params.toLocaleString("en-US")} parameters, ` +
      `${oto.cost.macs.toLocaleString("en-US")} MACs per image; ${counts.prunableZigs} prunable ` +
      `ZIGs with ${counts.prunableGroups} channels`,
  );
  io.log(describePlan(s, plan));
  if (!flags.resume) {
    // A fresh start: the old run's checkpoints and results go (the folder is locked).
    const old = [...Object.values(ckFiles), ...Object.values(runFiles(flags.out, ""))];
    for (const f of old) if (f) await Deno.remove(f).catch(() => {});
  }
  const ctx: RunContext = {
    s,
    flags,
    task,
    data,
    io,
    checkpoint: ckFiles.pruned,
    label: "oto",
    signals,
    clock,
  };
  const run = await trainRun(ctx, model, opt, ck);
  const finalStats = await opt.stats();

  // The extra runs: plain optimizer, same schedule, a checkpoint of their own.
  const trainExtra = async (label: "baseline" | "scratch", m: Module): Promise<RunResult> => {
    const ckFile = ckFiles[label];
    const xopt = baseOptimizer(s, m);
    const xck = flags.resume ? await loadCheckpoint(ckFile).catch(() => null) : null;
    const r = await trainRun({ ...ctx, checkpoint: ckFile, label }, m, xopt, xck);
    xopt.dispose();
    return { model: m, ...r };
  };
  const baseline = s.baseline ? await trainExtra("baseline", buildModel(s, data).model) : null;
  const verified = await compressAndVerify(ctx, pruned);
  const small = verified.compressed.model;
  // Scratch control: the compact shape with fresh weights.
  let scratch: RunResult | null = null;
  if (s.scratch) {
    const fresh = buildModel(s, data).model;
    const sm = await reinitialized(small, fresh, { seed: epochSeed(s.seed, -1) });
    fresh.dispose();
    scratch = await trainExtra("scratch", sm);
  }
  await writeResults(ctx, {
    pruned,
    run,
    finalStats,
    verified,
    baseline,
    scratch,
    extraCheckpoints: ckFiles,
    backend: `${backend} (${adapter})`,
  });
  small.dispose();
  scratch?.model.dispose();
  opt.dispose();
  const v = verified.verify;
  if (!v.passed) {
    console.error(
      `train: verification FAILED: the compressed model differs from the full one by ` +
        `${v.maxAbsDiff.toExponential(2)} (relative ${v.relDiff.toExponential(2)} > ` +
        `${v.tolerance})`,
    );
    return 1;
  }
  if (!finalStats.reachedTarget) {
    console.error(
      `train: pruning did not reach its target: group sparsity ` +
        `${finalStats.groupSparsity.toFixed(3)} < --target-sparsity ${s.targetSparsity} ` +
        `(results written); train longer, start pruning earlier or raise --lambda` +
        (flags.allowUnreached ? "" : "; --allow-unreached accepts this"),
    );
    if (!flags.allowUnreached) return EXIT_UNREACHED;
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
