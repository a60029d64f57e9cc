/**
 * Record the ops a function runs (via the registry's tracer hook) and write them as an ONNX
 * graph: the smallest exporter, used for functions and for per-op checks. Whole models go
 * through the traced graph (src/graph) and `exportOnnx`.
 */
import { type OpSpec, setTracer } from "../ops/registry.ts";
import type { Tensor } from "../tensor.ts";
import { OnnxBuilder, type OnnxDtype } from "./writer.ts";
import type { DType } from "../ops/spec.ts";

/** One recorded op application. */
export interface RecordedOp {
  op: OpSpec<never>;
  ins: readonly Tensor[];
  outs: readonly Tensor[];
  attrs: unknown;
}

/** Run `fn` and return its result with every op it applied, in order. */
export function recordOps<T>(fn: () => T): { result: T; ops: RecordedOp[] } {
  const ops: RecordedOp[] = [];
  const prev = setTracer({ record: (op, ins, outs, attrs) => ops.push({ op, ins, outs, attrs }) });
  try {
    return { result: fn(), ops };
  } finally {
    setTracer(prev);
  }
}

const dt = (d: DType): OnnxDtype => d;

/**
 * Write recorded ops as ONNX. `inputs` become graph inputs, `outputs` graph outputs; every other
 * tensor an op reads that no recorded op produced becomes an initializer (its values are read
 * back, so pass real tensors).
 */
export async function opsToOnnx(
  ops: RecordedOp[],
  inputs: { name: string; tensor: Tensor }[],
  outputs: { name: string; tensor: Tensor }[],
  constName: (t: Tensor) => string = (t) => t.label ?? `tensor_${t.id}`,
): Promise<Uint8Array> {
  const b = new OnnxBuilder();
  const names = new Map<Tensor, string>();
  for (const { name, tensor } of inputs) {
    names.set(tensor, name);
    b.input(name, tensor.shape, dt(tensor.dtype));
  }
  const produced = new Set(ops.flatMap((o) => o.outs));
  for (const o of ops) {
    for (const t of o.ins) {
      if (names.has(t) || produced.has(t)) continue;
      const name = constName(t);
      names.set(t, name);
      b.initializer(name, await t.data(), t.shape, dt(t.dtype));
    }
  }
  const outName = new Map(outputs.map((o) => [o.tensor, o.name]));
  for (const o of ops) {
    for (const t of o.outs) names.set(t, outName.get(t) ?? b.fresh(o.op.name));
    const rule = o.op.onnx;
    if (typeof rule !== "function") {
      throw new Error(`onnx: op ${o.op.name} has no ONNX mapping (${rule?.none ?? "none given"})`);
    }
    rule(b, {
      inputs: o.ins.map((t) => names.get(t)!),
      outputs: o.outs.map((t) => names.get(t)!),
      attrs: o.attrs as never,
      info: { ins: o.ins, outs: o.outs },
    });
  }
  for (const { name, tensor } of outputs) b.output(name, tensor.shape, dt(tensor.dtype));
  return b.encode();
}
