/**
 * The op registry: every op is one {@link OpSpec} with all its facets side by side (shape rule,
 * cpu reference, WebGPU kernel, gradient, channel rule, cost, ONNX mapping), and {@link apply}
 * is the one interpreter that runs any op on any backend, records it for autograd and, when a
 * tracer is installed, for graph capture.
 */
import {
  type BackendName,
  getDefaultBackend,
  type HostArray,
  numel,
  Storage,
  Tensor,
  type TensorInfo,
} from "../tensor.ts";
import type { GradNode } from "../autograd.ts";
import type { ChannelRule } from "../zig/rules.ts";
import type { OnnxRule } from "../onnx/rules.ts";

/** Input/output shapes as the facets see them. */
export interface OpInfo {
  ins: readonly TensorInfo[];
  outs: readonly TensorInfo[];
}

/** Autograd rule: gradients of the inputs from the gradients of the outputs, built from ops. */
export type GradFn<A> = (
  ctx: { ins: readonly Tensor[]; outs: readonly Tensor[]; attrs: A },
  gradOuts: readonly Tensor[],
) => (Tensor | null)[];

/** One op, all facets. `A` is its attribute record. */
export interface OpSpec<A = Record<string, unknown>> {
  name: string;
  /** Names of the inputs, which tell graph capture the role of a parameter input. */
  inputNames?: readonly string[];
  /** Output shapes and dtypes; throws errors that name the op and the offending shapes. */
  shape(ins: readonly TensorInfo[], attrs: A): TensorInfo[];
  /** Reference implementation: fill `outs` (zeroed) from `ins`. Mutating ops write `ins`. */
  cpu(ins: readonly HostArray[], outs: HostArray[], attrs: A, info: OpInfo): void;
  /** Record the WGSL kernel dispatch(es) that compute `outs` from `ins`. */
  gpu(ins: readonly GPUBuffer[], outs: GPUBuffer[], attrs: A, info: OpInfo): void;
  /** Gradient, or `{ none: reason }` for ops that are not differentiable (argmax, updates). */
  grad: GradFn<A> | { none: string };
  /** Output 0 shares input 0's storage (reshape): no kernel runs. */
  alias?: boolean;
  /** Indices of inputs the op writes in place (optimizer updates); never differentiable. */
  mutates?: number[];
  /** How output channels relate to input channels, for the ZIG partition. */
  channels?: ChannelRule<A>;
  /** Multiply-adds (conv/linear/matmul) and total arithmetic ops, for reports. */
  cost?: (info: OpInfo, attrs: A) => { macs: number; flops: number };
  /** How the op is written to an ONNX graph. */
  onnx?: OnnxRule<A>;
}

const registry = new Map<string, OpSpec<never>>();

/** Register an op (once per name) and return it, typed. */
export function defineOp<A>(spec: OpSpec<A>): OpSpec<A> {
  if (registry.has(spec.name)) throw new Error(`op ${spec.name} is defined twice`);
  registry.set(spec.name, spec as unknown as OpSpec<never>);
  return spec;
}

/** Every registered op, by name. */
export function allOps(): ReadonlyMap<string, OpSpec<never>> {
  return registry;
}

/** Look up an op by name. */
export function getOp(name: string): OpSpec<never> {
  const op = registry.get(name);
  if (!op) throw new Error(`unknown op "${name}"`);
  return op;
}

// ---------------------------------------------------------------------------------------------
// Interpreter hooks: autograd switch, module path, tracer.

let gradEnabled = true;

/** Run `fn` without recording gradients. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Whether ops currently record gradients. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

const pathStack: string[] = [];

/** Run `fn` with `name` appended to the module path that ops are attributed to. */
export function withPath<T>(name: string, fn: () => T): T {
  pathStack.push(name);
  try {
    return fn();
  } finally {
    pathStack.pop();
  }
}

/** The module path of the op being run ("layer2.0.conv1"). */
export function currentPath(): string {
  return pathStack.filter((s) => s).join(".");
}

/** Sees every op as it runs (graph capture). */
export interface Tracer {
  record(op: OpSpec<never>, ins: readonly Tensor[], outs: readonly Tensor[], attrs: unknown): void;
}
let tracer: Tracer | null = null;

/** Install (or remove, with null) the tracer; returns the previous one. */
export function setTracer(t: Tracer | null): Tracer | null {
  const prev = tracer;
  tracer = t;
  return prev;
}

// ---------------------------------------------------------------------------------------------

/** Run `op` on `ins`. All inputs must share a backend; creation ops pass `backend`. */
export function apply<A>(
  op: OpSpec<A>,
  ins: readonly Tensor[],
  attrs: A,
  backend?: BackendName,
): Tensor[] {
  for (const t of ins) t.assertAlive(op.name);
  // Shape-only tracing: one meta input makes the whole op meta, so a model whose parameters
  // live on the GPU can be traced with a meta input without touching any kernel.
  const meta = ins.some((t) => t.backend === "meta");
  const be = meta ? "meta" : backend ?? ins[0]?.backend ?? getDefaultBackend();
  for (const t of ins) {
    if (!meta && t.backend !== be) {
      throw new Error(
        `${op.name}: inputs are on different backends (${ins.map((t) => t.backend).join(", ")}); ` +
          `move them with toBackend() first`,
      );
    }
  }
  const outInfos = op.shape(ins, attrs);
  const info: OpInfo = { ins, outs: outInfos };
  let outs: Tensor[];
  if (op.alias) {
    outs = [new Tensor([...outInfos[0].shape], outInfos[0].dtype, be, ins[0].storage.retain())];
  } else {
    outs = outInfos.map((o) =>
      new Tensor([...o.shape], o.dtype, be, Storage.alloc(be, o.dtype, numel(o.shape)))
    );
    if (be === "cpu") {
      op.cpu(ins.map((t) => t.storage.host!), outs.map((t) => t.storage.host!), attrs, info);
    } else if (be === "webgpu") {
      op.gpu(ins.map((t) => t.storage.gpu!), outs.map((t) => t.storage.gpu!), attrs, info);
    }
  }
  if (gradEnabled && typeof op.grad === "function" && ins.some((t) => t.requiresGrad)) {
    const node: GradNode = { op: op as unknown as OpSpec<never>, ins, outs, attrs };
    for (const o of outs) {
      if (o.dtype === "f32") {
        o.requiresGrad = true;
        o.node = node;
      }
    }
  }
  tracer?.record(op as unknown as OpSpec<never>, ins, outs, attrs);
  return outs;
}

/** {@link apply} for single-output ops. */
export function apply1<A>(op: OpSpec<A>, ins: readonly Tensor[], attrs: A): Tensor {
  return apply(op, ins, attrs)[0];
}

/** "op: message (shapes [a], [b])" errors for shape rules. */
export function shapeError(op: string, msg: string, ...shapes: readonly (readonly number[])[]) {
  const s = shapes.map((x) => `[${x.join(",")}]`).join(", ");
  return new Error(`${op}: ${msg}${s ? ` (shapes ${s})` : ""}${pathSuffix()}`);
}

function pathSuffix(): string {
  const p = currentPath();
  return p ? ` (layer ${p})` : "";
}
