/**
 * One run per output folder. `lockRunDir` creates the folder, proves it writable by creating a
 * lock file there (exclusively: two processes cannot both create it) holding the owner's pid,
 * host and process start time, and removes temporary files that crashed writes left behind.
 * While the run lives, a small worker touches the lock every few seconds (also while the main
 * thread computes a long step). A lock is stale, and taken over, when its owner is known to be
 * gone (same host, /proc readable: no such process, or one started at another time, the pid
 * reused) or, where that cannot be checked (narrow permissions, another host), when its
 * heartbeat stopped for {@link STALE_SECONDS}.
 * @module
 */
import { join } from "node:path";
import { isAtomicTemp } from "../io/atomic.ts";

/** The lock file's name inside the output folder. */
export const LOCK_NAME = ".oto-train.lock";
/** Seconds between the owner's touches of its lock. */
export const HEARTBEAT_SECONDS = 5;
/** A lock untouched this long is stale. */
export const STALE_SECONDS = 60;

/** What a lock file records. */
export interface LockInfo {
  pid: number;
  host: string;
  /** The owner's start time in clock ticks since boot (Linux), to detect reused pids. */
  procStart: number | null;
  /** ISO time the lock was taken. */
  since: string;
}

/** A locked output folder. */
export interface RunDir {
  path: string;
  /** Temporary files of crashed writes that were removed. */
  removedTemps: string[];
  /** A stale lock that was taken over, and why it was stale, or null. */
  tookOver: (LockInfo & { why: string }) | null;
  /** Remove the lock (synchronous: also called right before the process exits). */
  release(): void;
}

/** A folder that cannot be used: one line naming it and what to do. */
export class RunDirError extends Error {}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

/** Field 22 of /proc/<pid>/stat (start time), or null where there is no /proc. */
function procStart(pid: number | "self"): number | null | "gone" {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && Deno.build.os === "linux") return "gone";
    return null;
  }
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const v = Number(fields[19]);
  return Number.isFinite(v) ? v : null;
}

/** Whether a lock's owner still runs, and why it is thought so. */
export function lockOwnerAlive(
  info: LockInfo,
  touched: Date | null,
  now = Date.now(),
): { alive: boolean; why: string } {
  if (info.pid === Deno.pid && info.host === hostname()) {
    return { alive: true, why: "this process" };
  }
  if (!info.host || info.host === hostname()) {
    const start = procStart(info.pid);
    if (start === "gone") return { alive: false, why: `pid ${info.pid} has exited` };
    if (typeof start === "number") {
      return info.procStart === null || info.procStart === start
        ? { alive: true, why: `pid ${info.pid} runs` }
        : { alive: false, why: `pid ${info.pid} is another process now` };
    }
  }
  // No /proc to ask (or another host): the heartbeat tells.
  const age = touched ? (now - touched.getTime()) / 1000 : Infinity;
  return age > STALE_SECONDS
    ? {
      alive: false,
      why: `no heartbeat for ${age === Infinity ? "ever" : `${Math.round(age)} s`}`,
    }
    : { alive: true, why: `heartbeat ${Math.round(age)} s ago` };
}

function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(Deno.readTextFileSync(path));
    return Number.isInteger(v?.pid) ? v as LockInfo : null;
  } catch {
    return null;
  }
}

function describe(info: LockInfo): string {
  return `pid ${info.pid}${info.host ? ` on ${info.host}` : ""}, since ${info.since}`;
}

/**
 * Create `out` if needed and lock it for this process. Throws {@link RunDirError} when the
 * folder cannot be created or written, or another live run holds it.
 */
export async function lockRunDir(out: string): Promise<RunDir> {
  try {
    await Deno.mkdir(out, { recursive: true });
  } catch (e) {
    throw new RunDirError(`--out ${out}: cannot create the folder (${(e as Error).message})`);
  }
  const lockPath = join(out, LOCK_NAME);
  const me = procStart("self");
  const info: LockInfo = {
    pid: Deno.pid,
    host: hostname(),
    procStart: typeof me === "number" ? me : null,
    since: new Date().toISOString(),
  };
  let tookOver: (LockInfo & { why: string }) | null = null;
  for (let attempt = 0;; attempt++) {
    try {
      const f = await Deno.open(lockPath, { write: true, createNew: true });
      try {
        await f.write(new TextEncoder().encode(JSON.stringify(info) + "\n"));
      } finally {
        f.close();
      }
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new RunDirError(
          `--out ${out} is not writable (${(e as Error).message.split("\n")[0]}); choose ` +
            `another --out`,
        );
      }
      const other = readLock(lockPath);
      const touched = (await Deno.stat(lockPath).catch(() => null))?.mtime ?? null;
      const state = other
        ? lockOwnerAlive(other, touched)
        : { alive: false, why: "an unreadable lock" };
      if (!state.alive && attempt < 3) {
        // Stale: its owner is gone. Whoever removes and re-creates it first wins the race.
        tookOver = other && { ...other, why: state.why };
        await Deno.remove(lockPath).catch(() => {});
        continue;
      }
      throw new RunDirError(
        `--out ${out} is in use by another run (${other ? describe(other) : "unknown owner"}; ` +
          `${state.why}); wait for it or choose another --out (if no run uses it, delete ` +
          `${lockPath})`,
      );
    }
  }
  const removedTemps: string[] = [];
  for await (const e of Deno.readDir(out)) {
    if (e.isFile && isAtomicTemp(e.name)) {
      await Deno.remove(join(out, e.name)).then(() => removedTemps.push(e.name), () => {});
    }
  }
  const beat = heartbeat(lockPath);
  let released = false;
  return {
    path: out,
    removedTemps,
    tookOver,
    release() {
      if (released) return;
      released = true;
      beat.terminate();
      // Only our own lock: never remove one another process took over.
      if (readLock(lockPath)?.pid === Deno.pid) {
        try {
          Deno.removeSync(lockPath);
        } catch { /* already gone */ }
      }
    },
  };
}

// Touches the lock file on its own thread, so a long synchronous step does not stop it.
const HEARTBEAT_SRC = `self.onmessage = (e) => {
  const path = e.data;
  setInterval(() => {
    try { const t = new Date(); Deno.utimeSync(path, t, t); } catch { /* gone or read-only */ }
  }, ${HEARTBEAT_SECONDS * 1000});
};`;

function heartbeat(lockPath: string): Worker {
  const url = URL.createObjectURL(new Blob([HEARTBEAT_SRC], { type: "text/javascript" }));
  // The URL is not revoked: the worker may fetch it after this returns (one per process).
  const w = new Worker(url, { type: "module" });
  w.postMessage(lockPath);
  return w;
}
