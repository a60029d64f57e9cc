/** Backend selection: WebGPU when an adapter exists, else the CPU reference with a warning. */
import { type Gpu, initGpu } from "./backend/device.ts";
import { type BackendName, setDefaultBackend } from "./tensor.ts";

/** What {@link init} chose. */
export interface InitResult {
  backend: BackendName;
  adapter: string;
}

/**
 * Choose the default backend. `backend: "webgpu"` fails if there is no adapter; the default
 * (`"auto"`) falls back to `cpu` with a one-line warning.
 *
 * @example
 * ```ts
 * import { init } from "../mod.ts";
 * const { backend, adapter } = await init(); // e.g. "webgpu" and the adapter's name
 * ```
 */
export async function init(
  opts: { backend?: "webgpu" | "cpu" | "auto"; quiet?: boolean } = {},
): Promise<InitResult> {
  const want = opts.backend ?? "auto";
  if (want === "cpu") {
    setDefaultBackend("cpu");
    return { backend: "cpu", adapter: "cpu (TypeScript reference)" };
  }
  let gpu: Gpu;
  try {
    gpu = await initGpu();
  } catch (e) {
    if (want === "webgpu") throw e;
    if (!opts.quiet) {
      console.warn(`oto: ${(e as Error).message.split(". ")[0]}; using the slow cpu backend`);
    }
    setDefaultBackend("cpu");
    return { backend: "cpu", adapter: "cpu (TypeScript reference)" };
  }
  setDefaultBackend("webgpu");
  return { backend: "webgpu", adapter: gpu.adapterName };
}
