/**
 * Start-up environment: without XDG_RUNTIME_DIR (Mesa warns without one), oto points it at one
 * private folder per user, reused by every process rather than one folder per process.
 */
import assert from "node:assert/strict";

const MOD = new URL("../mod.ts", import.meta.url).href;

Deno.test("init: XDG_RUNTIME_DIR defaults to one private folder per user, reused", async () => {
  if (Deno.build.os === "windows") return; // no uid, no XDG
  const tmp = await Deno.makeTempDir({ prefix: "oto_tmpdir_" });
  try {
    const env: Record<string, string> = { TMPDIR: tmp };
    for (const k of ["PATH", "HOME", "DENO_DIR"]) {
      const v = Deno.env.get(k);
      if (v) env[k] = v;
    }
    const code = `import { init } from "${MOD}"; await init({ quiet: true }); ` +
      `console.log(Deno.env.get("XDG_RUNTIME_DIR"));`;
    const run = async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", code],
        clearEnv: true,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      assert.equal(out.code, 0, dec.decode(out.stderr));
      return dec.decode(out.stdout).trim();
    };
    const want = `${tmp}/oto-runtime-u${Deno.uid()}`;
    assert.equal(await run(), want);
    assert.equal(await run(), want, "the second process reuses the folder");
    const entries = [...Deno.readDirSync(tmp)].map((e) => e.name);
    assert.deepEqual(entries, [`oto-runtime-u${Deno.uid()}`], "no per-process folders");
    assert.equal((Deno.statSync(want).mode ?? 0) & 0o777, 0o700);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
