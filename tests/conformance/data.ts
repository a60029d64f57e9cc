/**
 * Sample data for the conformance harness: each input of an op's sample as host arrays (seeded
 * from the op, sample and input, so a failure reproduces), and the f64 twins that run the cpu
 * reference in double precision.
 */
import type { DType, HostArray, OpSample, SampleInput, TensorInfo } from "../../src/ops/spec.ts";

/** A 32-bit FNV-1a hash: the seed of one input's values. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h || 1;
}

/** Seeded uniform values in [lo, hi) (xorshift32), independent of the engine's generator. */
export function uniformValues(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let s = seed >>> 0 || 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s ^ (s << 13)) >>> 0;
    s = (s ^ (s >>> 17)) >>> 0;
    s = (s ^ (s << 5)) >>> 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A host array of `dtype` holding `values`. */
export function hostOf(dtype: DType, values: ArrayLike<number>): HostArray {
  return dtype === "f32"
    ? Float32Array.from(values)
    : dtype === "i32"
    ? Int32Array.from(values)
    : Uint32Array.from(values);
}

/** One materialised input: its info and host values (f32 values are f32-rounded). */
export interface Input extends TensorInfo {
  host: HostArray;
  constant: boolean;
}

/** The inputs of `sample` of op `op`, with the values the sample gives or seeded ones. */
export function sampleInputs(op: string, sample: OpSample<unknown>): Input[] {
  return sample.ins.map((inp: SampleInput, i) => {
    const dtype = inp.dtype ?? "f32";
    const n = count(inp.shape);
    let values: ArrayLike<number>;
    if (inp.data) {
      if (inp.data.length !== n) {
        throw new Error(
          `${op} sample "${sample.name}": input ${i} has ${inp.data.length} values for shape ` +
            `[${inp.shape}]`,
        );
      }
      values = inp.data;
    } else {
      const [lo, hi] = inp.range ?? [-1, 1];
      values = uniformValues(n, seedOf(`${op}/${sample.name}/${i}`), lo, hi);
      if (dtype !== "f32") values = Array.from(values, Math.floor);
    }
    return {
      shape: [...inp.shape],
      dtype,
      host: hostOf(dtype, values),
      constant: (inp.constant ?? false) || dtype !== "f32",
    };
  });
}

/** f32 inputs widened to f64 (integer inputs stay as they are): the cpu reference in f64. */
export function widen(host: HostArray): HostArray {
  return host instanceof Float32Array ? Float64Array.from(host) as unknown as HostArray : host;
}
