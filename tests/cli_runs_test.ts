/**
 * Issue 16, "no lost runs": each defect a new user hit, reproduced against the train CLI as a
 * subprocess (or against the piece that fixes it), and now refused or survived:
 * an unfinished --out re-run without --resume, two runs in one folder, an unwritable --out
 * noticed only after an epoch, bit flips in a checkpoint, temporary files of crashed writes,
 * a second Ctrl-C that did nothing, SIGHUP that killed the run without a checkpoint, and a step
 * that could not be stopped part-way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeSafetensors } from "../src/io/safetensors.ts";
import { isAtomicTemp, writeFileAtomic } from "../src/io/atomic.ts";
import { LOCK_NAME, lockOwnerAlive, lockRunDir, STALE_SECONDS } from "../src/cli/run_dir.ts";
import { StopSignals } from "../src/cli/stop.ts";
import { readCheckpointMeta } from "../src/cli/checkpoint.ts";
import { assertOneLine, cli, denoCommand, readUntil, TINY, withTempDir } from "./cli_helpers.ts";

const weights = async (path: string) => decodeSafetensors(await Deno.readFile(path), path).tensors;

/** Assert two run folders hold bit-identical full and compressed weights. */
async function assertSameWeights(a: string, b: string, what: string): Promise<void> {
  for (const f of ["full.safetensors", "compressed.safetensors"]) {
    const wa = await weights(join(a, f)), wb = await weights(join(b, f));
    assert.deepEqual(Object.keys(wb).sort(), Object.keys(wa).sort(), `${what}: ${f} names`);
    for (const [name, t] of Object.entries(wa)) {
      assert.ok(
        wb[name].data.every((v, i) => Object.is(v, t.data[i])),
        `${what}: ${f} ${name} equals the uninterrupted run's bit for bit`,
      );
    }
  }
}

Deno.test("an unfinished --out is refused without --resume; --overwrite starts over", async () => {
  await withTempDir("oto_runs_unfinished_", async (dir) => {
    const args = [...TINY, "--epochs", "3", "--out", dir];
    const first = await cli("train", [...args, "--stop-after-epoch", "1"]);
    assert.equal(first.code, 3, first.stderr);
    const ck = join(dir, "checkpoint.safetensors");
    const before = await Deno.readFile(ck);

    const again = await cli("train", args);
    assert.equal(again.code, 2, `re-run without --resume; stderr:\n${again.stderr}`);
    const line = assertOneLine(again.stderr, "train", "unfinished --out");
    assert.match(line, /holds an unfinished run \(stopped at epoch 1 of 3 \(step 3\)\)/);
    assert.match(line, /--resume.*--overwrite/);
    assert.deepEqual(await Deno.readFile(ck), before, "the checkpoint is untouched");

    const both = await cli("train", [...args, "--resume", "--overwrite"]);
    assert.equal(both.code, 2);
    assertOneLine(both.stderr, "train", "--resume --overwrite");

    const over = await cli("train", [...args, "--overwrite"]);
    assert.equal(over.code, 0, over.stderr);
    const rep = JSON.parse(await Deno.readTextFile(join(dir, "report.json")));
    assert.equal(rep.history.length, 3, "trained from the start");
    assert.equal(rep.timings.sessions, 1, "a fresh run, not a resumed one");
    // A finished run may be re-run (it is replaced).
    const rerun = await cli("train", args);
    assert.equal(rerun.code, 0, rerun.stderr);
  });
});

Deno.test("one run per --out: a live lock refuses a second run, a stale one is taken over", async () => {
  await withTempDir("oto_runs_lock_", async (dir) => {
    const lock = join(dir, LOCK_NAME);
    const args = [...TINY, "--epochs", "1", "--out", dir];
    // A lock held by a live process (this test's), touched just now.
    const self = { pid: Deno.pid, host: Deno.hostname(), procStart: null, since: "now" };
    await Deno.writeTextFile(lock, JSON.stringify(self));
    const busy = await cli("train", args);
    assert.equal(busy.code, 1, busy.stderr);
    const line = assertOneLine(busy.stderr, "train", "locked --out");
    assert.match(line, new RegExp(`in use by another run \\(pid ${Deno.pid}`));
    await assert.rejects(
      () => Deno.stat(join(dir, "checkpoint.safetensors")),
      Deno.errors.NotFound,
    );

    // The lock of a process that has exited, untouched for 5 minutes: stale by either test
    // (no such pid in /proc, or no heartbeat).
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    await Deno.writeTextFile(lock, JSON.stringify({ ...self, pid: gone.pid }));
    const old = new Date(Date.now() - 300_000);
    await Deno.utime(lock, old, old);
    const ok = await cli("train", args.filter((a) => a !== "--quiet"));
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`took over the stale lock of pid ${gone.pid} \\(`));
    await assert.rejects(() => Deno.stat(lock), Deno.errors.NotFound, "released at the end");
  });
});

