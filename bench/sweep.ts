/**
 * `deno task sweep`: run a grid of `deno task train` runs described by a JSON spec
 * (`bench/sweeps/<name>.json`, format in bench/sweep_plan.ts and bench/README.md) into
 * `bench/results/<name>/<run>/`, and write `summary.md` / `summary.json` there from the runs'
 * `report.json` files.
 *
 * Resumable: run the same command again after an interruption (Ctrl-C, SIGTERM, a reboot) and
 * finished runs are skipped, interrupted ones continue from their checkpoint (mid-epoch, bit for
 * bit), and controls (`--baseline`, `--scratch`) missing from a finished run are added to it.
 * Each run is a `nice -n 19` subprocess with `LP_NUM_THREADS=1` (unless set), its output
 * appended to `<run>/train.log`.
 *
 * ```sh
 * deno task sweep run bench/sweeps/regimes.json [--jobs 2] [--only REGEX] [--dry-run]
 * deno task sweep summary bench/sweeps/regimes.json
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { TRAIN_FLAGS } from "../src/cli/train_flags.ts";
import {
  type Action,
  checkSpec,
  expand,
  nextAction,
  type PlannedRun,
  summaryMarkdown,
  type SummaryRow,
  summaryRow,
  type SweepSpec,
} from "./sweep_plan.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TRAIN = join(ROOT, "src/cli/train.ts");

const USAGE = `deno task sweep run|summary SPEC.json [flags]

  run       start, resume or complete every run of the spec, then write the summary
  summary   write summary.md and summary.json from the finished runs' report.json

  --results DIR  where the run folders go (default bench/results/<spec name>)
  --jobs N       runs side by side (default 1)
  --only REGEX   only the runs whose name matches
  --dry-run      print what each run needs and the commands, start nothing
  --no-nice      do not lower the runs' priority (nice -n 19)`;

interface Sweep {
  name: string;
  spec: SweepSpec;
  dir: string;
  runs: PlannedRun[];
}

async function loadSweep(file: string, resultsDir?: string): Promise<Sweep> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  const spec = checkSpec(raw, file);
  const name = spec.name ?? basename(file).replace(/\.json$/, "");
  const runs = expand(spec);
  // Every flag must exist in this version of the CLI: a typo should stop the sweep before
  // hours of runs, not fail each of them.
  for (const r of runs) {
    for (const f of r.flags.filter((f) => f.startsWith("--"))) {
      if (!(f.slice(2) in TRAIN_FLAGS)) {
        throw new Error(`${file}: run ${r.id} uses ${f}, which deno task train does not know`);
      }
    }
  }
  return { name, spec, dir: resultsDir ?? join(ROOT, "bench/results", name), runs };
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

async function actionOf(sw: Sweep, run: PlannedRun): Promise<Action> {
  const out = join(sw.dir, run.id);
  return nextAction(run, out, {
    report: await readJson(join(out, "report.json")),
    checkpoint: await exists(join(out, "checkpoint.safetensors")),
    exists: await exists(out),
  });
}

/** summary.md and summary.json from the finished runs. */
async function writeSummary(sw: Sweep): Promise<{ rows: SummaryRow[]; pending: string[] }> {
  const reports = new Map<string, Record<string, unknown>>();
  for (const r of sw.runs) {
    const rep = await readJson(join(sw.dir, r.id, "report.json"));
    if (rep) reports.set(r.id, rep);
  }
  const rows: SummaryRow[] = [], pending: string[] = [];
  for (const r of sw.runs) {
    const rep = reports.get(r.id);
    if (!rep) {
      pending.push(r.id);
      continue;
    }
    const base = r.baselineRun ? reports.get(r.baselineRun) ?? null : null;
    rows.push(summaryRow(r, rep, base?.baseline ? base : null));
  }
  await Deno.mkdir(sw.dir, { recursive: true });
  const md = join(sw.dir, "summary.md");
  await Deno.writeTextFile(md, summaryMarkdown(sw.name, sw.spec, rows, pending));
  // The summary is committed with the results: wrapped and aligned as `deno task check` wants.
  const fmt = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", md],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output().catch((e: Error) => ({
    success: false,
    stderr: new TextEncoder().encode(e.message),
  }));
  if (!fmt.success) {
    console.error(`sweep: deno fmt ${md} failed: ${new TextDecoder().decode(fmt.stderr).trim()}`);
  }
  await Deno.writeTextFile(
    join(sw.dir, "summary.json"),
    JSON.stringify({ name: sw.name, spec: sw.spec, rows, pending }, null, 2) + "\n",
  );
  return { rows, pending };
}

const stamp = () => new Date().toISOString().slice(0, 19).replace("T", " ");

