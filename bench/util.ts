/**
 * Shared bench helpers: timing that waits for the GPU, robust statistics for a noisy shared
 * machine (median and best of several runs), round-robin measurement of competing
 * implementations in one process, rate formatting, and the adapter's name.
 *
 * Every timed function must resolve only after its GPU work finished (our engine: `sync()`,
 * which awaits `onSubmittedWorkDone`; TF.js peers: their `run()`).
 */
import { init } from "../mod.ts";

/** Summary of repeated timings, in seconds. */
export interface Stats {
  runs: number;
  median: number;
  min: number;
  max: number;
}

/** Median, minimum and maximum of `times` (seconds). */
export function stats(times: readonly number[]): Stats {
  if (times.length === 0) throw new Error("stats: no timings");
  const s = [...times].sort((a, b) => a - b);
  const h = s.length >> 1;
  const median = s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
  return { runs: s.length, median, min: s[0], max: s[s.length - 1] };
}

/** Wall time of one awaited call, in seconds. */
export async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** A competitor in {@link alternate}: `run` does one unit of work and waits for the GPU. */
export interface Contender {
  name: string;
  run: () => Promise<unknown>;
}

/**
 * Time each contender `rounds` times, round-robin (A B A B ...), after `warmup` untimed rounds
 * (shader compiles, first uploads). Interleaving spreads the noise of other processes on a
 * shared machine evenly over the contenders. Returns the timings in seconds, by name.
 */
export async function alternate(
  contenders: readonly Contender[],
  rounds: number,
  warmup = 1,
): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < warmup; r++) for (const c of contenders) await c.run();
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) out.get(c.name)!.push(await timeIt(c.run));
  }
  return out;
}

/** `flops / seconds` as GFLOP/s, e.g. "23.41 GFLOP/s". */
export function gflops(flops: number, seconds: number): string {
  return `${(flops / seconds / 1e9).toFixed(2)} GFLOP/s`;
}

/** `bytes / seconds` as GB/s (1e9 bytes), e.g. "6.20 GB/s". */
export function gbps(bytes: number, seconds: number): string {
  return `${(bytes / seconds / 1e9).toFixed(2)} GB/s`;
}

/** Seconds as milliseconds with 1 decimal, e.g. "93.4 ms". */
export function ms(seconds: number): string {
  return `${(seconds * 1000).toFixed(1)} ms`;
}

/**
 * One summary line: rate at the median and at the best run, with the times, e.g.
 * `matmul 1024 oto: 23.41 GFLOP/s median (best 25.02 GFLOP/s; 91.7 ms / 85.8 ms, 7 runs)`.
 */
export function summary(
  label: string,
  s: Stats,
  work: { flops?: number; bytes?: number },
): string {
  const rate = (t: number) =>
    work.flops !== undefined ? gflops(work.flops, t) : gbps(work.bytes!, t);
  return `${label}: ${rate(s.median)} median (best ${rate(s.min)}; ${ms(s.median)} / ` +
    `${ms(s.min)}, ${s.runs} runs)`;
}

/**
 * Initialise the engine (WebGPU when an adapter exists) and return its adapter's name, or
 * a note that the cpu backend is used.
 */
export async function engineAdapter(): Promise<{ webgpu: boolean; adapter: string }> {
  const r = await init({ quiet: true });
  return { webgpu: r.backend === "webgpu", adapter: r.adapter };
}

/** Positive integer from environment variable `name` (e.g. OTO_BENCH_ROUNDS), else `dflt`. */
export function envInt(name: string, dflt: number): number {
  let v: string | undefined;
  try {
    v = Deno.env.get(name);
  } catch {
    return dflt;
  }
  const n = Number(v);
  return v && Number.isInteger(n) && n > 0 ? n : dflt;
}

/**
 * Before anything is timed: check that oto and the peer computed the same numbers (each pair
 * of outputs of equal length, max |a - b| <= tol * max(1, max |b|)). Throws, so a bench never
 * times two different computations; returns a line with the largest difference to print.
 */
export function checkSame(
  what: string,
  ours: readonly ArrayLike<number>[],
  theirs: readonly ArrayLike<number>[],
  tol = 1e-3,
): string {
  if (ours.length !== theirs.length) {
    throw new Error(`${what}: oto gave ${ours.length} outputs, the peer ${theirs.length}`);
  }
  let worst = 0;
  ours.forEach((a, k) => {
    const b = theirs[k];
    if (a.length !== b.length) {
      throw new Error(
        `${what}: output ${k} has ${a.length} values on oto, ${b.length} on the peer`,
      );
    }
    let scale = 1, diff = 0, at = -1;
    for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (!(d <= diff)) (diff = d, at = i); // NaN counts as the worst
    }
    if (!(diff <= tol * scale)) {
      throw new Error(
        `${what}: oto and the peer disagree at output ${k} element ${at}: ${a[at]} vs ${b[at]} ` +
          `(|diff| ${diff.toExponential(2)} > ${tol} x ${scale.toPrecision(3)})`,
      );
    }
    worst = Math.max(worst, diff / scale);
  });
  return `${what}: oto and the peer agree (max |diff| ${worst.toExponential(1)} of the scale)`;
}
