/**
 * Batched matrix multiply with optional transposes: C = op(A) @ op(B), batch dims broadcast.
 * Transposes are kernel flags, so gradients never materialise a transposed copy.
 */
import matmulSrc from "../../kernels/matmul/matmul.wgsl" with { type: "text" };
import vec4Src from "../../kernels/matmul/matmul_vec4.wgsl" with { type: "text" };
import sharedSrc from "../../kernels/matmul/matmul_shared.wgsl" with { type: "text" };
import { gpuOrThrow } from "../backend/device.ts";
import { dispatch, type Kernel, specialize, Uniforms } from "../backend/webgpu.ts";
import { gemm } from "../backend/wasm/ops.ts";
import { numel, type Tensor } from "../tensor.ts";
import { apply1, defineOp, shapeError } from "./registry.ts";
import { broadcastShapes } from "./util.ts";
import { rand } from "./samples.ts";
import type { OpSample } from "./spec.ts";

const mm = (name: string, a: number[], b: number[], transA = false, transB = false) =>
  ({ name, ins: [rand(a), rand(b)], attrs: { transA, transB } }) satisfies OpSample<MatmulAttrs>;

/** Attributes: transpose the last two axes of A and/or B before multiplying. */
export interface MatmulAttrs {
  /** Multiply by the transpose of A (its last two axes). */
  transA: boolean;
  /** Multiply by the transpose of B (its last two axes). */
  transB: boolean;
}

function dims(shapeA: readonly number[], shapeB: readonly number[], a: MatmulAttrs) {
  const m = a.transA ? shapeA.at(-1)! : shapeA.at(-2)!;
  const ka = a.transA ? shapeA.at(-2)! : shapeA.at(-1)!;
  const kb = a.transB ? shapeB.at(-1)! : shapeB.at(-2)!;
  const n = a.transB ? shapeB.at(-2)! : shapeB.at(-1)!;
  return { m, ka, kb, n };
}

