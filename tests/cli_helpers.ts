/**
 * Running oto's command-line tools as subprocesses in tests: output piped, OTO_DEBUG unset, and
 * the one-line error check.
 */
import assert from "node:assert/strict";

/** Repository root. */
export const ROOT = new URL("..", import.meta.url).pathname;
/** Entry points. */
export const CLI = {
  train: new URL("../src/cli/train.ts", import.meta.url).pathname,
  partition: new URL("../src/cli/partition.ts", import.meta.url).pathname,
  evaluate: new URL("../src/cli/evaluate.ts", import.meta.url).pathname,
  predict: new URL("../src/cli/predict.ts", import.meta.url).pathname,
};

/** What a finished subprocess printed. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link denoCommand}. */
export interface DenoOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Leave these variables of this process out of the child's environment. */
  unset?: string[];
}

/** `deno run -A <script> ...args` (or any deno subcommand line), output piped. */
export function denoCommand(args: string[], opts: DenoOptions = {}): Deno.Command {
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    OTO_DEBUG: "",
    NO_COLOR: "1",
    ...opts.env,
  };
  for (const k of opts.unset ?? []) delete env[k];
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd: opts.cwd,
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env,
  });
}

/** Run a deno command line to the end. */
export async function deno(args: string[], opts: DenoOptions = {}): Promise<Run> {
  const out = await denoCommand(args, opts).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * The permission flags of a `deno task` in deno.json (`--allow-read`, `--allow-run=dot`, ...),
 * so that tests run each CLI with exactly what its task grants.
 */
export function taskPermissions(task: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const line: string | undefined = config.tasks?.[task];
  if (line === undefined) throw new Error(`deno.json has no task "${task}"`);
  return line.split(/\s+/).filter((w) => w === "-A" || w.startsWith("--allow-"));
}

/** Run one of the CLIs with its deno task's permissions (`deno task train` grants). */
export function cli(tool: keyof typeof CLI, args: string[], opts = {}): Promise<Run> {
  return deno(["run", ...taskPermissions(tool), CLI[tool], ...args], opts);
}

/** A tiny training run: 4-channel small CNN, 96 synthetic images, pruning from the second step. */
export const TINY = [
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

/** Assert stderr is exactly one line starting with `tool: `, without a stack trace. */
export function assertOneLine(stderr: string, tool: string, what: string): string {
  const lines = stderr.trim().split("\n").filter((l) => !/^Warning|^Download|^\s*[│╭╰]/.test(l));
  assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${stderr}`);
  assert.match(lines[0], new RegExp(`^${tool}: `), what);
  assert.doesNotMatch(stderr, /^\s+at /m, `${what}: no stack trace`);
  return lines[0];
}

/** Read a spawned process's stdout until `re` matches (or it ends); returns what was read. */
export async function readUntil(child: Deno.ChildProcess, re: RegExp): Promise<string> {
  const dec = new TextDecoder();
  const reader = child.stdout.getReader();
  let seen = "";
  try {
    while (!re.test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += dec.decode(value);
    }
  } finally {
    reader.releaseLock();
  }
  return seen;
}

/** A temporary folder for the duration of `fn`. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
