/**
 * The ONNX facet executed by an independent runtime: the op applied to the sample is recorded,
 * written as a one-op ONNX graph (every input a graph input, every output a graph output) and
 * run in onnxruntime-node; its outputs must match the cpu reference (with the sample's inference
 * attributes when the exported form differs from the training one).
 */
import * as ort from "onnxruntime-node";
import { fromHost, type OpSpec, type Tensor } from "../../mod.ts";
import { apply } from "../../src/ops/registry.ts";
import { opsToOnnx, recordOps } from "../../src/onnx/record.ts";
import { mismatch, scaleOf } from "./compare.ts";
import { type SampleContext, where } from "./context.ts";
import { runOn } from "./run.ts";

const ORT_TYPE = { f32: "float32", i32: "int32", u32: "uint32" } as const;

/** Attributes the exported graph must reproduce, or why the sample is not exported. */
export function onnxAttrs(c: SampleContext): { attrs: unknown } | { none: string } {
  if (typeof c.op.onnx !== "function") return { none: c.op.onnx.none };
  return c.sample.onnx ?? { attrs: c.sample.attrs };
}

/** Export the sample's application to ONNX, run it in onnxruntime and compare. */
export async function checkOnnx(c: SampleContext): Promise<string[]> {
  const target = onnxAttrs(c);
  if ("none" in target) return [];
  const what = where(c, "ONNX (onnxruntime vs cpu reference)");
  const xs = c.inputs.map((x) => fromHost(x.host, x.shape, x.dtype, "cpu"));
  let outs: Tensor[] = [];
  try {
    const rec = recordOps(() => apply(c.op as OpSpec<unknown>, xs, c.sample.attrs));
    outs = rec.result;
    const bytes = await opsToOnnx(
      rec.ops,
      xs.map((t, i) => ({ name: `in${i}`, tensor: t })),
      outs.map((t, k) => ({ name: `out${k}`, tensor: t })),
    );
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes);
    } catch (e) {
      return [`${what}: onnxruntime rejects the graph: ${(e as Error).message.split("\n")[0]}`];
    }
    const feeds: Record<string, ort.Tensor> = {};
    c.inputs.forEach((x, i) => {
      feeds[`in${i}`] = new ort.Tensor(ORT_TYPE[x.dtype], x.host, [...x.shape]);
    });
    let got: ort.InferenceSession.OnnxValueMapType;
    try {
      got = await session.run(feeds);
    } catch (e) {
      return [`${what}: onnxruntime fails to run it: ${(e as Error).message.split("\n")[0]}`];
    }
    const ref = target.attrs === c.sample.attrs
      ? c.cpu
      : await runOn(c.op, c.inputs, target.attrs, "cpu");
    const problems: string[] = [];
    ref.outs.forEach((r, k) => {
      const o = got[`out${k}`];
      if (!o) return void problems.push(`${what}: output ${k} missing`);
      if (o.dims.join() !== r.shape.join()) {
        return void problems.push(
          `${what}: output ${k} has shape [${o.dims}], expected [${r.shape}]`,
        );
      }
      const tol = 1e-5 * (c.sample.tol ?? 1);
      const m = mismatch(Array.from(o.data as ArrayLike<number>, Number), r.data, {
        atol: tol * Math.max(1, scaleOf(r.data)),
        rtol: tol,
      });
      if (m) problems.push(`${what}: output ${k}: ${m}`);
    });
    return problems;
  } finally {
    for (const t of [...xs, ...outs]) if (!t.isDisposed) t.dispose();
  }
}
