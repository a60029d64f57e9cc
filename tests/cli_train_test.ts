/**
 * `deno task train` end to end, as a subprocess, on the synthetic data set with a tiny model:
 * exit codes, files, report consistent with the compressed weights, bit-exact resume after a
 * simulated crash, and one-line errors for bad flags and data.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeSafetensors } from "../src/io/safetensors.ts";
import { HELP, TRAIN_FLAGS } from "../src/cli/train.ts";
import { TINY } from "./cli_helpers.ts";

const TRAIN = new URL("../src/cli/train.ts", import.meta.url).pathname;

/** `deno run -A src/cli/train.ts ...args`, output piped. */
function trainCommand(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { OTO_DEBUG: "" },
  });
}

async function train(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await trainCommand(args).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const isBuffer = (name: string) => /running_(mean|var)$|num_batches_tracked$/.test(name);

async function weights(path: string) {
  return decodeSafetensors(await Deno.readFile(path), path).tensors;
}

function assertOneLine(stderr: string, what: string): void {
  const lines = stderr.trim().split("\n").filter((l) => !/^Warning|^Download/.test(l));
  assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${stderr}`);
  assert.match(lines[0], /^train: /, what);
  assert.doesNotMatch(stderr, /^\s+at /m, `${what}: no stack trace`);
}

Deno.test("train CLI: synthetic run writes every file; report matches the compressed weights", async () => {
  const dir = await Deno.makeTempDir({ prefix: "oto_cli_" });
  try {
    const r = await train([...TINY, "--epochs", "2", "--baseline", "--out", dir]);
    assert.equal(r.code, 0, `exit code; stderr:\n${r.stderr}`);
    assert.match(r.stdout, /verify max diff/);
    for (
      const f of [
        "report.json",
        "report.md",
        "curves.svg",
        "full.onnx",
        "compressed.onnx",
        "full.safetensors",
        "compressed.safetensors",
        "checkpoint.safetensors",
        "baseline.safetensors",
        "baseline-checkpoint.safetensors",
      ]
    ) {
      assert.ok((await Deno.stat(join(dir, f))).size > 0, `${f} written`);
    }
    const rep = JSON.parse(await Deno.readTextFile(join(dir, "report.json")));
    assert.equal(rep.history.length, 2);
    assert.equal(rep.baselineHistory.length, 2, "--baseline trains the unpruned model too");
    assert.equal(rep.baseline.params, rep.full.params);
    assert.ok(rep.history.every((h: { groupSparsity: number }) => h.groupSparsity >= 0));
    assert.ok(rep.verify.passed && rep.verify.relDiff <= 1e-3, "verification passed");
    assert.ok(rep.verify.images > 0 && rep.verify.maxAbsDiff >= 0);

    // Parameter counts recomputed from the files.
    const full = await weights(join(dir, "full.safetensors"));
    const small = await weights(join(dir, "compressed.safetensors"));
    const count = (ts: typeof full) =>
      Object.entries(ts).filter(([n]) => !isBuffer(n)).reduce((s, [, a]) => s + a.data.length, 0);
    assert.equal(count(full), rep.full.params, "full params from full.safetensors");
    assert.equal(count(small), rep.compressed.params, "compressed params from the file");
    assert.ok(rep.compressed.params < rep.full.params, "pruning removed parameters");
    assert.deepEqual(Object.keys(small).sort(), Object.keys(full).sort(), "same tensor names");

    // Kept channels per ZIG = the compressed conv widths; the removed channels were zero.
    const zigs = rep.zigs.filter((z: { prunable: boolean }) => z.prunable);
    assert.deepEqual(zigs.map((z: { size: number }) => z.size), [4, 8]);
    assert.deepEqual(
      zigs.map((z: { kept: number }) => z.kept),
      [small["features.0.weight"].shape[0], small["features.4.weight"].shape[0]],
    );
    const fw = full["features.4.weight"], sw = small["features.4.weight"];
    const rows = (a: typeof fw) => {
      const w = a.data.length / a.shape[0];
      return Array.from({ length: a.shape[0] }, (_, i) => a.data.slice(i * w, (i + 1) * w));
    };
    const nonzero = rows(fw).filter((row) => row.some((v) => v !== 0));
    assert.equal(nonzero.length, sw.shape[0], "kept rows = non-zero rows of the full conv");
    assert.equal(
      rep.groups.zero,
      rep.groups.total - zigs.reduce((s: number, z: { kept: number }) => s + z.kept, 0),
    );

    // When the target was first met: after pruning started, and consistent with the sparsity
    // read at the end of each epoch (3 steps per epoch here).
    const g = rep.groups;
    assert.ok(g.reached && g.sparsity >= g.target, JSON.stringify(g));
    assert.ok(g.reachedStep > rep.settings.startPruningStep, `reached at ${g.reachedStep}`);
    assert.equal(g.reachedEpoch, g.reachedStep / 3);
    const firstMet = rep.history.findIndex((h: { groupSparsity: number }) =>
      h.groupSparsity >= g.target
    );
    assert.ok(firstMet >= 0 && g.reachedStep <= rep.history[firstMet].step);
    if (firstMet > 0) assert.ok(g.reachedStep > rep.history[firstMet - 1].step);
    assert.equal(rep.settings.lambda, 30, "the lambda DHSPG used");

    const md = await Deno.readTextFile(join(dir, "report.md"));
    assert.match(md, /\*\*passed\*\*/);
    assert.match(md, new RegExp(`target first met at step ${g.reachedStep} `));
    assert.match(md, new RegExp(rep.compressed.params.toLocaleString("en-US")));
    assert.match(await Deno.readTextFile(join(dir, "curves.svg")), /^<svg/);

    // --scratch added to the finished run: only the compressed architecture is trained, from
    // fresh weights; the pruned run and its files stay as they were.
    const sr = await train(["--resume", "--out", dir, "--scratch", "--quiet"]);
    assert.equal(sr.code, 0, `--resume --scratch; stderr:\n${sr.stderr}`);
    assert.match(sr.stdout, /, scratch \d+\.\d\d%/);
    const rep2 = JSON.parse(await Deno.readTextFile(join(dir, "report.json")));
    assert.deepEqual(rep2.history, rep.history, "the pruned run is not retrained");
    assert.equal(rep2.scratchHistory.length, 2);
    assert.equal(rep2.scratch.params, rep.compressed.params);
    assert.equal(rep2.settings.scratch, true);
    const scratch = await weights(join(dir, "scratch.safetensors"));
    assert.deepEqual(
      Object.entries(scratch).map(([n, a]) => [n, a.shape]),
      Object.entries(small).map(([n, a]) => [n, a.shape]),
      "the compressed architecture",
    );
    assert.notDeepEqual(scratch["features.0.weight"].data, small["features.0.weight"].data);
    assert.ok((await Deno.stat(join(dir, "scratch-checkpoint.safetensors"))).isFile);
    assert.match(await Deno.readTextFile(join(dir, "report.md")), /Scratch \(the compressed/);
    // A plain --resume later continues (here: re-reports) the added run as well.
    const again = await train(["--resume", "--out", dir, "--quiet"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /, scratch \d+\.\d\d%/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Assert two runs' final weights are equal bit for bit and their histories match. */
async function assertSameRun(a: string, b: string, what: string): Promise<void> {
  for (const f of ["full.safetensors", "compressed.safetensors"]) {
    const wa = await weights(join(a, f)), wb = await weights(join(b, f));
    assert.deepEqual(Object.keys(wb), Object.keys(wa));
    for (const [name, t] of Object.entries(wa)) {
      assert.deepEqual(wb[name].shape, t.shape, `${what}: ${f} ${name} shape`);
      assert.ok(
        wb[name].data.every((v, i) => Object.is(v, t.data[i])),
        `${what}: ${f} ${name}: resumed weights equal the uninterrupted run's bit for bit`,
      );
    }
  }
  const ra = JSON.parse(await Deno.readTextFile(join(a, "report.json")));
  const rb = JSON.parse(await Deno.readTextFile(join(b, "report.json")));
  const strip = (h: Record<string, number>[]) =>
    h.map(({ seconds: _s, throughput: _t, ...rest }) => rest);
  assert.deepEqual(strip(rb.history), strip(ra.history), `${what}: same per-epoch history`);
}

