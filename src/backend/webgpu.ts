/**
 * The WebGPU executor: buffer pool, pipeline cache, batched command recording, uniforms and
 * lazy readback.
 *
 * Measured on Deno + llvmpipe: every awaited GPU call costs ~11 ms and a dispatch ~30 us when
 * many share one submit. So dispatches are recorded into one compute pass and submitted only
 * when a readback needs them (or the batch is large); nothing inside a training step waits.
 */
import { deviceLost, type Gpu, gpuAcquired, gpuOrThrow, throwPendingGpuError } from "./device.ts";

const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment
const ARENA_SLOTS = 1024;
const MAX_BATCH = 4096;

// ---------------------------------------------------------------------------------------------
// Buffer pool: size classes 2^k and 1.5*2^k keep waste under a third.

function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 4) * 4);
  const p = 2 ** Math.ceil(Math.log2(b));
  return b <= p * 0.75 ? p * 0.75 : p;
}

const free = new Map<number, GPUBuffer[]>();
const stats = { liveBytes: 0, pooledBytes: 0, allocatedBytes: 0, buffers: 0 };

/** Take a storage buffer of at least `bytes` from the pool (or create one). */
export function acquireBuffer(bytes: number): GPUBuffer {
  const size = sizeClass(bytes);
  const list = free.get(size);
  let buf = list?.pop();
  if (buf) {
    stats.pooledBytes -= size;
  } else {
    const { device, limits } = gpuOrThrow();
    if (size > limits.maxStorageBufferBindingSize) {
      throw new Error(
        `webgpu: a tensor of ${bytes} bytes exceeds this adapter's storage binding limit ` +
          `(${limits.maxStorageBufferBindingSize} bytes); use a smaller batch`,
      );
    }
    buf = device.createBuffer({ size, usage: STORAGE_USAGE });
    stats.allocatedBytes += size;
    stats.buffers++;
  }
  stats.liveBytes += size;
  return buf;
}

/**
 * Return a buffer to the pool. Safe while recorded work still reads it: the queue runs commands
 * in recording order, so a later writer of the same buffer runs after the earlier readers.
 */
export function releaseBuffer(buf: GPUBuffer): void {
  const size = buf.size;
  stats.liveBytes -= size;
  stats.pooledBytes += size;
  let list = free.get(size);
  if (!list) free.set(size, list = []);
  list.push(buf);
}

/** Bytes held by live tensors, bytes idle in the pool, bytes ever created. */
export function gpuMemory(): {
  liveBytes: number;
  pooledBytes: number;
  allocatedBytes: number;
  buffers: number;
} {
  return { ...stats };
}

// ---------------------------------------------------------------------------------------------
// Pipelines, cached by kernel name + specialisation.

const pipelines = new Map<string, GPUComputePipeline>();

/** A WGSL compute kernel: `source` is complete WGSL; `key` identifies it in the cache. */
export interface Kernel {
  key: string;
  source: string;
  entry?: string;
}

/**
 * Fill `{{NAME}}` placeholders of a WGSL template. Unfilled placeholders are an error, so a
 * typo never compiles into a silently different kernel.
 */
export function specialize(
  name: string,
  template: string,
  defs: Record<string, string | number> = {},
): Kernel {
  const source = template.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (!(k in defs)) throw new Error(`kernel ${name}: placeholder {{${k}}} has no value`);
    return String(defs[k]);
  });
  const spec = Object.entries(defs).map(([k, v]) => `${k}=${v}`).join(",");
  return { key: `${name}|${spec}`, source };
}

/**
 * Bake uniform fields into a kernel as constants: every `p.NAME` of `fields` in the source
 * becomes the literal (`u32` unless the value is negative). Why: llvmpipe divides integers lane
 * by lane, so `i / p.w` and `i % p.w` dominate index-heavy kernels; by a constant, LLVM turns
 * them into vector multiply-shifts. One pipeline per distinct value set, so use it for values
 * a model has few of (layer geometry), not for sizes that change every call.
 */
export function bakeUniforms(k: Kernel, fields: Record<string, number>): Kernel {
  const source = k.source.replace(/\bp\.(\w+)\b/g, (m, f: string) => {
    if (!(f in fields)) return m;
    const v = fields[f];
    if (!Number.isInteger(v)) throw new Error(`kernel ${k.key}: field ${f} = ${v} is not whole`);
    return v < 0 ? `(${v})` : `${v}u`;
  });
  const spec = Object.entries(fields).map(([f, v]) => `${f}=${v}`).join(",");
  return { ...k, key: `${k.key}|${spec}`, source };
}

