/**
 * Backend selection: WebGPU on a hardware adapter; the wasm CPU backend when there is no
 * adapter or only a software one (llvmpipe, lavapipe, SwiftShader: slower than the wasm
 * kernels on the same cores); the TypeScript reference only when asked for.
 */
import { type AdapterProbe, type Gpu, initGpu, probeAdapter } from "./backend/device.ts";
import { startWasmThreads, wasmRuntime } from "./backend/wasm/runtime.ts";
import { type BackendName, setDefaultBackend } from "./tensor.ts";

/** What {@link init} chose. */
export interface InitResult {
  /** The backend ops run on by default. */
  backend: BackendName;
  /** The WebGPU adapter's name, or the wasm backend's threads ("2 threads, SIMD128"). */
  adapter: string;
  /** Why this backend was chosen when the choice was automatic. */
  reason?: string;
}

/** Options of {@link init}. */
export interface InitOptions {
  /** `"auto"` (default): webgpu on a hardware adapter, else wasm. */
  backend?: "webgpu" | "wasm" | "cpu" | "auto";
  /**
   * wasm backend: threads including the main one (default: the hardware's). The worker pool
   * starts once per process; later calls keep the first count.
   */
  threads?: number;
  /** No warning when falling back. */
  quiet?: boolean;
}

/**
 * Choose the default backend. `backend: "webgpu"` fails if there is no adapter; the default
 * (`"auto"`) picks WebGPU on a hardware adapter and the wasm CPU backend when the only adapter
 * is a software rasteriser or there is none.
 *
 * @example
 * ```ts
 * import { init } from "../mod.ts";
 * const { backend, adapter } = await init(); // e.g. "wasm" and "2 threads, SIMD128"
 * ```
 */
export async function init(opts: InitOptions = {}): Promise<InitResult> {
  const want = opts.backend ?? "auto";
  if (!["auto", "webgpu", "wasm", "cpu"].includes(want)) {
    throw new Error(`init: backend must be "auto", "webgpu", "wasm" or "cpu", got "${want}"`);
  }
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1)) {
    throw new Error(`init: threads must be a positive integer, got ${opts.threads}`);
  }
  if (want === "cpu") {
    setDefaultBackend("cpu");
    return { backend: "cpu", adapter: "cpu (TypeScript reference)" };
  }
  if (want === "wasm") return await initWasm(opts.threads);
  if (want === "webgpu") {
    const gpu = await initGpu();
    setDefaultBackend("webgpu");
    return { backend: "webgpu", adapter: gpu.adapterName };
  }
  let probe: AdapterProbe | Error;
  try {
    probe = await probeAdapter();
  } catch (e) {
    probe = e as Error;
  }
  const choice = autoChoice(probe);
  if (choice.backend === "webgpu") {
    const gpu: Gpu = await initGpu();
    setDefaultBackend("webgpu");
    return { backend: "webgpu", adapter: gpu.adapterName };
  }
  try {
    return { ...await initWasm(opts.threads), reason: choice.reason };
  } catch (e) {
    if (!opts.quiet) {
      console.warn(`oto: ${choice.reason}; ${(e as Error).message}; using the slow cpu backend`);
    }
    setDefaultBackend("cpu");
    return { backend: "cpu", adapter: "cpu (TypeScript reference)", reason: choice.reason };
  }
}

/**
 * The automatic choice from what the adapter probe found: webgpu on a hardware adapter, else
 * wasm, with the reason (no adapter, or only a software rasteriser).
 */
export function autoChoice(
  probe: Pick<AdapterProbe, "name" | "isSoftware"> | Error,
): { backend: "webgpu" | "wasm"; reason?: string } {
  if (probe instanceof Error) return { backend: "wasm", reason: probe.message.split(". ")[0] };
  if (!probe.isSoftware) return { backend: "webgpu" };
  return { backend: "wasm", reason: `the only WebGPU adapter is a software one (${probe.name})` };
}

async function initWasm(threads?: number): Promise<InitResult> {
  wasmRuntime();
  const n = await startWasmThreads(threads === undefined ? undefined : Math.max(0, threads - 1));
  setDefaultBackend("wasm");
  return { backend: "wasm", adapter: `${n} thread${n === 1 ? "" : "s"}, SIMD128` };
}
