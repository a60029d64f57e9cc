/**
 * Cost of a traced graph from each op's `cost` facet: multiply-accumulates (conv, linear,
 * matmul) and all arithmetic operations, per node and in total, for the traced input (batch
 * included; the zoo traces batch 1).
 */
import { getOp } from "../ops/registry.ts";
import type { Graph } from "../graph/graph.ts";

/** Cost of one node. */
export interface NodeCost {
  /** Index of the node in the graph. */
  node: number;
  /** The op's name. */
  op: string;
  /** The module path of the layer it belongs to. */
  path: string;
  /** Multiply-accumulates per image. */
  macs: number;
  /** Arithmetic operations per image. */
  flops: number;
}

/** Totals of a graph. */
export interface GraphCost {
  /** Trainable scalars of the model (each tensor once). */
  params: number;
  /** Multiply-accumulates of conv/linear/matmul ops. */
  macs: number;
  /** All arithmetic operations (2 per MAC plus elementwise work). */
  flops: number;
  /** The cost of every node, in graph order. */
  nodes: NodeCost[];
  /** Ops without a `cost` facet (counted as 0). */
  uncosted: string[];
}

/**
 * MACs and FLOPs of every node of `graph`.
 *
 * @example
 * ```ts
 * import { graphCost, init, trace, zoo } from "../../mod.ts";
 * await init();
 * const { params, macs } = graphCost(trace(zoo["small-cnn"].build(), [1, 1, 28, 28]));
 * console.log(params, macs); // 20538 1031744
 * ```
 */
export function graphCost(graph: Graph): GraphCost {
  let macs = 0, flops = 0;
  const uncosted = new Set<string>();
  const nodes = graph.nodes.map((n) => {
    const op = getOp(n.op);
    const info = {
      ins: n.inputs.map((t) => graph.tensors[t]),
      outs: n.outputs.map((t) => graph.tensors[t]),
    };
    const c = op.cost
      ? op.cost(info, n.attrs as never)
      : (uncosted.add(n.op), { macs: 0, flops: 0 });
    macs += c.macs;
    flops += c.flops;
    return { node: n.id, op: n.op, path: n.path, macs: c.macs, flops: c.flops };
  });
  return { params: graph.numParameters(), macs, flops, nodes, uncosted: [...uncosted] };
}