function pipeline(k: Kernel): GPUComputePipeline {
  let p = pipelines.get(k.key);
  if (p) return p;
  const { device } = gpuOrThrow();
  const module = device.createShaderModule({ label: k.key, code: k.source });
  p = device.createComputePipeline({
    label: k.key,
    layout: "auto",
    compute: { module, entryPoint: k.entry ?? "main" },
  });
  pipelines.set(k.key, p);
  return p;
}

/** Number of distinct compiled pipelines (for tests of the cache). */
export function pipelineCount(): number {
  return pipelines.size;
}

// ---------------------------------------------------------------------------------------------
// Uniforms: each dispatch gets its own 256-byte slot in an arena; the arena is written with one
// writeBuffer right before the submit, which the queue orders before the recorded dispatches.

/** Little helper to pack a uniform struct: WGSL `u32`, `i32` and `f32` fields, 4 bytes each. */
export class Uniforms {
  readonly words: number[] = [];
  private readonly kinds: ("u" | "i" | "f")[] = [];
  u32(...v: number[]): this {
    for (const x of v) (this.words.push(x >>> 0), this.kinds.push("u"));
    return this;
  }
  i32(...v: number[]): this {
    for (const x of v) (this.words.push(x | 0), this.kinds.push("i"));
    return this;
  }
  f32(...v: number[]): this {
    for (const x of v) (this.words.push(x), this.kinds.push("f"));
    return this;
  }
  /** Pad with zeros to a multiple of 4 words (WGSL vec4 alignment for arrays that follow). */
  align4(): this {
    while (this.words.length % 4) this.u32(0);
    return this;
  }
  writeTo(view: DataView, offset: number): void {
    this.words.forEach((w, i) => {
      const at = offset + i * 4;
      if (this.kinds[i] === "f") view.setFloat32(at, w, true);
      else if (this.kinds[i] === "i") view.setInt32(at, w, true);
      else view.setUint32(at, w, true);
    });
  }
  get bytes(): number {
    return Math.max(16, Math.ceil(this.words.length / 4) * 16);
  }
}

interface Arena {
  buffer: GPUBuffer;
  host: ArrayBuffer;
  view: DataView;
}
const arenas: Arena[] = [];

// ---------------------------------------------------------------------------------------------
// Batched recording.

let encoder: GPUCommandEncoder | null = null;
let pass: GPUComputePassEncoder | null = null;
let dispatches = 0;
let slot = 0;
let flushes = 0;
let recorded = 0;

/**
 * A kernel timer (src/backend/profile.ts): while one is installed every dispatch gets its own
 * compute pass with GPU timestamps, and the timer resolves them into the batch before submit.
 */
export interface KernelTimer {
  /** Timestamp writes for the pass of one dispatch of `key` (at most TIMED_BATCH a batch). */
  pass(key: string): GPUComputePassTimestampWrites;
  /** Record the resolve of this batch's timestamps into `encoder` (called before submit). */
  resolve(encoder: GPUCommandEncoder): void;
}
let timer: KernelTimer | null = null;
/** Dispatches per submit while a timer is installed (two timestamps each; a query set holds 4096). */
export const TIMED_BATCH = 2048;

/** Install (or with null remove) the kernel timer; pending work is submitted first. */
export function setKernelTimer(t: KernelTimer | null): void {
  flush();
  timer = t;
}

function ensurePass(device: GPUDevice, key: string): GPUComputePassEncoder {
  encoder ??= device.createCommandEncoder();
  if (timer) {
    pass?.end();
    pass = encoder.beginComputePass({ timestampWrites: timer.pass(key) });
    return pass;
  }
  pass ??= encoder.beginComputePass();
  return pass;
}

function uniformSlot(device: GPUDevice): { arena: Arena; offset: number } {
  const index = Math.floor(slot / ARENA_SLOTS);
  if (index === arenas.length) {
    const host = new ArrayBuffer(ARENA_SLOTS * UNIFORM_SLOT);
    arenas.push({
      buffer: device.createBuffer({
        size: host.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      }),
      host,
      view: new DataView(host),
    });
  }
  const offset = (slot % ARENA_SLOTS) * UNIFORM_SLOT;
  slot++;
  return { arena: arenas[index], offset };
}

/**
 * Record one compute dispatch. Binding 0 is the uniform struct (if `uniforms` is given), then
 * `buffers` in order from binding 1 (or 0 without uniforms). `groups` is the workgroup count.
 */