Deno.test("train CLI: resume after a crash gives the same final weights as one run", async () => {
  const [a, b, c] = await Promise.all(
    ["a", "b", "c"].map((k) => Deno.makeTempDir({ prefix: `oto_cli_${k}_` })),
  );
  try {
    // 96 images in batches of 32: 3 steps per epoch, 9 in all.
    const args = [...TINY, "--epochs", "3", "--optimizer", "adam", "--lr", "0.01"];
    const once = await train([...args, "--out", a]);
    assert.equal(once.code, 0, once.stderr);
    const crashed = await train([...args, "--out", b, "--stop-after-epoch", "1"]);
    assert.equal(crashed.code, 3, `--stop-after-epoch exits with 3; stderr:\n${crashed.stderr}`);
    assert.ok((await Deno.stat(join(b, "checkpoint.safetensors"))).isFile);
    await assert.rejects(() => Deno.stat(join(b, "report.json")), Deno.errors.NotFound);
    const resumed = await train(["--resume", "--out", b, "--quiet"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    await assertSameRun(a, b, "after epoch 1");
    // Mid-epoch: stop after step 4 (epoch 2, batch 1 of 3), then after step 8 (epoch 3,
    // batch 2), resuming each time; the meter sums, data position and generator carry over.
    const mid = await train([...args, "--out", c, "--stop-after-step", "4"]);
    assert.equal(mid.code, 3, `--stop-after-step exits with 3; stderr:\n${mid.stderr}`);
    assert.match(mid.stderr, /stopped at step 4 in epoch 2 after batch 1\/3; checkpoint saved/);
    const mid2 = await train(["--resume", "--out", c, "--stop-after-step", "8"]);
    assert.equal(mid2.code, 3, mid2.stderr);
    assert.match(mid2.stdout, /resuming in epoch 2 after batch 1\/3 \(step 4\)/);
    const midDone = await train(["--resume", "--out", c, "--quiet"]);
    assert.equal(midDone.code, 0, midDone.stderr);
    await assertSameRun(a, c, "mid-epoch");
    // Flags that contradict the checkpoint are refused.
    const bad = await train(["--resume", "--out", b, "--lr", "0.5"]);
    assert.equal(bad.code, 2);
    assertOneLine(bad.stderr, "--resume with another --lr");
  } finally {
    for (const d of [a, b, c]) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("train CLI: Ctrl-C (SIGINT) checkpoints, exits with 130, and --resume finishes", async () => {
  if (Deno.build.os === "windows") return; // no signals to send
  const dir = await Deno.makeTempDir({ prefix: "oto_cli_int_" });
  try {
    // Long enough to be interrupted after the first epoch's line: 20 epochs of 3 steps.
    const args = [...TINY.filter((a) => a !== "--quiet"), "--epochs", "20", "--out", dir];
    const child = trainCommand(args).spawn();
    const dec = new TextDecoder();
    let seen = "";
    const reader = child.stdout.getReader();
    while (!/oto epoch 1\/20:/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += dec.decode(value);
    }
    child.kill("SIGINT");
    reader.releaseLock();
    const out = await child.output();
    const stderr = dec.decode(out.stderr);
    assert.equal(out.code, 130, `exit code after SIGINT; stderr:\n${stderr}`);
    assert.match(
      stderr,
      /^train: interrupted \(SIGINT\) .*; checkpoint saved, continue with --resume$/m,
    );
    assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
    const ck = await weights(join(dir, "checkpoint.safetensors"));
    assert.ok(Object.keys(ck).length > 0);
    await assert.rejects(() => Deno.stat(join(dir, "report.json")), Deno.errors.NotFound);
    const done = await train(["--resume", "--out", dir, "--quiet"]);
    assert.equal(done.code, 0, done.stderr);
    const report = JSON.parse(await Deno.readTextFile(join(dir, "report.json")));
    assert.equal(report.history.length, 20);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI: bad flags and data give one clear line and a non-zero exit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "oto_cli_bad_" });
  try {
    const cases: [string[], number, RegExp][] = [
      [["--epochs", "abc"], 2, /--epochs must be a positive integer, got "abc"/],
      [["--model", "nope"], 2, /unknown --model "nope"/],
      [["--dataset", "mnist"], 2, /unknown --dataset "mnist"/],
      [["--optimizer", "rmsprop"], 2, /unknown --optimizer/],
      [["--prune-scope", "layer"], 2, /unknown --prune-scope "layer"; choose global or zig/],
      [["--checkpoint-every=-1"], 2, /--checkpoint-every must be a non-negative number, got "-1"/],
      [["--stop-after-step", "0"], 2, /--stop-after-step must be a positive integer, got "0"/],
      [["--target-sparsity", "1.5"], 2, /--target-sparsity must be a number in \[0, 1\)/],
      [["--start-pruning", "soon"], 2, /--start-pruning must be/],
      [["--frobnicate"], 2, /frobnicate/],
      [["--dataset", "cifar10", "--data-dir", join(dir, "none"), "--quiet"], 1, /cifar-10/],
      [
        ["--resume", "--out", join(dir, "empty"), "--quiet"],
        1,
        /--resume: checkpoint .* not found/,
      ],
      // A model of another task is a flag error (exit 2), found before any data is loaded.
      [
        ["--model", "carn", "--dataset", "synthetic", "--quiet", "--out", dir],
        2,
        /--model carn is a super-resolution model; for --task classification choose one of/,
      ],
    ];
    for (const [args, code, msg] of cases) {
      const r = await train(args);
      assert.equal(r.code, code, `${args.join(" ")}: exit code (stderr: ${r.stderr})`);
      assertOneLine(r.stderr, args.join(" "));
      assert.match(r.stderr, msg, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI: --help documents every flag", async () => {
  const r = await train(["--help"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), HELP.trim());
  const declared = Object.keys(TRAIN_FLAGS);
  assert.ok(declared.length >= 20, `found the option table (${declared.length})`);
  for (const f of declared) assert.match(HELP, new RegExp(`--${f}\\b`), `--help documents --${f}`);
});
