/**
 * `deno task sweep` (bench/sweep.ts): a spec expands into the runs and flags written out by
 * hand here; each folder state leads to the right action; the summary reads the numbers of
 * report.json; and end to end on the synthetic data set, a sweep whose run stops part-way
 * (`--stop-after-epoch`) finishes on the next invocation with the same numbers as the same
 * run left alone, and a control added to the spec later is added to the finished run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { TINY as TINY_RUN } from "./cli_helpers.ts";
import {
  checkSpec,
  expand,
  nextAction,
  type PlannedRun,
  summaryMarkdown,
  summaryRow,
  type SweepSpec,
} from "../bench/sweep_plan.ts";

const SPEC: SweepSpec = {
  common: ["--epochs", "2"],
  axes: [
    { name: "model", values: { vgg: ["--model", "vgg-small"], res: ["--model", "resnet-small"] } },
    { name: "target", values: { "t0.5": ["--target-sparsity", "0.5"], "t0.7": [] } },
    { name: "regime", values: { a: ["--lambda", "1"], b: ["--lambda", "0.01"] } },
  ],
  baselineBy: ["model"],
  scratch: { regime: ["b"], target: ["t0.7"] },
  exclude: [{ model: ["res"], regime: ["a"] }],
};

Deno.test("sweep: a spec expands into every combination, baselines once per group, filters applied", () => {
  const runs = expand(checkSpec(structuredClone(SPEC), "spec"));
  assert.deepEqual(runs.map((r) => r.id), [
    "vgg_t0.5_a",
    "vgg_t0.5_b",
    "vgg_t0.7_a",
    "vgg_t0.7_b",
    "res_t0.5_b",
    "res_t0.7_b",
  ]);
  const by = Object.fromEntries(runs.map((r) => [r.id, r]));
  assert.deepEqual(by["vgg_t0.7_b"].flags, [
    "--epochs",
    "2",
    "--model",
    "vgg-small",
    "--lambda",
    "0.01",
  ]);
  assert.deepEqual(by["res_t0.5_b"].values, { model: "res", target: "t0.5", regime: "b" });
  assert.deepEqual(runs.filter((r) => r.baseline).map((r) => r.id), ["vgg_t0.5_a", "res_t0.5_b"]);
  assert.deepEqual(runs.map((r) => r.baselineRun), [
    "vgg_t0.5_a",
    "vgg_t0.5_a",
    "vgg_t0.5_a",
    "vgg_t0.5_a",
    "res_t0.5_b",
    "res_t0.5_b",
  ]);
  assert.deepEqual(runs.filter((r) => r.scratch).map((r) => r.id), ["vgg_t0.7_b", "res_t0.7_b"]);
});

Deno.test("sweep: bad specs are refused with the problem named", () => {
  const bad = (patch: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => checkSpec({ ...structuredClone(SPEC), ...patch }, "x.json"), re);
  bad({ common: "--epochs 2" }, /x\.json: "common" must be an array of strings/);
  bad({ axes: [] }, /"axes" must be a non-empty array/);
  bad({ baselineBy: ["width"] }, /"baselineBy" names unknown axis "width"/);
  bad({ scratch: { regime: ["c"] } }, /"scratch"\.regime: no value "c"/);
  bad({ axes: [{ name: "m", values: { "a b": [] } }] }, /value id "a b"/);
  bad({ axes: [{ name: "m", values: { a: [] } }, { name: "m", values: { b: [] } }] }, /twice/);
});

Deno.test("sweep: the next action follows the folder: start, resume, add a control, done, blocked", () => {
  const run: PlannedRun = {
    id: "r",
    values: {},
    flags: ["--epochs", "2"],
    baseline: true,
    scratch: false,
    baselineRun: "r",
  };
  const none = { report: null, checkpoint: false, exists: false };
  assert.deepEqual(nextAction(run, "o/r", none), {
    kind: "start",
    args: ["--epochs", "2", "--baseline", "--out", "o/r"],
  });
  // A folder with neither checkpoint nor report (killed before the first checkpoint).
  assert.equal(nextAction(run, "o/r", { ...none, exists: true }).kind, "start");
  assert.deepEqual(nextAction(run, "o/r", { ...none, exists: true, checkpoint: true }), {
    kind: "resume",
    args: ["--resume", "--out", "o/r", "--baseline"],
  });
  const finished = { report: { baseline: {} }, checkpoint: true, exists: true };
  assert.deepEqual(nextAction(run, "o/r", finished), { kind: "done" });
  const withScratch = { ...run, scratch: true };
  assert.deepEqual(nextAction(withScratch, "o/r", finished), {
    kind: "resume",
    args: ["--resume", "--out", "o/r", "--scratch"],
  });
  const gone = nextAction(withScratch, "o/r", { ...finished, checkpoint: false });
  assert.equal(gone.kind, "blocked");
  assert.match((gone as { reason: string }).reason, /lacks --scratch/);
});

/** A report.json as the train CLI writes it, reduced to what the summary reads. */
function fakeReport(o: { val: boolean; baseline?: boolean; scratch?: boolean }) {
  const k = o.val ? "valAccuracy" : "testAccuracy";
  return {
    settings: {
      model: "vgg-small",
      width: null,
      lr: 0.02,
      lambda: 0.05,
      epsilon: 0.95,
      startPruningStep: 100,
    },
    history: [{ step: 150, [k]: 0.8 }, { step: 300, [k]: 0.9125 }],
    full: { macs: 1000, params: 500, testAccuracy: 0.9 },
    compressed: { macs: 250, params: 100, testAccuracy: 0.905 },
    groups: {
      target: 0.7,
      sparsity: 0.7,
      reached: true,
      reachedStep: 180,
      reachedEpoch: 1.2,
    },
    zigs: [
      { id: 1, size: 16, kept: 5, prunable: true },
      { id: 2, size: 10, kept: 10, prunable: false },
      { id: 3, size: 32, kept: 9, prunable: true },
    ],
    timings: { trainSeconds: 12 },
    ...(o.baseline
      ? { baseline: { testAccuracy: 0.92 }, baselineHistory: [{ step: 300, [k]: 0.925 }] }
      : {}),
    ...(o.scratch
      ? { scratch: { testAccuracy: 0.89 }, scratchHistory: [{ step: 300, [k]: 0.8975 }] }
      : {}),
  };
}

