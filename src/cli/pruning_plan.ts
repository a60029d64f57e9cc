/**
 * The DHSPG settings a `deno task train` run uses, resolved from the flags and the run's
 * schedule: when pruning starts, the group-lasso strength lambda and what it amounts to.
 *
 * What the numbers mean: DHSPG's group-lasso step moves a penalised group toward zero by
 * lr·lambda_j per step (lambda_j >= lambda), and the half-space projection zeroes the group once
 * its norm is below lr·lambda_j/(1 − epsilon) (the first-step reach, at the first pruning step).
 * Over the pruning steps the term can move a group by at most about lambda · Σ lr (the
 * *budget*, in units of group norm; groups are of order 1 early in training, a BatchNorm scale
 * starts at 1). A reach above the group norms zeroes the penalised groups within a few steps
 * (one-shot saliency pruning, then fine-tuning); below, groups shrink and are zeroed one after
 * another (OTOv2's gradual exploration) if the budget is large enough: measured
 * (bench/results/dhspg-regimes-sgd, dhspg-acceptance), budgets of 4 to 16 mostly stopped short of the
 * target, the 8-epoch runs of bench/results/fashion-mnist-8-epochs (budget 31.7) met 0.7 within
 * half an epoch. OTOv2's lambda (1e-3 for SGD) was made for hundreds of epochs at lr 0.1: in a
 * few hundred steps here it is a budget of 0.001 and prunes nothing.
 * @module
 */
import { CosineAnnealing } from "../optim/schedules.ts";
import { type OptimizerName, type Settings, startPruningStep } from "./settings.ts";

/**
 * The defaults the CLI's DHSPG takes when the flags do not say, chosen from the regime sweep
 * (README "DHSPG: regimes and defaults"): lambda 1 (SGD) / 100 (Adam, AdamW) with epsilon 0.99
 * from epoch 0.25. At the default learning rates (0.02, 1e-3) the first pruning step's reach
 * is about 2 (SGD) or 10 (Adam): one-shot pruning. In the 316-step sweep these met every target one step after the
 * start and were as accurate as any regime at the same multiply-adds; OTOv2's lambda pruned
 * nothing, budgets 4-16 from a third never met a target, budget 32 from a third met 3 of 4 and
 * was less accurate at 0.7.
 */
export const PRUNING_DEFAULTS: {
  /** lambda per base optimizer (with the default lr, a reach of about 2 for SGD, 10 for Adam). */
  lambda: Readonly<Record<OptimizerName, number>>;
  /** When pruning starts, as --start-pruning takes it. */
  startPruning: string;
} = {
  lambda: { sgd: 1, adam: 100, adamw: 100 },
  startPruning: "0.25",
};

/** What {@link pruningPlan} resolves. */
export interface PruningPlan {
  /** Optimizer steps of plain training before DHSPG partitions and starts pruning. */
  startStep: number;
  /** Optimizer steps of the whole run. */
  totalSteps: number;
  /** Σ of the learning rates of steps startStep..totalSteps-1 (the run's cosine schedule). */
  lrSum: number;
  /** The group-lasso strength DHSPG uses. */
  lambda: number;
  /** Whether lambda was derived from the budget (no --lambda). */
  lambdaAuto: boolean;
  /** lambda · lrSum: how far (in group norm) the group-lasso term can move a group. */
  budget: number;
  /**
   * lr · lambda / (1 − epsilon) at the first pruning step: a penalised group with a smaller
   * norm is zeroed by that step's half-space projection (leaving out the gradient's share).
   */
  firstStepReach: number;
  /** What these numbers make of DHSPG (see {@link regimeOf}). */
  regime: Regime;
}

/** How DHSPG prunes with a plan's numbers (groups start near norm 1). */
export type Regime = "one-shot" | "gradual" | "weak";

/**
 * "one-shot" when the first pruning step alone reaches groups of norm 1 (every penalised
 * group is zeroed at once: saliency pruning, then fine-tuning); "weak" when the budget is
 * below {@link WEAK_BUDGET} (the target is likely not reached); "gradual" otherwise.
 */
export function regimeOf(firstStepReach: number, budget: number): Regime {
  if (firstStepReach >= 1) return "one-shot";
  return budget < WEAK_BUDGET ? "weak" : "gradual";
}

/**
 * Gradual runs (reach under 1) with a budget under this are flagged as likely to stop short of
 * the target: in the sweep, budgets 4 and 8 stopped short in 10 of 12 runs and 16 (epsilon 0.5)
 * in all 4, as did budget 8 in the width-64 run; the 8-epoch runs with budget 31.7 met 0.7.
 */
export const WEAK_BUDGET = 30;

/** The start step, lambda and budget of a run with `stepsPerEpoch` optimizer steps an epoch. */
export function pruningPlan(s: Settings, stepsPerEpoch: number): PruningPlan {
  const totalSteps = s.epochs * stepsPerEpoch;
  const startStep = startPruningStep(
    s.startPruning ?? PRUNING_DEFAULTS.startPruning,
    stepsPerEpoch,
    totalSteps,
  );
  const schedule = new CosineAnnealing(null, { tMax: totalSteps });
  let lrSum = 0;
  for (let t = startStep; t < totalSteps; t++) lrSum += schedule.lrAt(t, s.lr);
  const auto = s.lambda === null;
  // A run that never prunes (start at or after the end) has no budget to size lambda by.
  const lambda = s.lambda ?? PRUNING_DEFAULTS.lambda[s.optimizer];
  const budget = lambda * lrSum;
  const firstStepReach = startStep < totalSteps
    ? schedule.lrAt(startStep, s.lr) * lambda / (1 - s.epsilon)
    : 0;
  return {
    startStep,
    totalSteps,
    lrSum,
    lambda,
    lambdaAuto: auto,
    budget,
    firstStepReach,
    regime: regimeOf(firstStepReach, budget),
  };
}

/** The console line of a run's DHSPG settings: target, start, lambda (and why), epsilon. */
export function describePlan(s: Settings, p: PruningPlan): string {
  const what: Record<Regime, string> = {
    "one-shot": "one-shot: the first pruning step zeroes every penalised channel of norm below " +
      `${p.firstStepReach.toPrecision(2)}, then the rest of the run fine-tunes`,
    "gradual": "gradual: penalised channels shrink and are zeroed one by one over the pruning " +
      "steps",
    "weak": `the budget is below ${WEAK_BUDGET}: the target may not be reached; raise --lambda`,
  };
  if (s.targetSparsity === 0) {
    return `DHSPG (${s.optimizer}): target group sparsity 0: no channel is penalised or pruned ` +
      "(trains as the plain optimizer)";
  }
  return `DHSPG (${s.optimizer}): target group sparsity ${s.targetSparsity}, pruning from step ` +
    `${p.startStep} of ${p.totalSteps}, lambda ${p.lambda.toPrecision(3)}` +
    (p.lambdaAuto ? ` (the ${s.optimizer} default; group-lasso budget` : " (group-lasso budget") +
    ` lambda x sum of lr = ${p.budget.toPrecision(3)} over the pruning steps), ` +
    `epsilon ${s.epsilon}; ${what[p.regime]}`;
}
