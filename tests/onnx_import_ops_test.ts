/**
 * Operator imports one by one, against onnxruntime: small hand-built ONNX graphs for the
 * attribute forms and operator-set versions the torchvision fixtures do not reach (auto_pad,
 * asymmetric pads, opset-10/11 input forms, host shape arithmetic, weights on either side of a
 * MatMul, Gemm's alpha/beta/transA, ...).
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import * as o from "../mod.ts";
import { OnnxBuilder } from "../src/onnx/writer.ts";
import type { OnnxAttr } from "../src/onnx/rules.ts";

const UNOPTIMIZED = { graphOptimizationLevel: "disabled" } as const;

/** A graph from x [inShape] to y [outShape] built by `body`, at operator set `opset`. */
function model(
  inShape: number[],
  outShape: number[],
  body: (b: OnnxBuilder) => void,
  opset = 17,
): Uint8Array {
  const b = new OnnxBuilder();
  b.input("x", inShape);
  body(b);
  b.output("y", outShape);
  const m = onnxProto.onnx.ModelProto.decode(b.encode());
  // A dynamic batch, as exports usually declare it.
  for (const v of [m.graph!.input![0], m.graph!.output![0]]) {
    v.type!.tensorType!.shape!.dim![0] = onnxProto.onnx.TensorShapeProto.Dimension.create({
      dimParam: "N",
    });
  }
  m.opsetImport = [{ domain: "", version: opset }];
  m.irVersion = opset < 13 ? 6 : 8;
  return onnxProto.onnx.ModelProto.encode(m).finish();
}

const rnd = (n: number, seed: number) => {
  const r = new o.Rng(seed);
  return Array.from({ length: n }, () => r.normal());
};

async function check(
  what: string,
  bytes: Uint8Array,
  inShape: number[],
  batch: number,
  fixed: boolean,
) {
  o.setDefaultBackend("cpu");
  const m = await o.importOnnx(bytes, fixed ? { inputShape: inShape } : {});
  const shape = fixed ? inShape : [batch, ...inShape.slice(1)];
  const x = o.randn(shape, { seed: 3 });
  m.eval();
  const y = o.tidy(() => m.call(x));
  const s = await ort.InferenceSession.create(bytes, UNOPTIMIZED);
  let ref: ort.Tensor;
  try {
    ref =
      (await s.run({ x: new ort.Tensor("float32", (await x.data()) as Float32Array, shape) })).y;
  } catch (e) {
    throw new Error(`${what}: onnxruntime: ${(e as Error).message}`);
  }
  assert.deepEqual([...y.shape], [...ref.dims], `${what}: shape`);
  const a = await y.data(), b = ref.data as Float32Array;
  let d = 0, sc = 1e-6;
  for (let i = 0; i < b.length; i++) {
    (d = Math.max(d, Math.abs(a[i] - b[i]))), (sc = Math.max(sc, Math.abs(b[i])));
  }
  assert.ok(d <= 1e-5 * sc, `${what}: max diff ${d} (scale ${sc})`);
  m.dispose();
}

/** What, input shape, output shape, graph, opset, and whether axis 0 is no batch. */
type Case = [string, number[], number[], (b: OnnxBuilder) => void, number?, boolean?];

const f = (v: number) => ({ float: v });
const w = (
  b: OnnxBuilder,
  name: string,
  shape: number[],
  seed: number,
) => (b.initializer(name, rnd(shape.reduce((p, q) => p * q, 1), seed), shape), name);

