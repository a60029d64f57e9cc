/**
 * ONNX check shared by op tests: record the ops a function runs on the cpu backend, write them as
 * ONNX, run the model in onnxruntime-node and compare its output with oto's.
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import type * as o from "../mod.ts";
import { opsToOnnx, recordOps } from "../src/onnx/record.ts";
import { assertClose } from "./helpers.ts";

/** Check `fn` on the given inputs through ONNX; returns the op names covered. */
export async function checkOnnx(
  what: string,
  fn: (...xs: o.Tensor[]) => o.Tensor,
  inputs: o.Tensor[],
  tol = 1e-5,
): Promise<string[]> {
  const { result, ops } = recordOps(() => fn(...inputs));
  const bytes = await opsToOnnx(
    ops,
    inputs.map((t, i) => ({ name: `in${i}`, tensor: t })),
    [{ name: "out", tensor: result }],
  );
  const session = await ort.InferenceSession.create(bytes);
  const feeds: Record<string, ort.Tensor> = {};
  inputs.forEach((t, i) => {
    feeds[`in${i}`] = t.dtype === "f32"
      ? new ort.Tensor("float32", t.hostData() as Float32Array, [...t.shape])
      : new ort.Tensor("int32", t.hostData() as Int32Array, [...t.shape]);
  });
  const out = (await session.run(feeds)).out;
  assert.deepEqual([...out.dims], [...result.shape], `${what}: ONNX output shape`);
  assertClose(
    Array.from(out.data as Float32Array, Number),
    result.hostData(),
    `${what} (onnxruntime vs oto)`,
    tol,
    tol,
  );
  return ops.map((r) => r.op.name);
}
