/**
 * Export a whole model (full or compressed) as ONNX: trace it shape-only on the sample input
 * shape (eval mode), then write every node with its op's `onnx` facet. Parameters and buffers
 * become initializers named by their state-dict path ("features.0.weight"), so the file can be
 * inspected and diffed against `model.stateDict()`; constants captured in forward become
 * initializers too. Opset 17. The input shape is the sample's, batch included, unless
 * `dynamicAxes` names axes to leave symbolic (checked: see {@link OnnxExportOptions}). A model
 * with several inputs takes one sample per input; every output is written (a record's keys name
 * them).
 *
 * @example
 * ```ts
 * import { exportOnnx, init } from "../../mod.ts";
 * import { zoo } from "../zoo/index.ts";
 * await init();
 * const model = zoo["small-cnn"].build({ seed: 0 });
 * const info = await exportOnnx(model, "small-cnn.onnx", [1, 1, 28, 28]);
 * console.log(info.nodes, "nodes,", info.initializers, "initializers,", info.bytes, "bytes");
 * ```
 * @module
 */
import type { AnyModule } from "../nn/module.ts";
import { getOp } from "../ops/registry.ts";
import type { Tensor } from "../tensor.ts";
import type { Graph } from "../graph/graph.ts";
import { type SampleInputs, sampleShapes, trace } from "../graph/trace.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { OnnxBuilder, type OnnxDim, OPSET } from "./writer.ts";
import type { OnnxEmitter } from "./rules.ts";

/** Options of {@link exportOnnx} and {@link graphToOnnx}. */
export interface OnnxExportOptions {
  /** Name of the graph input (default "input"; "input0", "input1", ... for several). */
  inputName?: string;
  /** Names of the graph inputs in order (over `inputName`): an imported model's, say. */
  inputNames?: readonly string[];
  /** Name of the graph output (default "output"; "output0", ... for several, or a record's keys). */
  outputName?: string;
  /** Name stored in the ONNX graph (default "oto"). */
  graphName?: string;
  /**
   * Input axes written as symbolic (dynamic) dimensions, e.g. `{ 2: "height", 3: "width" }` for
   * a fully convolutional model (`{ 0: "batch" }` for the batch). The model is traced a second
   * time with these axes doubled: output axes that follow them become symbolic too
   * (`"height*2"` for a x2 upscaler), and an op whose ONNX form depends on their size (a
   * reshape to fixed sizes, a flatten into a linear layer) is an error naming the op and layer.
   */
  dynamicAxes?: Readonly<Record<number, string>>;
  /**
   * Key/value strings stored in the model's `metadata_props` (read them back with any ONNX
   * reader): preprocessing, class names, provenance.
   */
  metadata?: Readonly<Record<string, string>>;
}

/** Declared input and output shapes, with symbolic names for dynamic axes. */
export interface OnnxDeclaredShapes {
  /** Declared shape of each graph input. */
  inputs: OnnxDim[][];
  /** Declared shape of each graph output. */
  outputs: OnnxDim[][];
}

/** What {@link exportOnnx} wrote. */
export interface OnnxExportInfo {
  /** The file written. */
  path: string;
  /** Size of the file in bytes. */
  bytes: number;
  /** ONNX nodes written (an oto op may become several). */
  nodes: number;
  /** Initializers: parameters, buffers, captured constants and the ops' own constants. */
  initializers: number;
  /** Input and output shapes (the first input and output). */
  inputShape: number[];
  /** The first output's shape (batch included, as traced). */
  outputShape: number[];
  /** Every input's shape. */
  inputShapes: number[][];
  /** Every output's shape. */
  outputShapes: number[][];
  /** The ONNX opset of the file. */
  opset: number;
}

const onnxDtype = (d: string, what: string): "f32" | "i32" => {
  if (d === "f32") return "f32";
  if (d === "i32") return "i32";
  throw new Error(`exportOnnx: ${what} has dtype ${d}, which ONNX export does not support`);
};

/**
 * ONNX bytes of a traced graph with its parameters (by path, as `model.stateDict()`). Every
 * parameter, buffer and captured constant the graph reads becomes an initializer.
 */
