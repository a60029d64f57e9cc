/**
 * Shorthands for writing op samples (`OpSample.ins`), the conformance harness's inputs: random
 * values in a range, explicit values, integer indices, and inputs the gradient check holds
 * fixed.
 */
import type { DType, OpSample, SampleInput } from "./spec.ts";

/** Seeded random f32 values of `shape` in [lo, hi). */
export function rand(shape: readonly number[], lo = -1, hi = 1): SampleInput {
  return { shape, range: [lo, hi] };
}

/** Explicit f32 values (row-major). */
export function values(data: readonly number[], shape: readonly number[] = [data.length]) {
  return { shape, data } satisfies SampleInput;
}

/** Explicit integer values (indices, labels), i32 unless `dtype` says u32. */
export function ints(
  data: readonly number[],
  shape: readonly number[] = [data.length],
  dtype: DType = "i32",
): SampleInput {
  return { shape, data, dtype };
}

/** The same input, held fixed by the gradient check (statistics, a divisor, a shape source). */
export function fixed(input: SampleInput): SampleInput {
  return { ...input, constant: true };
}

/**
 * A sample at a kink of an elementwise op (relu at 0, a clamp bound): `data` sits on it, the
 * rule's derivative is the one from `side` ("both": the mean of both sides).
 */
export function kink<A>(rule: string, data: number[], side: "up" | "down" | "both", attrs: A) {
  const breaks = side === "both" ? [["up" as const], ["down" as const]] : [[side]];
  return {
    name: `kink: ${rule}`,
    ins: [values(data, [data.length])],
    attrs,
    ties: { rule, breaks },
  } satisfies OpSample<A>;
}

/**
 * Distinct values rising (or falling) with the flat index, in (-1, 1]: a max-type kernel that
 * reads one element too far (the next plane, window or row) gets a larger value than any it
 * should see, so the mistake shows, where random data would hide it most of the time.
 */
export function ramp(shape: readonly number[], falling = false): SampleInput {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Array.from({ length: n }, (_, j) => (2 * (falling ? n - j : j + 1)) / n - 1);
  return { shape, data };
}
