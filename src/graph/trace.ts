/**
 * Graph capture: run one forward pass with a recording {@link Tracer} installed. By default the
 * input is shape-only (`meta`), which makes every op shape-only, so tracing ResNet-50 costs
 * milliseconds whatever backend the parameters live on.
 */
import { noGrad, type OpSpec, setTracer, type Tracer } from "../ops/registry.ts";
import { randn } from "../ops/creation.ts";
import { Storage, Tensor, tidy } from "../tensor.ts";
import type { AnyModule, Module, ModuleOutput } from "../nn/module.ts";
import {
  copyAttrs,
  flattenOutput,
  Graph,
  type GraphNode,
  type GraphParam,
  type GraphTensor,
} from "./graph.ts";
import { currentPath } from "../ops/registry.ts";
import { globalRngState, setGlobalRngState } from "../random.ts";
import { annotateBatch } from "./batch.ts";

/** Options of {@link trace}. */
export interface TraceOptions {
  /**
   * `meta` (default): shape-only, nothing is computed. `real`: ops run on the input's backend
   * (a shape input becomes seeded normal noise on the default backend).
   */
  mode?: "meta" | "real";
  /** Trace train-mode behaviour (batch statistics) instead of eval mode (default false). */
  training?: boolean;
  /** Seed of the random input in real mode when only a shape is given (default 0). */
  seed?: number;
  /**
   * Trace again, shape-only, at batch + 1 to learn how shape attributes depend on the batch
   * size (`batchDelta` of nodes and tensors), so the graph runs at any batch (default true).
   */
  batchDeltas?: boolean;
}

/** A shape-only tensor. */
export function metaTensor(shape: readonly number[], dtype: Tensor["dtype"] = "f32"): Tensor {
  return new Tensor([...shape], dtype, "meta", Storage.alloc("meta", dtype, 0));
}

/** A sample input: a shape, or a tensor (in meta mode only its shape and dtype are used). */
export type SampleInput = readonly number[] | Tensor;

/** One sample input, or a list with one per model input (`[[1, 3, 32, 32], [1, 10]]`). */
export type SampleInputs = SampleInput | readonly SampleInput[];

/** The sample inputs as a list (a flat list of numbers is one shape). */
export function sampleList(s: SampleInputs): SampleInput[] {
  if (s instanceof Tensor) return [s];
  const list = s as readonly unknown[];
  if (list.every((v) => typeof v === "number")) return [s as readonly number[]];
  if (!list.every((v) => v instanceof Tensor || Array.isArray(v))) {
    throw new Error("trace: a sample input is a shape (numbers), a Tensor, or a list of them");
  }
  return [...(s as readonly SampleInput[])];
}

/** The shape of each sample input. */
export function sampleShapes(s: SampleInputs): number[][] {
  return sampleList(s).map((x) => (x instanceof Tensor ? [...x.shape] : [...x]));
}

/**
 * Trace `model` on sample inputs (a shape or a tensor, or one per model input) and return its
 * op graph. The model runs in eval mode (or train mode with `training: true`); each module's
 * previous mode is restored. A model may return a tensor, an array or a record of tensors: the
 * graph's outputs follow that order (`graph.outputKind`, `graph.outputNames`).
 *
 * @example
 * ```ts
 * import { init, trace, zoo } from "../../mod.ts";
 * await init();
 * const model = zoo["small-cnn"].build();
 * const g = trace(model, [1, 1, 28, 28]);     // shape-only
 * console.log(g.nodes.length, g.toString());
 * ```
 */
export function trace(model: AnyModule, input: SampleInputs, opts: TraceOptions = {}): Graph {
  return traceWithOutput(model, input, opts).graph;
}

/** {@link trace}, also returning the model's output (real mode: the values). */
export function traceWithOutput<O extends ModuleOutput = ModuleOutput>(
  model: Module<O>,
  input: SampleInputs,
  opts: TraceOptions = {},
): { graph: Graph; output: O } {
  const mode = opts.mode ?? "meta";
  const xs = sampleList(input).map((s, i) => {
    if (s instanceof Tensor) return mode === "meta" ? metaTensor(s.shape, s.dtype) : s;
    return mode === "meta" ? metaTensor(s) : randn(s, { seed: (opts.seed ?? 0) + i });
  });

  const rng0 = globalRngState();
  const rec = new Recorder(model);
  for (const x of xs) rec.addInput(x);
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  model.train(opts.training ?? false);
  const prev = setTracer(rec);
  let out: O;
  try {
    out = tidy(() => noGrad(() => model.call(...xs)));
  } finally {
    setTracer(prev);
    for (const [m, t] of modes) m.training = t;
  }
  const flat = flattenOutput(out);
  const graph = rec.finish(flat.tensors, flat.kind, flat.names);
  if (opts.batchDeltas !== false && xs.every((x) => x.rank > 0)) {
    // The second trace draws the same seeds (dropout) as the first, and leaves the global
    // generator where the first left it.
    const rng1 = globalRngState();
    setGlobalRngState(rng0);
    try {
      const more = xs.map((x) => metaTensor([x.shape[0] + 1, ...x.shape.slice(1)], x.dtype));
      annotateBatch(graph, trace(model, more, { ...opts, mode: "meta", batchDeltas: false }));
    } catch {
      // The model runs at its traced batch size only: shape attributes follow the ops' facets.
    } finally {
      setGlobalRngState(rng1);
    }
  }
  return { graph, output: out };
}