const CASES: Case[] = [
  [
    "Conv auto_pad SAME_UPPER stride 2",
    [1, 3, 7, 7],
    [1, 4, 4, 4],
    (b) =>
      b.node("Conv", ["x", w(b, "W", [4, 3, 3, 3], 1)], ["y"], {
        auto_pad: "SAME_UPPER",
        strides: [2, 2],
      }),
  ],
  [
    "Conv asymmetric pads, dilation, groups",
    [1, 4, 6, 6],
    [1, 4, 5, 5],
    (b) =>
      b.node("Conv", ["x", w(b, "W", [4, 2, 3, 3], 2), w(b, "B", [4], 3)], ["y"], {
        pads: [1, 0, 2, 1],
        dilations: [2, 1],
        group: 2,
        kernel_shape: [3, 3],
      }),
  ],
  [
    "ConvTranspose output_shape",
    [1, 4, 3, 3],
    [1, 2, 7, 7],
    (b) =>
      b.node("ConvTranspose", ["x", w(b, "W", [4, 2, 3, 3], 4)], ["y"], {
        strides: [2, 2],
        output_shape: [7, 7],
      }),
  ],
  [
    "MaxPool asymmetric pads",
    [1, 2, 7, 7],
    [1, 2, 3, 3],
    (b) =>
      b.node("MaxPool", ["x"], ["y"], {
        kernel_shape: [3, 3],
        strides: [2, 2],
        pads: [0, 0, 1, 1],
        ceil_mode: 0,
      }),
  ],
  [
    "MaxPool asymmetric pads at the start",
    [1, 2, 7, 7],
    [1, 2, 3, 3],
    (b) =>
      b.node("MaxPool", ["x"], ["y"], {
        kernel_shape: [3, 3],
        strides: [2, 2],
        pads: [1, 0, 0, 1],
      }),
  ],
  [
    "AveragePool count_include_pad",
    [1, 2, 6, 6],
    [1, 2, 3, 3],
    (b) =>
      b.node("AveragePool", ["x"], ["y"], {
        kernel_shape: [3, 3],
        strides: [2, 2],
        pads: [1, 1, 1, 1],
        count_include_pad: 1,
      }),
  ],
  [
    "Gemm alpha, beta, transA",
    [3, 4],
    [4, 5],
    (b) =>
      b.node("Gemm", ["x", w(b, "B", [3, 5], 5), w(b, "C", [5], 6)], ["y"], {
        transA: 1,
        alpha: f(0.5),
        beta: f(2),
      }),
    17,
    true,
  ],
  [
    "MatMul with the weight on the left",
    [1, 3, 4],
    [1, 5, 4],
    (b) => b.node("MatMul", [w(b, "W", [5, 3], 7), "x"], ["y"]),
  ],
  ["MatMul + Add as a linear layer on rank 3", [1, 3, 4], [1, 3, 6], (b) => {
    b.node("MatMul", ["x", w(b, "W", [4, 6], 8)], ["m"]);
    b.node("Add", [w(b, "b", [6], 9), "m"], ["y"]);
  }],
  [
    "Shape/Gather/Unsqueeze/Concat into Reshape (batch from the input)",
    [1, 2, 3, 4],
    [1, 2, 12],
    (b) => {
      b.node("Shape", ["x"], ["s"]);
      b.node("Gather", ["s", b.constant([0], [], "i64")], ["n"], { axis: 0 });
      b.node("Unsqueeze", ["n", b.constant([0], [1], "i64")], ["n1"]);
      b.node("Concat", ["n1", b.constant([2, -1], [2], "i64")], ["t"], { axis: 0 });
      b.node("Reshape", ["x", "t"], ["y"]);
    },
  ],
  ["Range/ConstantOfShape/Where/Tile on the host, Expand on data", [1, 3, 1], [1, 3, 4], (b) => {
    b.node("Range", [
      b.constant([0], [], "i64"),
      b.constant([4], [], "i64"),
      b.constant([1], [], "i64"),
    ], ["r"]);
    b.node("Shape", ["r"], ["rs"]);
    b.node("ConstantOfShape", ["rs"], ["ones"], {});
    b.node("Shape", ["x"], ["xs"]);
    b.node("Slice", ["xs", b.constant([0], [1], "i64"), b.constant([2], [1], "i64")], ["nc"]);
    b.node("Concat", ["nc", "rs"], ["t"], { axis: 0 });
    b.node("Expand", ["x", "t"], ["y"]);
  }],
  ["Slice with negative steps and axes", [1, 4, 6], [1, 2, 3], (b) =>
    b.node("Slice", [
      "x",
      b.constant([-1, 5], [2], "i64"),
      b.constant([-5, -9223372036854775807], [2], "i64"),
      b.constant([1, 2], [2], "i64"),
      b.constant([-2, -2], [2], "i64"),
    ], ["y"])],
  ["Split into parts, Concat back in another order", [1, 6, 2], [1, 6, 2], (b) => {
    b.node("Split", ["x", b.constant([2, 4], [2], "i64")], ["a", "c"], { axis: 1 });
    b.node("Concat", ["c", "a"], ["y"], { axis: 1 });
  }],
  [
    "Gather of one index drops the axis",
    [1, 3, 4],
    [1, 4],
    (b) => b.node("Gather", ["x", b.constant([-1], [], "i64")], ["y"], { axis: 1 }),
  ],
  [
    "Pad constant",
    [1, 2, 3, 3],
    [1, 2, 4, 6],
    (b) =>
      b.node(
        "Pad",
        ["x", b.constant([0, 0, 1, 2, 0, 0, 0, 1], [8], "i64"), b.constant([0.5], [])],
        ["y"],
      ),
  ],
  ["Pow 2 and 0.5, Sqrt, Reciprocal", [1, 5], [1, 5], (b) => {
    b.node("Abs", ["x"], ["a"]);
    b.node("Pow", ["a", b.constant([0.5], [])], ["p"]);
    b.node("Pow", ["p", b.constant([2], [])], ["q"]);
    b.node("Add", ["q", b.constant([1], [])], ["r"]);
    b.node("Reciprocal", ["r"], ["y"]);
  }],
  ["ReduceMean keepdims 0, ReduceSum axes input", [1, 3, 4, 5], [1, 3], (b) => {
    b.node("ReduceMean", ["x"], ["m"], { axes: [3], keepdims: 0 });
    b.node("ReduceSum", ["m", b.constant([2], [1], "i64")], ["y"], { keepdims: 0 });
  }],
  ["Softmax and LogSoftmax", [1, 7], [1, 7], (b) => {
    b.node("Softmax", ["x"], ["s"], { axis: 1 });
    b.node("LogSoftmax", ["s"], ["y"], { axis: -1 });
  }],
  ["Clip with min only, LeakyRelu, Sigmoid, Tanh", [1, 6], [1, 6], (b) => {
    b.node("Clip", ["x", b.constant([-0.5], [])], ["c"]);
    b.node("LeakyRelu", ["c"], ["l"], { alpha: f(0.2) });
    b.node("Sigmoid", ["l"], ["s"]);
    b.node("Tanh", ["s"], ["y"]);
  }],
  ["Elu, Celu, Selu, Softplus and Softsign", [1, 2, 5], [1, 2, 5], (b) => {
    b.node("Mul", ["x", b.constant([3], [])], ["x3"]); // both sides of every kink
    b.node("Elu", ["x3"], ["e"], { alpha: f(0.7) });
    b.node("Celu", ["e"], ["c"], { alpha: f(1.5) });
    b.node("Selu", ["c"], ["s"]);
    b.node("Softplus", ["s"], ["p"]);
    b.node("Sub", ["p", b.constant([2], [])], ["q"]);
    b.node("Softsign", ["q"], ["y"]);
  }],
  ["Mod (both signs) and ScatterND on the host, added to data", [1, 2, 3], [1, 2, 3], (b) => {
    b.node("Range", [
      b.constant([-3], [], "i64"),
      b.constant([3], [], "i64"),
      b.constant([1], [], "i64"),
    ], ["r"]);
    b.node("Mod", ["r", b.constant([4], [], "i64")], ["m"], { fmod: 0 });
    b.node("Mod", ["r", b.constant([-4], [], "i64")], ["n"], { fmod: 1 });
    b.node("Add", ["m", "n"], ["mn"]);
    b.node("Cast", ["mn"], ["mf"], { to: 1 });
    b.node("Reshape", ["mf", b.constant([2, 3], [2], "i64")], ["m2"]);
    b.node("ScatterND", ["m2", b.constant([1, 0, 0, 2], [2, 2], "i64"), b.constant([5, 7], [2])], [
      "s1",
    ]);
    b.node("ScatterND", ["s1", b.constant([1], [1, 1], "i64"), b.constant([1, 2, 3], [1, 3])], [
      "s2",
    ], { reduction: "add" });
    b.node("Add", ["x", "s2"], ["y"]);
  }],
  ["Dropout's mask output (eval: all true), used as data", [1, 2, 3], [1, 2, 3], (b) => {
    b.node("Dropout", ["x", b.constant([0.3], [])], ["d", "mask"]);
    b.node("Cast", ["mask"], ["mf"], { to: 1 });
    b.node("Sub", ["mf", b.constant([0.5], [])], ["m"]);
    b.node("Mul", ["d", "m"], ["y"]);
  }],
  ["DepthToSpace in both modes (DCR: TensorFlow's order; CRD: PyTorch's)", [1, 8, 2, 3], [
    1,
    2,
    4,
    6,
  ], (b) => {
    b.node("DepthToSpace", ["x"], ["d"], { blocksize: 2, mode: "DCR" });
    b.node("Reshape", ["d", b.constant([0, 8, 2, 3], [4], "i64")], ["r"]);
    b.node("DepthToSpace", ["r"], ["y"], { blocksize: 2, mode: "CRD" });
  }],
  ["Resize nearest (sizes) and linear (scales)", [1, 2, 3, 3], [1, 2, 12, 12], (b) => {
    b.node("Shape", ["x"], ["xs"]);
    b.node("Slice", ["xs", b.constant([0], [1], "i64"), b.constant([2], [1], "i64")], ["nc"]);
    b.node("Concat", ["nc", b.constant([6, 6], [2], "i64")], ["sizes"], { axis: 0 });
    b.node("Resize", ["x", "", "", "sizes"], ["r"], {
      mode: "nearest",
      coordinate_transformation_mode: "asymmetric",
      nearest_mode: "floor",
    });
    b.node("Resize", ["r", "", b.constant([1, 1, 2, 2], [4])], ["y"], {
      mode: "linear",
      coordinate_transformation_mode: "half_pixel",
    });
  }],
  ["Squeeze/Unsqueeze with axes attributes (opset 11)", [1, 3, 1, 4], [1, 3, 4, 1], (b) => {
    b.node("Squeeze", ["x"], ["s"], { axes: [2] });
    b.node("Unsqueeze", ["s"], ["y"], { axes: [3] });
  }, 11],
  [
    "Softmax before opset 13 (2-D coercion)",
    [1, 2, 3],
    [1, 2, 3],
    (b) => b.node("Softmax", ["x"], ["y"], { axis: 1 }),
    11,
  ],
  [
    "Resize at opset 10 (X, scales)",
    [1, 2, 2, 2],
    [1, 2, 4, 4],
    (b) => b.node("Resize", ["x", b.constant([1, 1, 2, 2], [4])], ["y"], { mode: "nearest" }),
    10,
  ],
];

