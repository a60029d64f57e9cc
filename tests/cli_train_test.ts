/**
 * `deno task train` end to end, as a subprocess, on the synthetic data set with a tiny model:
 * exit codes, files, report consistent with the compressed weights, bit-exact resume after a
 * simulated crash, and one-line errors for bad flags and data.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeSafetensors } from "../src/io/safetensors.ts";
import { HELP } from "../src/cli/train.ts";

const TRAIN = new URL("../src/cli/train.ts", import.meta.url).pathname;

async function train(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { OTO_DEBUG: "" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A tiny run: 4-channel small CNN, 96 synthetic images, pruning from the second step. */
const TINY = [
  "--dataset",
  "synthetic",
  "--limit",
  "96",
  "--test-limit",
  "48",
  "--width",
  "4",
  "--batch-size",
  "32",
  "--start-pruning",
  "1steps",
  "--lambda",
  "30",
  "--quiet",
];

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

    const md = await Deno.readTextFile(join(dir, "report.md"));
    assert.match(md, /\*\*passed\*\*/);
    assert.match(md, new RegExp(rep.compressed.params.toLocaleString("en-US")));
    assert.match(await Deno.readTextFile(join(dir, "curves.svg")), /^<svg/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI: resume after a crash gives the same final weights as one run", async () => {
  const a = await Deno.makeTempDir({ prefix: "oto_cli_a_" });
  const b = await Deno.makeTempDir({ prefix: "oto_cli_b_" });
  try {
    const args = [...TINY, "--epochs", "3", "--optimizer", "adam", "--lr", "0.01"];
    const once = await train([...args, "--out", a]);
    assert.equal(once.code, 0, once.stderr);
    const crashed = await train([...args, "--out", b, "--stop-after-epoch", "1"]);
    assert.equal(crashed.code, 3, `--stop-after-epoch exits with 3; stderr:\n${crashed.stderr}`);
    assert.ok((await Deno.stat(join(b, "checkpoint.safetensors"))).isFile);
    await assert.rejects(() => Deno.stat(join(b, "report.json")), Deno.errors.NotFound);
    const resumed = await train(["--resume", "--out", b, "--quiet"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    for (const f of ["full.safetensors", "compressed.safetensors"]) {
      const wa = await weights(join(a, f)), wb = await weights(join(b, f));
      assert.deepEqual(Object.keys(wb), Object.keys(wa));
      for (const [name, t] of Object.entries(wa)) {
        assert.deepEqual(wb[name].shape, t.shape, `${f} ${name} shape`);
        assert.ok(
          wb[name].data.every((v, i) => Object.is(v, t.data[i])),
          `${f} ${name}: resumed weights equal the uninterrupted run's bit for bit`,
        );
      }
    }
    const ra = JSON.parse(await Deno.readTextFile(join(a, "report.json")));
    const rb = JSON.parse(await Deno.readTextFile(join(b, "report.json")));
    const strip = (h: Record<string, number>[]) =>
      h.map(({ seconds: _s, throughput: _t, ...rest }) => rest);
    assert.deepEqual(strip(rb.history), strip(ra.history), "same per-epoch history");
    // Flags that contradict the checkpoint are refused.
    const bad = await train(["--resume", "--out", b, "--lr", "0.5"]);
    assert.equal(bad.code, 2);
    assertOneLine(bad.stderr, "--resume with another --lr");
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
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
      [["--target-sparsity", "1.5"], 2, /--target-sparsity must be a number in \[0, 1\)/],
      [["--start-pruning", "soon"], 2, /--start-pruning must be/],
      [["--frobnicate"], 2, /frobnicate/],
      [["--dataset", "cifar10", "--data-dir", join(dir, "none"), "--quiet"], 1, /cifar-10/],
      [
        ["--resume", "--out", join(dir, "empty"), "--quiet"],
        1,
        /--resume: checkpoint .* not found/,
      ],
      [["--model", "carn", "--dataset", "synthetic", "--quiet", "--out", dir], 1, /carn/],
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
  const src = await Deno.readTextFile(TRAIN);
  const declared = [...src.matchAll(/^\s+"?([a-z-]+)"?: \{ type: "(?:string|boolean)"/gm)].map((
    m,
  ) => m[1]);
  assert.ok(declared.length >= 20, `found the option table (${declared.length})`);
  for (const f of declared) assert.match(HELP, new RegExp(`--${f}\\b`), `--help documents --${f}`);
});
