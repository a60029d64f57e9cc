/**
 * One WebGPU device per process, acquired lazily by {@link initGpu}.
 *
 * Errors that WebGPU reports asynchronously (validation errors, shader compile errors, device
 * loss) are collected here and rethrown by the next flush or readback, so a bad kernel surfaces
 * as a thrown error naming the kernel instead of a silent wrong answer or a hang.
 */

/** Thrown for every WebGPU failure: missing adapter, validation error, device loss. */
export class GpuError extends Error {
  /** Always "GpuError". */
  override name = "GpuError";
}

/** The acquired device and what we learnt about its adapter. */
export interface Gpu {
  device: GPUDevice;
  adapterName: string;
  /** llvmpipe and other CPU rasterisers: register tiling beats workgroup-memory tiling there. */
  isSoftware: boolean;
  limits: GPUSupportedLimits;
}

let gpu: Gpu | null = null;
let pending: Promise<Gpu> | null = null;
let asyncError: string | null = null;
let lost: string | null = null;

const HELP = "WebGPU is unavailable. On a machine without a GPU install Mesa's software " +
  "Vulkan driver (`apt-get install -y mesa-vulkan-drivers`) and set XDG_RUNTIME_DIR to a " +
  "writable directory; or use the cpu backend (`await init({ backend: 'cpu' })`).";

/** Acquire the adapter and device once; later calls return the same device. */
export function initGpu(): Promise<Gpu> {
  if (gpu) return Promise.resolve(gpu);
  pending ??= acquire();
  return pending;
}

/** What {@link probeAdapter} found: the adapter WebGPU would use and whether it is software. */
export interface AdapterProbe {
  adapter: GPUAdapter;
  name: string;
  /** llvmpipe, lavapipe, SwiftShader or an adapter that says it is a fallback. */
  isSoftware: boolean;
}

let probe: Promise<AdapterProbe> | null = null;

/**
 * Request the adapter once (no device): its name and whether it is a software rasteriser.
 * Rejects with a {@link GpuError} saying how to get one when there is none.
 */
export function probeAdapter(): Promise<AdapterProbe> {
  probe ??= requestAdapter();
  return probe;
}

async function requestAdapter(): Promise<AdapterProbe> {
  ensureRuntimeDir();
  preferVulkan();
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
    throw new GpuError(`navigator.gpu is missing. ${HELP}`);
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new GpuError(`no WebGPU adapter found. ${HELP}`);
  const info = adapter.info;
  // Vendor and architecture are often numeric ids ("65541", "0") on Vulkan: keep words only.
  const name = [info?.description || info?.device, info?.vendor, info?.architecture]
    .filter((s) => s && !/^\d+$/.test(s)).join(" ") || "unknown adapter";
  const fallback = (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ||
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const isSoftware = isSoftwareAdapter({
    description: info?.description,
    device: info?.device,
    vendor: info?.vendor,
    architecture: info?.architecture,
    isFallbackAdapter: fallback,
  });
  return { adapter, name, isSoftware };
}

/**
 * Whether an adapter is a CPU rasteriser (Mesa's llvmpipe and lavapipe, SwiftShader) or says it
 * is a fallback adapter: WebGPU on it runs slower than the wasm backend on the same cores.
 */
export function isSoftwareAdapter(info: {
  description?: string;
  device?: string;
  vendor?: string;
  architecture?: string;
  isFallbackAdapter?: boolean;
}): boolean {
  const words = [info.description, info.device, info.vendor, info.architecture].join(" ");
  return Boolean(info.isFallbackAdapter) ||
    /llvmpipe|lavapipe|swiftshader|software|cpu/i.test(words);
}

async function acquire(): Promise<Gpu> {
  const { adapter, name: adapterName, isSoftware } = await probeAdapter();
  const want = adapter.limits;
  const device = await adapter.requestDevice({
    // For the opt-in kernel profiler (src/backend/profile.ts); costs nothing unless used.
    requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: want.maxStorageBufferBindingSize,
      maxBufferSize: want.maxBufferSize,
      maxStorageBuffersPerShaderStage: want.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: want.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: want.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: want.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: want.maxComputeWorkgroupSizeY,
    },
  });
  device.addEventListener("uncapturederror", (e) => {
    const msg = (e as GPUUncapturedErrorEvent).error?.message ?? String(e);
    asyncError = asyncError ? `${asyncError}\n${msg}` : msg;
  });
  device.lost.then((info) => {
    lost = `${info.reason ?? "unknown"}: ${info.message}`;
  });
  gpu = { device, adapterName, isSoftware, limits: device.limits };
  return gpu;
}

