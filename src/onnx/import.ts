/**
 * `importOnnx`: an ONNX file (PyTorch, Keras, ... exports) as a trainable oto model. The graph
 * is decoded, exporter idioms are folded back into oto's ops, every initializer is classified by
 * what the graph does with it (conv/gemm/matmul weights and biases and norm scales/shifts are
 * trainable parameters, running statistics are buffers, shape constants stay constants; other
 * float initializers that meet data in arithmetic are trained when they hold more than one value,
 * as a layer scale or a learned embedding, unless they act on the model input itself, where
 * they are preprocessing constants), and
 * the model is run once shape-only to check every node and record its shapes.
 *
 * @example
 * ```ts
 * import { importOnnx, init, OTO } from "../../mod.ts";
 * await init();
 * const model = await importOnnx("tests/fixtures/onnx/resnet18.onnx");
 * const oto = await OTO.create(model, model.inputShape);
 * console.log(oto.zigs.counts); // prunable groups of the imported network
 * ```
 * @module
 */
import { type BackendName, getDefaultBackend, numel, type Tensor } from "../tensor.ts";
import type { ModuleOutput } from "../nn/module.ts";
import { metaTensor } from "../graph/trace.ts";
import {
  decodeModel,
  elemName,
  type OnnxModel,
  type OnnxNode,
  type OnnxValueInfo,
} from "./proto.ts";
import type { HostValue } from "./values.ts";
import { rewrite } from "./import/patterns.ts";
import { opImport, supportedOps } from "./import/table.ts";
import type { Role } from "./import/types.ts";
import { OnnxModule, type OnnxModulePlan, type PlannedNode } from "./import/module.ts";

export { OnnxModule } from "./import/module.ts";

/** Options of {@link importOnnx}. */
export interface ImportOnnxOptions {
  /**
   * Input shape to import for: `[C, H, W]` (batch 1) or the full shape. Needed when the file
   * leaves dimensions other than the batch dynamic; checked against the file otherwise.
   */
  inputShape?: readonly number[];
  /** {@link inputShape} for each input of a model with several (in the file's input order). */
  inputShapes?: readonly (readonly number[])[];
  /** Initializers to keep as non-trainable buffers although the graph would train them. */
  buffers?: readonly string[];
  /** Backend that holds the parameters (default: the default backend). */
  backend?: BackendName;
}

const TRAINABLE: ReadonlySet<Role> = new Set(["weight", "bias", "gamma", "beta"]);
const BUFFER: ReadonlySet<Role> = new Set(["runningMean", "runningVar"]);

/** Role sets of every value, from the consumers back (a view passes its consumers' roles). */
function roles(m: OnnxModel, nodes: OnnxNode[]): Map<string, Set<Role>> {
  const dynamic = new Set(m.inputs.map((i) => i.name));
  for (const n of nodes) {
    const imp = opImport(n)!;
    if (imp.hostOutputs) continue;
    if (n.inputs.some((v) => dynamic.has(v))) { for (const o of n.outputs) dynamic.add(o); }
  }
  const out = new Map<string, Set<Role>>();
  const add = (v: string, r: Role) => {
    let s = out.get(v);
    if (!s) out.set(v, s = new Set());
    s.add(r);
  };
  const graphInputs = new Set(m.inputs.map((i) => i.name));
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    const rs = opImport(n)!.roles?.(n, n.inputs.map((v) => dynamic.has(v))) ?? [];
    // Arithmetic on the model input itself is preprocessing (a mean and std): constants.
    const preprocess = n.inputs.some((v) => graphInputs.has(v));
    n.inputs.forEach((v, i) => {
      const r = rs[i];
      if (!v || !r || (r === "operand" && preprocess)) return;
      if (r === "view") { for (const x of out.get(n.outputs[0]) ?? []) add(v, x); }
      else add(v, r);
    });
  }
  return out;
}

/**
 * Module path of a node: its weight's path, else the exporter's scope. PyTorch names scopes
 * like "/stage3/stage3.1/branch2/branch2.2/Relu", where a child of a container repeats the
 * container's name: that joins to "stage3.1.branch2.2".
 */