Deno.test("sweep: a summary row carries the report's numbers, against the baseline and scratch runs", () => {
  const run: PlannedRun = {
    id: "x",
    values: { a: "x" },
    flags: [],
    baseline: false,
    scratch: true,
    baselineRun: "b",
  };
  const base = fakeReport({ val: true, baseline: true });
  const row = summaryRow(run, fakeReport({ val: true, scratch: true }), base);
  // lambda · Σ_{t=100}^{299} 0.02 (1 + cos(πt/300)) / 2, the cosine sum in closed form.
  const th = Math.PI / 300;
  const cosines = (Math.sin(299.5 * th) - Math.sin(99.5 * th)) / (2 * Math.sin(th / 2));
  const budget = 0.05 * 0.01 * (200 + cosines);
  assert.ok(Math.abs(row.budget! - budget) < 1e-12, `budget ${row.budget} vs ${budget}`);
  assert.ok(Math.abs(row.firstStepReach! - 0.01 * 1.5 * 0.05 / 0.05) < 1e-12);
  assert.deepEqual(row, {
    id: "x",
    values: { a: "x" },
    model: "vgg-small",
    lambda: 0.05,
    epsilon: 0.95,
    startPruningStep: 100,
    totalSteps: 300,
    budget: row.budget,
    firstStepReach: row.firstStepReach,
    regime: "weak",
    target: 0.7,
    split: "val",
    acc: 0.9125,
    testAcc: 0.905,
    baselineAcc: 0.925,
    baselineTestAcc: 0.92,
    scratchAcc: 0.8975,
    scratchTestAcc: 0.89,
    sparsity: 0.7,
    reached: true,
    reachedStep: 180,
    reachedEpoch: 1.2,
    macsFull: 1000,
    macs: 250,
    paramsFull: 500,
    params: 100,
    kept: ["5/16", "9/32"],
    trainSeconds: 12,
  });
  const md = summaryMarkdown("s", SPEC, [row], ["y"]);
  // 91.25 - 92.50 = -1.25 points; 90.50 - 92.00 = -1.50; MACs 1000 -> 250 = -75%.
  assert.match(
    md,
    /\| x \| 0\.05 \| 0\.95 \| 0\.0590 \| 0\.015 \(weak\) \| 100 of 300 \| 0\.7 \| 91\.25 \(-1\.25\) \| 90\.50 \(-1\.50\) \|/,
  );
  assert.match(
    md,
    /\| 89\.75 \/ 89\.00 \| 0\.700 \| 180 \(1\.20\), \+80 \| 250 \(-75\.0%\) \| 100 \| 5\/16 9\/32 \|/,
  );
  assert.match(md, /Not finished yet: y\./);
  const unreached = summaryRow(
    run,
    {
      ...fakeReport({ val: false }),
      groups: { ...base.groups, reached: false, reachedStep: null },
    },
    null,
  );
  assert.equal(unreached.split, "test");
  assert.equal(unreached.acc, 0.9125);
  assert.match(summaryMarkdown("s", SPEC, [unreached], []), /\*\*not met\*\* \(of 300\)/);
});

