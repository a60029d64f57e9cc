/**
 * The batch-norm ONNX node also carries the training form's attributes (epsilon and momentum,
 * which an inference run cannot observe): the node oto writes, switched to ONNX's training mode,
 * must normalise and update the running mean in onnxruntime as oto's training step does.
 * (ONNX's running variance uses the biased batch variance, PyTorch's and oto's the unbiased one,
 * so the variance is compared through that relation.)
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import * as o from "../mod.ts";
import { opsToOnnx, recordOps } from "../src/onnx/record.ts";
import { assertClose } from "./helpers.ts";

const { onnx } = onnxProto;

Deno.test("batchNorm's ONNX node in training mode: outputs and running statistics", async () => {
  for (const momentum of [0.1, 0.3]) {
    const c = 3, x = o.randn([4, c, 2, 3], { seed: 1, backend: "cpu" });
    const g = o.uniform([c], { seed: 2, low: 0.5, high: 1.5, backend: "cpu" });
    const b = o.randn([c], { seed: 3, backend: "cpu" });
    const rm = o.randn([c], { seed: 4, backend: "cpu" });
    const rv = o.uniform([c], { seed: 5, low: 0.5, high: 2, backend: "cpu" });
    const [rm0, rv0] = [rm.hostData().slice(), rv.hostData().slice()];
    const { result, ops } = recordOps(() =>
      o.batchNorm(x, g, b, rm, rv, { training: true, momentum, eps: 1e-3 })
    );
    const named = { x, g, b, rm, rv };
    const bytes = await opsToOnnx(
      ops,
      Object.entries(named).map(([name, tensor]) => ({ name, tensor })),
      [{ name: "y", tensor: result }],
    );
    const model = onnx.ModelProto.decode(bytes);
    const node = model.graph!.node!.find((n) => n.opType === "BatchNormalization")!;
    node.attribute!.push(
      onnx.AttributeProto.create({
        name: "training_mode",
        type: onnx.AttributeProto.AttributeType.INT,
        i: 1,
      }),
    );
    node.output!.push("rm_out", "rv_out");
    for (const name of ["rm_out", "rv_out"]) {
      model.graph!.output!.push(onnx.ValueInfoProto.create({
        name,
        type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: c }] } } },
      }));
    }
    const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
    const f = (v: ArrayLike<number>, shape: readonly number[]) =>
      new ort.Tensor("float32", Float32Array.from(v), [...shape]);
    const out = await session.run({
      x: f(x.hostData(), x.shape),
      g: f(g.hostData(), [c]),
      b: f(b.hostData(), [c]),
      rm: f(rm0, [c]),
      rv: f(rv0, [c]),
    });
    const what = `momentum ${momentum}`;
    assertClose(out.y.data as Float32Array, result.hostData(), `${what}: outputs`, 1e-5, 1e-4);
    assertClose(out.rm_out.data as Float32Array, rm.hostData(), `${what}: running mean`);
    // oto: rv = (1 - m)·rv0 + m·var·n/(n-1); ONNX: (1 - m)·rv0 + m·var (biased).
    const n = x.size / c;
    const expected = Array.from(rv.hostData(), (v, i) => {
      const unbiased = (v - (1 - momentum) * rv0[i]) / momentum;
      return (1 - momentum) * rv0[i] + momentum * unbiased * (n - 1) / n;
    });
    assertClose(out.rv_out.data as Float32Array, expected, `${what}: running variance`);
    assert.equal(out.y.dims.join(), x.shape.join());
  }
});
