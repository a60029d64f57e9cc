/**
 * The train CLI's run loop, the same for every task: epochs of {@link trainStep} on the task's
 * batches with a per-step cosine learning rate, a live progress bar, the task's metrics per
 * epoch, and checkpoints after every epoch, every `--checkpoint-every` minutes inside an epoch
 * and on SIGINT/SIGTERM; a run resumed from a checkpoint (mid-epoch included) replays exactly
 * the batches, seeds, learning rates and updates of an uninterrupted one.
 * @module
 */
import { getDefaultBackend } from "../tensor.ts";
import { globalRngState, manualSeed, type RngState, setGlobalRngState } from "../random.ts";
import { sync } from "../backend/webgpu.ts";
import type { Module } from "../nn/module.ts";
import { trainStep } from "../nn/train_step.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { CosineAnnealing } from "../optim/schedules.ts";
import { DHSPG } from "../optim/dhspg.ts";
import { Progress } from "./progress.ts";
import { type Checkpoint, restoreCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import type { EpochRecord } from "./report.ts";
import type { RunFlags, Settings } from "./settings.ts";
import { metricField, metricFields, type Task, type TaskData } from "./task.ts";
import { epochSeed } from "./train_setup.ts";

/** Output of the console: progress bar, per-epoch lines, messages. */
export class Console {
  constructor(readonly quiet: boolean) {}
  log(msg: string): void {
    if (!this.quiet) console.log(msg);
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
}

/** Where a run stopped inside an epoch (stored in mid-epoch checkpoints). */
interface PartialEpoch {
  /** Batches of the epoch already trained on. */
  batch: number;
  /** The task meter's sums over those batches. */
  meter: unknown;
  /** Training seconds spent in the epoch so far. */
  seconds: number;
  /** The global generator (dropout draws) after the last trained batch. */
  rng: RngState;
}

/** A deliberate stop after a checkpoint (testing flags or a signal); `--resume` continues. */
export class StopRequested extends Error {
  constructor(what: string, readonly code: number) {
    super(`${what}; checkpoint saved, continue with --resume`);
  }
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

/** The console line of a finished epoch. */
function epochLine(ctx: RunContext, rec: EpochRecord, pruning: boolean): string {
  const tests = ctx.task.metrics.map((m) =>
    `test ${m.short} ${m.format(rec[metricField("test", m.key)], 2)}`
  );
  return `${ctx.label} epoch ${rec.epoch}/${ctx.s.epochs}: train loss ${
    rec.trainLoss.toFixed(4)
  }, ` +
    `test loss ${rec.testLoss.toFixed(4)}, ${tests.join(", ")}` +
    (pruning ? `, group sparsity ${rec.groupSparsity.toFixed(3)}` : "") +
    `, lr ${rec.lr.toPrecision(3)}, ${rec.throughput.toFixed(1)} img/s`;
}

/**
 * Train `model` with `opt` for the configured epochs, checkpointing after every epoch, every
 * `--checkpoint-every` minutes inside an epoch, and on SIGINT/SIGTERM (then it stops). Resumes
 * from the checkpoint when one is given, mid-epoch included. Returns the history.
 */
export async function trainRun(
  ctx: RunContext,
  model: Module,
  opt: Optimizer<{ lr: number }>,
  resumeFrom: Checkpoint | null,
): Promise<{ history: EpochRecord[]; seconds: number }> {
  const { s, data, io, flags, task } = ctx;
  const loader = data.trainBatches({ batchSize: s.batchSize, seed: s.seed });
  const testLoader = data.testBatches();
  const schedule = new CosineAnnealing(null, { tMax: s.epochs * loader.length });
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
      let lastRead = t0, lastSave = t0, shown = "";
      const observe = meter.add.bind(meter);
      for await (const b of loader.epochBatches(epoch, batch)) {
        opt.lr = schedule.lrAt(step, s.lr);
        trainStep(model, opt, b, { loss: task.loss, observe });
        step++;
        batch++;
        // Read the running sums about once a second: it keeps the host close to the GPU and
        // gives the progress bar a live loss.
        const now = performance.now();
        if (now - lastRead > 1000) {
          lastRead = now;
          const r = await meter.read();
          shown = [
            `loss ${r.loss.toFixed(3)}`,
            ...task.metrics.filter((m) => m.onTrain).map((m) =>
              `${m.short} ${m.format(r.metrics[m.key], 1)}`
            ),
          ].join(" ");
        }
        bar?.tick(b.x.shape[0], shown);
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
      meter.dispose();
      if (getDefaultBackend() === "webgpu") await sync();
      const secs = before + (performance.now() - t0) / 1000;
      seconds += secs;
      const te = await task.evaluate(model, testLoader);
      const rec: EpochRecord = {
        epoch: epoch + 1,
        step,
        trainLoss: tr.loss,
        ...metricFields("train", task.metrics, tr),
        testLoss: te.loss,
        ...metricFields("test", task.metrics, te),
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
      io.log(epochLine(ctx, rec, dhspg !== null));
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
