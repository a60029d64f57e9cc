/**
 * `GraphModule`: a Module that owns parameters and buffers under their original paths and runs
 * a traced graph. Compression returns one (the compact model); it trains, saves, loads and
 * traces like any other model.
 */
import { Module, type ModuleOutput } from "../nn/module.ts";
import type { Tensor } from "../tensor.ts";
import { type Graph, packOutput } from "../graph/graph.ts";
import { executeGraphAll } from "../graph/execute.ts";

/** A plain container for the parameters of one path prefix. */
class ParamContainer extends Module {
  forward(): Tensor {
    throw new Error(`module ${this.name}: part of a GraphModule; call the GraphModule instead`);
  }
}

/** Options of {@link GraphModule}. */
export interface GraphModuleOptions {
  /** The same model traced in train mode (batch statistics, dropout): used when training. */
  trainGraph?: Graph;
}

/**
 * Runs `graph` (eval mode) or `trainGraph` (train mode) with its own parameters.
 *
 * @example
 * ```ts
 * import { compress, init, randn, zoo } from "../../mod.ts";
 * await init();
 * const model = zoo["small-cnn"].build();
 * const { model: small } = await compress(model, undefined, undefined, { input: [1, 1, 28, 28] });
 * const x = randn([2, 1, 28, 28], { seed: 0 });
 * const y = small.call(x); // [2, 10]: model.eval().call(x) on the compact graph
 * ```
 */
export class GraphModule<O extends ModuleOutput = Tensor> extends Module<O> {
  /** The eval-mode graph it runs. */
  readonly graph: Graph;
  /** The train-mode graph (batch statistics, dropout), when there is one. */
  readonly trainGraph?: Graph;

  /**
   * `state` holds every parameter and buffer by path; tensors become owned by this module.
   * Without a train graph the module starts (and must stay) in eval mode.
   */
  constructor(graph: Graph, state: ReadonlyMap<string, Tensor>, opts: GraphModuleOptions = {}) {
    super();
    this.graph = graph;
    this.trainGraph = opts.trainGraph;
    for (const p of graph.params) {
      const t = state.get(p.name) ?? p.aliases.map((a) => state.get(a)).find((x) => x);
      if (!t) {
        throw new Error(
          `GraphModule: no tensor for ${p.trainable ? "parameter" : "buffer"} "${p.name}"`,
        );
      }
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(
          `GraphModule: "${p.name}" has shape [${t.shape}], the graph expects [${p.shape}]`,
        );
      }
      for (const name of [p.name, ...p.aliases]) this.register(name, t, p.trainable);
    }
    if (!this.trainGraph) this.eval();
  }

  /** Register `t` as a parameter or buffer under its dotted path, creating containers. */
  private register(path: string, t: Tensor, trainable: boolean): void {
    const parts = path.split(".");
    const leaf = parts.pop()!;
    const m = parts.reduce<Module<ModuleOutput>>(
      (parent, p) =>
        parent.children().find(([n]) => n === p)?.[1] ?? parent.module(p, new ParamContainer()),
      this,
    );
    if (trainable) m.param(leaf, t);
    else m.buffer(leaf, t);
  }

  /**
   * The graph's outputs, structured as the traced model returned them: the train-mode graph in
   * train mode (an error without one), the eval graph otherwise.
   */
  forward(...xs: Tensor[]): O {
    if (this.training && !this.trainGraph) {
      throw new Error(
        "GraphModule: this model was traced in eval mode only; call .eval() first, or compress " +
          "the original Module (which also traces train mode) to fine-tune it",
      );
    }
    const g = this.training && this.trainGraph ? this.trainGraph : this.graph;
    const outs = executeGraphAll(g, this.stateDict(), xs, { freshSeeds: this.training });
    return packOutput(outs, g.outputKind, g.outputNames) as unknown as O;
  }
}
