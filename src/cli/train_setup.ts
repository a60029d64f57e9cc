/**
 * The train CLI's setup: the model from the zoo for the task's data, the OTO instance (graph,
 * ZIGs, cost) checked against the task, and the optimizers (DHSPG for the pruned run, the
 * plain base optimizer for the extra runs).
 * @module
 */
import type { Module } from "../nn/module.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { SGD } from "../optim/sgd.ts";
import { Adam, AdamW } from "../optim/adam.ts";
import type { DHSPG } from "../optim/dhspg.ts";
import { zoo } from "../zoo/index.ts";
import { loadOnnx } from "../onnx/import.ts";
import { OTO } from "../oto.ts";
import type { Settings } from "./settings.ts";
import { type PruningPlan, pruningPlan } from "./pruning_plan.ts";
import type { Task, TaskData } from "./task.ts";

/** The zoo build options of the settings' model for the data (the seed apart). */
export function buildOptions(s: Settings, d: TaskData): Record<string, number> {
  return { ...d.modelOptions, ...(s.width !== null ? { width: s.width } : {}) };
}

/**
 * A freshly built zoo model (or the --onnx file imported) for the data, and the input shape it
 * is traced with.
 */
export function buildModel(s: Settings, d: TaskData): { model: Module; input: number[] } {
  if (s.onnx) {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(s.onnx);
    } catch (e) {
      throw new Error(`cannot read --onnx ${s.onnx}: ${(e as Error).message}`);
    }
    const opts = s.inputShape ? { inputShape: s.inputShape } : {};
    const model = loadOnnx(bytes, s.onnx, opts, d.inputShape);
    if (model.inputNames.length !== 1 || model.outputNames.length !== 1) {
      model.dispose();
      throw new Error(
        `${s.onnx} has ${model.inputNames.length} inputs and ${model.outputNames.length} ` +
          `outputs; the train CLI feeds one image and reads one output`,
      );
    }
    const want = model.inputShape.slice(1);
    if (want.join() !== d.inputShape.join()) {
      model.dispose();
      throw new Error(
        `${s.onnx} takes [${want}] inputs but ${d.name} has [${d.inputShape}] images; choose ` +
          `a data set that matches the model`,
      );
    }
    return { model, input: [1, ...want] };
  }
  const model = zoo[s.model].build({ seed: s.seed, ...buildOptions(s, d) });
  return { model, input: [1, ...d.inputShape] };
}

/** The pruned run's model, its OTO instance and DHSPG. */
export interface PrunedSetup {
  model: Module;
  input: number[];
  oto: OTO;
  opt: DHSPG;
  /** The step from which DHSPG prunes. */
  startStep: number;
  stepsPerEpoch: number;
  /** Start step, lambda and the group-lasso budget the run uses. */
  plan: PruningPlan;
}

/**
 * Build the model, trace it and partition it (the errors name the model and the data), check
 * it fits the task and has something to prune, and create DHSPG from the settings.
 */
export async function setupPruned(s: Settings, task: Task, data: TaskData): Promise<PrunedSetup> {
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
  task.checkModel(s.model, oto.graph.tensors[oto.graph.outputs[0]].shape, data);
  if (oto.zigs.counts.prunableGroups === 0) {
    throw new Error(`model ${s.model} has no prunable channels (every ZIG is fixed)`);
  }
  const stepsPerEpoch = Math.ceil(data.trainCount / s.batchSize);
  const plan = pruningPlan(s, stepsPerEpoch);
  const startStep = plan.startStep;
  const opt = oto.dhspg({
    variant: s.optimizer,
    lr: s.lr,
    targetGroupSparsity: s.targetSparsity,
    startPruningStep: startStep,
    epsilon: s.epsilon,
    lambda: plan.lambda,
    partitionScope: s.pruneScope ?? "global",
    weightDecay: s.weightDecay,
    ...(s.optimizer === "sgd" ? { firstMomentum: s.momentum } : {}),
  });
  return { model, input, oto, opt, startStep, stepsPerEpoch, plan };
}

/** The plain optimizer of the extra runs (--baseline, --scratch): DHSPG's base, same settings. */
export function baseOptimizer(s: Settings, model: Module): Optimizer<{ lr: number }> {
  const params = model.parameters();
  if (s.optimizer === "sgd") {
    return new SGD(params, { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay });
  }
  const Opt = s.optimizer === "adam" ? Adam : AdamW;
  return new Opt(params, { lr: s.lr, weightDecay: s.weightDecay }) as Optimizer<{ lr: number }>;
}

/** Seed of the global generator at the start of `epoch` (dropout masks). */
export function epochSeed(seed: number, epoch: number): number {
  let h = (seed ^ Math.imul(epoch + 0x632be5ab, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  return (h ^ (h >>> 13)) >>> 0;
}
