/**
 * The traced op graph: every op application of one forward pass, with its attributes, module
 * path, tensor ids and which inputs are parameters or buffers (by name and role). Tensor ids
 * are dense indices into `tensors`; nodes are in execution (topological) order. Adjacency
 * (producer of a tensor, consumers of a tensor) is built once, never by scanning edges.
 */
import { type DType, numel, Tensor } from "../tensor.ts";

/** Where a tensor of the graph comes from. */
export type TensorKind = "input" | "param" | "buffer" | "constant" | "activation";

/** One tensor of the graph. */
export interface GraphTensor {
  /** Index in {@link Graph.tensors}. */
  id: number;
  /** Shape as traced. */
  shape: number[];
  /** Element type. */
  dtype: DType;
  /** What produces it: an input, a parameter, a buffer, a constant or an op. */
  kind: TensorKind;
  /** Parameter or buffer path ("layer1.0.conv1.weight") for `param`/`buffer` tensors. */
  name?: string;
  /** Index of the producing node (activations only). */
  producer?: number;
  /** How each axis grows per sample of batch (absent: not at all); see `batch.ts`. */
  batchDelta?: number[];
}

/** A parameter or buffer input of a node. */
export interface NodeParam {
  /** Index into the node's `inputs`. */
  input: number;
  /** Parameter path. */
  name: string;
  /** Role from the op's `inputNames` ("weight", "bias", "gamma", "runningMean", ...). */
  role: string;
  /** Trainable parameter (true) or buffer (false). */
  trainable: boolean;
}

/** One op application. */
export interface GraphNode {
  /** Index in {@link Graph.nodes} (topological order). */
  id: number;
  /** The op's registry name. */
  op: string;
  /** Attributes as the op received them (plain data, deep-copied). */
  attrs: Record<string, unknown>;
  /** Module path the op ran under ("layer2.0.conv1"; "" for the root module). */
  path: string;
  /** Tensor ids it reads, in the op's input order. */
  inputs: number[];
  /** Tensor ids it writes. */
  outputs: number[];
  /** The inputs that are parameters or buffers. */
  params: NodeParam[];
  /** How the numeric attributes grow per sample of batch (absent: not at all); `batch.ts`. */
  batchDelta?: Record<string, unknown>;
}

/** A parameter or buffer of the model (used by the graph or not). */
export interface GraphParam {
  /** First path under which the model registers the tensor. */
  name: string;
  /** Other paths of the same tensor (a module registered twice). */
  aliases: string[];
  /** Shape of the tensor. */
  shape: number[];
  /** Element type. */
  dtype: DType;
  /** A trained parameter (true) or a buffer such as BatchNorm running statistics (false). */
  trainable: boolean;
  /** Graph tensor id, or -1 when no op reads it. */
  tensor: number;
}

/** Plain data of a {@link Graph} (what `trace` records). */
export interface GraphData {
  /** Op nodes in topological order. */
  nodes: GraphNode[];
  /** Every tensor by id. */
  tensors: GraphTensor[];
  /** Tensor ids of the model inputs. */
  inputs: number[];
  /** Tensor ids of the model outputs. */
  outputs: number[];
  /** Every parameter and buffer of the model, trainable first, in registration order. */
  params: GraphParam[];
  /** Values of constant tensors (created in forward without an op, e.g. with `tensor()`). */
  constants?: Map<number, Tensor>;
  /**
   * How the model returned its outputs: one tensor (default), an array, or a record whose keys
   * are `outputNames` (in `outputs` order).
   */
  outputKind?: OutputKind;
  /** The record's keys, in `outputs` order (record outputs only). */
  outputNames?: string[];
}

/** How a model returns its outputs. */
export type OutputKind = "tensor" | "array" | "record";

/** A model output as a list of tensors, with its kind and names (record keys). */
export function flattenOutput(
  o: Tensor | readonly Tensor[] | { readonly [name: string]: Tensor },
): { tensors: Tensor[]; kind: OutputKind; names: string[] } {
  if (o instanceof Tensor) return { tensors: [o], kind: "tensor", names: [] };
  if (Array.isArray(o) && o.length > 0 && o.every((t) => t instanceof Tensor)) {
    return { tensors: [...o], kind: "array", names: o.map((_, i) => `output${i}`) };
  }
  if (o && typeof o === "object" && !Array.isArray(o)) {
    const names = Object.keys(o);
    const tensors = names.map((k) => (o as Record<string, Tensor>)[k]);
    if (names.length && tensors.every((t) => t instanceof Tensor)) {
      return { tensors, kind: "record", names };
    }
  }
  throw new Error(
    "a model's forward must return a Tensor, an array of Tensors or a record of Tensors",
  );
}

/** The inverse of {@link flattenOutput}. */
export function packOutput(
  tensors: readonly Tensor[],
  kind: OutputKind,
  names: readonly string[],
): Tensor | Tensor[] | Record<string, Tensor> {
  if (kind === "tensor") return tensors[0];
  if (kind === "array") return [...tensors];
  return Object.fromEntries(names.map((k, i) => [k, tensors[i]]));
}

