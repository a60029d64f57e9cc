/**
 * The DHSPG settings a `deno task train` run uses, resolved from the flags and the run's
 * schedule: when pruning starts, the group-lasso strength lambda and what it amounts to.
 *
 * Why lambda follows the schedule: DHSPG's group-lasso step moves a penalised group toward zero
 * by lr·lambda_j per step (lambda_j >= lambda), and the half-space projection zeroes the group
 * once it is small against that step. Over the pruning steps the term can move a group by at
 * most about lambda · Σ lr (the *budget*, in units of group norm; groups are of order 1 at the
 * partition, a BatchNorm scale starts at 1). When one step's lr·lambda/(1 − epsilon) (the
 * first-step reach) already exceeds the group norms, every penalised group is zeroed on the
 * first pruning step: one-shot saliency pruning, then fine-tuning. Below that, groups shrink and
 * are zeroed one after another (OTOv2's gradual group-sparsity exploration) if the budget is
 * large enough; measured (bench/results/dhspg-regimes-sgd, dhspg-acceptance), budgets of 4 and
 * 8 stopped short of every target, while the 8-epoch runs of the README (budget 31.7) reached
 * 0.7 within half an epoch. OTOv2's lambda (1e-3 for SGD) was made for hundreds of epochs at lr
 * 0.1: here it is a budget of 0.001 and prunes nothing. So the default lambda is the one that
 * gives a fixed budget over the run's own pruning steps, whatever their number.
 * @module
 */
import { CosineAnnealing } from "../optim/schedules.ts";
import { type OptimizerName, type Settings, startPruningStep } from "./settings.ts";

/**
 * The defaults the CLI's DHSPG takes when the flags do not say, chosen from the regime sweep
 * (README "DHSPG: regimes and defaults"). Budget 32 from a third of the training with epsilon
 * 0.9 gives a first-step reach of about 1,230 / (total steps): runs under ~1,200 steps are
 * one-shot (in the sweep, gradual pruning within a few hundred steps fell short of its target
 * and was no more accurate), longer runs prune gradually with the budget the long runs had.
 */
export const PRUNING_DEFAULTS: {
  /** Group-lasso budget lambda · Σ lr over the pruning steps, per base optimizer. */
  budget: Readonly<Record<OptimizerName, number>>;
  /** Fraction of the training steps before pruning starts (OTOv2's recipes: about a third). */
  startFraction: number;
} = {
  // Adam and AdamW take the same budget: their group-lasso step is lr·lambda_j as for SGD (the
  // regime sweep measured SGD only).
  budget: { sgd: 32, adam: 32, adamw: 32 },
  startFraction: 1 / 3,
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
 * Gradual runs with a smaller budget are flagged as likely to stop short of the target: the
 * measured budgets of 4 and 8 did at every target, 31.7 did not (between them: untested).
 */
export const WEAK_BUDGET = 16;

/** The start step, lambda and budget of a run with `stepsPerEpoch` optimizer steps an epoch. */
export function pruningPlan(s: Settings, stepsPerEpoch: number): PruningPlan {
  const totalSteps = s.epochs * stepsPerEpoch;
  const startStep = s.startPruning === null
    ? Math.round(PRUNING_DEFAULTS.startFraction * totalSteps)
    : startPruningStep(s.startPruning, stepsPerEpoch, totalSteps);
  const schedule = new CosineAnnealing(null, { tMax: totalSteps });
  let lrSum = 0;
  for (let t = startStep; t < totalSteps; t++) lrSum += schedule.lrAt(t, s.lr);
  const auto = s.lambda === null;
  // A run that never prunes (start at or after the end) has no budget to size lambda by.
  const lambda = !auto ? s.lambda! : lrSum > 0 ? PRUNING_DEFAULTS.budget[s.optimizer] / lrSum : 1;
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
    (p.lambdaAuto ? " (default: a group-lasso budget" : " (group-lasso budget") +
    ` lambda x sum of lr = ${p.budget.toPrecision(3)} over the pruning steps), ` +
    `epsilon ${s.epsilon}; ${what[p.regime]}`;
}
