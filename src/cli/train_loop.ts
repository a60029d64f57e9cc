/**
 * The train CLI's run loop, the same for every task: epochs of {@link trainStep} on the task's
 * batches with a per-step cosine learning rate, a live progress bar, the task's metrics per
 * epoch, and checkpoints after every epoch, every `--checkpoint-every` minutes inside an epoch
 * and when a signal stops the run; a run resumed from a checkpoint (mid-epoch included) replays
 * exactly the batches, seeds, learning rates and updates of an uninterrupted one.
 *
 * On WebGPU the host keeps at most one step (or evaluation batch) queued ahead of the device,
 * so a stop waits for one step, not for minutes of queued work.
 * @module
 */
import { getDefaultBackend } from "../tensor.ts";
import { globalRngState, manualSeed, type RngState, setGlobalRngState } from "../random.ts";
import { sync } from "../backend/webgpu.ts";
import { Interrupted, setInterruptProbe } from "../interrupt.ts";
import type { Module } from "../nn/module.ts";
import { trainStep } from "../nn/train_step.ts";
import type { TrainBatch } from "../nn/train_step.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { CosineAnnealing } from "../optim/schedules.ts";
import { DHSPG } from "../optim/dhspg.ts";
import { Progress } from "./progress.ts";
import { type Checkpoint, restoreCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import type { CurvePoint, EpochRecord } from "./report.ts";
import type { RunFlags, Settings } from "./settings.ts";
import { StepGuard, StopRequested, type StopSignals } from "./stop.ts";
import {
  type BatchSource,
  metricField,
  metricFields,
  type Split,
  type Task,
  type TaskData,
  type TaskMeter,
} from "./task.ts";
import { epochSeed } from "./train_setup.ts";

/** Output of the console: progress bar, per-epoch lines, messages. */
export class Console {
  constructor(readonly quiet: boolean) {}
  log(msg: string): void {
    if (!this.quiet) console.log(msg);
  }
}

/** Wall time of a run over all the processes that worked on it (up to their last checkpoint). */
export class RunClock {
  private readonly t0 = performance.now();
  /** `prior`: seconds of earlier processes; `sessions`: their number. */
  constructor(readonly prior = 0, readonly sessions = 0) {}
  /** Seconds so far, earlier processes included. */
  get elapsed(): number {
    return this.prior + (performance.now() - this.t0) / 1000;
  }
}

/** What a run needs besides its model and optimizer. */
export interface RunContext {
  s: Settings;
  flags: RunFlags;
  task: Task;
  data: TaskData;
  io: Console;
  /** Checkpoint file of this run. */
  checkpoint: string;
  label: string;
  signals: StopSignals;
  clock: RunClock;
}

/** Where a run stopped inside an epoch (stored in mid-epoch checkpoints). */
interface PartialEpoch {
  /** Batches of the epoch already trained on (all of them: stopped while evaluating). */
  batch: number;
  /** The task meter's sums over those batches. */
  meter: unknown;
  /** Training seconds spent in the epoch so far. */
  seconds: number;
  /** The global generator (dropout draws) after the last trained batch. */
  rng: RngState;
}

/** What {@link trainRun} returns. */
export interface TrainedRun {
  history: EpochRecord[];
  /** Running training loss within epochs. */
  curve: CurvePoint[];
  /** Training seconds (evaluation excluded), over every process that trained the run. */
  seconds: number;
}

/** Steps slower than this (average) are guarded so that a stop can cut them part-way. */
const GUARD_STEP_SECONDS = 0.5;
/** Running-loss points per epoch in the curve. */
const CURVE_POINTS = 10;

/**
 * `batches` with at most one batch's work queued on the GPU ahead of the host (after the
 * consumer has used a batch, the previous one's work must be done): a stop then waits for one
 * step, and the progress bar shows what the device did.
 */
async function* paced(batches: AsyncIterable<TrainBatch>): AsyncGenerator<TrainBatch> {
  const gpu = getDefaultBackend() === "webgpu";
  let inFlight: Promise<void> | null = null;
  try {
    for await (const b of batches) {
      yield b;
      if (!gpu) continue;
      const done = sync();
      if (inFlight) await inFlight;
      inFlight = done;
    }
  } finally {
    await inFlight?.catch(() => {});
  }
}

/** A batch source whose epochs are {@link paced}. */
function pacedSource(src: BatchSource): BatchSource {
  return {
    length: src.length,
    size: src.size,
    epochBatches: (epoch, from) => paced(src.epochBatches(epoch, from)),
  };
}

/** Evaluate with the stop probe installed: a signal interrupts between layers. */
async function evaluateStoppable(
  ctx: RunContext,
  model: Module,
  src: BatchSource,
): ReturnType<Task["evaluate"]> {
  setInterruptProbe(() => ctx.signals.requested());
  try {
    return await ctx.task.evaluate(model, pacedSource(src));
  } finally {
    setInterruptProbe(null);
  }
}

/** The console line of a finished epoch. */
function epochLine(ctx: RunContext, rec: EpochRecord, ev: Split, pruning: boolean): string {
  const evs = ctx.task.metrics.map((m) =>
    `${ev} ${m.short} ${m.format(rec[metricField(ev, m.key)], 2)}`
  );
  return `${ctx.label} epoch ${rec.epoch}/${ctx.s.epochs}: train loss ${
    rec.trainLoss.toFixed(4)
  }, ` +
    `${ev} loss ${rec[`${ev}Loss`].toFixed(4)}, ${evs.join(", ")}` +
    (pruning ? `, group sparsity ${rec.groupSparsity.toFixed(3)}` : "") +
    `, lr ${rec.lr.toPrecision(3)}, ${rec.throughput.toFixed(1)} img/s`;
}

/** The live text of the progress bar: running loss and training metrics. */
function liveText(task: Task, r: Awaited<ReturnType<TaskMeter["read"]>>): string {
  return [
    `loss ${r.loss.toFixed(3)}`,
    ...task.metrics.filter((m) => m.onTrain).map((m) =>
      `${m.short} ${m.format(r.metrics[m.key], 1)}`
    ),
  ].join(" ");
}

/**
 * Train `model` with `opt` for the configured epochs, checkpointing after every epoch, every
 * `--checkpoint-every` minutes inside an epoch, and when a signal stops it. Resumes from the
 * checkpoint when one is given, mid-epoch included. Returns the history.
 */
export function trainRun(
  ctx: RunContext,
  model: Module,
  opt: Optimizer<{ lr: number }>,
  resumeFrom: Checkpoint | null,
): Promise<TrainedRun> {
  return ctx.signals.deferring(() => runEpochs(ctx, model, opt, resumeFrom));
}

async function runEpochs(
  ctx: RunContext,
  model: Module,
  opt: Optimizer<{ lr: number }>,
  resumeFrom: Checkpoint | null,
): Promise<TrainedRun> {
  const { s, data, io, flags, task, signals } = ctx;
  const loader = data.trainBatches({ batchSize: s.batchSize, seed: s.seed });
  const val = data.valBatches?.() ?? null;
  const evalSrc = val ?? data.testBatches();
  const ev: Split = val ? "val" : "test";
  const schedule = new CosineAnnealing(null, { tMax: s.epochs * loader.length });
  const curveEvery = Math.max(1, Math.ceil(loader.length / CURVE_POINTS));
  let history: EpochRecord[] = [], curve: CurvePoint[] = [];
  let startEpoch = 0, step = 0, seconds = 0;
  let partial: PartialEpoch | null = null;
  if (resumeFrom) {
    restoreCheckpoint(resumeFrom, { model, optimizer: opt });
    startEpoch = resumeFrom.meta.epoch;
    step = resumeFrom.meta.step;
    history = (resumeFrom.meta.history as EpochRecord[]) ?? [];
    curve = (resumeFrom.meta.curve as CurvePoint[]) ?? [];
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
        curve,
        seconds,
        elapsed: ctx.clock.elapsed,
        sessions: ctx.clock.sessions + 1,
        label: ctx.label,
        backend: getDefaultBackend(),
        // Batches depend on (seed, epoch, batch) only; the global generator is reseeded per
        // epoch, and its state is saved with a partial epoch.
        loader: { seed: s.seed, batchesPerEpoch: loader.length },
        ...(part ? { partial: part } : {}),
      },
    });
  for (let epoch = startEpoch; epoch < s.epochs; epoch++) {
    manualSeed(epochSeed(s.seed, epoch));
    model.train();
    const meter = task.meter();
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
    const firstBatch = batch;
    let lastRead = t0, lastSave = t0, shown = "";
    const observe = meter.add.bind(meter);
    const where = () => `in epoch ${epoch + 1} after batch ${batch}/${loader.length}`;
    const savePartial = async (rng: RngState) => {
      await save(epoch, {
        batch,
        meter: await meter.state(),
        seconds: before + (performance.now() - t0) / 1000,
        rng,
      });
      lastSave = performance.now();
    };
    for await (const b of paced(loader.epochBatches(epoch, batch))) {
      opt.lr = schedule.lrAt(step, s.lr);
      // A slow step (or one on a CPU backend, which computes synchronously) may be cut
      // part-way by a stop: the guard puts back what the forward pass changed.
      const perStep = (performance.now() - t0) / 1000 / Math.max(batch - firstBatch, 1);
      const guard = getDefaultBackend() !== "webgpu" ||
          (batch > firstBatch && perStep > GUARD_STEP_SECONDS) ||
          flags.interruptAtStep === step + 1
        ? new StepGuard(model)
        : null;
      try {
        if (guard) {
          // --interrupt-at-step: after the first layers ran (a BatchNorm included).
          let calls = 0;
          setInterruptProbe(() =>
            (flags.interruptAtStep === step + 1 && ++calls > 5) || signals.requested()
          );
        }
        trainStep(model, opt, b, { loss: task.loss, observe });
      } catch (e) {
        if (!(e instanceof Interrupted) || !guard) throw e;
        guard.restore();
        opt.zeroGrad();
        await savePartial(guard.rng);
        const what = `part-way through step ${step + 1} (${e.message}); the model is saved as ` +
          `it was before that step, ${where()}`;
        if (flags.interruptAtStep === step + 1) {
          throw new StopRequested(`interrupted (simulated) ${what}`, 130);
        }
        signals.check(what);
        throw e;
      } finally {
        setInterruptProbe(null);
        guard?.dispose();
      }
      step++;
      batch++;
      const now = performance.now();
      const curvePoint = batch % curveEvery === 0 || batch === loader.length;
      // Read the running sums about once a second (it gives the progress bar a live loss) and
      // at the curve's points.
      if (curvePoint || now - lastRead > 1000) {
        lastRead = now;
        const r = await meter.read();
        shown = liveText(task, r);
        if (curvePoint) {
          curve.push({
            epoch: epoch + batch / loader.length,
            loss: r.loss,
            ...Object.fromEntries(
              task.metrics.filter((m) => m.onTrain).map((m) => [m.key, r.metrics[m.key]]),
            ),
          });
        }
      }
      bar?.tick(b.x.shape[0], shown);
      const stopAtStep = flags.stopAfterStep === step;
      const due = flags.checkpointMinutes > 0 &&
        now - lastSave > flags.checkpointMinutes * 60_000;
      if ((signals.caught || stopAtStep || due) && batch < loader.length) {
        await savePartial(globalRngState());
        signals.check(where());
        if (stopAtStep) throw new StopRequested(`stopped at step ${step} ${where()}`, 3);
      }
    }
    const tr = await meter.read();
    const secs = before + (performance.now() - t0) / 1000;
    let te;
    try {
      signals.check(`${where()} (before evaluating)`);
      te = await evaluateStoppable(ctx, model, evalSrc);
    } catch (e) {
      if (!(e instanceof Interrupted || e instanceof StopRequested)) throw e;
      // The epoch's training is done: keep it; --resume evaluates it.
      await save(epoch, {
        batch,
        meter: await meter.state(),
        seconds: secs,
        rng: globalRngState(),
      });
      signals.check(`${where()}, while evaluating`);
      throw e;
    } finally {
      meter.dispose();
    }
    seconds += secs;
    const rec: EpochRecord = {
      epoch: epoch + 1,
      step,
      trainLoss: tr.loss,
      ...metricFields("train", task.metrics, tr),
      [`${ev}Loss`]: te.loss,
      ...metricFields(ev, task.metrics, te),
      groupSparsity: dhspg ? (await dhspg.stats()).groupSparsity : 0,
      lr: opt.lr,
      seconds: secs,
      throughput: tr.images / Math.max(secs, 1e-9),
    };
    if (!Number.isFinite(rec.trainLoss)) {
      throw new Error(
        `${ctx.label}: the training loss became ${rec.trainLoss} in epoch ${epoch + 1}; ` +
          `lower --lr (now ${s.lr})`,
      );
    }
    history.push(rec);
    io.log(epochLine(ctx, rec, ev, dhspg !== null));
    await save(epoch + 1, null);
    signals.check(`after epoch ${epoch + 1}`);
    if (flags.stopAfterEpoch === epoch + 1 || flags.stopAfterStep === step) {
      throw new StopRequested(`stopped after epoch ${epoch + 1}`, 3);
    }
  }
  return { history, curve, seconds };
}