function nodePath(n: OnnxNode, params: ReadonlySet<string>): string {
  const w = n.inputs.find((v) => params.has(v) && v.includes("."));
  if (w) return w.slice(0, w.lastIndexOf("."));
  if (!n.name.startsWith("/")) return n.name;
  const segs = n.name.split("/").filter((s) => s);
  segs.pop();
  let path = "";
  for (const s of segs) {
    const dot = s.lastIndexOf(".");
    const head = dot > 0 ? s.slice(0, dot) : "";
    if (head && (path === head || path.endsWith(`.${head}`))) path += s.slice(dot);
    else path = path ? `${path}.${s}` : s;
  }
  return path;
}

function describeNode(n: OnnxNode, opset: number): string {
  return `node "${n.name}" (op ${n.domain ? `${n.domain}:` : ""}${n.opType}, opset ${opset})`;
}

/**
 * The reference input shape: the file's dims with the batch (or all, when given) chosen;
 * `fallback` ([C, H, W]) stands in for dims the file leaves dynamic when none are given.
 */
function referenceShape(
  inp: OnnxValueInfo,
  file: string,
  given?: readonly number[],
  fallback?: readonly number[],
): number[] {
  if (inp.elemType !== 1) {
    throw new Error(
      `importOnnx: ${file}: input "${inp.name}" is ${elemName(inp.elemType)}; oto models take ` +
        `float32 inputs`,
    );
  }
  const dims = inp.dims;
  if (!given) {
    if (!dims) {
      throw new Error(
        `importOnnx: ${file}: input "${inp.name}" has no declared shape; pass inputShape`,
      );
    }
    const missing = dims.slice(1).some((d) => d === null);
    if (missing && fallback) return referenceShape(inp, file, fallback);
    if (missing) {
      throw new Error(
        `importOnnx: ${file}: input "${inp.name}" has dynamic dimensions ` +
          `[${dims.map((d) => d ?? "?")}]; pass inputShape (e.g. [3, 224, 224])`,
      );
    }
    return dims.map((d) => d ?? 1);
  }
  const full = dims && given.length === dims.length - 1 ? [dims[0] ?? 1, ...given] : [...given];
  if (full.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`importOnnx: inputShape must be positive integers, got [${given}]`);
  }
  if (dims) {
    const bad = dims.length !== full.length ||
      dims.some((d, i) => i > 0 && d !== null && d !== full[i]);
    if (bad) {
      throw new Error(
        `importOnnx: ${file}: inputShape [${given}] does not fit input "${inp.name}" ` +
          `[${dims.map((d) => d ?? "?")}]`,
      );
    }
  }
  return full;
}

/**
 * Import an ONNX model (a file path or the file's bytes) as a trainable {@link OnnxModule}:
 * parameters keep the file's initializer names, and the model runs in train mode with batch
 * statistics and dropout and in eval mode with running statistics. A model with several inputs
 * takes them in the file's order (`inputShapes` where they are dynamic); with several outputs
 * it returns a record by output name (say so with the type parameter `O`). It works with `OTO.create`,
 * DHSPG, `compress`, `exportOnnx` and safetensors like any Module.
 *
 * An operator oto cannot run fails here, naming the node, its op type and opset and listing the
 * supported operators; an attribute value it cannot run names the attribute.
 *
 * @example
 * ```ts
 * import { importOnnx, init, randn } from "../../mod.ts";
 * await init();
 * // torch.onnx.export(model.eval(), x, "model.onnx", training=torch.onnx.TrainingMode.PRESERVE)
 * const model = await importOnnx("model.onnx", { inputShape: [3, 64, 64] });
 * const y = model.call(randn([8, 3, 64, 64], { seed: 0 })); // any batch size
 * console.log(model.inputShape, model.namedParameters().length, y.shape);
 * ```
 */
export async function importOnnx<O extends ModuleOutput = Tensor>(
  source: string | Uint8Array,
  options: ImportOnnxOptions = {},
): Promise<OnnxModule<O>> {
  if (typeof source !== "string") return loadOnnx<O>(source, "<bytes>", options);
  let bytes: Uint8Array;
  try {
    bytes = await readWhole(source);
  } catch (e) {
    throw new Error(`importOnnx: cannot read ${source}: ${(e as Error).message}`);
  }
  return loadOnnx<O>(bytes, source, options);
}

