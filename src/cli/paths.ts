/**
 * Paths on the command line, as the user meant them.
 * @module
 */
import { isAbsolute, join } from "node:path";

/**
 * A path as the user meant it: relative paths are relative to the folder the command was
 * started from (`deno task` runs in the project folder and says where it was started in
 * `INIT_CWD`).
 */
export function userPath(p: string): string {
  if (isAbsolute(p)) return p;
  let base: string | undefined;
  try {
    base = Deno.env.get("INIT_CWD");
  } catch { /* no --allow-env: the current folder */ }
  return join(base ?? Deno.cwd(), p);
}

/** The one-line message of an error (its first line), for `tool: message` output. */
export function oneLine(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).split("\n")[0];
}

/**
 * A tool's entry point: runs `main` on the command line and exits with its code. An error it
 * throws becomes one line `tool: message` and exit code 1 (`OTO_DEBUG=1` adds the stack).
 */
export async function runTool(
  tool: string,
  main: (args: string[]) => Promise<number>,
): Promise<never> {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    console.error(`${tool}: ${oneLine(e)}`);
    if (Deno.env.get("OTO_DEBUG")) console.error((e as Error)?.stack);
    code = 1;
  }
  Deno.exit(code);
}
