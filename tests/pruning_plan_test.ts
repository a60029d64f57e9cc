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
  assert.equal(pruningPlan(settings, 157).startStep, Math.round(628 / 3));
  assert.equal(pruningPlan(parseCli(["--start-pruning", "25%"]).settings, 10).startStep, 8);
  assert.throws(() => parseCli(["--start-pruning", "101%"]), /at most 100%/);
});

Deno.test("pruning plan: the learning-rate sum is the cosine schedule's; default lambda gives the default budget", () => {
  for (const opt of ["sgd", "adam"] as const) {
    const { settings } = parseCli(["--optimizer", opt, "--epochs", "4"]);
    const p = pruningPlan(settings, 157);
    assert.equal(p.totalSteps, 628);
    const want = cosineSum(settings.lr, p.startStep, 628);
    assert.ok(Math.abs(p.lrSum - want) < 1e-9 * want, `${opt}: ${p.lrSum} vs ${want}`);
    assert.ok(p.lambdaAuto);
    const budget = PRUNING_DEFAULTS.budget[opt];
    assert.ok(Math.abs(p.lambda - budget / want) < 1e-9 * p.lambda, `${opt} lambda ${p.lambda}`);
    assert.ok(Math.abs(p.budget - budget) < 1e-9 * budget);
  }
  // Twice the steps: about half the lambda for the same budget.
  const short = pruningPlan(parseCli(["--epochs", "4"]).settings, 157);
  const long = pruningPlan(parseCli(["--epochs", "8"]).settings, 157);
  assert.ok(Math.abs(long.lambda / short.lambda - 0.5) < 0.01, `${long.lambda} / ${short.lambda}`);
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
  const mid = plan(["--lambda", "3.2", "--start-pruning", "1.33"]);
  assert.ok(mid.firstStepReach < 1 && mid.budget > 7.8 && mid.budget < 8, JSON.stringify(mid));
  assert.equal(mid.regime, "weak");
  assert.equal(regimeOf(0.99, WEAK_BUDGET), "gradual");
  assert.equal(regimeOf(0.99, WEAK_BUDGET - 0.01), "weak");
  assert.equal(regimeOf(1, 0.1), "one-shot");
  // The defaults: one-shot below about 1,230 steps (reach = 0.75 lr0 x 32 / (0.1955 lr0 N x 0.1),
  // the cosine's mean over the last two thirds in closed form), gradual above.
  const at = (epochs: number, spe: number) =>
    pruningPlan(parseCli(["--epochs", String(epochs)]).settings, spe);
  for (const [e, spe] of [[4, 79], [8, 64], [8, 938]]) {
    const p = at(e, spe);
    const n = e * spe;
    const reach = (0.75 * 32) / ((1 / 3 - Math.sin(Math.PI / 3) / (2 * Math.PI)) * n * 0.1);
    assert.ok(Math.abs(p.firstStepReach / reach - 1) < 0.02, `${n} steps: ${p.firstStepReach}`);
    assert.equal(p.regime, n < 1200 ? "one-shot" : "gradual", `${n} steps`);
  }
});
