/**
 * Command-line plumbing shared by the examples: flags read with one clear line per mistake,
 * and `main` run so that any error is one line (`name: message`) and a non-zero exit code
 * (2 for bad flags); `OTO_DEBUG=1` prints the stack too.
 * @module
 */
import { parseArgs } from "node:util";

/** A bad command line (exit code 2). */
export class FlagError extends Error {}

/** Parse `args` strictly with string/boolean `options`; mistakes throw a {@link FlagError}. */
export function flags<
  const O extends Record<string, { type: "string" | "boolean"; default?: string | boolean }>,
>(
  args: string[],
  options: O,
): { [K in keyof O]: O[K]["type"] extends "boolean" ? boolean : string | undefined } {
  try {
    // Negative numbers are values, not flags: "--lr -1" is read as "--lr=-1".
    const joined: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const next = args[i + 1];
      const takesValue = options[args[i].replace(/^--/, "")]?.type === "string";
      if (takesValue && next !== undefined && /^-(\d|\.\d)/.test(next)) {
        joined.push(`${args[i]}=${next}`);
        i++;
      } else joined.push(args[i]);
    }
    return parseArgs({ args: joined, options, strict: true, allowPositionals: false })
      .values as never;
  } catch (e) {
    throw new FlagError((e as Error).message.split("\n")[0]);
  }
}

/** `--name` as a number that `ok` accepts (default: finite), else a {@link FlagError}. */
export function numberFlag(
  name: string,
  value: string | undefined,
  want = "a number",
  ok: (x: number) => boolean = Number.isFinite,
): number {
  const x = Number(value);
  if (value === undefined || value.trim() === "" || !ok(x)) {
    throw new FlagError(`--${name} must be ${want}, got "${value}"`);
  }
  return x;
}

/** Run an example's `main`: errors become one line on stderr and an exit code. */
export async function runMain(name: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    console.error(`${name}: ${((e as Error)?.message ?? String(e)).split("\n")[0]}`);
    if (Deno.env.get("OTO_DEBUG")) console.error((e as Error)?.stack);
    Deno.exit(e instanceof FlagError ? 2 : 1);
  }
}
