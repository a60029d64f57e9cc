/**
 * Cascaded (nested) channel concats on hand-built graphs (Torch-Pruning's cascaded-concat test
 * idea): every concat shifts its operands' channels by the channels before them, through any
 * depth of nesting and for an operand used twice. The expected slices are derived by hand in
 * the comments, independently of src/zig; the graphs are plain objects, so no tracing, module
 * or kernel is involved.
 */
import assert from "node:assert/strict";
import { Graph, type GraphNode, type GraphParam, type GraphTensor } from "../src/graph/graph.ts";
import { partition } from "../src/zig/partition.ts";
import "../src/ops/index.ts";
import type { Partition, Zig } from "../src/zig/types.ts";

const HW = 4;

/** A tiny graph builder: NCHW activations [1, C, 4, 4], 1x1 convs, batch norms, concats. */
class Builder {
  tensors: GraphTensor[] = [];
  nodes: GraphNode[] = [];
  params: GraphParam[] = [];
  inputs: number[] = [];

  private tensor(shape: number[], kind: GraphTensor["kind"], name?: string): number {
    const id = this.tensors.length;
    this.tensors.push({ id, shape, dtype: "f32", kind, ...(name ? { name } : {}) });
    if (kind === "param" || kind === "buffer") {
      this.params.push({
        name: name!,
        aliases: [],
        shape,
        dtype: "f32",
        trainable: kind === "param",
        tensor: id,
      });
    }
    return id;
  }

  input(c: number): number {
    const t = this.tensor([1, c, HW, HW], "input");
    this.inputs.push(t);
    return t;
  }

  private node(
    op: string,
    path: string,
    inputs: number[],
    c: number,
    attrs: Record<string, unknown>,
    roles: [string, string][] = [],
  ): number {
    const out = this.tensor([1, c, HW, HW], "activation");
    const params = roles.map(([role], k) => {
      const t = this.tensors[inputs[k + 1]];
      return { input: k + 1, name: t.name!, role, trainable: t.kind === "param" };
    });
    this.nodes.push({ id: this.nodes.length, op, attrs, path, inputs, outputs: [out], params });
    return out;
  }

  conv(name: string, x: number, cout: number): number {
    const cin = this.tensors[x].shape[1];
    const w = this.tensor([cout, cin, 1, 1], "param", `${name}.weight`);
    const b = this.tensor([cout], "param", `${name}.bias`);
    const attrs = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
    return this.node("conv2d", name, [x, w, b], cout, attrs, [["weight", ""], ["bias", ""]]);
  }

  batchNorm(name: string, x: number): number {
    const c = this.tensors[x].shape[1];
    const ins = [
      this.tensor([c], "param", `${name}.weight`),
      this.tensor([c], "param", `${name}.bias`),
      this.tensor([c], "buffer", `${name}.running_mean`),
      this.tensor([c], "buffer", `${name}.running_var`),
    ];
    const roles: [string, string][] = [
      ["gamma", ""],
      ["beta", ""],
      ["runningMean", ""],
      ["runningVar", ""],
    ];
    const attrs = { training: false, momentum: 0.1, eps: 1e-5 };
    return this.node("batchNorm", name, [x, ...ins], c, attrs, roles);
  }

  relu(x: number): number {
    const attrs = { alpha: 0, beta: 0 };
    return this.node("relu", "", [x], this.tensors[x].shape[1], attrs);
  }

  concat(xs: number[]): number {
    const c = xs.reduce((s, x) => s + this.tensors[x].shape[1], 0);
    return this.node("concat", "", xs, c, { axis: 1 });
  }

  graph(outputs: number[]): Graph {
    return new Graph({
      nodes: this.nodes,
      tensors: this.tensors,
      inputs: this.inputs,
      outputs,
      params: this.params,
    });
  }
}

/** `param@axis+offset/block` of every slice, sorted. */
function slices(list: Zig["members"]): string[] {
  return list.map((s) => `${s.param}@${s.axis}+${s.offset}/${s.block}`).sort();
}

function zigOf(part: Partition, param: string): Zig {
  const z = part.zigs.find((z) => z.members.some((m) => m.param === param && m.axis === 0));
  assert.ok(z, `no ZIG has ${param} rows`);
  return z;
}

