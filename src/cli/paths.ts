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
