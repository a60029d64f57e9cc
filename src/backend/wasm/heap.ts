/**
 * The wasm backend's allocator: blocks of one shared `WebAssembly.Memory`, in size classes like
 * the WebGPU buffer pool (2^k and 1.5 * 2^k bytes, so at most a third is wasted), recycled
 * through per-class free lists and carved from a bump pointer that grows the memory when it
 * runs out. Memory is never returned to the system (a wasm memory cannot shrink); idle blocks
 * wait in the pool for the next tensor of their class, so a training step's memory stays flat.
 *
 * Views (typed arrays) on a shared memory are not detached when it grows; only views created
 * after a grow see the new pages, so every view is made from the current buffer.
 */

const PAGE = 65536;
const ALIGN = 64;
/** Bytes kept readable past the top block: tile kernels may read a few floats past a tensor's
 * end (values they then drop), which must not fault. */
const TAIL = 256;
const MAX_BYTES = 4 * 1024 * 1024 * 1024;

/** Size class of a request: 2^k or 1.5 * 2^k bytes, at least 64. */
export function sizeClass(bytes: number): number {
  const b = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  const p = 2 ** Math.ceil(Math.log2(b));
  return b <= p * 0.75 ? p * 0.75 : p;
}

/** Byte counts of the heap: held by live blocks, idle in free lists, carved from memory. */
export interface HeapStats {
  /** Bytes in blocks that tensors hold now. */
  liveBytes: number;
  /** Bytes in freed blocks kept in the size classes' free lists for reuse. */
  pooledBytes: number;
  /** Bytes ever carved from the memory (live + pooled). */
  allocatedBytes: number;
  /** The wasm memory's size in bytes. */
  memoryBytes: number;
}

/** Size-class allocator over a shared wasm memory, from `base` (the module's heap start) up. */
export class Heap {
  private top: number;
  private readonly free = new Map<number, number[]>();
  private buf: SharedArrayBuffer;
  private readonly stats = { liveBytes: 0, pooledBytes: 0, allocatedBytes: 0 };

  constructor(readonly memory: WebAssembly.Memory, base: number) {
    this.top = Math.ceil(base / ALIGN) * ALIGN;
    this.buf = memory.buffer as unknown as SharedArrayBuffer;
  }

  /** A block of at least `bytes` bytes (contents undefined); returns its byte offset. */
  alloc(bytes: number): number {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    const reused = list?.pop();
    this.stats.liveBytes += size;
    if (reused !== undefined) {
      this.stats.pooledBytes -= size;
      return reused;
    }
    const ptr = this.top;
    if (ptr + size + TAIL > MAX_BYTES) {
      this.stats.liveBytes -= size;
      throw new Error(
        `wasm backend: out of memory (a ${bytes}-byte tensor does not fit the 4 GiB wasm32 ` +
          `memory; ${this.stats.liveBytes} bytes are live); use a smaller batch or model`,
      );
    }
    this.ensure(ptr + size + TAIL);
    this.top = ptr + size;
    this.stats.allocatedBytes += size;
    return ptr;
  }

  /** Return a block taken with {@link alloc} for `bytes` bytes. */
  release(ptr: number, bytes: number): void {
    const size = sizeClass(bytes);
    this.stats.liveBytes -= size;
    this.stats.pooledBytes += size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, list = []);
    list.push(ptr);
  }

  /** Grow the memory so that bytes [0, end) exist (by at least a quarter, to grow rarely). */
  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const want = Math.min(MAX_BYTES, Math.max(end, have + (have >> 2)));
    this.memory.grow(Math.ceil((want - have) / PAGE));
    this.buf = this.memory.buffer as unknown as SharedArrayBuffer;
    this.onGrow?.();
  }

  /**
   * Called after every grow. The runtime syncs its worker threads there: V8 tells other
   * threads' instances of a shared memory about a grow by an interrupt, and a worker that takes
   * a task before handling it can still check accesses against the old size (a spurious
   * "memory access out of bounds", seen in training).
   */
  onGrow: (() => void) | null = null;

  /** The current buffer (refreshed after every grow). */
  get buffer(): SharedArrayBuffer {
    return this.buf;
  }

  /** Bytes live, pooled and carved, and the memory's size. */
  usage(): HeapStats {
    return { ...this.stats, memoryBytes: this.memory.buffer.byteLength };
  }
}
