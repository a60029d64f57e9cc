/** Small helpers shared by the operator imports. */
import { Tensor } from "../../tensor.ts";
import { type HostValue, isHost, numbers } from "../values.ts";
import { NodeError, type Val } from "./types.ts";

/** Whether `v` is an oto Tensor. */
export const isTensor = (v: unknown): v is Tensor => v instanceof Tensor;

/** Input `i` (named `what` in errors), which must be given. */
export function need(ins: readonly (Val | undefined)[], i: number, what: string): Val {
  const v = ins[i];
  if (v === undefined) throw new NodeError(`input ${i} (${what}) is missing`);
  return v;
}

/**
 * A value that must be known when the graph is built (a constant, or computed from shapes).
 */
export function host(v: Val | undefined, what: string): HostValue {
  if (v === undefined) throw new NodeError(`input ${what} is missing`);
  if (!isHost(v)) {
    throw new NodeError(
      `input ${what} is computed from the data; oto needs it as a constant or computed from ` +
        `shapes only`,
    );
  }
  return v;
}

/** Integers of a host value. */
export function ints(v: Val | undefined, what: string): number[] {
  return numbers(host(v, what));
}

/** One number of a host value. */
export function scalar(v: Val | undefined, what: string): number {
  const h = host(v, what);
  if (h.data.length !== 1) {
    throw new NodeError(`input ${what} must hold one value, got [${h.shape}]`);
  }
  return h.data[0];
}

/** An optional host scalar (undefined or the empty name: `def`). */
export function optScalar(v: Val | undefined, what: string, def: number): number {
  return v === undefined ? def : scalar(v, what);
}

/** Normalise an axis against rank `r`. */
export function axis(a: number, r: number, what = "axis"): number {
  const x = a < 0 ? a + r : a;
  if (!(Number.isInteger(x) && x >= 0 && x < r)) {
    throw new NodeError(`${what} ${a} is out of range for rank ${r}`);
  }
  return x;
}