export async function graphToOnnx(
  graph: Graph,
  params: ReadonlyMap<string, Tensor>,
  opts: OnnxExportOptions = {},
  declared?: OnnxDeclaredShapes,
): Promise<{ bytes: Uint8Array; nodes: number; initializers: number }> {
  const b = new OnnxBuilder();
  const names = new Map<number, string>();
  const multi = (base: string, i: number, n: number) => (n === 1 ? base : `${base}${i}`);
  graph.inputs.forEach((t, i) => {
    const name = opts.inputNames?.[i] ?? multi(opts.inputName ?? "input", i, graph.inputs.length);
    const gt = graph.tensors[t];
    names.set(t, name);
    b.input(name, declared?.inputs[i] ?? gt.shape, onnxDtype(gt.dtype, `input ${name}`));
  });
  const outName = new Map<number, string>();
  graph.outputs.forEach((t, i) => {
    if (!outName.has(t)) {
      const name = graph.outputKind === "record" && !opts.outputName
        ? graph.outputNames[i]
        : multi(opts.outputName ?? "output", i, graph.outputs.length);
      outName.set(t, name);
    }
  });

  let initializers = 0;
  const used = new Set(graph.nodes.flatMap((n) => n.inputs));
  for (const t of graph.outputs) used.add(t);
  for (const id of [...used].sort((a, b) => a - b)) {
    const gt = graph.tensors[id];
    if (names.has(id)) continue;
    if (gt.kind === "param" || gt.kind === "buffer") {
      const gp = graph.param(gt.name!)!;
      const t = params.get(gp.name) ?? gp.aliases.map((a) => params.get(a)).find((x) => x);
      if (!t) {
        throw new Error(`exportOnnx: ${gt.kind} "${gt.name}" is missing from the parameters`);
      }
      if (t.shape.length !== gt.shape.length || t.shape.some((d, i) => d !== gt.shape[i])) {
        throw new Error(
          `exportOnnx: "${gt.name}" has shape [${t.shape}], the traced graph expects [${gt.shape}]`,
        );
      }
      if (t.backend === "meta") {
        throw new Error(`exportOnnx: "${gt.name}" is shape-only (meta) and has no values`);
      }
      b.initializer(gp.name, await t.data(), t.shape, onnxDtype(t.dtype, `"${gp.name}"`));
      names.set(id, gp.name);
      initializers++;
    } else if (gt.kind === "constant") {
      const c = graph.constants.get(id);
      if (!c) throw new Error(`exportOnnx: constant %${id} has no captured value`);
      const name = b.fresh("constant");
      b.initializer(name, await c.data(), c.shape, onnxDtype(c.dtype, `constant %${id}`));
      names.set(id, name);
      initializers++;
    }
  }

  let nodes = 0;
  // The facets see an emitter that counts the nodes they write.
  const emitter: OnnxEmitter = {
    node: (...a) => (nodes++, b.node(...a)),
    constant: (...a) => (initializers++, b.constant(...a)),
    fresh: (h) => b.fresh(h),
  };
  for (const n of graph.nodes) {
    const op = getOp(n.op);
    const where = `op ${n.op} (layer ${n.path || "<root>"})`;
    const rule = op.onnx;
    if (typeof rule !== "function") {
      throw new Error(`exportOnnx: ${where} has no ONNX mapping (${rule?.none ?? "none given"})`);
    }
    for (const t of n.outputs) names.set(t, outName.get(t) ?? b.fresh(n.op));
    const inputs = n.inputs.map((t) => {
      const name = names.get(t);
      if (name === undefined) throw new Error(`exportOnnx: ${where} reads %${t} before it exists`);
      return name;
    });
    try {
      rule(emitter, {
        inputs,
        outputs: n.outputs.map((t) => names.get(t)!),
        attrs: n.attrs as never,
        info: {
          ins: n.inputs.map((t) => graph.tensors[t]),
          outs: n.outputs.map((t) => graph.tensors[t]),
        },
      });
    } catch (e) {
      throw new Error(`exportOnnx: ${where}: ${(e as Error).message}`);
    }
  }
  // An output that no node produced (an input or a parameter returned as is) needs a node.
  for (const [t, name] of outName) {
    if (names.get(t) !== name) {
      b.node("Identity", [names.get(t)!], [name]);
      nodes++;
    }
  }
  for (const [t, name] of outName) {
    const gt = graph.tensors[t];
    const i = graph.outputs.indexOf(t);
    b.output(name, declared?.outputs[i] ?? gt.shape, onnxDtype(gt.dtype, `output ${name}`));
  }
  return { bytes: b.encode(opts.graphName ?? "oto", opts.metadata), nodes, initializers };
}