for (const [what, inShape, outShape, body, opset, fixed] of CASES) {
  Deno.test(`importOnnx op: ${what}`, async () => {
    await check(what, model(inShape, outShape, body, opset), inShape, 2, fixed ?? false);
  });
}

Deno.test("importOnnx op: attribute values oto cannot run name the attribute", async () => {
  const attrs = (op: string, a: Record<string, OnnxAttr>, ins = ["x"]) =>
    model([1, 2, 4, 4], [1, 2, 4, 4], (b) => b.node(op, ins, ["y"], a));
  const cases: [Uint8Array, RegExp][] = [
    [attrs("Pad", { mode: "reflect" }, ["x", "p"]), /attribute mode=reflect is not supported/],
    [attrs("Resize", { mode: "cubic" }), /attribute mode=cubic is not supported/],
    [
      attrs("AveragePool", { kernel_shape: [2, 2], dilations: [2, 2] }),
      /attribute dilations=\[2,2\]/,
    ],
    [attrs("Conv", { auto_pad: "WHATEVER" }, ["x", "w"]), /attribute auto_pad=WHATEVER/],
  ];
  for (const [bytes, re] of cases) {
    const m = onnxProto.onnx.ModelProto.decode(bytes);
    // Inputs the nodes read: pads [8] for Pad, scales for Resize, a weight for Conv.
    const g = m.graph!;
    const init = (name: string, dims: number[], data: number[], type = 1) =>
      g.initializer!.push(
        onnxProto.onnx.TensorProto.create({
          name,
          dims,
          dataType: type,
          ...(type === 7 ? { int64Data: data } : { floatData: data }),
        }),
      );
    if (g.node![0].opType === "Pad") init("p", [8], [0, 0, 1, 1, 0, 0, 1, 1], 7);
    if (g.node![0].opType === "Resize") {
      g.node![0].input = ["x", "", "s"];
      init("s", [4], [1, 1, 1, 1]);
    }
    if (g.node![0].opType === "Conv") init("w", [2, 2, 1, 1], [1, 0, 0, 1]);
    await assert.rejects(() => o.importOnnx(onnxProto.onnx.ModelProto.encode(m).finish()), re);
  }
});