const matmulOp = defineOp<MatmulAttrs>({
  name: "matmul",
  shape([A, B], a) {
    if (A.shape.length < 2 || B.shape.length < 2) {
      throw shapeError("matmul", "operands must have at least 2 dimensions", A.shape, B.shape);
    }
    if (A.dtype !== "f32" || B.dtype !== "f32") throw shapeError("matmul", "expects f32 operands");
    const { m, ka, kb, n } = dims(A.shape, B.shape, a);
    if (ka !== kb) {
      throw shapeError("matmul", `inner dimensions differ (${ka} vs ${kb})`, A.shape, B.shape);
    }
    const batch = broadcastShapes("matmul", A.shape.slice(0, -2), B.shape.slice(0, -2));
    for (const X of [A, B]) {
      const nb = numel(X.shape.slice(0, -2));
      if (nb !== 1 && nb !== numel(batch)) {
        throw shapeError("matmul", "batch dims must match or be all 1", A.shape, B.shape);
      }
    }
    return [{ shape: [...batch, m, n], dtype: "f32" }];
  },
  cpu([A, B], [C], a, info) {
    const [ia, ib] = info.ins;
    const { m, ka: k, n } = dims(ia.shape, ib.shape, a);
    const batch = numel(info.outs[0].shape.slice(0, -2));
    const bsA = numel(ia.shape.slice(0, -2)) === 1 ? 0 : m * k;
    const bsB = numel(ib.shape.slice(0, -2)) === 1 ? 0 : k * n;
    for (let bi = 0; bi < batch; bi++) {
      const oa = bi * bsA, ob = bi * bsB, oc = bi * m * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < k; q++) {
            const av = a.transA ? A[oa + q * m + i] : A[oa + i * k + q];
            const bv = a.transB ? B[ob + j * k + q] : B[ob + q * n + j];
            s += av * bv;
          }
          C[oc + i * n + j] = s;
        }
      }
    }
  },
  gpu([A, B], [C], a, info) {
    const [ia, ib] = info.ins;
    const { m, ka: k, n } = dims(ia.shape, ib.shape, a);
    encodeMatmul(A, B, C, {
      m,
      n,
      k,
      batch: numel(info.outs[0].shape.slice(0, -2)),
      sa: numel(ia.shape.slice(0, -2)) === 1 ? 0 : m * k,
      sb: numel(ib.shape.slice(0, -2)) === 1 ? 0 : k * n,
      transA: a.transA,
      transB: a.transB,
    });
  },
  wasm([A, B], [C], a, info) {
    const [ia, ib] = info.ins;
    const { m, ka: k, n } = dims(ia.shape, ib.shape, a);
    const sharedA = numel(ia.shape.slice(0, -2)) === 1,
      sharedB = numel(ib.shape.slice(0, -2)) === 1;
    gemm(
      numel(info.outs[0].shape.slice(0, -2)),
      m,
      n,
      k,
      {
        ptr: A,
        batch: sharedA ? 0 : m * k,
        row: a.transA ? 1 : k,
        col: a.transA ? m : 1,
      },
      { ptr: B, batch: sharedB ? 0 : k * n, row: a.transB ? 1 : n, col: a.transB ? k : 1 },
      C,
    );
  },
  grad: ({ ins, attrs }, [g]) => {
    const [A, B] = ins;
    // C = A·B: dA = g·Bᵀ, dB = Aᵀ·g (with the transposes folded into the flags).
    const dA = attrs.transA ? matmul(B, g, attrs.transB, true) : matmul(g, B, false, !attrs.transB);
    const dB = attrs.transB ? matmul(g, A, true, attrs.transA) : matmul(A, g, !attrs.transA, false);
    return [dA, dB];
  },
  channels: { kind: "block", reason: "matmul mixes channels (use Linear for prunable layers)" },
  cost: (info, a) => {
    const { m, ka, n } = dims(info.ins[0].shape, info.ins[1].shape, a);
    const macs = numel(info.outs[0].shape.slice(0, -2)) * m * n * ka;
    return { macs, flops: 2 * macs };
  },
  onnx: (e, io) => {
    const ins = io.inputs.map((name, i) => {
      const t = i === 0 ? io.attrs.transA : io.attrs.transB;
      if (!t) return name;
      const r = io.info.ins[i].shape.length;
      const perm = [...Array(r).keys()];
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      const out = e.fresh("transposed");
      e.node("Transpose", [name], [out], { perm });
      return out;
    });
    e.node("MatMul", ins, io.outputs);
  },
  samples: [
    mm("odd sizes (scalar kernel)", [5, 7], [7, 3]),
    mm("vec4 kernel, partial 16-row and 128-column tiles", [17, 8], [8, 132]),
    mm("scalar kernel, partial 32x32 tiles", [33, 5], [5, 35]),
    mm("transposed A (aligned)", [8, 12], [8, 4], true, false),
    mm("transposed B, batch broadcast", [2, 3, 5], [4, 5], false, true),
    mm("both transposed, batched", [2, 6, 3], [2, 5, 6], true, true),
    mm("empty rows", [0, 4], [4, 3]),
  ],
});

/**
 * Batched matrix product `op(a) @ op(b)`; `transA`/`transB` transpose the last two axes.
 *
 * @example
 * ```ts
 * import { init, matmul, randn } from "../../mod.ts";
 * await init();
 * const c = matmul(randn([2, 3], { seed: 1 }), randn([3, 4], { seed: 2 })); // [2, 4]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return apply1(matmulOp, [a, b], { transA, transB });
}

// ---------------------------------------------------------------------------------------------
// WebGPU kernels and their selection.

/**
 * The matmul kernels: `vec4` is the register-tiled fast path (aligned shapes), `scalar` the
 * bounds-checked register-tiled kernel (any shape), `shared` the workgroup-memory tiled kernel.
 */
export type MatmulKernelName = "vec4" | "scalar" | "shared";

/**
 * Kernel policy: `auto` picks register tiling (`vec4` when aligned, else `scalar`) on software
 * adapters such as llvmpipe and `shared` on hardware GPUs; `register` forces register tiling,
 * `scalar` and `shared` force that kernel for every shape.
 */
export type MatmulKernelPolicy = "auto" | "register" | "scalar" | "shared";

const POLICIES: readonly MatmulKernelPolicy[] = ["auto", "register", "scalar", "shared"];
let policy: MatmulKernelPolicy = policyFromEnv();