/** A traced graph with adjacency maps. */
export class Graph implements GraphData {
  /** Op nodes in topological order. */
  readonly nodes: GraphNode[];
  /** Every tensor by id. */
  readonly tensors: GraphTensor[];
  /** Tensor ids of the model inputs. */
  readonly inputs: number[];
  /** Tensor ids of the model outputs. */
  readonly outputs: number[];
  /** Every parameter and buffer of the model, trainable first, in registration order. */
  readonly params: GraphParam[];
  /** Values of constant tensors (created in forward without an op), by tensor id. */
  readonly constants: Map<number, Tensor>;
  /** How the model returned its outputs (see {@link GraphData.outputKind}). */
  readonly outputKind: OutputKind;
  /** The record's keys, in `outputs` order (record outputs only). */
  readonly outputNames: string[];
  private readonly users: number[][];
  private readonly byName = new Map<string, GraphParam>();

  /** A graph from recorded data, with its adjacency maps built. */
  constructor(d: GraphData) {
    this.nodes = d.nodes;
    this.tensors = d.tensors;
    this.inputs = d.inputs;
    this.outputs = d.outputs;
    this.params = d.params;
    this.constants = d.constants ?? new Map();
    this.outputKind = d.outputKind ?? "tensor";
    this.outputNames = d.outputNames ?? [];
    this.users = d.tensors.map(() => []);
    for (const n of d.nodes) {
      for (const t of n.inputs) {
        const u = this.users[t];
        if (u[u.length - 1] !== n.id) u.push(n.id);
      }
      for (const t of n.outputs) this.tensors[t].producer = n.id;
    }
    for (const p of d.params) {
      this.byName.set(p.name, p);
      for (const a of p.aliases) this.byName.set(a, p);
    }
  }

  /** The node that produces tensor `t` (undefined for inputs, parameters and constants). */
  producer(t: number): GraphNode | undefined {
    const p = this.tensors[t].producer;
    return p === undefined ? undefined : this.nodes[p];
  }

  /** Nodes that read tensor `t`, in execution order (each once). */
  consumers(t: number): GraphNode[] {
    return this.users[t].map((i) => this.nodes[i]);
  }

  /** Nodes that read any output of `n`. */
  successors(n: GraphNode): GraphNode[] {
    const seen = new Set<number>();
    const out: GraphNode[] = [];
    for (const t of n.outputs) {
      for (const u of this.users[t]) if (!seen.has(u)) (seen.add(u), out.push(this.nodes[u]));
    }
    return out;
  }

  /** Nodes that produce any input of `n`. */
  predecessors(n: GraphNode): GraphNode[] {
    const seen = new Set<number>();
    const out: GraphNode[] = [];
    for (const t of n.inputs) {
      const p = this.tensors[t].producer;
      if (p !== undefined && !seen.has(p)) (seen.add(p), out.push(this.nodes[p]));
    }
    return out;
  }

  /** A parameter or buffer by any of its paths. */
  param(name: string): GraphParam | undefined {
    return this.byName.get(name);
  }

  /** Number of trainable scalars (each tensor once, used by the graph or not). */
  numParameters(): number {
    return this.params.reduce((s, p) => s + (p.trainable ? numel(p.shape) : 0), 0);
  }

  /** One line per node: `id op path (inputs) -> [shapes]`, for debugging. */
  toString(): string {
    const sh = (t: number) => `[${this.tensors[t].shape}]`;
    const name = (t: number) => this.tensors[t].name ?? `%${t}`;
    const lines = [`graph(inputs ${this.inputs.map((t) => `%${t}${sh(t)}`).join(", ")})`];
    for (const n of this.nodes) {
      lines.push(
        `  %${n.outputs.join(",%")} = ${n.op}(${n.inputs.map(name).join(", ")})` +
          ` ${n.outputs.map(sh).join(" ")}${n.path ? `  # ${n.path}` : ""}`,
      );
    }
    lines.push(`  return ${this.outputs.map((t) => `%${t}`).join(", ")}`);
    return lines.join("\n");
  }

  /** Free the captured constant values. */
  dispose(): void {
    for (const t of this.constants.values()) t.dispose();
    this.constants.clear();
  }
}

// ---------------------------------------------------------------------------------------------

// Shape-attribute maintenance lives with the ops (their `follow` facets); re-exported here.
export { expandTarget, reshapeTarget } from "../ops/follow.ts";

/** Deep copy of plain attribute data (arrays, records, primitives). */
export function copyAttrs<T>(v: T): T {
  if (Array.isArray(v)) return v.map(copyAttrs) as T;
  if (v && typeof v === "object" && (v.constructor === Object || v.constructor === undefined)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = copyAttrs(x);
    return o as T;
  }
  return v;
}