/** A file's bytes read into one buffer of its size (Deno.readFile grows its buffer: 2x the CPU). */
async function readWhole(path: string): Promise<Uint8Array> {
  using f = await Deno.open(path);
  const buf = new Uint8Array((await f.stat()).size);
  let off = 0;
  while (off < buf.length) {
    const n = await f.read(buf.subarray(off));
    if (n === null) throw new Error(`the file ended after ${off} of ${buf.length} bytes`);
    off += n;
  }
  return buf;
}

/**
 * {@link importOnnx} of a file's bytes, synchronously. `fallbackInputShape` ([C, H, W]) is used
 * where the file leaves the input's dims dynamic and `options.inputShape` is not given.
 */
export function loadOnnx<O extends ModuleOutput = Tensor>(
  bytes: Uint8Array,
  file: string,
  options: ImportOnnxOptions = {},
  fallbackInputShape?: readonly number[],
): OnnxModule<O> {
  const m = decodeModel(bytes, file);
  if (m.inputs.length === 0) throw new Error(`importOnnx: ${file} has no graph input`);
  const givenShapes = options.inputShapes ?? (options.inputShape ? [options.inputShape] : null);
  if (givenShapes && givenShapes.length !== m.inputs.length) {
    throw new Error(
      `importOnnx: ${file} has ${m.inputs.length} inputs (${m.inputs.map((i) => i.name)}); ` +
        `${givenShapes.length} input shape(s) given`,
    );
  }
  const g = rewrite({
    nodes: m.nodes,
    initializers: m.initializers,
    outputs: new Set(m.outputs.map((o) => o.name)),
  });
  for (const n of g.nodes) {
    if (!opImport(n)) {
      throw new Error(
        `importOnnx: ${file}: ${describeNode(n, m.opset)} is not supported; oto imports ` +
          `${supportedOps().join(", ")}`,
      );
    }
  }
  const roleOf = roles(m, g.nodes);
  const frozen = new Set(options.buffers ?? []);
  const constants = new Map<string, HostValue>();
  const params: OnnxModulePlan["params"] = [];
  for (const [name, v] of g.initializers) {
    const rs = roleOf.get(name) ?? new Set<Role>();
    const float = v.kind === "float";
    const trainable = float && ([...rs].some((r) => TRAINABLE.has(r)) ||
      (rs.has("operand") && numel(v.shape) > 1));
    const buffer = float && [...rs].some((r) => BUFFER.has(r));
    if (trainable || buffer) {
      params.push({
        name,
        value: v.data as Float32Array,
        shape: v.shape,
        trainable: trainable && !frozen.has(name),
      });
    } else constants.set(name, v);
  }
  for (const name of frozen) {
    if (!params.some((p) => p.name === name)) {
      throw new Error(`importOnnx: buffers names "${name}", which is no parameter of ${file}`);
    }
  }
  // Trainable parameters first, each group in file order (as a Module registers them).
  params.sort((a, b) => Number(b.trainable) - Number(a.trainable));
  const paramNames = new Set(params.map((p) => p.name));
  const nodes: PlannedNode[] = g.nodes.map((n) => ({
    node: n,
    impl: opImport(n)!,
    path: nodePath(n, paramNames),
  }));
  const plan: OnnxModulePlan = {
    nodes,
    constants,
    params,
    inputNames: m.inputs.map((i) => i.name),
    outputNames: m.outputs.map((o) => o.name),
    opset: m.opset,
    source: file,
  };
  const model = new OnnxModule<O>(plan, options.backend ?? getDefaultBackend());
  model.eval();
  const shapes = m.inputs.map((inp, i) =>
    referenceShape(inp, file, givenShapes?.[i], i === 0 ? fallbackInputShape : undefined)
  );
  try {
    model.recordReference(shapes.map((s) => metaTensor(s)));
  } catch (e) {
    model.dispose();
    throw new Error(`importOnnx: ${(e as Error).message}`, { cause: (e as Error).cause });
  }
  return model;
}