function policyFromEnv(): MatmulKernelPolicy {
  let v: string | undefined;
  try {
    v = Deno.env.get("OTO_MATMUL_KERNEL");
  } catch {
    return "auto"; // no env permission
  }
  if (!v) return "auto";
  if (!POLICIES.includes(v as MatmulKernelPolicy)) {
    throw new Error(`OTO_MATMUL_KERNEL=${v}: expected one of ${POLICIES.join(", ")}`);
  }
  return v as MatmulKernelPolicy;
}

/**
 * Force a matmul kernel policy (tests and benchmarks; the default comes from the
 * `OTO_MATMUL_KERNEL` environment variable, else `auto`). Returns the previous policy.
 */
export function setMatmulKernel(p: MatmulKernelPolicy): MatmulKernelPolicy {
  if (!POLICIES.includes(p)) {
    throw new Error(`setMatmulKernel: unknown policy '${p}'; use ${POLICIES.join(", ")}`);
  }
  const prev = policy;
  policy = p;
  return prev;
}

/** Shape of one matmul dispatch: C[b] (m x n) = op(A[b]) (m x k) @ op(B[b]) (k x n). */
export interface MatmulDims {
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** The shared (inner) dimension. */
  k: number;
  /** Number of output matrices. */
  batch: number;
  /** Element stride between A matrices (0 broadcasts A over the batch); likewise sb for B. */
  sa: number;
  /** Element stride between B matrices (0 broadcasts B). */
  sb: number;
  /** A is read transposed. */
  transA: boolean;
  /** B is read transposed. */
  transB: boolean;
}

/**
 * Which kernel a matmul of these dims runs with under the current policy. `software` defaults
 * to the adapter's `isSoftware` (llvmpipe: register tiling beats workgroup-memory tiling).
 */
export function matmulKernelFor(
  d: Pick<MatmulDims, "m" | "n" | "k" | "transA">,
  software: boolean = gpuOrThrow().isSoftware,
): MatmulKernelName {
  if (policy === "shared" || policy === "scalar") return policy;
  if (policy === "auto" && !software) return "shared";
  const aligned = d.n % 4 === 0 && d.k % 4 === 0 && (!d.transA || d.m % 4 === 0);
  return aligned ? "vec4" : "scalar";
}

// Register tile of the vec4 kernel: R rows x C columns per invocation, WX invocations per
// workgroup side by side along N. llvmpipe runs 8 consecutive invocations along x as the lanes
// of one 256-bit vector (fewer than 8 along x leave lanes idle), so the lanes share their rows
// of A. Measured on llvmpipe at 1024^3: 16x16 ~1.4x faster than 8x8 and ~1.1x slower than 32x16,
// which takes about twice as long to compile (~1.7 s vs ~0.9 s); lanes along M instead of N were
// no faster for any transpose combination.
const V4 = { R: 16, C: 16, WX: 8 };

const kernels = new Map<string, Kernel>();

function kernel(name: MatmulKernelName, ta: boolean, tb: boolean): Kernel {
  const key = `matmul_${name}|TA=${ta},TB=${tb}`;
  let k = kernels.get(key);
  if (k) return k;
  const flags = { TA: String(ta), TB: String(tb) };
  if (name === "vec4") {
    k = {
      key,
      source: specialize(key, vec4Src, vec4Body(V4.R, V4.C, V4.WX, ta, tb)).source,
    };
  } else if (name === "shared") {
    k = { key, source: specialize(key, sharedSrc, flags).source };
  } else {
    // Same key as `specialize("matmul", matmulSrc, flags)`, so other ops share the pipeline.
    k = specialize("matmul", matmulSrc, flags);
  }
  kernels.set(key, k);
  return k;
}

/**
 * Generate the unrolled parts of matmul_vec4.wgsl for an R x C register tile (R, C multiples of
 * 4). Index variables count vec4s. A rows (or, transposed, row quads) and B columns (or column
 * quads) past the edge are clamped to the last one.
 */
