/**
 * Crash-safe file writes: the data goes to a uniquely named temporary file in the target's
 * directory, is flushed to disk with `fsync`, and is then renamed over the target. Readers see
 * either the complete old file or the complete new one, never a torn mix; if anything fails the
 * temporary file is removed and an existing target is left untouched.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Data accepted by {@link writeFileAtomic}: one buffer, or a (possibly async) stream of chunks. */
export type AtomicData = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Options for {@link writeFileAtomic} and {@link writeTextAtomic}. */
export interface WriteAtomicOptions {
  /**
   * Permission bits for the written file (ignored on Windows). Defaults to the permission bits
   * of the file being replaced, or the platform default (`0o666` minus the umask) for a new file.
   */
  mode?: number;
}

const IS_WINDOWS = Deno.build.os === "windows";

/**
 * Atomically replace `path` with `data`.
 *
 * Writes to a temporary file `.<name>.<random>.tmp` next to the target, syncs it
 * (`Deno.FsFile.sync`), renames it over the target, then (best effort, POSIX only) syncs the
 * directory so the rename itself is durable. On any error — including one thrown by a streaming
 * `data` source — the temporary file is removed, the target is left as it was, and the error is
 * rethrown. If `path` is a symlink, the link itself is replaced by a regular file.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * await writeFileAtomic("weights.bin", new Uint8Array([1, 2, 3]));
 * // or stream chunks; a throw mid-stream leaves any previous weights.bin intact
 * await writeFileAtomic("weights.bin", [new Uint8Array([1]), new Uint8Array([2, 3])]);
 * ```
 */
export async function writeFileAtomic(
  path: string | URL,
  data: AtomicData,
  options: WriteAtomicOptions = {},
): Promise<void> {
  const target = path instanceof URL ? fileURLToPath(path) : path;
  const dir = dirname(target);
  // Keep the temp name within NAME_MAX (255) even for long target names.
  const tmp = join(dir, `.${basename(target).slice(0, 200)}.${randomTag()}.tmp`);
  const mode = options.mode ?? await existingMode(target);

  let file: Deno.FsFile | undefined;
  let created = false;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
    created = true;
    if (mode !== undefined && !IS_WINDOWS) await Deno.chmod(tmp, mode);
    if (data instanceof Uint8Array) {
      await writeAll(file, data);
    } else {
      for await (const chunk of data) await writeAll(file, chunk);
    }
    await file.sync();
    file.close();
    file = undefined;
    await Deno.rename(tmp, target);
  } catch (err) {
    if (file) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    if (created) await Deno.remove(tmp).catch(() => {});
    // OS errors ("No space left on device (os error 28)") do not say which file: add it, keeping
    // the error's class.
    if (err instanceof Error && !err.message.includes(target)) {
      err.message = `writing ${target}: ${err.message}`;
    }
    throw err;
  }
  await syncDir(dir);
}

/**
 * Atomically replace `path` with `text` encoded as UTF-8. See {@link writeFileAtomic}.
 *
 * @example
 * ```ts
 * import { writeTextAtomic } from "./atomic.ts";
 * await writeTextAtomic("config.json", JSON.stringify({ lr: 0.01 }, null, 2) + "\n");
 * ```
 */
export function writeTextAtomic(
  path: string | URL,
  text: string,
  options: WriteAtomicOptions = {},
): Promise<void> {
  return writeFileAtomic(path, new TextEncoder().encode(text), options);
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += await file.write(chunk.subarray(off));
}

/**
 * Whether a file name is one of {@link writeFileAtomic}'s temporary files (`.<name>.<tag>.tmp`):
 * left behind only when a process died mid-write, so the owner of a folder may remove them.
 */
export function isAtomicTemp(name: string): boolean {
  return /^\..+\.[0-9a-f]{12}\.tmp$/.test(name);
}

function randomTag(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function existingMode(path: string): Promise<number | undefined> {
  if (IS_WINDOWS) return undefined;
  try {
    const mode = (await Deno.stat(path)).mode;
    return mode === null ? undefined : mode & 0o7777;
  } catch {
    return undefined; // no existing file (or unreadable): use the platform default
  }
}

async function syncDir(dir: string): Promise<void> {
  if (IS_WINDOWS) return; // directories cannot be opened for fsync on Windows
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* best effort: some filesystems refuse fsync on directories */ }
}
