/**
 * `OTO`: the whole Only-Train-Once pipeline behind one object, as OTOv2's `OTO(model, dummy_input)`.
 *
 * 1. `await OTO.create(model, inputShape)` traces the model (shape-only, nothing is computed)
 *    and partitions it into Zero-Invariant Groups;
 * 2. `oto.dhspg({...})` makes the DHSPG optimizer over the model's parameters and that
 *    partition; train with it as with any optimizer;
 * 3. `await oto.compress()` removes the groups DHSPG drove to zero and returns the compact model
 *    (same outputs) with parameter and FLOP counts before and after;
 * 4. `exportOnnx(model, path, inputShape)` writes the full or the compact model as ONNX.
 *
 * @example
 * ```ts
 * import { backward, crossEntropyLoss, DataLoader, init, OTO, tidy } from "../mod.ts";
 * import { loadSample } from "./data/idx.ts";
 * import { zoo } from "./zoo/index.ts";
 * await init();
 * const model = zoo["small-cnn"].build({ seed: 0 });
 * const oto = await OTO.create(model, [1, 1, 28, 28]);
 * console.log(oto.zigs.report);
 * const opt = oto.dhspg({ lr: 0.05, targetGroupSparsity: 0.5, startPruningStep: 20, epsilon: 0.95 });
 * const loader = new DataLoader(await loadSample("train"), { batchSize: 64, shuffle: true });
 * for await (const { x, y } of loader) {
 *   tidy(() => backward(crossEntropyLoss(model.call(x), y)));
 *   opt.step();
 *   opt.zeroGrad();
 * }
 * const { model: small, report } = await oto.compress();
 * console.log(report.paramsBefore, "->", report.paramsAfter, "parameters");
 * ```
 * @module
 */
import type { AnyModule, Module, ModuleOutput } from "./nn/module.ts";
import type { Tensor } from "./tensor.ts";
import type { Graph } from "./graph/graph.ts";
import { type SampleInputs, sampleShapes, trace } from "./graph/trace.ts";
import { renderSvg, toDot } from "./zig/dot.ts";
import { type Analysis, analyze } from "./zig/partition.ts";
import { formatPartition, partitionCounts, partitionJson } from "./zig/report.ts";
import type { Partition, Zig } from "./zig/types.ts";
import { DHSPG, type DHSPGOptions } from "./optim/dhspg.ts";
import { compress, type CompressResult } from "./compress/compress.ts";
import { type GraphCost, graphCost } from "./compress/flops.ts";
import { writeTextAtomic } from "./io/atomic.ts";
import { exportOnnx, type OnnxExportInfo } from "./onnx/export.ts";

/** Options of {@link OTO.create}. */
export interface OtoOptions {
  /** Kept channel counts become multiples of this (OTOv2 `group_divisible`, default 1). */
  groupDivisible?: number;
  /** Name shown in reports (default the model's class name). */
  name?: string;
}

/** The ZIG partition with its reports (what {@link OTO.zigs} returns). */
export interface ZigSummary {
  /** The partition DHSPG and compression use. */
  partition: Partition;
  /** Every channel space, prunable or not (with the reason when not). */
  list: readonly Zig[];
  /** Channel spaces, prunable ZIG families and prunable groups (channels). */
  counts: { zigs: number; prunableZigs: number; prunableGroups: number };
  /** Human-readable report: totals, then one line per ZIG with its layers. */
  report: string;
  /** The same as a JSON-ready object. */
  json: Record<string, unknown>;
}

/** What {@link OTO.compress} returns: the compact model and the size/cost comparison. */
export interface OtoCompressed<O extends ModuleOutput = Tensor> extends CompressResult<O> {
  /** Cost of the compact model for the traced input (batch 1 unless traced otherwise). */
  cost: GraphCost;
}

/**
 * The Only-Train-Once pipeline for one model. Create with {@link OTO.create}.
 */
export class OTO<O extends ModuleOutput = Tensor> {
  /** The model being trained (its parameters are the ones DHSPG updates). */
  readonly model: Module<O>;
  /** Input shape the model was traced with (batch included); the first of {@link inputShapes}. */
  readonly inputShape: number[];
  /** Every input's shape (one per `forward` argument). */
  readonly inputShapes: number[][];
  /** The traced op graph (eval mode). */
  readonly graph: Graph;
  /** The ZIG partition and the channel spaces of every tensor. */
  readonly analysis: Analysis;
  /** Parameters, MACs and FLOPs of the full model for {@link inputShape}. */
  readonly cost: GraphCost;
  /** Name used in reports. */
  readonly name: string;

  private constructor(
    model: Module<O>,
    inputShapes: number[][],
    graph: Graph,
    an: Analysis,
    name: string,
  ) {
    this.model = model;
    this.inputShapes = inputShapes;
    this.inputShape = inputShapes[0];
    this.graph = graph;
    this.analysis = an;
    this.cost = graphCost(graph);
    this.name = name;
  }