Deno.test("two runs started into one --out: the second is refused while the first trains", async () => {
  if (Deno.build.os === "windows") return;
  await withTempDir("oto_runs_two_", async (dir) => {
    const args = ["run", "-A", new URL("../src/cli/train.ts", import.meta.url).pathname];
    const long = [...TINY.filter((a) => a !== "--quiet"), "--epochs", "40", "--out", dir];
    const a = denoCommand([...args, ...long]).spawn();
    await readUntil(a, /oto epoch 1\/40:/);
    const b = await cli("train", [...TINY, "--epochs", "1", "--out", dir]);
    assert.equal(b.code, 1, b.stderr);
    assert.match(assertOneLine(b.stderr, "train", "second run"), /in use by another run/);
    a.kill("SIGTERM");
    const out = await a.output();
    assert.equal(out.code, 143, "SIGTERM: checkpoint and exit 143");
    const resumed = await cli("train", ["--resume", "--out", dir, "--epochs", "2", "--quiet"]);
    assert.equal(resumed.code, 2, "--epochs may only grow");
    assert.match(resumed.stderr, /--epochs may only grow/);
  });
});

Deno.test("an --out that cannot be written is refused before training", async () => {
  if (Deno.build.os !== "linux") return; // /proc: unwritable even for root
  for (const out of ["/proc/self", "/proc/self/oto-out"]) {
    const r = await cli("train", [...TINY.filter((a) => a !== "--quiet"), "--out", out]);
    assert.equal(r.code, 1, `${out}: ${r.stderr}`);
    const line = assertOneLine(r.stderr, "train", out);
    assert.match(line, new RegExp(`--out ${out}.*(not writable|cannot create)`));
    assert.doesNotMatch(r.stdout, /epoch|backend/, "nothing trained, nothing loaded");
  }
});

Deno.test("a checkpoint with a flipped bit is refused on --resume; crashed writes' temp files go", async () => {
  await withTempDir("oto_runs_ck_", async (dir) => {
    const args = [...TINY, "--epochs", "2", "--out", dir];
    assert.equal((await cli("train", [...args, "--stop-after-epoch", "1"])).code, 3);
    const ck = join(dir, "checkpoint.safetensors");
    const good = await Deno.readFile(ck);
    // One bit of the last tensor's data (optimizer state or weights), not the header.
    const bad = good.slice();
    bad[bad.length - 7] ^= 0x10;
    await Deno.writeFile(ck, bad);
    const r = await cli("train", ["--resume", "--out", dir, "--quiet"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      assertOneLine(r.stderr, "train", "bit flip"),
      /checkpoint .*checkpoint\.safetensors is damaged: its contents do not match their SHA-256/,
    );
    // The good checkpoint, and what a crash mid-write leaves behind.
    await Deno.writeFile(ck, good);
    const temps = [".checkpoint.safetensors.0123456789ab.tmp", ".report.json.a1b2c3d4e5f6.tmp"];
    for (const t of temps) await Deno.writeTextFile(join(dir, t), "partial");
    assert.ok(temps.every(isAtomicTemp));
    assert.ok(!isAtomicTemp("checkpoint.safetensors") && !isAtomicTemp(".hidden.tmp"));
    const ok = await cli("train", ["--resume", "--out", dir, "--quiet"]);
    assert.equal(ok.code, 0, ok.stderr);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".tmp"));
    assert.deepEqual(left, [], "temporary files of crashed writes are removed");
  });
});