Deno.test("importOnnx op: SAME max pooling of an even input is ceil mode, not a pad op", async () => {
  o.setDefaultBackend("cpu");
  const bytes = model(
    [1, 2, 8, 8],
    [1, 2, 4, 4],
    (b) =>
      b.node("MaxPool", ["x"], ["y"], {
        kernel_shape: [3, 3],
        strides: [2, 2],
        auto_pad: "SAME_UPPER",
      }),
  );
  await check("MaxPool SAME_UPPER", bytes, [1, 2, 8, 8], 2, false);
  const m = await o.importOnnx(bytes);
  const ops = o.trace(m, m.inputShape).nodes.map((n) => n.op);
  assert.deepEqual(ops, ["maxPool2d"]);
  assert.equal(o.trace(m, m.inputShape).nodes[0].attrs.ceilMode, true);
});

Deno.test("importOnnx op: channels through Elu, Selu and Celu stay prunable (zero stays zero)", async () => {
  o.setDefaultBackend("cpu");
  const bytes = model([1, 2, 5, 5], [1, 3, 5, 5], (b) => {
    b.node("Conv", ["x", w(b, "W1", [6, 2, 3, 3], 11)], ["c"], { pads: [1, 1, 1, 1] });
    b.node("Elu", ["c"], ["e"], { alpha: f(0.5) });
    b.node("Selu", ["e"], ["s"]);
    b.node("Celu", ["s"], ["u"], { alpha: f(2) });
    b.node("Conv", ["u", w(b, "W2", [3, 6, 1, 1], 12)], ["y"]);
  });
  await check("Elu/Selu/Celu between convs", bytes, [1, 2, 5, 5], 2, false);
  const m = await o.importOnnx(bytes);
  // The first conv's 6 channels (read by the second); the output's 3 are fixed.
  assert.equal(o.partitionCounts(o.partition(o.trace(m, m.inputShape))).prunableGroups, 6);
});
