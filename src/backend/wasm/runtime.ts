/**
 * The wasm backend's runtime: one shared `WebAssembly.Memory`, the kernels module instantiated
 * on it by the main thread (synchronously, from the embedded bytes: usable without `init()`), a
 * heap for tensor storage, and a pool of worker threads that join the kernels' parallel loops.
 *
 * Ops stay synchronous: an exported kernel splits its work into tasks and the main thread
 * computes tasks beside the workers, then waits on a futex for the rest (kernels/wasm/runtime.c).
 * Before the workers have started (or with none), the main thread runs every task itself.
 */
import type { Worker } from "node:worker_threads";
import { KERNELS_BASE64 } from "./kernels_wasm.ts";
import { Heap, type HeapStats, sizeClass } from "./heap.ts";
import type { KernelExports } from "./exports.ts";

/** Per-thread scratch (packing buffers, im2col slabs): kernels size their tiles to fit it. */
export const SCRATCH_BYTES = 4 << 20;
const WORKER_STACK_BYTES = 1 << 20;
const MAX_THREADS = 64;

/** The runtime: memory, main-thread kernels, heap, thread count. */
export interface WasmRuntime {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  kernels: KernelExports;
  heap: Heap;
  /** Small blocks for kernels' descriptor arguments (see {@link argBlock}). */
  argsPtr: number;
}

const ARG_SLOTS = 4;
const ARG_SLOT_INTS = 64;

let runtime: WasmRuntime | null = null;

function decode(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The runtime, created on first use (single-threaded until {@link startWasmThreads}). */
export function wasmRuntime(): WasmRuntime {
  if (runtime) return runtime;
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(decode(KERNELS_BASE64) as BufferSource);
  } catch (e) {
    throw new Error(
      `wasm backend: this JavaScript engine cannot compile oto's kernels (it needs WebAssembly ` +
        `SIMD, relaxed SIMD and threads, as in Deno 2): ${(e as Error).message}`,
    );
  }
  // 64 pages cover the module's static part (1 MiB main-thread stack, data) and a first heap.
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const kernels = instance.exports as unknown as KernelExports;
  const heap = new Heap(memory, kernels.__heap_base.value);
  heap.onGrow = () => kernels.sync_threads();
  kernels.set_scratch(0, heap.alloc(SCRATCH_BYTES), SCRATCH_BYTES);
  const argsPtr = heap.alloc(ARG_SLOTS * ARG_SLOT_INTS * 4);
  runtime = { memory, module, kernels, heap, argsPtr };
  return runtime;
}

