/**
 * Tensors: a shape, a dtype, a backend and a reference-counted storage.
 *
 * Memory is managed by scopes ({@link tidy}): every tensor created inside a scope is disposed
 * when the scope ends unless it is returned or {@link Tensor.keep kept}. Parameters, optimizer
 * state and gradients are kept; everything a training step creates returns its buffer to the
 * pool when the step's scope closes, so memory stays flat across steps.
 */
import { acquireBuffer, readBuffer, releaseBuffer, upload } from "./backend/webgpu.ts";
import { wasmRuntime } from "./backend/wasm/runtime.ts";
import type { DType, GradNode, HostArray, TensorInfo } from "./ops/spec.ts";

export type { DType, HostArray, TensorInfo };
/**
 * `webgpu` runs WGSL kernels; `wasm` runs SIMD kernels on CPU threads over one shared
 * WebAssembly memory; `cpu` is the TypeScript reference; `meta` computes shapes only.
 */
export type BackendName = "webgpu" | "wasm" | "cpu" | "meta";
/** Allocate a zeroed host array of `n` elements of `dtype`. */
export function hostArray(dtype: DType, n: number): HostArray {
  return dtype === "f32"
    ? new Float32Array(n)
    : dtype === "i32"
    ? new Int32Array(n)
    : new Uint32Array(n);
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Backing memory shared by a tensor and its aliases (reshape views): a GPU buffer (webgpu), a
 * host array (cpu), or a block of the wasm heap (`ptr`, its byte offset) with a host view.
 */
export class Storage {
  /** Tensors sharing this storage; the buffer is released at zero. */
  refs = 1;
  /** Memory on `backend`: a GPU buffer (webgpu), a host array (cpu) or nothing (meta). */
  constructor(
    readonly backend: BackendName,
    readonly gpu: GPUBuffer | null,
    readonly host: HostArray | null,
    readonly ptr = -1,
  ) {}
  /** Count one more tensor sharing it. */
  retain(): this {
    this.refs++;
    return this;
  }
  /** Count one tensor less; the GPU buffer returns to the pool at zero. */
  release(): void {
    if (--this.refs !== 0) return;
    if (this.gpu) releaseBuffer(this.gpu);
    else if (this.ptr >= 0) wasmRuntime().heap.release(this.ptr, this.host!.length * 4);
  }
  /** Allocate storage for `n` elements (zeroed on cpu; undefined contents on webgpu and wasm). */
  static alloc(backend: BackendName, dtype: DType, n: number): Storage {
    if (backend === "webgpu") return new Storage(backend, acquireBuffer(Math.max(n, 1) * 4), null);
    if (backend === "cpu") return new Storage(backend, null, hostArray(dtype, n));
    if (backend === "wasm") {
      const heap = wasmRuntime().heap;
      const ptr = heap.alloc(n * 4);
      return new Storage(backend, null, hostView(heap.buffer, dtype, ptr, n), ptr);
    }
    return new Storage("meta", null, null);
  }
}

/** A typed view of `n` elements at byte offset `ptr` of `buf`. */
function hostView(buf: ArrayBufferLike, dtype: DType, ptr: number, n: number): HostArray {
  return dtype === "f32"
    ? new Float32Array(buf, ptr, n)
    : dtype === "i32"
    ? new Int32Array(buf, ptr, n)
    : new Uint32Array(buf, ptr, n);
}

let defaultBackend: BackendName = "cpu";

/** The backend new tensors are created on when none is given. */
export function getDefaultBackend(): BackendName {
  return defaultBackend;
}
/** Set the default backend (use `init()` from mod.ts, which also acquires the GPU). */
export function setDefaultBackend(b: BackendName): void {
  defaultBackend = b;
}

// ---------------------------------------------------------------------------------------------
// Scopes

interface Scope {
  tensors: Tensor[];
}
const scopes: Scope[] = [];

/**
 * Run `fn` in a memory scope: tensors it creates are disposed at the end, except the ones it
 * returns (anywhere in an array or plain object) and kept ones.
 *
 * @example
 * ```ts
 * import { crossEntropy, init, Linear, randn, tensor, tidy } from "../mod.ts";
 * await init();
 * const model = new Linear(4, 3);
 * const x = randn([2, 4], { seed: 0 });
 * const y = tensor([2, 0], [2], { dtype: "i32" });
 * const loss = tidy(() => crossEntropy(model.call(x), y)); // intermediates freed, loss kept
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = { tensors: [] };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope.tensors) if (!t.kept) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    throw new Error("tidy: the function must be synchronous (await outside the scope)");
  }
  const out = new Set<Tensor>();
  collect(result, out);
  const parent = scopes[scopes.length - 1];
  for (const t of scope.tensors) {
    if (out.has(t)) parent?.tensors.push(t);
    else if (!t.kept) t.dispose();
  }
  return result;
}

function collect(v: unknown, out: Set<Tensor>, depth = 0): void {
  if (v instanceof Tensor) out.add(v);
  else if (depth < 4 && Array.isArray(v)) { for (const x of v) collect(x, out, depth + 1); }
  else if (depth < 4 && v && typeof v === "object" && v.constructor === Object) {
    for (const x of Object.values(v)) collect(x, out, depth + 1);
  } else if (depth < 4 && v instanceof Map) {
    for (const x of v.values()) {
      collect(x, out, depth + 1);
    }
  }
}

// ---------------------------------------------------------------------------------------------

let nextId = 0;

/** An n-dimensional array on one backend. Create with `tensor`, `zeros`, `randn`, ... */
export class Tensor implements TensorInfo {
  /** Unique id (graph capture and error messages name tensors by it). */
  readonly id = nextId++;
  /** Whether gradients flow to this tensor. */
  requiresGrad = false;
  /** Accumulated gradient after `backward()` (leaf tensors that require grad). */
  grad: Tensor | null = null;
  /** How this tensor was computed, for autograd (null for leaves). */
  node: GradNode<Tensor> | null = null;
  /** Kept tensors outlive the scope they were created in. */
  kept = false;
  /** Optional name (parameters get their module path). */
  label?: string;
  private disposed = false;

  /** A tensor over `storage` (use the creation functions, not this, to make tensors). */
  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly backend: BackendName,
    readonly storage: Storage,
  ) {
    scopes[scopes.length - 1]?.tensors.push(this);
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }
  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }
  /** Whether {@link dispose} was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Keep this tensor alive past the current {@link tidy} scope. */
  keep(): this {
    this.kept = true;
    return this;
  }

  /** Free the storage now (idempotent). The tensor must not be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.node = null;
    this.storage.release();
  }

  /** Throw a clear error if this tensor was disposed; `op` names the caller. */
  assertAlive(op: string): void {
    if (this.disposed) {
      throw new Error(
        `${op}: input tensor ${this.label ?? `#${this.id}`} [${this.shape}] was disposed ` +
          `(it was created in a tidy() scope that has ended; return it or call keep())`,
      );
    }
  }

  /** The host array (cpu and wasm backends; use {@link data} for any backend). */
  hostData(): HostArray {
    if (this.backend === "meta") throw metaError("hostData", this);
    if (!this.storage.host) {
      throw new Error(`tensor [${this.shape}] is on ${this.backend}; await t.data() instead`);
    }
    return this.storage.host;
  }

  /** Copy the values to the host. On webgpu this submits pending work and waits for it. */
  async data(): Promise<HostArray> {
    this.assertAlive("data");
    if (this.backend === "cpu" || this.backend === "wasm") return this.hostData().slice();
    if (this.backend === "meta") throw metaError("data", this);
    const bytes = await readBuffer(this.storage.gpu!, this.size * 4);
    return this.dtype === "f32"
      ? new Float32Array(bytes)
      : this.dtype === "i32"
      ? new Int32Array(bytes)
      : new Uint32Array(bytes);
  }

  /** Values as a plain array (for tests and printing). */
  async array(): Promise<number[]> {
    return Array.from(await this.data());
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor has shape [${this.shape}], not one element`);
    return (await this.data())[0];
  }

  /** "Tensor(label [shape] dtype backend)", for logs. */
  toString(): string {
    return `Tensor(${
      this.label ? this.label + " " : ""
    }[${this.shape}] ${this.dtype} ${this.backend})`;
  }
}

function metaError(op: string, t: Tensor): Error {
  return new Error(
    `${op}: tensor ${t.label ?? `#${t.id}`} [${t.shape}] is on the meta backend, which tracks ` +
      `shapes only and holds no values; run on "wasm", "cpu" or "webgpu" to read data`,
  );
}

/** A shape-only tensor on the meta backend (no storage, no values). */
export function metaTensor(shape: readonly number[], dtype: DType = "f32", op = "tensor"): Tensor {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${op}: shape entries must be non-negative integers, got [${shape}]`);
  }
  return new Tensor([...shape], dtype, "meta", Storage.alloc("meta", dtype, 0));
}

/** Wrap host data in a new tensor on `backend` (copied). */
export function fromHost(
  data: HostArray,
  shape: readonly number[],
  dtype: DType,
  backend: BackendName,
): Tensor {
  const n = numel(shape);
  if (data.length !== n) {
    throw new Error(`tensor: ${data.length} values do not fill shape [${shape}] (${n} elements)`);
  }
  const storage = Storage.alloc(backend, dtype, n);
  if (backend === "cpu" || backend === "wasm") storage.host!.set(data);
  else if (backend === "webgpu" && n > 0) upload(storage.gpu!, data);
  return new Tensor([...shape], dtype, backend, storage);
}
