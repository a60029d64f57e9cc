/**
 * ONNX export with dynamic height and width, checked in onnxruntime at sizes other than the
 * traced one: CARN (full and compressed) and the stacked U-Nets; models whose ONNX form depends
 * on the input size are refused with the op named.
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import * as o from "../mod.ts";
import { type ModelOptions, zoo } from "../src/zoo/index.ts";
import { assertClose } from "./helpers.ts";

const HW = { 2: "height", 3: "width" };

/** Declared input and output dims of an ONNX file (numbers or symbolic names). */
function declaredDims(
  bytes: Uint8Array,
): { input: (number | string)[]; output: (number | string)[] } {
  const g = onnxProto.onnx.ModelProto.decode(bytes).graph!;
  const dims = (v: onnxProto.onnx.IValueInfoProto) =>
    v.type!.tensorType!.shape!.dim!.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
  return { input: dims(g.input![0]), output: dims(g.output![0]) };
}

async function compareAt(what: string, model: o.Module, path: string, shapes: number[][]) {
  const session = await ort.InferenceSession.create(path);
  for (const [k, shape] of shapes.entries()) {
    const x = o.randn(shape, { seed: 20 + k });
    const y = o.noGrad(() => model.call(x));
    const out = (await session.run({
      input: new ort.Tensor("float32", (await x.data()) as Float32Array, shape),
    })).output;
    assert.deepEqual([...out.dims], [...y.shape], `${what} [${shape}]: output shape`);
    assertClose(
      out.data as Float32Array,
      await y.data(),
      `${what} [${shape}] (onnxruntime vs oto)`,
      1e-4,
      1e-4,
    );
  }
}

Deno.test("exportOnnx dynamicAxes: CARN x2 and x3, full and compressed, at two other sizes", async () => {
  o.setDefaultBackend("cpu");
  const dir = await Deno.makeTempDir({ prefix: "oto_onnx_dyn_" });
  try {
    for (const scale of [2, 3]) {
      const model = zoo["carn"].build({ seed: 1, width: 4, scale });
      model.eval();
      const path = `${dir}/carn${scale}.onnx`;
      await o.exportOnnx(model, path, [1, 3, 8, 8], { dynamicAxes: HW });
      assert.deepEqual(declaredDims(await Deno.readFile(path)), {
        input: [1, 3, "height", "width"],
        output: [1, 3, `height*${scale}`, `width*${scale}`],
      });
      await compareAt(`carn x${scale}`, model, path, [[1, 3, 8, 8], [1, 3, 11, 7], [1, 3, 5, 13]]);
    }
    const res = zoo["carn"].build({ seed: 1, width: 4, globalResidual: true } as ModelOptions);
    res.eval();
    await o.exportOnnx(res, `${dir}/res.onnx`, [1, 3, 8, 8], { dynamicAxes: HW });
    await compareAt("carn with global residual", res, `${dir}/res.onnx`, [[1, 3, 9, 14]]);
    const model = zoo["carn"].build({ seed: 2, width: 8 });
    const oto = await o.OTO.create(model, [1, 3, 8, 8]);
    await o.zeroRandomGroups(model.stateDict(), oto.partition, { seed: 3, fraction: 0.5 });
    const { model: small, report } = await oto.compress();
    assert.ok(report.paramsAfter < report.paramsBefore);
    small.eval();
    await o.exportOnnx(small, `${dir}/small.onnx`, [1, 3, 8, 8], { dynamicAxes: HW });
    await compareAt("compressed carn", small, `${dir}/small.onnx`, [[1, 3, 12, 9], [1, 3, 6, 16]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportOnnx dynamicAxes: stacked U-Nets keep height and width", async () => {
  o.setDefaultBackend("cpu");
  const dir = await Deno.makeTempDir({ prefix: "oto_onnx_dyn_" });
  try {
    const model = zoo["stacked-unets"].build({ seed: 1, width: 2 });
    model.eval();
    const bytes = await o.onnxBytes(model, [1, 3, 16, 16], { dynamicAxes: HW });
    assert.deepEqual(declaredDims(bytes).output, [1, 2, "height", "width"]);
    await Deno.writeFile(`${dir}/u.onnx`, bytes);
    await compareAt("stacked-unets", model, `${dir}/u.onnx`, [[1, 3, 24, 12], [1, 3, 8, 32]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportOnnx dynamicAxes: a size-dependent graph is refused, naming the op", async () => {
  o.setDefaultBackend("cpu");
  const model = zoo["small-cnn"].build({ seed: 1, width: 2 });
  // Flatten -> Linear: with H and W doubled the linear layer no longer fits.
  await assert.rejects(
    o.onnxBytes(model, [1, 1, 28, 28], { dynamicAxes: HW }),
    /exportOnnx: the model does not run on \[1,1,56,56\] \(dynamic axes 2,3 doubled\)/,
  );
  // A reshape to the traced size runs at both sizes but is written with fixed numbers.
  class Fixed extends o.Module {
    forward(x: o.Tensor) {
      const [n, c, h, w] = x.shape;
      return o.reshape(o.pixelUnshuffle(x, 2), [n, c * 4, h / 2, w / 2]);
    }
  }
  await assert.rejects(
    o.onnxBytes(new Fixed(), [1, 2, 4, 4], { dynamicAxes: HW }),
    /exportOnnx: op pixelUnshuffle \(layer <root>\) is written differently for input \[1,2,4,4\] and \[1,2,8,8\]/,
  );
  await assert.rejects(
    o.onnxBytes(new Fixed(), [1, 2, 4, 4], { dynamicAxes: { 4: "depth" } }),
    /dynamic axis 4 \("depth"\) must be an axis of the input \[1,2,4,4\]/,
  );
});
