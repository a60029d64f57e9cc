/**
 * `OnnxModule`: an imported ONNX graph as an oto Module. Parameters and buffers are registered
 * under the file's initializer names; `forward` runs the (rewritten) ONNX nodes in order on
 * oto's ops, evaluating shape arithmetic on the host for the shapes of each call. Tracing it
 * records oto ops like any Module, so partition, DHSPG, compression and export apply unchanged.
 */
import { type AnyModule, Module, type ModuleOutput } from "../../nn/module.ts";
import { type BackendName, fromHost, Tensor } from "../../tensor.ts";
import { withPath } from "../../ops/registry.ts";
import type { OnnxNode } from "../proto.ts";
import { type HostValue, isHost } from "../values.ts";
import { NodeError, type NodeShapes, type OpImport, type RunContext, type Val } from "./types.ts";

/** A container for parameters under one path prefix (module paths come from the names). */
class Params extends Module {
  forward(): Tensor {
    throw new Error(`module ${this.name}: part of an imported ONNX model; call the model`);
  }
}

/** A node ready to run. */
export interface PlannedNode {
  node: OnnxNode;
  impl: OpImport;
  /** Module path the node's ops are attributed to. */
  path: string;
}

/** What the importer hands the module. */
export interface OnnxModulePlan {
  nodes: PlannedNode[];
  /** Initializers that stay constants (host values). */
  constants: Map<string, HostValue>;
  /** Parameters (trainable) and buffers with their values. */
  params: { name: string; value: Float32Array; shape: number[]; trainable: boolean }[];
  /** The graph's inputs and outputs, in order. */
  inputNames: string[];
  outputNames: string[];
  opset: number;
  /** Where the model came from (file name), for errors. */
  source: string;
}

/**
 * A model imported from ONNX (see `importOnnx`). Works wherever a Module does; `inputShape` is
 * the shape it was imported for (batch 1 when the file leaves the batch dynamic). It comes back
 * in eval mode: call `train()` before training (batch statistics, dropout). A file with several
 * inputs takes them in its order; with several outputs `forward` returns a record by output
 * name (`O`: the output type the caller expects, one tensor by default).
 */
export class OnnxModule<O extends ModuleOutput = Tensor> extends Module<O> {
  /** Input shapes the model was imported and checked for (batch included), in input order. */
  inputShapes: number[][] = [];
  /** The file's graph inputs, in order. */
  readonly inputNames: string[];
  /** The file's graph outputs, in order. */
  readonly outputNames: string[];
  /** Default operator set version of the file. */
  readonly opset: number;
  /** Where the model came from. */
  readonly source: string;
  private readonly nodes: PlannedNode[];
  private readonly constants: Map<string, HostValue>;
  private readonly paramAt = new Map<string, { m: AnyModule; leaf: string; trainable: boolean }>();
  private readonly persistent: Set<HostValue>;
  private readonly cache = new Map<HostValue, Map<BackendName, Tensor>>();
  private refs: (NodeShapes | undefined)[] = [];
  private recording = false;

  /** A module running `plan`'s nodes, its initializers placed on `device`. */
  constructor(plan: OnnxModulePlan, device: BackendName) {
    super();
    this.nodes = plan.nodes;
    this.constants = plan.constants;
    this.persistent = new Set(plan.constants.values());
    this.inputNames = plan.inputNames;
    this.outputNames = plan.outputNames;
    this.opset = plan.opset;
    this.source = plan.source;
    this.ioNames = { inputs: [...plan.inputNames], outputs: [...plan.outputNames] };
    for (const p of plan.params) {
      const t = fromHost(p.value, p.shape, "f32", device);
      const parts = p.name.split(".");
      const leaf = parts.pop()!;
      const m = parts.reduce<AnyModule>(
        (parent, s) =>
          parent.children().find(([n]) => n === s)?.[1] ?? parent.module(s, new Params()),
        this,
      );
      if (p.trainable) m.param(leaf, t);
      else m.buffer(leaf, t);
      this.paramAt.set(p.name, { m, leaf, trainable: p.trainable });
    }
  }

  /** The current tensor of a parameter or buffer (compression and loading replace them). */
  private current(name: string): Tensor | undefined {
    const at = this.paramAt.get(name);
    if (!at) return undefined;
    return at.trainable ? at.m.getParam(at.leaf) : at.m.getBuffer(at.leaf);
  }

  /** Shape of the (first) input the model was imported for. */
  get inputShape(): number[] {
    return this.inputShapes[0];
  }

