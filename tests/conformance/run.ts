/**
 * Running one op application for the conformance harness: through `apply` on any backend (with
 * its outputs, the inputs it mutates and, on request, the gradients of a weighted sum of its
 * outputs), and through the cpu facet alone on f64 arrays (the double-precision reference).
 */
import {
  add,
  type BackendName,
  backward,
  fromHost,
  mul,
  numel,
  type OpSpec,
  sum,
  type Tensor,
  tidy,
} from "../../mod.ts";
import { apply } from "../../src/ops/registry.ts";
import type { HostArray, OpInfo, TensorInfo } from "../../src/ops/spec.ts";
import { hostOf, type Input, seedOf, uniformValues } from "./data.ts";

/** Values read back from a tensor. */
export interface Values {
  shape: readonly number[];
  dtype: string;
  data: Float64Array;
}

/** What one application produced on one backend. */
export interface RunResult {
  outs: Values[];
  /** Inputs the op writes in place, after the op (by input index). */
  mutated: Map<number, Values>;
  /** d(Σ_k w_k·out_k)/d(input i) for each input in `wrt` (null where none reached it). */
  grads?: (Float64Array | null)[];
  /** How far `counter` advanced while the op itself was applied (kernel dispatches). */
  counted?: number;
}

const read = async (t: Tensor): Promise<Values> => ({
  shape: [...t.shape],
  dtype: t.dtype,
  data: Float64Array.from(await t.data()),
});

/**
 * The fixed weights of the probe loss Σ_k Σ_i w_k[i]·out_k[i], one array per f32 output (seeded by
 * the output's position and size, so every backend and the f64 reference use the same ones).
 */
export function probeWeights(outs: readonly TensorInfo[]): (Float32Array | null)[] {
  return outs.map((o, k) =>
    o.dtype === "f32"
      ? Float32Array.from(uniformValues(numel(o.shape), seedOf(`probe/${k}/${o.shape}`)))
      : null
  );
}

/**
 * Apply `op` to `inputs` on `backend`; with `wrt`, also backpropagate the probe loss; with
 * `counter`, count what the application alone advances it by.
 */
export async function runOn(
  op: OpSpec<never>,
  inputs: readonly Input[],
  attrs: unknown,
  backend: BackendName,
  opts: { wrt?: readonly number[]; counter?: () => number } = {},
): Promise<RunResult> {
  const { wrt, counter } = opts;
  const xs = inputs.map((x) => fromHost(x.host, x.shape, x.dtype, backend).keep());
  for (const i of wrt ?? []) xs[i].requiresGrad = true;
  let counted: number | undefined;
  try {
    const outs = tidy(() => {
      const before = counter?.();
      const ys = apply(op as OpSpec<unknown>, xs, attrs, backend); // creation ops have no input to follow
      if (counter) counted = counter() - before!;
      if (wrt && wrt.length) {
        const w = probeWeights(ys);
        let loss: Tensor | null = null;
        ys.forEach((y, k) => {
          if (!w[k] || !y.requiresGrad) return;
          const term = sum(mul(y, fromHost(w[k]!, y.shape, "f32", backend)));
          loss = loss ? add(loss, term) : term;
        });
        if (loss) backward(loss);
      }
      return ys;
    });
    const res: RunResult = { outs: [], mutated: new Map(), counted };
    for (const y of outs) res.outs.push(await read(y));
    outs.forEach((y) => y.dispose());
    for (const i of op.mutates ?? []) res.mutated.set(i, await read(xs[i]));
    if (wrt) {
      res.grads = [];
      for (const i of wrt) {
        const g = xs[i].grad;
        res.grads.push(g ? Float64Array.from(await g.data()) : null);
      }
    }
    return res;
  } finally {
    for (const x of xs) {
      x.grad?.dispose();
      x.dispose();
    }
  }
}

/** Output infos of `op` on `ins` (its shape rule). */
export function infoOf(op: OpSpec<never>, ins: readonly TensorInfo[], attrs: unknown): OpInfo {
  const outs = (op as OpSpec<unknown>).shape(ins, attrs);
  return { ins, outs };
}

/**
 * The cpu facet on f64 arrays: `hosts` are the inputs (f32 ones widened to Float64Array, which
 * the facet may write when it mutates them); returns the outputs as Float64Arrays (integer
 * outputs too). An alias op's output is its input.
 */
export function cpu64(
  op: OpSpec<never>,
  info: OpInfo,
  hosts: readonly HostArray[],
  attrs: unknown,
): Float64Array[] {
  if (op.alias) return [Float64Array.from(hosts[0])];
  const outs = info.outs.map((o) => new Float64Array(numel(o.shape)));
  (op as OpSpec<unknown> & { cpu: (...a: unknown[]) => void }).cpu(
    hosts,
    outs as unknown as HostArray[],
    attrs,
    info,
  );
  return outs;
}

/** Σ_k Σ_i w_k[i]·out_k[i] in f64. */
export function probeLoss(outs: readonly Float64Array[], w: readonly (Float32Array | null)[]) {
  let s = 0;
  outs.forEach((o, k) => {
    const wk = w[k];
    if (wk) { for (let i = 0; i < o.length; i++) s += wk[i] * o[i]; }
  });
  return s;
}

export { hostOf };