/**
 * The model's own input/output names (an imported model's) unless `opts` names them; several
 * outputs come as a record, whose keys name them.
 */
function withNames(model: AnyModule, opts: OnnxExportOptions): OnnxExportOptions {
  const n = model.ioNames;
  if (!n) return opts;
  const out = n.outputs.length === 1 ? { outputName: n.outputs[0] } : {};
  return { inputNames: n.inputs, ...out, ...opts };
}

/**
 * ONNX bytes of `model` (any Module, including a compressed `GraphModule`) for inputs shaped
 * like `sampleInput` (a shape or a tensor; only its shape is used). The model is traced in eval
 * mode; its train/eval state is left as it was.
 */
export async function onnxBytes(
  model: AnyModule,
  sampleInput: SampleInputs,
  options: OnnxExportOptions = {},
): Promise<Uint8Array> {
  const opts = withNames(model, options);
  const { graph, declared } = traceForExport(model, sampleInput, opts);
  return (await graphToOnnx(graph, model.stateDict(), opts, declared)).bytes;
}

/** What an op's ONNX rule writes, with tensor names by position: equal when the file would be. */
function nodeSignature(graph: Graph, index: number): string {
  const n = graph.nodes[index];
  const op = getOp(n.op);
  const calls: unknown[] = [];
  let k = 0;
  const emitter: OnnxEmitter = {
    node: (...a) => void calls.push(["node", ...a]),
    constant: (values, shape, dtype) => (calls.push(["const", values, shape, dtype]), `c${k++}`),
    fresh: (h) => `${h}#${k++}`,
  };
  const constants = n.inputs.map((t) =>
    graph.tensors[t].kind === "constant" ? graph.tensors[t].shape : null
  );
  // An op without a mapping fails later, in graphToOnnx, with its reason.
  if (typeof op.onnx !== "function") return JSON.stringify([n.op, "no mapping"]);
  op.onnx(emitter, {
    inputs: n.inputs.map((_, i) => `in${i}`),
    outputs: n.outputs.map((_, i) => `out${i}`),
    attrs: n.attrs as never,
    info: {
      ins: n.inputs.map((t) => graph.tensors[t]),
      outs: n.outputs.map((t) => graph.tensors[t]),
    },
  });
  return JSON.stringify([n.op, constants, calls]);
}

/** The symbolic name of an output axis of sizes d1 / d2 in the two traces. */
function outputDimName(
  d1: number,
  d2: number,
  in1: readonly number[],
  in2: readonly number[],
  axes: Readonly<Record<number, string>>,
  axis: number,
  fallback: string,
): string {
  // The input axis at the same position first (height follows height in a conv net).
  const order = Object.entries(axes).sort(([a], [b]) =>
    Number(b === String(axis)) - Number(a === String(axis))
  );
  for (const [a, name] of order) {
    const [i1, i2] = [in1[Number(a)], in2[Number(a)]];
    if (d1 * i2 !== d2 * i1) continue;
    if (d1 === i1) return name;
    return d1 > i1 && d1 % i1 === 0
      ? `${name}*${d1 / i1}`
      : i1 % d1 === 0
      ? `${name}/${i1 / d1}`
      : fallback;
  }
  return fallback;
}

/**
 * Trace `model` for export; with `dynamicAxes`, trace again with those axes doubled and check
 * that no op's ONNX form depends on them.
 */