  /**
   * Trace `model` on a sample input (a shape such as `[1, 3, 32, 32]`, or a tensor whose shape
   * is used; nothing is computed) and partition it into Zero-Invariant Groups. A model with
   * several inputs takes one sample per input (`[[1, 3, 32, 32], [1, 10]]`); its outputs (a
   * tensor, an array or a record) are all kept.
   *
   * @example
   * ```ts
   * import { OTO } from "../mod.ts";
   * import { zoo } from "./zoo/index.ts";
   * const oto = await OTO.create(zoo["resnet18"].build(), [1, 3, 32, 32]);
   * console.log(oto.zigs.counts); // { zigs, prunableZigs, prunableGroups }
   * ```
   */
  static create<O extends ModuleOutput = Tensor>(
    model: Module<O>,
    sampleInput: SampleInputs,
    opts: OtoOptions = {},
  ): Promise<OTO<O>> {
    try {
      const shapes = sampleShapes(sampleInput);
      for (const shape of shapes) {
        if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
          throw new Error(
            `OTO.create: the sample input shape must be positive integers, got [${shape}]`,
          );
        }
      }
      const graph = trace(model, shapes);
      const an = analyze(graph, { groupDivisible: opts.groupDivisible });
      return Promise.resolve(
        new OTO(model, shapes, graph, an, opts.name ?? model.constructor.name),
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The ZIG partition DHSPG and compression use. */
  get partition(): Partition {
    return this.analysis.partition;
  }

  /**
   * The partition with its reports.
   *
   * @example
   * ```ts
   * import { init, OTO } from "../mod.ts";
   * import { zoo } from "./zoo/index.ts";
   * await init();
   * const oto = await OTO.create(zoo["small-cnn"].build({ seed: 0 }), [1, 1, 28, 28]);
   * console.log(oto.zigs.report);
   * for (const z of oto.zigs.list) if (z.prunable) console.log(z.id, z.size, z.layers);
   * ```
   */
  get zigs(): ZigSummary {
    const p = this.partition;
    const totals = {
      model: this.name,
      params: this.cost.params,
      macs: this.cost.macs,
      flops: this.cost.flops,
    };
    const shapes = new Map(this.graph.params.map((q) => [q.name, q.shape] as const));
    return {
      partition: p,
      list: p.zigs,
      counts: partitionCounts(p),
      report: formatPartition(p, totals, shapes),
      json: partitionJson(p, totals),
    };
  }

  /**
   * A DHSPG optimizer over the model's trainable parameters and this partition. Options as
   * {@link DHSPGOptions} (defaults from OTOv2: sgd, lr 0.1, target group sparsity 0.5).
   *
   * @example
   * ```ts
   * import { init, OTO } from "../mod.ts";
   * import { zoo } from "./zoo/index.ts";
   * await init();
   * const oto = await OTO.create(zoo["small-cnn"].build({ seed: 0 }), [1, 1, 28, 28]);
   * const opt = oto.dhspg({ variant: "adam", lr: 1e-3, targetGroupSparsity: 0.6 });
   * // ... training loop: forward, backward, opt.step(), opt.zeroGrad() ...
   * console.log(await opt.stats());
   * ```
   */
  dhspg(opts: DHSPGOptions = {}): DHSPG {
    return new DHSPG(this.model.namedParameters(), this.partition, {
      buffers: this.model.namedBuffers(),
      ...opts,
    });
  }

  /**
   * Remove the zero groups of the model's current weights: returns the compact model (a
   * `GraphModule` in eval mode that computes the same outputs; it can also be trained further),
   * the kept channels of every ZIG and parameters/MACs/FLOPs before and after.
   *
   * @example
   * ```ts
   * import { init, OTO, zeroRandomGroups } from "../mod.ts";
   * import { zoo } from "./zoo/index.ts";
   * await init();
   * const oto = await OTO.create(zoo["small-cnn"].build({ seed: 0 }), [1, 1, 28, 28]);
   * await zeroRandomGroups(oto.model.stateDict(), oto.partition); // what DHSPG does, in training
   * const { model: small, report } = await oto.compress();
   * console.log(`${report.paramsBefore} -> ${report.paramsAfter} params`, small.numParameters());
   * ```
   */
  async compress(): Promise<OtoCompressed<O>> {
    const r = await compress(this.model, undefined, this.partition, { input: this.inputShapes });
    return { ...r, cost: graphCost(r.graph) };
  }

  /**
   * The traced graph coloured by ZIG as Graphviz DOT, and as SVG when Graphviz `dot` is
   * installed (null otherwise). With `path`, writes `<path>.dot` and, when available,
   * `<path>.svg` (a `.dot`/`.svg` extension on `path` is replaced).
   *
   * @example
   * ```ts
   * import { init, OTO } from "../mod.ts";
   * import { zoo } from "./zoo/index.ts";
   * await init();
   * const oto = await OTO.create(zoo["small-cnn"].build({ seed: 0 }), [1, 1, 28, 28]);
   * const { dot, svg } = await oto.visualize("small-cnn"); // small-cnn.dot (+ .svg)
   * console.log(dot.length, svg === null ? "install Graphviz for SVG" : "SVG written");
   * ```
   */
  async visualize(path?: string): Promise<{ dot: string; svg: string | null }> {
    const dot = toDot(this.graph, this.analysis);
    const svg = await renderSvg(dot);
    if (path !== undefined) {
      const base = path.replace(/\.(dot|svg)$/, "");
      await writeTextAtomic(`${base}.dot`, dot);
      if (svg !== null) await writeTextAtomic(`${base}.svg`, svg);
    }
    return { dot, svg };
  }

  /**
   * Write the full model (`compressed` omitted) or a compact model returned by
   * {@link compress} as ONNX, for this OTO's input shape.
   *
   * @example
   * ```ts
   * import { init, OTO } from "../mod.ts";
   * import { zoo } from "./zoo/index.ts";
   * await init();
   * const oto = await OTO.create(zoo["small-cnn"].build({ seed: 0 }), [1, 1, 28, 28]);
   * await oto.exportOnnx("full.onnx");
   * await oto.exportOnnx("compressed.onnx", (await oto.compress()).model);
   * ```
   */
  exportOnnx(path: string, model: AnyModule = this.model): Promise<OnnxExportInfo> {
    return exportOnnx(model, path, this.inputShapes);
  }
}
