/**
 * Batched matrix multiply with optional transposes: C = op(A) @ op(B), batch dims broadcast.
 * Transposes are kernel flags, so gradients never materialise a transposed copy.
 */
import matmulSrc from "../../kernels/matmul/matmul.wgsl" with { type: "text" };
import { dispatch, specialize, Uniforms } from "../backend/webgpu.ts";
import { numel, type Tensor } from "../tensor.ts";
import { apply1, defineOp, shapeError } from "./registry.ts";
import { broadcastShapes } from "./util.ts";

/** Attributes: transpose the last two axes of A and/or B before multiplying. */
export interface MatmulAttrs {
  transA: boolean;
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
    const batch = numel(info.outs[0].shape.slice(0, -2));
    const sa = numel(ia.shape.slice(0, -2)) === 1 ? 0 : m * k;
    const sb = numel(ib.shape.slice(0, -2)) === 1 ? 0 : k * n;
    const kern = specialize("matmul", matmulSrc, { TA: String(a.transA), TB: String(a.transB) });
    const u = new Uniforms().u32(m, n, k, batch, sa, sb, m * n, 0);
    dispatch(kern, [A, B, C], [Math.ceil(n / 32), Math.ceil(m / 32), batch], u);
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
});

/**
 * Batched matrix product `op(a) @ op(b)`; `transA`/`transB` transpose the last two axes.
 *
 * @example
 * ```ts
 * const c = matmul(randn([2, 3], { seed: 1 }), randn([3, 4], { seed: 2 })); // [2, 4]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return apply1(matmulOp, [a, b], { transA, transB });
}
