/**
 * The compact architecture with fresh weights: the control of "Rethinking the Value of Network
 * Pruning" (Liu et al., ICLR 2019). Training it from scratch with the same schedule tells how much
 * of a pruned model's accuracy comes from the pruning run and how much from its shape alone.
 *
 * Conv, transposed-conv and linear layers are drawn again for the compact shapes by the full
 * model's {@link Module.initLayer}: as their constructors draw them (PyTorch's
 * `reset_parameters`) unless the model initialises its own way (CARN's residual init). Every
 * other parameter and buffer takes what a freshly built full model holds: as it is where
 * compression left its shape alone (an input mean shift), else its one constant value (norm
 * scales and shifts, running statistics, PReLU slopes), and an error when it has several.
 * @module
 */
import type { Module } from "../nn/module.ts";
import { fill } from "../ops/fill.ts";
import { sameShape } from "../ops/util.ts";
import { Rng } from "../random.ts";
import { fromHost, type Tensor } from "../tensor.ts";
import { GraphModule } from "./graph_module.ts";

/** Ops whose weight (and bias) are drawn by the model's `initLayer`. */
const LAYER_OPS = new Set(["conv2d", "convTranspose2d", "linear"]);

/**
 * A copy of the compact model `small` (from {@link compress}) with freshly initialised weights.
 * `fresh` is the full model as its builder returns it, untrained (it supplies the constant
 * initial values of norms and buffers); `seed` seeds the random draws.
 *
 * @example
 * ```ts
 * import { compress, init, reinitialized, zoo } from "../../mod.ts";
 * await init();
 * const model = zoo["small-cnn"].build({ seed: 0 });
 * const { model: small } = await compress(model, undefined, undefined, { input: [1, 1, 28, 28] });
 * const scratch = await reinitialized(small, zoo["small-cnn"].build({ seed: 0 }), { seed: 1 });
 * // train `scratch` with the same schedule and compare it with the pruned model
 * ```
 */
export async function reinitialized(
  small: GraphModule,
  fresh: Module,
  opts: { seed?: number } = {},
): Promise<GraphModule> {
  const rng = new Rng(opts.seed ?? 0);
  const graph = small.trainGraph ?? small.graph;
  const freshState = fresh.stateDict();
  const state = new Map<string, Tensor>();
  const made: Tensor[] = [];
  const put = (name: string, t: Tensor) => {
    state.set(name, t);
    made.push(t);
  };
  try {
    // Graph order, so the draws are the same on every run; a shared layer is drawn once.
    for (const node of graph.nodes) {
      if (!LAYER_OPS.has(node.op)) continue;
      const w = node.params.find((p) => p.role === "weight");
      if (!w || state.has(w.name)) continue;
      const b = node.params.find((p) => p.role === "bias");
      const shape = graph.tensors[node.inputs[w.input]].shape;
      const biasSize = b ? graph.tensors[node.inputs[b.input]].shape[0] : 0;
      const path = w.name.replace(/\.weight$/, "");
      const { weight, bias } = fresh.initLayer(path, shape, biasSize, { rng });
      put(w.name, weight);
      if (b && bias) put(b.name, bias);
    }
    for (const p of graph.params) {
      if (state.has(p.name)) continue;
      const f = freshState.get(p.name) ?? p.aliases.map((a) => freshState.get(a)).find((t) => t);
      if (!f) throw new Error(`reinitialized: the fresh model has no "${p.name}"`);
      const v = await f.data();
      if (sameShape(f.shape, p.shape)) {
        // Not narrowed by compression (the input's mean shift, a first norm's statistics):
        // exactly what the fresh model holds.
        put(p.name, fromHost(v.slice(), p.shape, p.dtype, f.backend));
        continue;
      }
      if (v.length > 0 && v.some((x) => !Object.is(x, v[0]))) {
        throw new Error(
          `reinitialized: cannot re-draw "${p.name}" [${p.shape}]: it is not the weight of a ` +
            `conv or linear layer and its initial value is not one constant`,
        );
      }
      put(p.name, fill(p.shape, v.length ? v[0] : 0, f.backend, p.dtype));
    }
    return new GraphModule(small.graph, state, { trainGraph: small.trainGraph });
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  }
}