// Mesa's Vulkan drivers complain on every adapter request when XDG_RUNTIME_DIR is unset. One
// private folder per user, reused by every run (a folder per process would litter TMPDIR); a
// per-process one only when the user's is not private to us or the uid cannot be read.
function ensureRuntimeDir(): void {
  try {
    if (Deno.env.get("XDG_RUNTIME_DIR")) return;
    const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
    let dir = userRuntimeDir(tmp);
    if (!dir) {
      dir = `${tmp}/oto-runtime-${Deno.pid}`;
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // No env/write permission: harmless, Mesa only prints a warning.
  }
}

/**
 * Unless the user chose (DENO_WEBGPU_BACKEND), use only Vulkan when a Vulkan driver is
 * installed. Why: wgpu otherwise initialises every backend, so Mesa's OpenGL stack (EGL) is
 * loaded and given per-thread state even though the Vulkan adapter is the one picked, and its
 * teardown races with process exit when WebGPU ran on a thread other than the main one
 * (`deno test`, workers): at exit, libEGL's atexit cleanup runs while that thread's TLS
 * destructors still use it, and the process aborts with heap corruption ("corrupted size vs.
 * prev_size", "double free") after its work is done. Measured with a test that only calls
 * `navigator.gpu.requestAdapter()`: 2 of 100 runs abort with every backend or GL alone, 0 of
 * 100 with Vulkan alone (llvmpipe, Mesa 22.3, Deno 2.9). Without a Vulkan driver the choice
 * stays wgpu's (OpenGL); Deno reads the variable once per thread, at its first adapter request.
 */
function preferVulkan(): void {
  try {
    if (Deno.build.os !== "linux" || Deno.env.get("DENO_WEBGPU_BACKEND")) return;
    if (hasVulkanDriver()) Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
  } catch {
    // No env/read permission: keep wgpu's default.
  }
}

/** Whether the Vulkan loader would find a driver manifest (its Linux search path). */
function hasVulkanDriver(): boolean {
  const env = (k: string) => Deno.env.get(k) ?? "";
  if (env("VK_ICD_FILENAMES") || env("VK_DRIVER_FILES")) return true;
  const home = env("HOME");
  const dirs = [
    ...(env("XDG_CONFIG_DIRS") || "/etc/xdg").split(":"),
    "/etc",
    env("XDG_DATA_HOME") || (home ? `${home}/.local/share` : ""),
    ...(env("XDG_DATA_DIRS") || "/usr/local/share:/usr/share").split(":"),
  ].filter((d) => d);
  return dirs.some((d) => {
    try {
      return [...Deno.readDirSync(`${d}/vulkan/icd.d`)].some((e) => e.name.endsWith(".json"));
    } catch {
      return false;
    }
  });
}

function userRuntimeDir(tmp: string): string | null {
  try {
    const uid = Deno.uid();
    if (uid === null) return null;
    const dir = `${tmp}/oto-runtime-u${uid}`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = Deno.statSync(dir);
    return st.isDirectory && st.uid === uid && ((st.mode ?? 0) & 0o077) === 0 ? dir : null;
  } catch {
    return null; // no --allow-sys, or not creatable
  }
}

/** Whether a device was acquired (webgpu work can exist only then). */
export function gpuAcquired(): boolean {
  return gpu !== null;
}

/** The device, or an error saying how to get one. Synchronous: call after {@link initGpu}. */
export function gpuOrThrow(): Gpu {
  if (!gpu) {
    throw new GpuError("webgpu backend used before initialisation: call `await init()` first");
  }
  if (lost) throw new GpuError(`WebGPU device lost (${lost})`);
  return gpu;
}

/** Rethrow any error WebGPU reported since the last check. `where` names what was running. */
export function throwPendingGpuError(where: string): void {
  if (lost) throw new GpuError(`WebGPU device lost during ${where} (${lost})`);
  if (asyncError) {
    const msg = asyncError;
    asyncError = null;
    throw new GpuError(`WebGPU error during ${where}: ${msg}`);
  }
}

/** A promise that rejects when the device is lost, to race against readbacks (never hang). */
export function deviceLost(): Promise<never> {
  return gpuOrThrow().device.lost.then((info) => {
    throw new GpuError(`WebGPU device lost (${info.reason}: ${info.message})`);
  });
}
