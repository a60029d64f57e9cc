/**
 * The train CLI's DHSPG plan (src/cli/pruning_plan.ts): the start step from each form of
 * --start-pruning, the sum of the learning rates over the pruning steps against the closed
 * form of a cosine sum, and the default lambda that gives the default budget.
 */
import assert from "node:assert/strict";
import { PRUNING_DEFAULTS, pruningPlan, regimeOf, WEAK_BUDGET } from "../src/cli/pruning_plan.ts";
import { parseCli } from "../src/cli/train_flags.ts";
import { startPruningStep, UsageError } from "../src/cli/settings.ts";

/** Σ_{t=a}^{T-1} lr0 (1 + cos(πt/T)) / 2, by Σ cos(tθ) = [sin((b+½)θ) − sin((a−½)θ)] / (2 sin(θ/2)). */
function cosineSum(lr0: number, a: number, T: number): number {
  const th = Math.PI / T, b = T - 1;
  const cosines = (Math.sin((b + 0.5) * th) - Math.sin((a - 0.5) * th)) / (2 * Math.sin(th / 2));
  return (lr0 / 2) * (T - a + cosines);
}

Deno.test("pruning plan: start step from epochs, steps, a percentage, and by default a third", () => {
  assert.equal(startPruningStep("1.5", 100, 400), 150);
  assert.equal(startPruningStep("300steps", 100, 400), 300);
  assert.equal(startPruningStep("40%", 100, 400), 160);
  assert.equal(startPruningStep(" 12.5 % ", 100, 400), 50);
  assert.throws(() => startPruningStep("120%", 100, 400), UsageError);
  assert.throws(() => startPruningStep("1.5steps", 100, 400), /steps must be whole/);
  assert.throws(() => startPruningStep("soon", 100, 400), /"40%"/);
  const { settings } = parseCli(["--epochs", "4"]);
  assert.equal(settings.startPruning, null);
  assert.equal(pruningPlan(settings, 157).startStep, startPruningStep("0.25", 157, 628));
  assert.equal(pruningPlan(settings, 157).startStep, 39);
  assert.equal(pruningPlan(parseCli(["--start-pruning", "25%"]).settings, 10).startStep, 8);
  assert.throws(() => parseCli(["--start-pruning", "101%"]), /at most 100%/);
});

Deno.test("pruning plan: the learning-rate sum is the cosine schedule's; the budget is lambda times it", () => {
  for (const [opt, lambda] of [["sgd", 1], ["adam", 100]] as const) {
    const { settings } = parseCli(["--optimizer", opt, "--epochs", "4"]);
    const p = pruningPlan(settings, 157);
    assert.equal(p.totalSteps, 628);
    const want = cosineSum(settings.lr, p.startStep, 628);
    assert.ok(Math.abs(p.lrSum - want) < 1e-9 * want, `${opt}: ${p.lrSum} vs ${want}`);
    assert.ok(p.lambdaAuto);
    assert.equal(p.lambda, lambda);
    assert.equal(PRUNING_DEFAULTS.lambda[opt], lambda);
    assert.ok(Math.abs(p.budget - lambda * want) < 1e-9 * p.budget);
  }
  // An explicit lambda is kept, its budget reported.
  const given = pruningPlan(parseCli(["--epochs", "4", "--lambda", "0.001"]).settings, 157);
  assert.equal(given.lambda, 0.001);
  assert.ok(!given.lambdaAuto);
  assert.ok(Math.abs(given.budget - 0.001 * cosineSum(0.02, given.startStep, 628)) < 1e-12);
  // Pruning that never starts has no pruning steps.
  const never = pruningPlan(parseCli(["--epochs", "2", "--start-pruning", "2"]).settings, 50);
  assert.equal(never.lrSum, 0);
  assert.ok(Number.isFinite(never.lambda));
});

Deno.test("pruning plan: first-step reach and the regime it predicts", () => {
  const plan = (args: string[]) => pruningPlan(parseCli(["--epochs", "4", ...args]).settings, 157);
  // The old defaults: lambda 1, epsilon 0.99 from epoch 0.25: lr(39) / 0.01.
  const old = plan(["--lambda", "1", "--epsilon", "0.99", "--start-pruning", "0.25"]);
  const lr39 = 0.02 * (1 + Math.cos(Math.PI * 39 / 628)) / 2;
  assert.ok(Math.abs(old.firstStepReach - lr39 / 0.01) < 1e-12);
  assert.equal(old.regime, "one-shot");
  // OTOv2's SGD lambda over 628 steps: a budget of 0.0025.
  const otov2 = plan(["--lambda", "0.001", "--epsilon", "0.95", "--start-pruning", "1.33"]);
  assert.ok(otov2.budget < 0.003 && otov2.regime === "weak", JSON.stringify(otov2));
  // Budget 8 with a reach under 1: gradual, but under WEAK_BUDGET (it fell short when measured).
  const mid = plan(["--lambda", "3.2", "--epsilon", "0.9", "--start-pruning", "1.33"]);
  assert.ok(mid.firstStepReach < 1 && mid.budget > 7.8 && mid.budget < 8, JSON.stringify(mid));
  assert.equal(mid.regime, "weak");
  assert.equal(regimeOf(0.99, WEAK_BUDGET), "gradual");
  assert.equal(regimeOf(0.99, WEAK_BUDGET - 0.01), "weak");
  assert.equal(regimeOf(1, 0.1), "one-shot");
  // The defaults at lr 0.02 (SGD) and 1e-3 (Adam): reach lr(start) x lambda / 0.01, about 2 for
  // SGD and 10 for Adam, one-shot in a short run and a long one alike.
  for (const [opt, spe, epochs] of [["sgd", 79, 4], ["sgd", 938, 8], ["adam", 79, 4]] as const) {
    const p = pruningPlan(parseCli(["--optimizer", opt, "--epochs", String(epochs)]).settings, spe);
    const n = epochs * spe, lr0 = opt === "sgd" ? 0.02 : 1e-3;
    const lrStart = (lr0 * (1 + Math.cos((Math.PI * p.startStep) / n))) / 2;
    const reach = (lrStart * PRUNING_DEFAULTS.lambda[opt]) / 0.01;
    assert.ok(Math.abs(p.firstStepReach - reach) < 1e-9, `${opt} ${n}: ${p.firstStepReach}`);
    const nominal = opt === "sgd" ? 2 : 10;
    assert.ok(reach > 0.95 * nominal && reach <= nominal, `${opt} ${n}: reach ${reach}`);
    assert.equal(p.regime, "one-shot");
  }
});
