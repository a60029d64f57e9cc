/** Shape arithmetic shared by the op definitions. */
import { shapeError } from "./registry.ts";
import type { Uniforms } from "../backend/webgpu.ts";
import type { DType } from "./spec.ts";

/** Kernels index shapes of rank up to 8 (two vec4<u32> in the uniform struct). */
export const MAX_RANK = 8;

/** Row-major strides of a contiguous shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** NumPy broadcast of two shapes, or an error naming `op` and both shapes. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out = new Array(r);
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw shapeError(op, `shapes cannot be broadcast together`, a, b);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides for reading `shape` as if broadcast to `out` (0 on broadcast axes). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const s = stridesOf(shape);
  const r = out.length;
  const res = new Array(r).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const j = r - shape.length + i;
    res[j] = shape[i] === 1 && out[j] !== 1 ? 0 : s[i];
  }
  return res;
}

/** The 32 bits of `value` stored as `dtype`, for a u32 uniform that the kernel reinterprets. */
export function bitsOf(value: number, dtype: DType): number {
  const v = new DataView(new ArrayBuffer(4));
  if (dtype === "f32") v.setFloat32(0, value, true);
  else if (dtype === "i32") v.setInt32(0, value, true);
  else v.setUint32(0, value, true);
  return v.getUint32(0, true);
}

/** Normalise a possibly negative axis, with an error naming the op. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1)) {
    throw shapeError(op, `axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return a;
}

/** Append an 8-entry u32 array (shape or strides) to a uniform struct. */
export function packShape(u: Uniforms, v: readonly number[], op: string): Uniforms {
  if (v.length > MAX_RANK) throw shapeError(op, `rank ${v.length} exceeds ${MAX_RANK}`, v);
  for (let i = 0; i < MAX_RANK; i++) u.u32(v[i] ?? 1);
  return u;
}

/** Same shapes? */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * How the threads of unary.wgsl / binary.wgsl map elements (their VT, VTO and MAP parts): one
 * element each, or one vec4 each when the length is a multiple of 4 and no broadcasting is
 * involved (the buffers are bound as vec4 arrays and f runs per component: a quarter of the
 * loads and stores, each a per-lane loop on llvmpipe). `items` is the thread count.
 */
export function elementMap(
  kind: "unary" | "same" | "broadcast",
  t: string,
  to: string,
  n: number,
): { items: number; defs: Record<string, string> } {
  const vec = kind !== "broadcast" && n % 4 === 0;
  const map = kind === "unary"
    ? (vec
      ? `  let v = xs[i];\n  ys[i] = vec4<${to}>(f(v.x), f(v.y), f(v.z), f(v.w));`
      : "  ys[i] = f(xs[i]);")
    : kind === "same"
    ? (vec
      ? `  let a = as_[i];\n  let b = bs[i];\n  out[i] = vec4<${to}>(f(a.x, b.x), f(a.y, b.y), ` +
        "f(a.z, b.z), f(a.w, b.w));"
      : "  out[i] = f(as_[i], bs[i]);")
    : "  let ix = broadcast_index(i);\n  out[i] = f(as_[ix.x], bs[ix.y]);";
  return {
    items: vec ? n / 4 : n,
    defs: { VT: vec ? `vec4<${t}>` : t, VTO: vec ? `vec4<${to}>` : to, MAP: map },
  };
}