/** Run the sweep; returns the exit code. */
async function runSweep(
  sw: Sweep,
  opts: { jobs: number; only: RegExp | null; dryRun: boolean; nice: boolean },
): Promise<number> {
  const todo: { run: PlannedRun; action: Action }[] = [];
  let blocked = 0;
  for (const run of sw.runs) {
    if (opts.only && !opts.only.test(run.id)) continue;
    const action = await actionOf(sw, run);
    if (action.kind === "blocked") {
      console.error(`sweep: ${run.id}: ${action.reason}`);
      blocked++;
    } else if (action.kind !== "done") todo.push({ run, action });
  }
  const extra = "allow-unreached" in TRAIN_FLAGS ? ["--allow-unreached"] : [];
  const command = (a: Action & { args: string[] }) => {
    const deno = [Deno.execPath(), "run", "-A", TRAIN, ...a.args, ...extra];
    return opts.nice ? ["nice", "-n", "19", ...deno] : deno;
  };
  console.log(
    `sweep ${sw.name}: ${sw.runs.length} runs, ${todo.length} to do` +
      (blocked ? `, ${blocked} blocked` : "") + `; results in ${relative(Deno.cwd(), sw.dir)}`,
  );
  if (opts.dryRun) {
    for (const { run, action } of todo) {
      const a = action as Action & { args: string[] };
      console.log(`${run.id}: ${action.kind}\n  ${command(a).slice(opts.nice ? 3 : 0).join(" ")}`);
    }
    return 0;
  }
  await Deno.mkdir(sw.dir, { recursive: true });
  await Deno.writeTextFile(join(sw.dir, "spec.json"), JSON.stringify(sw.spec, null, 2) + "\n");

  // SIGTERM (e.g. `kill PID` of the sweep) is passed on to the runs, which checkpoint and
  // stop. Ctrl-C already reaches them through the terminal's process group: passing SIGINT on
  // too would be their second Ctrl-C, which stops a run at once.
  const children = new Set<Deno.ChildProcess>();
  let stopping: Deno.Signal | null = null;
  const onSignal = (sig: "SIGINT" | "SIGTERM") => () => {
    if (!stopping) console.log(`sweep: ${sig}: stopping the runs (they checkpoint first)`);
    stopping = sig;
    if (sig !== "SIGTERM") return;
    for (const c of children) {
      try {
        c.kill(sig);
      } catch { /* already gone */ }
    }
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((s) => [s, onSignal(s)] as const);
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);

  let failed = 0;
  const queue = [...todo];
  const worker = async () => {
    for (let next = queue.shift(); next && !stopping; next = queue.shift()) {
      const { run, action } = next;
      const a = action as Action & { args: string[] };
      const out = join(sw.dir, run.id);
      // A folder without checkpoint or report holds nothing to continue from.
      if (a.kind === "start") await Deno.remove(out, { recursive: true }).catch(() => {});
      await Deno.mkdir(out, { recursive: true });
      const log = await Deno.open(join(out, "train.log"), { append: true, create: true });
      const argv = command(a);
      await log.write(new TextEncoder().encode(`\n[${stamp()}] ${argv.join(" ")}\n`));
      console.log(`[${stamp()}] ${run.id}: ${a.kind}`);
      const t0 = performance.now();
      const env = { LP_NUM_THREADS: Deno.env.get("LP_NUM_THREADS") ?? "1" };
      const child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        cwd: ROOT,
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      children.add(child);
      const copy = async (from: ReadableStream<Uint8Array>) => {
        for await (const chunk of from) await log.write(chunk);
      };
      await Promise.all([copy(child.stdout), copy(child.stderr)]);
      const { code } = await child.status;
      children.delete(child);
      log.close();
      const min = ((performance.now() - t0) / 60_000).toFixed(1);
      if (code === 0) console.log(`[${stamp()}] ${run.id}: done (${min} min)`);
      else {
        failed++;
        console.error(
          `[${stamp()}] ${run.id}: exit ${code} after ${min} min (see ` +
            `${relative(Deno.cwd(), join(out, "train.log"))})`,
        );
      }
      await writeSummary(sw);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.jobs) }, worker));
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  const { rows, pending } = await writeSummary(sw);
  console.log(
    `sweep ${sw.name}: ${rows.length} finished, ${pending.length} pending; ` +
      `${relative(Deno.cwd(), join(sw.dir, "summary.md"))}`,
  );
  if (stopping) return stopping === "SIGINT" ? 130 : 143;
  return failed || blocked ? 1 : 0;
}

/** The command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let v, positionals;
  try {
    ({ values: v, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        results: { type: "string" },
        jobs: { type: "string" },
        only: { type: "string" },
        "dry-run": { type: "boolean" },
        "no-nice": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`sweep: ${(e as Error).message.split("\n")[0]}\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const [cmd, file] = positionals;
  if (!["run", "summary"].includes(cmd) || !file || positionals.length > 2) {
    console.error(USAGE);
    return 2;
  }
  const jobs = Number(v.jobs ?? 1);
  if (!Number.isInteger(jobs) || jobs < 1) {
    console.error(`sweep: --jobs must be a positive integer, got "${v.jobs}"`);
    return 2;
  }
  const sw = await loadSweep(file, v.results);
  if (cmd === "summary") {
    const { rows, pending } = await writeSummary(sw);
    console.log(
      `sweep ${sw.name}: ${rows.length} finished, ${pending.length} pending; ` +
        `${relative(Deno.cwd(), join(sw.dir, "summary.md"))}`,
    );
    return 0;
  }
  return await runSweep(sw, {
    jobs,
    only: v.only ? new RegExp(v.only) : null,
    dryRun: Boolean(v["dry-run"]),
    nice: !v["no-nice"] && Deno.build.os !== "windows",
  });
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`sweep: ${(e as Error).message.split("\n")[0]}`);
    Deno.exit(1);
  }
}