Deno.test("a write that fails (file too large, disk full) is one line naming the file", async () => {
  if (Deno.build.os !== "linux") return;
  await withTempDir("oto_runs_full_", async (dir) => {
    // The checkpoint (45 kB) cannot be written past a 20 kB file-size limit: EFBIG, as ENOSPC.
    const train = new URL("../src/cli/train.ts", import.meta.url).pathname;
    const cmd = `trap '' XFSZ; ulimit -f 20; exec "${Deno.execPath()}" run -A "${train}" ` +
      [...TINY, "--epochs", "1", "--out", dir].join(" ");
    const out = await new Deno.Command("bash", {
      args: ["-c", cmd],
      stdout: "piped",
      stderr: "piped",
      env: { OTO_DEBUG: "" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.match(
      assertOneLine(stderr, "train", "file too large"),
      new RegExp(`writing ${dir}/checkpoint\\.safetensors: File too large`),
    );
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(left.filter((n) => n.endsWith(".tmp")), [], "no temporary file left");
  });
  // The same error from the atomic writer itself keeps its class and names the target.
  await withTempDir("oto_runs_atomic_", async (dir) => {
    const target = join(dir, "x.bin");
    const err = await assert.rejects(
      writeFileAtomic(
        target,
        (async function* () {
          yield new Uint8Array(4);
          throw new Deno.errors.WriteZero("No space left on device (os error 28)");
        })(),
      ),
      (e: Error) => e instanceof Deno.errors.WriteZero && e.message.includes(target),
    );
    assert.equal(err, undefined);
  });
});

Deno.test("SIGHUP stops like SIGTERM: checkpoint, exit 129, --resume finishes with every process's time", async () => {
  if (Deno.build.os === "windows") return;
  await withTempDir("oto_runs_hup_", async (dir) => {
    const train = new URL("../src/cli/train.ts", import.meta.url).pathname;
    const args = [...TINY.filter((a) => a !== "--quiet"), "--epochs", "12", "--out", dir];
    const child = denoCommand(["run", "-A", train, ...args]).spawn();
    // Epoch 1 is done (trained and evaluated) when epoch 2's line starts.
    await readUntil(child, /oto epoch 2\/12:/);
    child.kill("SIGHUP");
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 129, stderr);
    assert.match(
      stderr,
      /^train: interrupted \(SIGHUP\) .*; checkpoint saved, continue with --resume$/m,
    );
    // Resumed for one step only, then stopped again: far less time than the first process,
    // so a resumed clock that forgot the first process's time goes backwards.
    const ckFile = join(dir, "checkpoint.safetensors");
    const ck1 = (await readCheckpointMeta(ckFile))!;
    assert.ok((ck1.elapsed as number) > 0 && ck1.sessions === 1, "the first process's time");
    const next = ["--resume", "--out", dir, "--quiet"];
    const one = await cli("train", [...next, "--stop-after-step", String(ck1.step + 1)]);
    assert.equal(one.code, 3, one.stderr);
    const ck2 = (await readCheckpointMeta(ckFile))!;
    assert.equal(ck2.sessions, 2);
    assert.ok(
      (ck2.elapsed as number) > (ck1.elapsed as number),
      `wall time over both processes: ${ck2.elapsed} after ${ck1.elapsed}`,
    );
    const done = await cli("train", next);
    assert.equal(done.code, 0, done.stderr);
    const rep = JSON.parse(await Deno.readTextFile(join(dir, "report.json")));
    assert.equal(rep.history.length, 12);
    assert.equal(rep.timings.sessions, 3, "the report counts every process");
    assert.ok(
      rep.timings.totalSeconds > (ck2.elapsed as number),
      "total includes earlier processes",
    );
    // Training seconds: every epoch's, those trained by earlier processes included.
    const perEpoch = rep.history.reduce((t: number, h: { seconds: number }) => t + h.seconds, 0);
    assert.ok(
      Math.abs(rep.timings.trainSeconds - perEpoch) <= 1e-9 * perEpoch,
      `training seconds ${rep.timings.trainSeconds} = the epochs' ${perEpoch}`,
    );
  });
});

Deno.test("a stop part-way through a step saves the state before it; the resumed run is exact", async () => {
  await withTempDir("oto_runs_mid_", async (base) => {
    const [a, b] = [join(base, "a"), join(base, "b")];
    // 3 steps per epoch: step 5 is the second batch of epoch 2.
    const args = [...TINY, "--epochs", "3", "--optimizer", "adam", "--lr", "0.01"];
    assert.equal((await cli("train", [...args, "--out", a])).code, 0);
    const cut = await cli("train", [...args, "--out", b, "--interrupt-at-step", "5"]);
    assert.equal(cut.code, 130, cut.stderr);
    assert.match(
      assertOneLine(cut.stderr, "train", "interrupted step"),
      /part-way through step 5 \(interrupted in .*\); the model is saved as it was before that step, in epoch 2 after batch 1\/3; checkpoint saved/,
    );
    const done = await cli("train", ["--resume", "--out", b, "--quiet"]);
    assert.equal(done.code, 0, done.stderr);
    await assertSameWeights(a, b, "stopped part-way through step 5");
  });
});

Deno.test("StopSignals: the first signal is a request while training, the second exits at once", async () => {
  if (Deno.build.os === "windows") return;
  const exits: string[] = [];
  const signals = new StopSignals((sig, code) => {
    exits.push(`${sig} ${code}`);
    return undefined as never;
  });
  await signals.start();
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(cond(), "the signal arrived");
  };
  try {
    await signals.deferring(async () => {
      Deno.kill(Deno.pid, "SIGHUP");
      await until(() => signals.count === 1);
      assert.equal(signals.requested(), true, "a stop is requested");
      assert.equal(signals.caught, "SIGHUP");
      assert.deepEqual(exits, [], "the first signal does not exit while training");
      assert.throws(() => signals.check("here"), /interrupted \(SIGHUP\) here; checkpoint saved/);
      Deno.kill(Deno.pid, "SIGTERM");
      await until(() => signals.count === 2);
      signals.requested();
      assert.deepEqual(exits, ["SIGHUP 129"], "the second exits at once (with the first's code)");
    });
  } finally {
    signals.dispose();
  }
  // Outside training, the first signal exits at once.
  const exits2: number[] = [];
  const s2 = new StopSignals((_sig, code) => (exits2.push(code), undefined as never));
  await s2.start();
  try {
    Deno.kill(Deno.pid, "SIGTERM");
    // Nothing calls requested() here: the main thread's own listener must act.
    await until(() => exits2.length > 0);
    assert.deepEqual(exits2, [143]);
  } finally {
    s2.dispose();
  }
});

Deno.test("lockOwnerAlive: a heartbeat decides where the owner cannot be asked", () => {
  // Another host: its pids mean nothing here, only the lock's heartbeat does.
  const far = { pid: 1, host: "elsewhere.example", procStart: null, since: "then" };
  const now = Date.now();
  const at = (s: number) => new Date(now - s * 1000);
  assert.equal(lockOwnerAlive(far, at(2), now).alive, true);
  assert.equal(lockOwnerAlive(far, at(STALE_SECONDS + 1), now).alive, false);
  assert.match(lockOwnerAlive(far, at(STALE_SECONDS + 1), now).why, /no heartbeat for 61 s/);
  assert.equal(lockOwnerAlive(far, null, now).alive, false);
});

Deno.test("lockRunDir: creates the folder, holds the lock with this pid, releases only its own", async () => {
  await withTempDir("oto_runs_lockdir_", async (base) => {
    const dir = join(base, "a", "b");
    const d = await lockRunDir(dir);
    const info = JSON.parse(await Deno.readTextFile(join(dir, LOCK_NAME)));
    // The heartbeat keeps touching it.
    const t0 = (await Deno.stat(join(dir, LOCK_NAME))).mtime!.getTime();
    const old = new Date(t0 - 600_000);
    await Deno.utime(join(dir, LOCK_NAME), old, old);
    let touched = old.getTime();
    for (let i = 0; i < 100 && touched === old.getTime(); i++) {
      await new Promise((r) => setTimeout(r, 100));
      touched = (await Deno.stat(join(dir, LOCK_NAME))).mtime!.getTime();
    }
    assert.ok(touched > old.getTime(), "the lock was touched again");
    assert.equal(info.pid, Deno.pid);
    await assert.rejects(() => lockRunDir(dir), /in use by another run/);
    d.release();
    await assert.rejects(() => Deno.stat(join(dir, LOCK_NAME)), Deno.errors.NotFound);
    // A lock that another process took over is not removed by the old holder.
    const d2 = await lockRunDir(dir);
    await Deno.writeTextFile(join(dir, LOCK_NAME), JSON.stringify({ ...info, pid: 1 }));
    d2.release();
    assert.ok((await Deno.stat(join(dir, LOCK_NAME))).isFile);
  });
});
