/**
 * Kernel profiler: GPU time per kernel from WebGPU timestamp queries, to find what a training
 * step spends its time on. Opt-in and for development: while it runs, every dispatch gets its
 * own compute pass, which adds a little overhead per dispatch (the totals include it).
 */
import { gpuOrThrow } from "./device.ts";
import { type KernelTimer, setKernelTimer, sync, TIMED_BATCH } from "./webgpu.ts";

/** Time spent in one kernel (all its specializations with the same name). */
export interface KernelTime {
  /** Kernel name (the part of the pipeline key before its specialization). */
  kernel: string;
  /** Dispatches timed. */
  calls: number;
  /** Total GPU time in milliseconds. */
  ms: number;
}

const CAPACITY = 2 * TIMED_BATCH; // timestamps per batch (two per dispatch)

/**
 * Run `fn` with every kernel timed; returns per-kernel totals, slowest first. Needs an adapter
 * with the `timestamp-query` feature (llvmpipe has it).
 *
 * @example
 * ```ts
 * import { conv2d, init, randn, tidy } from "../../mod.ts";
 * import { profileKernels } from "./profile.ts";
 * await init();
 * const x = randn([8, 16, 14, 14], { seed: 0 }), w = randn([16, 16, 3, 3], { seed: 1 });
 * const times = await profileKernels(() => tidy(() => void conv2d(x, w, null, { padding: 1 })));
 * console.log(times[0].kernel); // "conv_fwd_k3"
 * ```
 */
export async function profileKernels(fn: () => unknown | Promise<unknown>): Promise<KernelTime[]> {
  const { device } = gpuOrThrow();
  if (!device.features.has("timestamp-query")) {
    throw new Error("profileKernels: this WebGPU adapter has no timestamp-query feature");
  }
  const querySet = device.createQuerySet({ type: "timestamp", count: CAPACITY });
  const resolveBuf = device.createBuffer({
    size: CAPACITY * 8,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const batches: { keys: string[]; read: GPUBuffer }[] = [];
  let keys: string[] = [];
  const timer: KernelTimer = {
    pass(key) {
      // The executor submits every TIMED_BATCH dispatches while timing, so this never fills.
      if (2 * keys.length + 2 > CAPACITY) throw new Error("profileKernels: timestamp set full");
      const i = 2 * keys.length;
      keys.push(key);
      return { querySet, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
    },
    resolve(encoder) {
      if (keys.length === 0) return;
      const n = 2 * keys.length;
      const read = device.createBuffer({
        size: n * 8,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      encoder.resolveQuerySet(querySet, 0, n, resolveBuf, 0);
      encoder.copyBufferToBuffer(resolveBuf, 0, read, 0, n * 8);
      batches.push({ keys, read });
      keys = [];
    },
  };
  setKernelTimer(timer);
  try {
    await fn();
    await sync();
  } finally {
    setKernelTimer(null);
  }
  const totals = new Map<string, KernelTime>();
  for (const b of batches) {
    await b.read.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(b.read.getMappedRange());
    b.keys.forEach((key, i) => {
      const kernel = key.split("|")[0];
      const e = totals.get(kernel) ?? { kernel, calls: 0, ms: 0 };
      e.calls++;
      e.ms += Number(t[2 * i + 1] - t[2 * i]) / 1e6;
      totals.set(kernel, e);
    });
    b.read.destroy();
  }
  querySet.destroy();
  resolveBuf.destroy();
  return [...totals.values()].sort((a, b) => b.ms - a.ms);
}