function traceForExport(
  model: AnyModule,
  sampleInput: SampleInputs,
  opts: OnnxExportOptions,
): { graph: Graph; declared?: OnnxDeclaredShapes } {
  const graph = trace(model, sampleInput);
  const axes = opts.dynamicAxes;
  if (!axes || Object.keys(axes).length === 0) return { graph };
  // The axes apply to every input (a model with several inputs: the batch of each).
  const shapes = sampleShapes(sampleInput);
  const shape = shapes[0];
  for (const [a, name] of Object.entries(axes)) {
    const i = Number(a);
    const bad = shapes.find((s) => !Number.isInteger(i) || i < 0 || i >= s.length);
    if (bad || typeof name !== "string" || !name) {
      throw new Error(
        `exportOnnx: dynamic axis ${a} ("${name}") must be an axis of the input ` +
          `[${bad ?? shape}] with a name`,
      );
    }
  }
  const double = (s: readonly number[]) => s.map((d, i) => (i in axes ? 2 * d : d));
  const doubled = double(shape);
  let other: Graph;
  try {
    other = trace(model, shapes.map(double));
  } catch (e) {
    throw new Error(
      `exportOnnx: the model does not run on [${doubled}] (dynamic axes ${Object.keys(axes)} ` +
        `doubled), so those axes cannot be dynamic: ${(e as Error).message}`,
    );
  }
  if (other.nodes.length !== graph.nodes.length) {
    throw new Error(
      `exportOnnx: the model runs ${graph.nodes.length} ops on [${shape}] but ` +
        `${other.nodes.length} on [${doubled}]; its graph depends on the input size`,
    );
  }
  for (let i = 0; i < graph.nodes.length; i++) {
    if (nodeSignature(graph, i) !== nodeSignature(other, i)) {
      const n = graph.nodes[i];
      throw new Error(
        `exportOnnx: op ${n.op} (layer ${n.path || "<root>"}) is written differently for input ` +
          `[${shape}] and [${doubled}]: it depends on the size of the dynamic axes ` +
          `${Object.values(axes).join(", ")}; export with a fixed input shape`,
      );
    }
  }
  const outName = (i: number) =>
    graph.outputKind === "record" && !opts.outputName
      ? graph.outputNames[i]
      : graph.outputs.length === 1
      ? opts.outputName ?? "output"
      : `${opts.outputName ?? "output"}${i}`;
  const declared: OnnxDeclaredShapes = {
    inputs: shapes.map((s) => s.map((d, i) => axes[i] ?? d)),
    outputs: graph.outputs.map((t, o) => {
      const s1 = graph.tensors[t].shape, s2 = other.tensors[other.outputs[o]].shape;
      return s1.map((d, i) =>
        d === s2[i] ? d : outputDimName(d, s2[i], shape, doubled, axes, i, `${outName(o)}_dim${i}`)
      );
    }),
  };
  return { graph, declared };
}

/**
 * Write `model` as an ONNX file at `path` (atomically: a crash leaves any previous file intact).
 * Inputs have the sample's shape; weights are initializers named by their state-dict path.
 *
 * @example
 * ```ts
 * import { exportOnnx, init, OTO } from "../../mod.ts";
 * import { zoo } from "../zoo/index.ts";
 * await init();
 * const model = zoo["small-cnn"].build({ seed: 0 });
 * const oto = await OTO.create(model, [1, 1, 28, 28]);
 * const { model: small } = await oto.compress(); // after training with oto.dhspg()
 * await exportOnnx(model, "full.onnx", [1, 1, 28, 28]);
 * await exportOnnx(small, "compressed.onnx", [1, 1, 28, 28]);
 * ```
 */
export async function exportOnnx(
  model: AnyModule,
  path: string,
  sampleInput: SampleInputs,
  options: OnnxExportOptions = {},
): Promise<OnnxExportInfo> {
  const opts = withNames(model, options);
  const { graph, declared } = traceForExport(model, sampleInput, opts);
  const r = await graphToOnnx(graph, model.stateDict(), opts, declared);
  await writeFileAtomic(path, r.bytes);
  return {
    path,
    bytes: r.bytes.length,
    nodes: r.nodes,
    initializers: r.initializers,
    inputShape: [...graph.tensors[graph.inputs[0]].shape],
    outputShape: [...graph.tensors[graph.outputs[0]].shape],
    inputShapes: graph.inputs.map((t) => [...graph.tensors[t].shape]),
    outputShapes: graph.outputs.map((t) => [...graph.tensors[t].shape]),
    opset: OPSET,
  };
}