function vec4Body(R: number, C: number, WX: number, ta: boolean, tb: boolean) {
  const CB = C / 4, RB = R / 4;
  const setup: string[] = [], load: string[] = [], fma: string[] = [], store: string[] = [];
  if (ta) { // A is [K, M]: vec4s run along M; one row quad per 4 rows, K steps by m4.
    for (let rb = 0; rb < RB; rb++) {
      setup.push(`  let ra${rb} = ab + min(row0 / 4u + ${rb}u, m4 - 1u);`);
    }
    setup.push(`  var ka = 0u;`);
    for (let q = 0; q < 4; q++) {
      for (let rb = 0; rb < RB; rb++) {
        load.push(`    let a${q}_${rb} = a[ra${rb} + ka + ${q}u * m4];`);
      }
    }
    load.push(`    ka += 4u * m4;`);
  } else { // A is [M, K]: one vec4 along K per row.
    for (let r = 0; r < R; r++) setup.push(`  var ia${r} = ab + min(row0 + ${r}u, m - 1u) * k4;`);
    for (let r = 0; r < R; r++) load.push(`    let a${r} = a[ia${r}];`, `    ia${r} += 1u;`);
  }
  if (tb) { // B is [N, K]: one vec4 along K per column.
    for (let j = 0; j < C; j++) {
      setup.push(`  var ib${j} = bb + min(cb0 * 4u + ${j}u, n - 1u) * k4;`);
    }
    for (let j = 0; j < C; j++) load.push(`    let b${j} = b[ib${j}];`, `    ib${j} += 1u;`);
  } else { // B is [K, N]: vec4s run along N.
    for (let j = 0; j < CB; j++) setup.push(`  let jb${j} = bb + min(cb0 + ${j}u, n4 - 1u);`);
    setup.push(`  var kb = 0u;`);
    for (let q = 0; q < 4; q++) {
      for (let j = 0; j < CB; j++) load.push(`    let b${q}_${j} = b[jb${j} + kb + ${q}u * n4];`);
    }
    load.push(`    kb += 4u * n4;`);
  }
  const xyzw = "xyzw";
  const av = (r: number, q: number) => ta ? `a${q}_${r >> 2}.${xyzw[r & 3]}` : `a${r}.${xyzw[q]}`;
  const bv = (q: number, j: number) =>
    tb
      ? `vec4<f32>(${[0, 1, 2, 3].map((i) => `b${4 * j + i}.${xyzw[q]}`).join(", ")})`
      : `b${q}_${j}`;
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < CB; j++) {
      setup.push(`  var acc${r}_${j} = vec4<f32>();`);
      // Four K steps into one accumulator back to back: spilled accumulators move once.
      for (let q = 0; q < 4; q++) {
        fma.push(`    acc${r}_${j} = fma(vec4<f32>(${av(r, q)}), ${bv(q, j)}, acc${r}_${j});`);
      }
    }
  }
  for (let r = 0; r < R; r++) {
    store.push(`  if (row0 + ${r}u < m) {`);
    for (let j = 0; j < CB; j++) {
      store.push(`    if (cb0 + ${j}u < n4) { c[ic + ${r}u * n4 + ${j}u] = acc${r}_${j}; }`);
    }
    store.push(`  }`);
  }
  const j = (l: string[]) => l.join("\n");
  return {
    TA: String(ta),
    TB: String(tb),
    R,
    C,
    CB,
    WX,
    SETUP: j(setup),
    LOAD: j(load),
    FMA: j(fma),
    STORE: j(store),
  };
}

/**
 * Record `C[b] = op(A[b]) @ op(B[b])` on WebGPU buffers with the kernel the policy picks. For
 * ops that fuse a matmul (e.g. linear): same layout rules as {@link matmul}, C is contiguous
 * `[batch, m, n]` and fully written.
 */
export function encodeMatmul(A: GPUBuffer, B: GPUBuffer, C: GPUBuffer, d: MatmulDims): void {
  const { m, n, k, batch } = d;
  if (m === 0 || n === 0 || batch === 0) return;
  const name = matmulKernelFor(d);
  const kern = kernel(name, d.transA, d.transB);
  const [tm, tn] = name === "vec4" ? [V4.R, V4.C * V4.WX] : name === "shared" ? [64, 64] : [32, 32];
  const maxZ = gpuOrThrow().limits.maxComputeWorkgroupsPerDimension;
  for (let b0 = 0; b0 < batch; b0 += maxZ) {
    const u = new Uniforms().u32(m, n, k, batch, d.sa, d.sb, m * n, b0);
    const gx = Math.ceil(n / tn), gy = Math.ceil(m / tm), gz = Math.min(maxZ, batch - b0);
    dispatch(kern, [A, B, C], [gx, gy, gz], u);
  }
}
