/**
 * Issue 16, "a library people can import": mod.ts loads from a folder outside the project
 * (no deno.json, so no import map) and trains, prunes and exports there; nothing under src/
 * relies on the project's import map.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { deno, ROOT, taskPermissions, withTempDir } from "./cli_helpers.ts";

Deno.test("mod.ts imported from a scratch folder: prune and export without the import map", async () => {
  await withTempDir("oto_lib_", async (dir) => {
    const mod = pathToFileURL(join(ROOT, "mod.ts")).href;
    await Deno.writeTextFile(
      join(dir, "main.ts"),
      `import { compress, exportOnnx, init, OTO, randn, zeroRandomGroups, zoo } from "${mod}";
await init({ backend: "cpu" });
const model = zoo["small-cnn"].build({ seed: 0 });
const oto = await OTO.create(model, [1, 1, 28, 28]);
await zeroRandomGroups(model.stateDict(), oto.partition, { seed: 1 });
const { model: small, report } = await oto.compress();
const info = await exportOnnx(small, "small.onnx", [1, 1, 28, 28]);
console.log(JSON.stringify({ before: report.paramsBefore, after: report.paramsAfter, bytes: info.bytes }));
`,
    );
    // --no-config: what a user's folder without a deno.json sees.
    const r = await deno(
      ["run", "--no-config", "--allow-read", "--allow-write=.", "--allow-env", "main.ts"],
      { cwd: dir },
    );
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.equal(got.before, 20538);
    assert.ok(got.after < got.before && got.bytes > 0);
    assert.ok((await Deno.stat(join(dir, "small.onnx"))).size === got.bytes);
  });
});

Deno.test("src/ imports only relative, node: and npm: specifiers (no import-map names)", async () => {
  const bad: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (/\.ts$/.test(e.name)) {
        const src = await Deno.readTextFile(p);
        const specs = [
          ...src.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm),
          ...src.matchAll(/^import\s+"([^"]+)"/gm),
          ...src.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
        ].map((m) => m[1]);
        for (const s of specs) {
          if (!/^(\.{1,2}\/|node:|npm:|jsr:)/.test(s)) bad.push(`${p}: "${s}"`);
        }
      }
    }
  };
  await walk(join(ROOT, "src"));
  assert.deepEqual(bad, [], "a bare specifier needs the project's import map");
});

Deno.test("the minimum Deno version: README, .ci/run and the running Deno agree", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const ci = await Deno.readTextFile(join(ROOT, ".ci/run"));
  const stated = /\*\*Deno (\d+\.\d+) or newer\*\*/.exec(readme)?.[1];
  const checked = /^MIN_DENO=(\d+\.\d+)\.\d+$/m.exec(ci)?.[1];
  assert.ok(stated && checked, "README states it and .ci/run checks it");
  assert.equal(stated, checked);
  const [maj, min] = stated.split(".").map(Number);
  const [hm, hn] = Deno.version.deno.split(".").map(Number);
  assert.ok(hm > maj || (hm === maj && hn >= min), `Deno ${Deno.version.deno} >= ${stated}`);
});

Deno.test("deno doc --lint mod.ts: every public symbol documented, no private type in the API", async () => {
  const r = await deno(["doc", "--lint", join(ROOT, "mod.ts")]);
  const problems = (r.stderr.match(/^error\[[a-z-]+\]/gm) ?? []).length;
  assert.equal(problems, 0, r.stderr.slice(0, 3000));
  assert.equal(r.code, 0, r.stderr.slice(-500));
});

Deno.test("every deno task names the permissions it needs (none runs with -A)", () => {
  const tasks: Record<string, string> = JSON.parse(
    Deno.readTextFileSync(join(ROOT, "deno.json")),
  ).tasks;
  const runs = Object.entries(tasks).filter(([, line]) => /\bdeno (run|test|bench)\b/.test(line));
  assert.ok(runs.length >= 8, "the tasks were read");
  for (const [name, line] of runs) {
    assert.doesNotMatch(line, /(^|\s)(-A|--allow-all)(\s|$)/, `task ${name}: ${line}`);
  }
  // The CLI tests run each tool with its task's flags (tests/cli_helpers.ts), so a task whose
  // flags are too narrow fails those tests.
  for (const tool of ["train", "partition", "evaluate", "predict"]) {
    assert.ok(taskPermissions(tool).length > 0, tool);
  }
});
