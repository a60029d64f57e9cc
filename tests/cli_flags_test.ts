/**
 * Issue 16, "flags that say what is wrong" and the report's defects: negative numbers,
 * flags that do not apply, pruning that cannot start or does not reach its target, --epochs
 * raised on --resume, --val-split, the resolved lambda/width, a 1-epoch curve, --out relative
 * to the folder the task was started from, and one-line errors from partition and examples.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCli, UsageError } from "../src/cli/train.ts";
import { assertOneLine, cli, deno, ROOT, TINY, withTempDir } from "./cli_helpers.ts";

const usage = (args: string[]) => {
  try {
    parseCli(args);
  } catch (e) {
    assert.ok(e instanceof UsageError, `${args.join(" ")}: a UsageError, got ${e}`);
    return (e as Error).message;
  }
  assert.fail(`${args.join(" ")}: accepted`);
};

Deno.test("flags: negative numbers reach their own check; flags that do not apply are errors", () => {
  assert.equal(usage(["--lr", "-1"]), '--lr must be positive, got "-1"');
  assert.equal(usage(["--lambda", "-0.5"]), '--lambda must be positive, got "-0.5"');
  assert.equal(usage(["--seed", "-3"]), '--seed must be a non-negative integer, got "-3"');
  assert.equal(usage(["--epochs", "-2"]), '--epochs must be a positive integer, got "-2"');
  assert.equal(parseCli(["--weight-decay", "0", "--lr", "0.5"]).settings.lr, 0.5);
  assert.match(usage(["--data-dir", "/x"]), /--data-dir does not apply to --dataset sample/);
  assert.match(
    usage(["--dataset", "synthetic", "--data-dir", "/x"]),
    /--data-dir does not apply to --dataset synthetic/,
  );
  assert.equal(parseCli(["--dataset", "fashion-mnist", "--data-dir", "/x"]).settings.dataDir, "/x");
  assert.match(usage(["--optimizer", "adam", "--momentum", "0.5"]), /--momentum applies to/);
  assert.match(usage(["--val-split", "0"]), /--val-split must be in \(0, 1\)/);
  assert.match(usage(["--val-split", "1"]), /--val-split must be a number in \[0, 1\)/);
  assert.match(usage(["--resume", "--overwrite"]), /give one/);
  // Relative paths are the user's: relative to where the command was started.
  const out = parseCli(["--out", "rel/dir"]).flags.out;
  assert.equal(out, join(Deno.env.get("INIT_CWD") ?? Deno.cwd(), "rel/dir"));
});

Deno.test("pruning that cannot start is refused; a target not reached exits 4 with a line", async () => {
  await withTempDir("oto_flags_prune_", async (dir) => {
    // 96 images in batches of 32: 3 steps in one epoch, pruning from step 297.
    const never = await cli("train", [
      ...TINY.filter((a) => a !== "1steps" && a !== "--start-pruning"),
      "--start-pruning",
      "99",
      "--epochs",
      "1",
      "--out",
      dir,
    ]);
    assert.equal(never.code, 2, never.stderr);
    assert.match(
      assertOneLine(never.stderr, "train", "--start-pruning 99"),
      /--start-pruning 99 is step 297, but the run has 3 steps \(1 epoch of 3\): DHSPG would never prune/,
    );
    const args = [...TINY, "--epochs", "1", "--target-sparsity", "0.9", "--out", dir];
    const short = await cli("train", [...args.map((a) => (a === "1steps" ? "2steps" : a))]);
    assert.equal(short.code, 4, short.stderr);
    assert.match(
      assertOneLine(short.stderr, "train", "target not reached"),
      /pruning did not reach its target: group sparsity 0\.\d+ < --target-sparsity 0\.9/,
    );
    const rep = JSON.parse(await Deno.readTextFile(join(dir, "report.json")));
    assert.equal(rep.groups.reached, false, "the results are written all the same");
    const allowed = await cli("train", [
      ...args.map((a) => (a === "1steps" ? "2steps" : a)),
      "--allow-unreached",
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);
  });
});

Deno.test("--epochs may be raised on --resume: the run continues where it finished", async () => {
  await withTempDir("oto_flags_epochs_", async (dir) => {
    const args = [...TINY, "--out", dir];
    assert.equal((await cli("train", [...args, "--epochs", "2"])).code, 0);
    const two = JSON.parse(await Deno.readTextFile(join(dir, "report.json")));
    const more = await cli("train", ["--resume", "--out", dir, "--epochs", "3", "--quiet"]);
    assert.equal(more.code, 0, more.stderr);
    const three = JSON.parse(await Deno.readTextFile(join(dir, "report.json")));
    assert.equal(three.history.length, 3);
    assert.equal(three.settings.epochs, 3);
    const strip = (h: Record<string, number>[]) =>
      h.map(({ seconds: _s, throughput: _t, ...r }) => r);
    assert.deepEqual(strip(three.history.slice(0, 2)), strip(two.history), "epochs 1-2 kept");
    assert.equal(three.history[2].step, 9);
    const fewer = await cli("train", ["--resume", "--out", dir, "--epochs", "2", "--quiet"]);
    assert.equal(fewer.code, 2);
    assert.match(assertOneLine(fewer.stderr, "train", "fewer epochs"), /--epochs may only grow/);
  });
});

Deno.test("--val-split: per-epoch validation on held-out training images, test scored once", async () => {
  await withTempDir("oto_flags_val_", async (dir) => {
    // No --width and no --lambda: the report shows the values used, not null.
    const args = TINY.filter((a, i) =>
      !["--width", "--lambda"].includes(a) && !["--width", "--lambda"].includes(TINY[i - 1])
    );
    const r = await cli("train", [
      ...args.filter((a) => a !== "--quiet"),
      "--epochs",
      "1",
      "--val-split",
      "0.25",
      "--out",
      dir,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /72 train, 24 validation, 48 test images/);
    assert.match(r.stdout, /epoch\s+train loss\s+train acc\s+val loss\s+val acc/);
    const rep = JSON.parse(await Deno.readTextFile(join(dir, "report.json")));
    assert.deepEqual([rep.dataset.train, rep.dataset.val, rep.dataset.test], [72, 24, 48]);
    const h = rep.history[0];
    assert.ok("valLoss" in h && "valAccuracy" in h && !("testLoss" in h), Object.keys(h).join());
    assert.ok(rep.compressed.testAccuracy >= 0 && "testLoss" in rep.compressed);
    // The lambda the run used (the sgd default, 1) and its group-lasso budget,
    // not null.
    assert.ok(Number.isFinite(rep.settings.lambda) && rep.settings.lambda > 0, "lambda resolved");
    assert.ok(
      Number.isFinite(rep.settings.lambdaBudget) && rep.settings.lambdaBudget > 0 &&
        rep.settings.lambda === 1,
      `budget ${rep.settings.lambdaBudget}`,
    );
    assert.equal(rep.settings.width, 16, "small-cnn's own width");
    assert.equal(rep.settings.valSplit, 0.25);
    // One epoch still draws curves: the running training loss within the epoch.
    assert.ok(rep.curve.length >= 3, `curve points: ${rep.curve.length}`);
    assert.ok(rep.curve.every((p: { epoch: number }) => p.epoch > 0 && p.epoch <= 1));
    const svg = await Deno.readTextFile(join(dir, "curves.svg"));
    const lines = [...svg.matchAll(/<polyline[^>]*points="([^"]+)"/g)];
    assert.ok(lines.some((m) => m[1].split(" ").length >= 3), "a curve, not a lone point");
    assert.match(await Deno.readTextFile(join(dir, "report.md")), /validation images held out/);
  });
});

Deno.test("deno task train from a subfolder writes --out there, not in the project folder", async () => {
  await withTempDir("oto_flags_cwd_", async (dir) => {
    const r = await deno([
      "task",
      "--config",
      join(ROOT, "deno.json"),
      "train",
      ...TINY,
      "--epochs",
      "1",
      "--out",
      "rel-out",
      // As from a shell: `deno task` itself says where it was started (this test process
      // runs under `deno task test`, whose INIT_CWD a child would otherwise inherit).
    ], { cwd: dir, unset: ["INIT_CWD"] });
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await Deno.stat(join(dir, "rel-out", "report.json"))).isFile);
    await assert.rejects(() => Deno.stat(join(ROOT, "rel-out")), Deno.errors.NotFound);
  });
});

Deno.test("partition and the examples: bad input is one line, not a stack trace", async () => {
  const dot = await cli("partition", ["--model", "small-cnn", "--dot", "/proc/oto.dot"]);
  assert.equal(dot.code, 1);
  assert.match(assertOneLine(dot.stderr, "partition", "--dot unwritable"), /\/proc\/oto\.dot/);
  for (const ex of ["train_mnist", "prune_your_model", "export_onnx"]) {
    const file = new URL(`../examples/${ex}.ts`, import.meta.url).pathname;
    const r = await deno(["run", "-A", file, "--frobnicate"]);
    assert.equal(r.code, 2, `${ex}: ${r.stderr}`);
    assert.match(assertOneLine(r.stderr, ex, `${ex} --frobnicate`), /frobnicate/);
  }
  const lr = await deno(["run", "-A", join(ROOT, "examples/train_mnist.ts"), "--lr", "-1"]);
  assert.equal(lr.code, 2);
  assert.match(assertOneLine(lr.stderr, "train_mnist", "--lr -1"), /--lr must be a positive/);
});