// ---------------------------------------------------------------------------------------------
// End to end.

const SWEEP = new URL("../bench/sweep.ts", import.meta.url).pathname;

async function sweep(args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SWEEP, ...args, "--no-nice"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** cli_helpers' tiny training run, for two epochs. */
const TINY = [...TINY_RUN, "--epochs", "2"];

Deno.test("sweep end to end: an interrupted run finishes on the next call with the same numbers; a control added later is added", async () => {
  const dir = await Deno.makeTempDir({ prefix: "oto_sweep_" });
  try {
    const spec = (extra: Partial<SweepSpec>) => ({
      common: TINY,
      axes: [{
        name: "run",
        values: { whole: [], cut: ["--stop-after-epoch", "1"] },
      }],
      ...extra,
    });
    const file = join(dir, "s.json");
    await Deno.writeTextFile(file, JSON.stringify(spec({})));
    const res = join(dir, "results");
    const first = await sweep(["run", file, "--results", res]);
    assert.equal(first.code, 1, `the cut run stops with exit 3: ${first.out}`);
    assert.match(first.out, /cut: exit 3/);
    const again = await sweep(["run", file, "--results", res]);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /1 to do/);
    assert.match(again.out, /cut: resume/);
    const rows = JSON.parse(await Deno.readTextFile(join(res, "summary.json"))).rows;
    assert.equal(rows.length, 2);
    const [whole, cut] = rows;
    for (const k of ["testAcc", "sparsity", "reachedStep", "macs", "params", "kept"]) {
      assert.deepEqual(cut[k], whole[k], `${k}: resumed ${cut[k]} vs uninterrupted ${whole[k]}`);
    }
    const log = await Deno.readTextFile(join(res, "cut", "train.log"));
    assert.match(log, /--resume --out/);
    // Nothing left to do; then the scratch control is asked for and added to the finished runs.
    assert.match((await sweep(["run", file, "--results", res])).out, /0 to do/);
    await Deno.writeTextFile(file, JSON.stringify(spec({ scratch: { run: ["whole"] } })));
    const third = await sweep(["run", file, "--results", res]);
    assert.equal(third.code, 0, third.out);
    assert.match(third.out, /whole: resume/);
    const report = JSON.parse(await Deno.readTextFile(join(res, "whole", "report.json")));
    assert.equal(typeof report.scratch.testAccuracy, "number");
    const md = await Deno.readTextFile(join(res, "summary.md"));
    assert.match(md, /\| whole \|/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