/** The members a 1x1 conv `name` owns plus the BatchNorm `bn` entries at `offsets`. */
function expected(name: string, bn: string, offsets: number[]): string[] {
  return [
    `${name}.weight@0+0/1`,
    `${name}.bias@0+0/1`,
    ...offsets.flatMap((o) =>
      ["weight", "bias", "running_mean", "running_var"].map((p) => `${bn}.${p}@0+${o}/1`)
    ),
  ].sort();
}

Deno.test("cascaded concats: offsets accumulate through every level, in operand order", () => {
  const g = new Builder();
  const x = g.input(3);
  const a = g.relu(g.conv("a", x, 4)); // 4 channels
  const b = g.relu(g.conv("b", x, 3)); // 3 channels
  const c = g.relu(g.conv("c", x, 2)); // 2 channels
  const c1 = g.concat([a, b]); // [a 0..3 | b 4..6]                     (7)
  const c2 = g.concat([c, c1]); // [c 0..1 | a 2..5 | b 6..8]           (9)
  const c3 = g.concat([c2, g.relu(g.conv("d", x, 5))]); // [c 0..1 | a 2..5 | b 6..8 | d 9..13] (14)
  const y = g.conv("out", g.relu(g.batchNorm("bn", c3)), 2);
  const part = partition(g.graph([y]));

  const za = zigOf(part, "a.weight"), zb = zigOf(part, "b.weight");
  const zc = zigOf(part, "c.weight"), zd = zigOf(part, "d.weight");
  assert.deepEqual([za.size, zb.size, zc.size, zd.size], [4, 3, 2, 5]);
  for (const z of [za, zb, zc, zd]) assert.ok(z.prunable, `ZIG ${z.id}: ${z.reason}`);
  assert.deepEqual(slices(za.members), expected("a", "bn", [2]));
  assert.deepEqual(slices(zb.members), expected("b", "bn", [6]));
  assert.deepEqual(slices(zc.members), expected("c", "bn", [0]));
  assert.deepEqual(slices(zd.members), expected("d", "bn", [9]));
  assert.deepEqual(slices(za.consumers), ["out.weight@1+2/1"]);
  assert.deepEqual(slices(zb.consumers), ["out.weight@1+6/1"]);
  assert.deepEqual(slices(zc.consumers), ["out.weight@1+0/1"]);
  assert.deepEqual(slices(zd.consumers), ["out.weight@1+9/1"]);
  // The output conv feeds the model output: its channels stay.
  assert.ok(!zigOf(part, "out.weight").prunable);
});

Deno.test("cascaded concats: an operand used at two depths gets one slice per use", () => {
  const g = new Builder();
  const x = g.input(3);
  const a = g.relu(g.conv("a", x, 4)); // 4 channels
  const b = g.relu(g.conv("b", x, 3)); // 3 channels
  const c1 = g.concat([a, b]); // [a 0..3 | b 4..6]                                (7)
  const e = g.relu(g.conv("e", c1, 2)); // consumes c1: e.weight columns a@0, b@4  (2)
  const c2 = g.concat([e, c1, a]); // [e 0..1 | a 2..5 | b 6..8 | a 9..12]          (13)
  const y = g.conv("out", g.relu(g.batchNorm("bn", c2)), 2);
  const part = partition(g.graph([y]));

  const za = zigOf(part, "a.weight"), zb = zigOf(part, "b.weight"), ze = zigOf(part, "e.weight");
  assert.deepEqual(slices(za.members), expected("a", "bn", [2, 9]));
  assert.deepEqual(slices(zb.members), expected("b", "bn", [6]));
  assert.deepEqual(slices(ze.members), expected("e", "bn", [0]));
  assert.deepEqual(slices(za.consumers), [
    "e.weight@1+0/1",
    "out.weight@1+2/1",
    "out.weight@1+9/1",
  ]);
  assert.deepEqual(slices(zb.consumers), ["e.weight@1+4/1", "out.weight@1+6/1"]);
  assert.deepEqual(slices(ze.consumers), ["out.weight@1+0/1"]);
});