  /** The sample input of the import: one shape, or one per input (for `OTO.create`, `trace`). */
  get sampleInput(): number[] | number[][] {
    return this.inputShapes.length === 1 ? this.inputShapes[0] : this.inputShapes;
  }

  /** Name of the (first) graph input. */
  get inputName(): string {
    return this.inputNames[0];
  }

  /** Name of the (first) graph output. */
  get outputName(): string {
    return this.outputNames[0];
  }

  /** Run once shape-only on `xs` and keep every node's shapes (see `RunContext.ref`). */
  recordReference(xs: Tensor[]): void {
    this.recording = true;
    this.refs = [];
    try {
      this.forward(...xs);
    } finally {
      this.recording = false;
    }
    this.inputShapes = xs.map((x) => [...x.shape]);
  }

  /** Run the imported graph on its inputs, in the file's input order (any batch size when dynamic). */
  forward(...xs: Tensor[]): O {
    if (xs.length !== this.inputNames.length) {
      throw new Error(
        `${this.source}: the model takes ${this.inputNames.length} input(s) ` +
          `(${this.inputNames.map((n) => `"${n}"`).join(", ")}), got ${xs.length}`,
      );
    }
    const backend: BackendName = xs[0].backend === "meta" ? "cpu" : xs[0].backend;
    const env = new Map<string, Val>(this.inputNames.map((n, i) => [n, xs[i]]));
    const params = new Set<Tensor>();
    const value = (name: string, n: OnnxNode): Val | undefined => {
      if (!name) return undefined;
      const v = env.get(name);
      if (v !== undefined) return v;
      const p = this.current(name);
      if (p) {
        params.add(p);
        return p;
      }
      const c = this.constants.get(name);
      if (c) return c;
      throw new Error(
        `${this.source}: node "${n.name}" (${n.opType}) reads "${name}", which no node produces`,
      );
    };
    const constant = (v: HostValue): Tensor => {
      const dtype = v.kind === "int" ? "i32" : "f32";
      const data = dtype === "i32" ? Int32Array.from(v.data) : Float32Array.from(v.data);
      // Initializer constants are uploaded once per backend; computed ones live in the call.
      if (!this.persistent.has(v)) return fromHost(data, v.shape, dtype, backend);
      let m = this.cache.get(v);
      if (!m) this.cache.set(v, m = new Map());
      let t = m.get(backend);
      if (!t) m.set(backend, t = fromHost(data, v.shape, dtype, backend).keep());
      return t;
    };
    const training = this.training;
    this.nodes.forEach((p, i) => {
      const n = p.node;
      const ins = n.inputs.map((name) => value(name, n));
      const ctx: RunContext = {
        node: n,
        opset: this.opset,
        training,
        ref: this.recording ? undefined : this.refs[i],
        tensor: (v) => (v instanceof Tensor ? v : constant(v)),
        isParam: (v) => v instanceof Tensor && params.has(v),
      };
      let outs: (Val | undefined)[];
      try {
        outs = withPath(p.path, () => p.impl.run(ctx, ins));
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        const err = new Error(
          `${this.source}: node "${n.name}" (op ${n.opType}, opset ${this.opset}): ${msg}`,
        );
        if (!(e instanceof NodeError)) err.cause = e;
        throw err;
      }
      n.outputs.forEach((o, k) => {
        if (!o) return;
        const v = outs[k];
        if (v === undefined) {
          throw new Error(
            `${this.source}: node "${n.name}" (op ${n.opType}): output ${k} ("${o}") is not ` +
              `supported`,
          );
        }
        env.set(o, v);
      });
      if (this.recording) {
        const shape = (v: Val | undefined) => (v === undefined || isHost(v) ? null : [...v.shape]);
        this.refs[i] = { ins: ins.map(shape), outs: outs.map(shape) };
      }
    });
    const last = this.nodes[this.nodes.length - 1].node;
    const outs = this.outputNames.map((name) => {
      const v = value(name, last)!;
      return v instanceof Tensor ? v : constant(v);
    });
    if (outs.length === 1) return outs[0] as unknown as O;
    return Object.fromEntries(this.outputNames.map((n, i) => [n, outs[i]])) as unknown as O;
  }

  /** Free parameters, buffers and the uploaded constants. */
  override dispose(): void {
    super.dispose();
    for (const m of this.cache.values()) for (const t of m.values()) t.dispose();
    this.cache.clear();
  }
}