export function dispatch(
  kernel: Kernel,
  buffers: GPUBuffer[],
  groups: [number, number?, number?],
  uniforms?: Uniforms,
): void {
  const { device, limits } = gpuOrThrow();
  const [gx, gy = 1, gz = 1] = groups;
  if (gx === 0 || gy === 0 || gz === 0) return;
  const maxG = limits.maxComputeWorkgroupsPerDimension;
  if (gx > maxG || gy > maxG || gz > maxG) {
    throw new Error(`kernel ${kernel.key}: grid [${gx},${gy},${gz}] exceeds ${maxG} per axis`);
  }
  const p = pipeline(kernel);
  const entries: GPUBindGroupEntry[] = [];
  let b = 0;
  if (uniforms) {
    const { arena, offset } = uniformSlot(device);
    uniforms.writeTo(arena.view, offset);
    entries.push({
      binding: b++,
      resource: { buffer: arena.buffer, offset, size: uniforms.bytes },
    });
  }
  for (const buf of buffers) entries.push({ binding: b++, resource: { buffer: buf } });
  const bind = device.createBindGroup({ layout: p.getBindGroupLayout(0), entries });
  const ps = ensurePass(device, kernel.key);
  ps.setPipeline(p);
  ps.setBindGroup(0, bind);
  ps.dispatchWorkgroups(gx, gy, gz);
  recorded++;
  if (++dispatches >= (timer ? TIMED_BATCH : MAX_BATCH) || slot >= ARENA_SLOTS * 8) flush();
}

/**
 * Grid for `n` independent invocations of a 1-D kernel with `wg` threads per workgroup, folded
 * into two dimensions past the 65535 limit. Kernels compute `i = gid.x + gid.y * nx * wg`
 * where `nx` is the first grid dimension, passed as a uniform.
 */
export function grid1d(n: number, wg = 256): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= 65535) return [Math.max(groups, 1), 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** Submit everything recorded so far (without waiting for it). */
export function flush(): void {
  if (!encoder) return;
  const { device } = gpuOrThrow();
  pass?.end();
  timer?.resolve(encoder);
  const used = Math.ceil(slot / ARENA_SLOTS);
  for (let i = 0; i < used; i++) {
    const bytes = i < used - 1 ? ARENA_SLOTS * UNIFORM_SLOT : ((slot - 1) % ARENA_SLOTS + 1) *
      UNIFORM_SLOT;
    device.queue.writeBuffer(arenas[i].buffer, 0, arenas[i].host, 0, bytes);
  }
  device.queue.submit([encoder.finish()]);
  encoder = null;
  pass = null;
  dispatches = 0;
  slot = 0;
  flushes++;
  throwPendingGpuError("a batch of kernels");
}

/** Submits so far (for tests that check batching). */
export function flushCount(): number {
  return flushes;
}

/** Dispatches recorded so far, all batches together (for tests that an op runs a kernel). */
export function dispatchCount(): number {
  return recorded;
}

/** Upload host data into a buffer. Pending work is submitted first so it reads the old data. */
export function upload(buf: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
  const { device } = gpuOrThrow();
  flush();
  const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  // writeBuffer needs a multiple of 4 bytes; our dtypes are all 4-byte.
  device.queue.writeBuffer(buf, byteOffset, bytes);
}

/** Copy `bytes` from one buffer to another, in order with recorded dispatches. */
export function copyBuffer(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOff = 0, dstOff = 0) {
  const { device } = gpuOrThrow();
  if (bytes === 0) return;
  encoder ??= device.createCommandEncoder();
  pass?.end();
  pass = null;
  encoder.copyBufferToBuffer(src, srcOff, dst, dstOff, Math.ceil(bytes / 4) * 4);
}

/** Read `bytes` of a buffer back to the host: submits pending work and waits for it. */
export async function readBuffer(buf: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const g: Gpu = gpuOrThrow();
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  const staging = g.device.createBuffer({
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  copyBuffer(buf, staging, size);
  flush();
  try {
    await Promise.race([staging.mapAsync(GPUMapMode.READ), deviceLost()]);
    throwPendingGpuError("readback");
    return staging.getMappedRange().slice(0, bytes);
  } finally {
    staging.destroy();
  }
}

/**
 * Wait until every submitted command has finished (for benchmarks). Resolves at once when no
 * GPU device was acquired: the cpu and wasm backends run their ops synchronously.
 */
export async function sync(): Promise<void> {
  if (!gpuAcquired()) return;
  flush();
  await Promise.race([gpuOrThrow().device.queue.onSubmittedWorkDone(), deviceLost()]);
  throwPendingGpuError("sync");
}