/** Records op applications into graph data. */
class Recorder implements Tracer {
  private readonly ids = new Map<Tensor, number>();
  private readonly tensors: GraphTensor[] = [];
  private readonly nodes: GraphNode[] = [];
  private readonly inputs: number[] = [];
  private readonly constants = new Map<number, Tensor>();
  private readonly paramOf = new Map<Tensor, GraphParam>();
  private readonly params: GraphParam[] = [];

  constructor(model: AnyModule) {
    const seen = new Map<Tensor, GraphParam>();
    const add = (name: string, t: Tensor, trainable: boolean) => {
      const p = seen.get(t);
      if (p) {
        p.aliases.push(name);
        return;
      }
      const gp: GraphParam = {
        name,
        aliases: [],
        shape: [...t.shape],
        dtype: t.dtype,
        trainable,
        tensor: -1,
      };
      seen.set(t, gp);
      this.params.push(gp);
      this.paramOf.set(t, gp);
    };
    for (const [n, t] of model.namedParameters()) add(n, t, true);
    for (const [n, t] of model.namedBuffers()) add(n, t, false);
  }

  addInput(x: Tensor): void {
    this.inputs.push(this.tensorId(x, "input"));
  }

  private tensorId(t: Tensor, kind?: GraphTensor["kind"]): number {
    const known = this.ids.get(t);
    if (known !== undefined) return known;
    const id = this.tensors.length;
    const gt: GraphTensor = { id, shape: [...t.shape], dtype: t.dtype, kind: kind ?? "activation" };
    if (!kind) {
      const p = this.paramOf.get(t);
      if (p) {
        gt.kind = p.trainable ? "param" : "buffer";
        gt.name = p.name;
        p.tensor = id;
      } else {
        // A tensor no recorded op produced and the model does not register: a constant made
        // in forward (tensor(), fromHost) or an unregistered attribute. Keep its value.
        gt.kind = "constant";
        if (t.backend === "meta") {
          throw new Error(
            `trace: a shape-only tensor [${t.shape}] reached an op without being produced by ` +
              `one (layer ${currentPath() || "<root>"}); create constants with oto ops`,
          );
        }
        this.constants.set(id, t.keep());
      }
    }
    this.ids.set(t, id);
    this.tensors.push(gt);
    return id;
  }

  record(op: OpSpec<never>, ins: readonly Tensor[], outs: readonly Tensor[], attrs: unknown): void {
    const inputs = ins.map((t) => this.tensorId(t));
    const names = op.inputNames ?? [];
    const params = inputs.flatMap((id, i) => {
      const t = this.tensors[id];
      if (t.kind !== "param" && t.kind !== "buffer") return [];
      return [{
        input: i,
        name: t.name!,
        role: names[i] ?? names[names.length - 1] ?? `input${i}`,
        trainable: t.kind === "param",
      }];
    });
    const id = this.nodes.length;
    const outputs = outs.map((t) => {
      const oid = this.tensorId(t, "activation");
      this.tensors[oid].producer = id;
      return oid;
    });
    this.nodes.push({
      id,
      op: op.name,
      attrs: copyAttrs((attrs ?? {}) as Record<string, unknown>),
      path: currentPath(),
      inputs,
      outputs,
      params,
    });
  }

  finish(outs: Tensor[], outputKind: Graph["outputKind"], outputNames: string[]): Graph {
    const outputs = outs.map((t) => {
      const id = this.ids.get(t);
      if (id === undefined) {
        throw new Error(
          `trace: the model returned a tensor [${t.shape}] that no op produced from the input`,
        );
      }
      return id;
    });
    // Trainable parameters first, then buffers (each in registration order).
    return new Graph({
      nodes: this.nodes,
      tensors: this.tensors,
      inputs: this.inputs,
      outputs,
      params: this.params,
      constants: this.constants,
      outputKind,
      outputNames,
    });
  }
}
