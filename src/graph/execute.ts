/**
 * Run a traced graph: every node is re-applied through the op interpreter (`apply`), under its
 * module path, on the input's backend. Parameters come from a name -> tensor map, so the same
 * graph runs the original weights, sliced (compressed) weights or a checkpoint.
 */
import { apply, getOp, withPath } from "../ops/registry.ts";
import { sameShape } from "../ops/util.ts";
import { fromHost, type Tensor } from "../tensor.ts";
import { rngFor } from "../random.ts";
import type { Graph, GraphNode } from "./graph.ts";
import { attrsAtBatch, extraSamples, shapeAtBatch } from "./batch.ts";

/** Options of {@link executeGraph}. */
export interface ExecuteOptions {
  /** Attribute overrides by node id (compression passes its updated attributes this way). */
  attrs?: ReadonlyMap<number, Record<string, unknown>>;
  /** Draw a new `seed` attribute (dropout masks) from the global generator for every run. */
  freshSeeds?: boolean;
}

/**
 * Execute `graph` on `input` with parameters and buffers from `params` (looked up by each
 * tensor's path or one of its aliases) and return the first output. The batch size may differ
 * from the traced one: reshape and expand targets follow the actual input shapes.
 *
 * @example
 * ```ts
 * import { executeGraph, init, randn, trace, zoo } from "../../mod.ts";
 * await init();
 * const model = zoo["small-cnn"].build().eval();
 * const g = trace(model, [1, 1, 28, 28]);
 * const x = randn([4, 1, 28, 28], { seed: 0 }); // any batch size
 * const y = executeGraph(g, model.stateDict(), x); // same values as model.call(x)
 * ```
 */
export function executeGraph(
  graph: Graph,
  params: ReadonlyMap<string, Tensor>,
  input: Tensor | readonly Tensor[],
  opts: ExecuteOptions = {},
): Tensor {
  return executeGraphAll(graph, params, input, opts)[0];
}

/** {@link executeGraph} returning every graph output. */
export function executeGraphAll(
  graph: Graph,
  params: ReadonlyMap<string, Tensor>,
  input: Tensor | readonly Tensor[],
  opts: ExecuteOptions = {},
): Tensor[] {
  const xs = Array.isArray(input) ? input as readonly Tensor[] : [input as Tensor];
  if (xs.length !== graph.inputs.length) {
    throw new Error(
      `executeGraph: the graph takes ${graph.inputs.length} input(s), got ${xs.length}`,
    );
  }
  const backend = xs[0].backend;
  const values = new Map<number, Tensor>();
  graph.inputs.forEach((t, i) => values.set(t, xs[i]));
  const value = (id: number, n: GraphNode): Tensor => {
    const v = values.get(id);
    if (v) return v;
    const t = graph.tensors[id];
    if (t.kind === "param" || t.kind === "buffer") {
      const gp = graph.param(t.name!)!;
      const p = params.get(gp.name) ?? gp.aliases.map((a) => params.get(a)).find((x) => x);
      if (!p) {
        throw new Error(
          `executeGraph: ${t.kind === "param" ? "parameter" : "buffer"} "${t.name}" is missing ` +
            `from the parameters (op ${n.op}, ` +
            `layer ${n.path || "<root>"})`,
        );
      }
      values.set(id, p);
      return p;
    }
    if (t.kind === "constant") {
      const c = graph.constants.get(id);
      if (!c) throw new Error(`executeGraph: constant %${id} has no captured value`);
      let v = c;
      if (c.backend !== backend && backend !== "meta") {
        if (c.backend !== "cpu" && c.backend !== "wasm") {
          throw new Error(
            `executeGraph: constant %${id} [${c.shape}] lives on ${c.backend}; run the graph ` +
              `on ${c.backend} or trace with constants on the cpu`,
          );
        }
        v = fromHost(c.hostData(), c.shape, c.dtype, backend);
      }
      values.set(id, v);
      return v;
    }
    throw new Error(`executeGraph: tensor %${id} is used by ${n.op} before it is produced`);
  };
  // Samples more than traced: shape attributes are evaluated at the actual batch size.
  const extra = extraSamples(graph.inputs.map((t) => graph.tensors[t]), xs) ?? 0;
  const shapeOf = (t: number) => shapeAtBatch(graph.tensors[t], extra);
  for (const n of graph.nodes) {
    const ins = followFills(graph, n, n.inputs.map((id) => value(id, n)), backend, shapeOf);
    let attrs = opts.attrs?.get(n.id) ?? n.attrs;
    attrs = attrsAtBatch(attrs, n.batchDelta, extra);
    attrs = adaptShapeAttrs(graph, n, attrs, ins, shapeOf);
    if (opts.freshSeeds && typeof attrs.seed === "number") {
      attrs = { ...attrs, seed: rngFor().nextU32() };
    }
    const op = getOp(n.op);
    // Creation ops (no inputs) run on the input's backend; others where their inputs live, so
    // a node that reads parameters only (a reshaped PReLU slope) runs for real in a shape-only
    // trace, where the backend would be "meta" but its inputs are not.
    const at = ins.length ? undefined : backend;
    const outs = withPath(n.path, () => apply(op, ins, attrs as never, at));
    n.outputs.forEach((t, i) => values.set(t, outs[i]));
  }
  return graph.outputs.map((t) => {
    const v = values.get(t);
    if (v) return v;
    return value(t, graph.nodes[graph.nodes.length - 1]);
  });
}