// ---------------------------------------------------------------------------------------------
// Worker threads

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
parentPort.once("message", ({ module, memory, tid, stackTop }) => {
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
  k.set_stack_pointer(stackTop);
  parentPort.postMessage("ready");
  try {
    k.worker_loop(tid);
  } catch (e) {
    // A trap in a kernel task: tell the main thread (it would wait for this task forever).
    k.worker_failed();
    console.error("oto wasm backend: worker " + tid + " stopped: " + (e && e.message || e) +
      "; every later wasm kernel call throws (restart the process)");
  }
  // Deno's node:worker_threads parentPort has no close(); the idle worker is unref'd anyway.
  if (typeof parentPort.close === "function") parentPort.close();
});
`;

const workers: Worker[] = [];
let starting: Promise<number> | null = null;

/** Default worker count: one per hardware thread beside the main thread. */
export function defaultWorkerCount(): number {
  const hc = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)
    ?.hardwareConcurrency ?? 1;
  return Math.max(0, Math.min(MAX_THREADS - 1, hc - 1));
}

/**
 * Start `workers` worker threads (default: hardware threads - 1) that join the kernels'
 * parallel loops; resolves with the number of threads (main included) once they run. Workers
 * are unref'd: they never keep the process alive. Calling it again is a no-op.
 */
export function startWasmThreads(count = defaultWorkerCount()): Promise<number> {
  starting ??= spawn(wasmRuntime(), Math.max(0, Math.min(MAX_THREADS - 1, Math.floor(count))));
  return starting;
}

async function spawn(rt: WasmRuntime, n: number): Promise<number> {
  // node:worker_threads (not the web Worker) for unref(): idle workers never keep a script alive.
  const { Worker } = await import("node:worker_threads");
  const ready = Array.from({ length: n }, (_, i) =>
    new Promise<void>((resolve, reject) => {
      const tid = i + 1;
      const stack = rt.heap.alloc(WORKER_STACK_BYTES);
      rt.kernels.set_scratch(tid, rt.heap.alloc(SCRATCH_BYTES), SCRATCH_BYTES);
      const w = new Worker(WORKER_SOURCE, { eval: true });
      // Referenced until it reports ready (so awaiting the start keeps the event loop alive),
      // then unref'd: an idle worker never keeps a script from exiting.
      w.once("message", () => (w.unref(), resolve()));
      w.once(
        "error",
        (e) => (w.unref(), reject(new Error(`wasm backend: worker ${tid} failed: ${e}`))),
      );
      w.postMessage({
        module: rt.module,
        memory: rt.memory,
        tid,
        stackTop: stack + WORKER_STACK_BYTES,
      });
      workers.push(w);
    }));
  await Promise.all(ready);
  return waitLive(rt, n + 1);
}

/** Resolve once `threads` threads take part in parallel loops (workers enter their loop). */
async function waitLive(rt: WasmRuntime, threads: number): Promise<number> {
  for (let i = 0; i < 2000 && rt.kernels.thread_count() < threads; i++) {
    await new Promise((r) => setTimeout(r, 1));
  }
  return rt.kernels.thread_count();
}

/** Threads taking part in the kernels' parallel loops (1 before the workers start). */
export function wasmThreads(): number {
  return runtime ? runtime.kernels.thread_count() : 1;
}

// ---------------------------------------------------------------------------------------------
// Work memory of kernels that need a temporary block (packed weights, partial sums)

let work = { ptr: 0, bytes: 0 };

/**
 * Run a kernel that takes a work block: `call(ptr, bytes)` returns 0 when done, the bytes it
 * needs when the block is too small (it is then grown and the call repeated), or -1 when its
 * tiles do not fit the per-thread scratch memory. One block, reused by every call.
 */
export function withWork(name: string, call: (ptr: number, bytes: number) => number): void {
  const heap = wasmRuntime().heap;
  for (let tries = 0; tries < 4; tries++) {
    const r = call(work.ptr, work.bytes);
    if (r === 0) return;
    if (r < 0) {
      throw new Error(
        `wasm backend: ${name}: one row of the output does not fit the ${SCRATCH_BYTES}-byte ` +
          `per-thread scratch memory (input too wide); use the webgpu or cpu backend`,
      );
    }
    if (work.bytes > 0) heap.release(work.ptr, work.bytes);
    work = { ptr: heap.alloc(r), bytes: sizeClass(r) };
  }
  throw new Error(`wasm backend: ${name}: work memory request did not settle`);
}

/**
 * Write `ints` (shapes, strides, layouts) into argument slot `slot` (0-3, up to 64 values) and
 * return its address, for kernels that take a descriptor pointer.
 */
export function argBlock(ints: readonly number[], slot = 0): number {
  const rt = wasmRuntime();
  if (ints.length > ARG_SLOT_INTS || slot < 0 || slot >= ARG_SLOTS) {
    throw new Error(`wasm backend: ${ints.length} descriptor values do not fit slot ${slot}`);
  }
  const ptr = rt.argsPtr + slot * ARG_SLOT_INTS * 4;
  new Int32Array(rt.heap.buffer, ptr, ints.length).set(ints);
  return ptr;
}

/** Run `fn` with temporary heap blocks of the given float counts, released afterwards. */
export function withTemps<T>(counts: readonly number[], fn: (...ptrs: number[]) => T): T {
  const heap = wasmRuntime().heap;
  const ptrs = counts.map((n) => heap.alloc(Math.max(n, 1) * 4));
  try {
    return fn(...ptrs);
  } finally {
    ptrs.forEach((p, i) => heap.release(p, Math.max(counts[i], 1) * 4));
  }
}

/**
 * Bytes of the wasm backend's heap: held by live tensors, idle in its pool (reused by the next
 * tensor of the same size class), carved from the memory, and the memory's size (it never
 * shrinks). All zero before the backend is first used.
 *
 * @example
 * ```ts
 * import { init, randn, tidy, wasmMemory } from "../../../mod.ts";
 * await init({ backend: "wasm" });
 * const before = wasmMemory().liveBytes;
 * tidy(() => randn([256, 256], { seed: 0 })); // freed at the end of the scope
 * console.log(wasmMemory().liveBytes === before); // true
 * ```
 */
export function wasmMemory(): HeapStats {
  return runtime
    ? runtime.heap.usage()
    : { liveBytes: 0, pooledBytes: 0, allocatedBytes: 0, memoryBytes: 0 };
}
