/**
 * Host values of ONNX import (shape arithmetic and constants), against hand-computed NumPy/ONNX
 * results, and the host path of the operator imports (all inputs host values).
 */
import assert from "node:assert/strict";
import {
  broadcast,
  castHost,
  concatHost,
  expandHost,
  gatherHost,
  type HostValue,
  hostValue,
  mapBroadcast,
  reduceHost,
  reshapeShape,
  sliceHost,
  slicePlan,
  transposeHost,
} from "../src/onnx/values.ts";
import { MATH_OPS } from "../src/onnx/import/ops_math.ts";
import { SHAPE_OPS } from "../src/onnx/import/ops_shape.ts";
import type { OnnxAttribute, OnnxNode } from "../src/onnx/proto.ts";
import type { RunContext, Val } from "../src/onnx/import/types.ts";

const int = (data: number[], shape = [data.length]) => hostValue("int", shape, data);
const flt = (data: number[], shape = [data.length]) => hostValue("float", shape, data);
const vals = (v: HostValue) => Array.from(v.data);

Deno.test("host values: broadcast, gather, slice, concat, transpose, expand, reshape", () => {
  assert.deepEqual(broadcast("Add", [2, 1, 3], [4, 1]), [2, 4, 3]);
  assert.throws(() => broadcast("Add", [2, 3], [4]), /Add: shapes \[2,3\], \[4\] do not broadcast/);
  const sum = mapBroadcast(
    "Add",
    [int([1, 2, 3], [3, 1]), int([10, 20], [2])],
    "int",
    (a, b) => a + b,
  );
  assert.deepEqual(sum.shape, [3, 2]);
  assert.deepEqual(vals(sum), [11, 21, 12, 22, 13, 23]);
  const x = int([0, 1, 2, 3, 4, 5], [2, 3]);
  assert.deepEqual(vals(gatherHost(x, int([2, -3]), 1)), [2, 0, 5, 3]);
  assert.deepEqual(gatherHost(x, int([1], []), 0).shape, [3], "a scalar index drops the axis");
  assert.throws(() => gatherHost(x, int([3]), 1), /index 3 is outside an axis of 3/);
  // x[:, ::-2] and x[-1:, 1:INT64_MAX]
  assert.deepEqual(vals(sliceHost(x, slicePlan(x.shape, [-1], [-1e19], [1], [-2]))), [2, 0, 5, 3]);
  assert.deepEqual(vals(sliceHost(x, slicePlan(x.shape, [-1, 1], [2, 9.2e18], null, null))), [
    4,
    5,
  ]);
  assert.deepEqual(slicePlan([5], [7], [9], null, null).shape, [0], "start past the end: empty");
  assert.deepEqual(vals(concatHost([x, int([6, 7], [2, 1])], 1)), [0, 1, 2, 6, 3, 4, 5, 7]);
  assert.deepEqual(vals(transposeHost(x, [1, 0])), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(vals(expandHost(int([1, 2], [2, 1]), [2, 3])), [1, 1, 1, 2, 2, 2]);
  assert.deepEqual(reshapeShape([2, 3, 4], [0, -1]), [2, 12]);
  assert.deepEqual(reshapeShape([2, 3, 4], [0, 0, 2, 2]), [2, 3, 2, 2]);
  assert.deepEqual(reshapeShape([2, 0, 4], [0, -1]), [2, 0]);
  assert.deepEqual(reshapeShape([2, 3], [0, 3]), [2, 3], "0 copies the input's dim");
  assert.throws(() => reshapeShape([2, 3], [0, 3], true), /cannot reshape/, "allowzero: a real 0");
  assert.throws(() => reshapeShape([2, 3], [4, -1]), /cannot reshape \[2,3\]/);
  assert.throws(() => reshapeShape([2, 3], [-1, -1]), /invalid target/);
});

Deno.test("host values: reductions and casts", () => {
  const x = int([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(vals(reduceHost(x, [1], false, "prod")), [6, 120]);
  assert.deepEqual(vals(reduceHost(x, [0], true, "max")), [4, 5, 6]);
  assert.deepEqual(vals(reduceHost(x, [-1], false, "min")), [1, 4]);
  assert.deepEqual(vals(reduceHost(flt([1, 2, 3, 4], [2, 2]), [], false, "mean")), [2.5]);
  assert.deepEqual(reduceHost(x, [0, 1], true, "sum").shape, [1, 1]);
  assert.deepEqual(vals(castHost(flt([-1.7, 2.5, 0]), 7)), [-1, 2, 0], "float to int truncates");
  assert.deepEqual(vals(castHost(flt([-1.7, 0, 3]), 9)), [1, 0, 1]);
  assert.equal(castHost(int([3]), 1).kind, "float");
});

function node(op: string, attrs: Record<string, OnnxAttribute> = {}, outs = 1): OnnxNode {
  return {
    name: op,
    opType: op,
    domain: "",
    inputs: [],
    outputs: Array.from({ length: outs }, (_, i) => `o${i}`),
    attrs: new Map(Object.entries(attrs)),
  };
}

function run(table: typeof MATH_OPS, n: OnnxNode, ins: (Val | undefined)[], opset = 17) {
  const ctx: RunContext = {
    node: n,
    opset,
    training: false,
    tensor: () => {
      throw new Error("host operands only");
    },
    isParam: () => false,
  };
  return table[n.opType].run(ctx, ins) as HostValue[];
}

Deno.test("operator imports on host values: ONNX semantics", () => {
  const m = (op: string, ins: Val[], attrs: Record<string, OnnxAttribute> = {}) =>
    run(MATH_OPS, node(op, attrs), ins)[0];
  assert.deepEqual(vals(m("Div", [int([7, -7, 9]), int([2, 2, -4])])), [3, -3, -2], "truncating");
  assert.deepEqual(vals(m("Div", [flt([7]), flt([2])])), [3.5]);
  assert.deepEqual(vals(m("Sub", [int([5]), int([1, 2])])), [4, 3]);
  assert.deepEqual(vals(m("Max", [int([1, 5]), int([3, 2]), int([2])])), [3, 5], "variadic");
  assert.deepEqual(vals(m("Mean", [flt([1, 2]), flt([3, 6])])), [2, 4]);
  assert.deepEqual(vals(m("Pow", [flt([2, 3]), flt([3])])), [8, 27]);
  assert.deepEqual(vals(m("Floor", [flt([-1.5, 1.5])])), [-2, 1]);
  assert.deepEqual(vals(m("Ceil", [flt([-1.5, 1.5])])), [-1, 2]);
  assert.deepEqual(vals(m("Round", [flt([0.5, 1.5, 2.5, -0.5, 1.2])])), [0, 2, 2, -0, 1]);
  assert.deepEqual(vals(m("Equal", [int([1, 2]), int([2, 2])])), [0, 1]);
  assert.deepEqual(vals(m("Less", [int([1, 2]), int([2, 2])])), [1, 0]);
  assert.deepEqual(vals(m("GreaterOrEqual", [int([1, 2]), int([2, 2])])), [0, 1]);
  assert.deepEqual(vals(m("Not", [hostValue("bool", [2], [1, 0])])), [0, 1]);
  const t = hostValue("bool", [2], [1, 0]), f = hostValue("bool", [2], [1, 1]);
  assert.deepEqual(vals(m("And", [t, f])), [1, 0]);
  assert.deepEqual(vals(m("Or", [t, hostValue("bool", [2], [0, 0])])), [1, 0]);
  assert.deepEqual(vals(m("Where", [t, int([1, 2]), int([7])])), [1, 7]);
  assert.deepEqual(
    vals(
      m("ReduceSum", [int([1, 2, 3, 4], [2, 2]), int([1])], {
        keepdims: { type: "int", value: 0 },
      }),
    ),
    [3, 7],
  );
  assert.deepEqual(vals(m("Clip", [flt([-3, 0.5, 9]), flt([-1]), flt([1])])), [-1, 0.5, 1]);
  assert.deepEqual(vals(m("Cast", [flt([2.7])], { to: { type: "int", value: 7 } })), [2]);

  const s = (op: string, ins: Val[], attrs: Record<string, OnnxAttribute> = {}, outs = 1) =>
    run(SHAPE_OPS, node(op, attrs, outs), ins);
  const r = s("Range", [int([1], []), int([10], []), int([3], [])])[0];
  assert.deepEqual(vals(r), [1, 4, 7]);
  assert.deepEqual(vals(s("Range", [int([5], []), int([1], []), int([-2], [])])[0]), [5, 3]);
  assert.deepEqual(vals(s("Tile", [int([1, 2], [1, 2]), int([2, 2])])[0]), [
    1,
    2,
    1,
    2,
    1,
    2,
    1,
    2,
  ]);
  const c = s("ConstantOfShape", [int([2, 2])], { value: { type: "tensor", value: int([7]) } })[0];
  assert.deepEqual([c.shape, vals(c)], [[2, 2], [7, 7, 7, 7]]);
  const parts = s("Split", [int([1, 2, 3, 4, 5]), int([2, 3])], {}, 2);
  assert.deepEqual(parts.map(vals), [[1, 2], [3, 4, 5]]);
  const even = s("Split", [int([1, 2, 3, 4, 5])], {}, 3);
  assert.deepEqual(even.map(vals), [[1, 2], [3, 4], [5]], "ceil-sized parts, the last one short");
  const uns = s("Unsqueeze", [int([3, 4]), int([0, -1])])[0];
  assert.deepEqual(uns.shape, [1, 2, 1]);
  assert.deepEqual(s("Squeeze", [hostValue("int", [1, 2, 1], [3, 4])])[0].shape, [2]);
  const shape = s("Shape", [hostValue("float", [2, 3, 4], new Array(24).fill(0))], {
    start: { type: "int", value: 1 },
    end: { type: "int", value: -1 },
  })[0];
  assert.deepEqual([vals(shape), shape.fromShape], [[3], true]);
  assert.equal(s("Size", [hostValue("float", [2, 3], new Array(6).fill(0))])[0].data[0], 6);
});