/** Shape-carrying attributes follow the actual inputs (another batch size): the op's facet. */
function adaptShapeAttrs(
  graph: Graph,
  n: GraphNode,
  attrs: Record<string, unknown>,
  ins: readonly Tensor[],
  shapeOf: (t: number) => readonly number[],
): Record<string, unknown> {
  const op = getOp(n.op);
  if (!op.follow) return attrs;
  const traced = n.inputs.map((t) => ({ ...graph.tensors[t], shape: shapeOf(t) }));
  if (traced.every((t, i) => sameShape(t.shape, ins[i].shape))) return attrs;
  const outs = n.outputs.map((t) => ({ ...graph.tensors[t], shape: shapeOf(t) }));
  const info = { ins: traced, outs };
  try {
    return op.follow(attrs as never, info, ins) as Record<string, unknown>;
  } catch (e) {
    throw new Error(
      `executeGraph: ${n.op} (layer ${n.path || "<root>"}) traced on ` +
        `${traced.map((t) => `[${t.shape}]`).join(", ")} cannot follow inputs ` +
        `${ins.map((t) => `[${t.shape}]`).join(", ")}: ${(e as Error).message}`,
    );
  }
}

/**
 * A `fill` constant made in forward from the input's size (`zeros([x.shape[0], C])`) was traced
 * with that size: when an op reads it beside a tensor whose axes changed (another batch), the
 * fill's axes that matched that tensor's follow it.
 */
function followFills(
  graph: Graph,
  n: GraphNode,
  ins: Tensor[],
  backend: Tensor["backend"],
  shapeOf: (t: number) => readonly number[],
): Tensor[] {
  const fills = n.inputs.flatMap((t, i) => (graph.producer(t)?.op === "fill" ? [i] : []));
  if (!fills.length) return ins;
  const moved = n.inputs.findIndex((t, i) =>
    !fills.includes(i) && !sameShape(shapeOf(t), ins[i].shape)
  );
  if (moved < 0) return ins;
  const old = shapeOf(n.inputs[moved]), now = ins[moved].shape;
  return ins.map((x, i) => {
    if (!fills.includes(i)) return x;
    const traced = shapeOf(n.inputs[i]);
    const d = old.length - traced.length;
    const shape = traced.map((s, k) => (k + d >= 0 && s === old[k + d] ? now[k + d] : s));
    if (sameShape(shape, x.shape)) return x;
    const f = graph.producer(n.inputs[i])!;
    return apply(getOp("fill"), [], { ...f.attrs, shape } as never, backend)[0];
  });
}
