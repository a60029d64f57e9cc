/**
 * The op registry: every op is one {@link OpSpec} with all its facets side by side (shape rule,
 * cpu reference, WebGPU kernel, gradient, channel rule, cost, ONNX mapping), and {@link apply}
 * is the one interpreter that runs any op on any backend, records it for autograd and, when a
 * tracer is installed, for graph capture.
 */
import { type BackendName, getDefaultBackend, numel, Storage, Tensor } from "../tensor.ts";
import type {
  AliasOp as AliasOpOf,
  GradFn as GradFnOf,
  GradNode as GradNodeOf,
  KernelOp as KernelOpOf,
  OpInfo,
  OpSpec as OpSpecOf,
} from "./spec.ts";

export type { OpInfo };
export type { BackendFacets, ChannelRule, CostFn, NoFacet, OnnxRule } from "./spec.ts";

/** Autograd rule of an op, on {@link Tensor}s. */
export type GradFn<A> = GradFnOf<A, Tensor>;
/** One op, all facets side by side. `A` is its attribute record. */
export type OpSpec<A = Record<string, unknown>> = OpSpecOf<A, Tensor>;
/** An op with a kernel on every backend. */
export type KernelOp<A = Record<string, unknown>> = KernelOpOf<A, Tensor>;
/** An op whose output shares its input's storage (reshape). */
export type AliasOp<A = Record<string, unknown>> = AliasOpOf<A, Tensor>;
/** How a tensor was computed (autograd's record of one op application). */
export type GradNode = GradNodeOf<Tensor>;

const registry = new Map<string, OpSpec<never>>();
// Specs are frozen; a test that needs a different facet swaps in a patched copy for a scope.
const overrides = new Map<OpSpec<never>, OpSpec<never>>();

/** Freeze a spec and the plain objects and arrays it holds (rules, reasons, names). */
function freezeSpec<S extends object>(spec: S): S {
  for (const v of Object.values(spec)) {
    if (v && typeof v === "object" && !Object.isFrozen(v)) Object.freeze(v);
  }
  return Object.freeze(spec);
}

function register<S extends OpSpec<never>>(spec: S): S {
  if (registry.has(spec.name)) throw new Error(`op ${spec.name} is defined twice`);
  registry.set(spec.name, freezeSpec(spec));
  return spec;
}

/**
 * Register an op (once per name) and return it, typed and frozen. Every facet is required by
 * the type: a facet an op cannot have is written `{ none: reason }` (grad, onnx) or a `block`
 * channel rule with its reason.
 */
export function defineOp<A>(spec: KernelOp<A>): KernelOp<A> {
  return register(spec as unknown as KernelOp<never>) as unknown as KernelOp<A>;
}

/** Register an op whose output 0 is a view of input 0's storage (no kernel on any backend). */
export function defineAliasOp<A>(spec: AliasOp<A>): AliasOp<A> {
  return register(spec as unknown as AliasOp<never>) as unknown as AliasOp<A>;
}

/** Every registered op, by name (patched specs while {@link withPatchedOps} runs). */
export function allOps(): ReadonlyMap<string, OpSpec<never>> {
  if (overrides.size === 0) return registry;
  return new Map([...registry].map(([name, op]) => [name, overrides.get(op) ?? op]));
}

/** Look up an op by name. */
export function getOp(name: string): OpSpec<never> {
  const op = registry.get(name);
  if (!op) throw new Error(`unknown op "${name}"`);
  return overrides.get(op) ?? op;
}

/** Replacement facets for one op; `undefined` removes a facet (tests of missing facets). */
export type OpPatch = { [K in keyof KernelOp<never>]?: KernelOp<never>[K] | undefined };

/**
 * For tests: run `fn` with some ops' facets replaced (by op name), then restore the specs, also
 * when `fn` throws or its promise rejects. {@link apply}, {@link getOp} and {@link allOps} see
 * the patched specs meanwhile. Each patch may be a function of the original spec.
 */
export function withPatchedOps<R>(
  patches: Record<string, OpPatch | ((orig: OpSpec<never>) => OpPatch)>,
  fn: () => R,
): R {
  const added: OpSpec<never>[] = [];
  const restore = () => {
    for (const op of added) overrides.delete(op);
  };
  try {
    for (const [name, patch] of Object.entries(patches)) {
      const orig = registry.get(name);
      if (!orig) throw new Error(`withPatchedOps: unknown op "${name}"`);
      if (overrides.has(orig)) throw new Error(`withPatchedOps: op "${name}" is already patched`);
      const p = typeof patch === "function" ? patch(orig) : patch;
      overrides.set(orig, Object.freeze({ ...orig, ...p }) as OpSpec<never>);
      added.push(orig);
    }
  } catch (e) {
    restore();
    throw e;
  }
  let result: R;
  try {
    result = fn();
  } catch (e) {
    restore();
    throw e;
  }
  if (result instanceof Promise) return result.finally(restore) as R;
  restore();
  return result;
}

/** {@link withPatchedOps} for one op. */
export function withPatchedOp<R>(
  name: string,
  patch: OpPatch | ((orig: OpSpec<never>) => OpPatch),
  fn: () => R,
): R {
  return withPatchedOps({ [name]: patch }, fn);
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

/** Whether a tracer records the ops now (an op must then run even where it would be a no-op). */
export function isTracing(): boolean {
  return tracer !== null;
}

// ---------------------------------------------------------------------------------------------

/** A compute backend: every backend but `meta`, which computes shapes only. */
export type ComputeBackend = Exclude<BackendName, "meta">;

/**
 * Which facet of a spec runs an op on each compute backend, and how a tensor's storage is handed
 * to it. Adding a backend is one row here and one facet column in `BackendFacets` (spec.ts).
 */
const BACKEND_FACETS: {
  [B in ComputeBackend]: (
    op: KernelOp<unknown>,
    ins: readonly Tensor[],
    outs: readonly Tensor[],
    attrs: unknown,
    info: OpInfo,
  ) => void;
} = {
  cpu: (op, ins, outs, attrs, info) =>
    op.cpu(ins.map((t) => t.storage.host!), outs.map((t) => t.storage.host!), attrs, info),
  webgpu: (op, ins, outs, attrs, info) =>
    op.gpu(ins.map((t) => t.storage.gpu!), outs.map((t) => t.storage.gpu!), attrs, info),
  // The fast kernels where an op has them; else the cpu reference on views of the same memory
  // (outputs zeroed first, as the reference expects).
  wasm: (op, ins, outs, attrs, info) => {
    const ptrs = (ts: readonly Tensor[]) => ts.map((t) => t.storage.ptr);
    if (!op.wasm || op.wasm(ptrs(ins), ptrs(outs), attrs, info) === false) {
      const hosts = outs.map((t) => t.storage.host!.fill(0));
      op.cpu(ins.map((t) => t.storage.host!), hosts, attrs, info);
    }
  },
};

/** Run `op` on `ins`. All inputs must share a backend; creation ops pass `backend`. */
export function apply<A>(
  op: OpSpec<A>,
  ins: readonly Tensor[],
  attrs: A,
  backend?: BackendName,
): Tensor[] {
  const spec = (overrides.size ? overrides.get(op as never) ?? op : op) as OpSpec<unknown>;
  for (const t of ins) t.assertAlive(spec.name);
  // Shape-only tracing: one meta input makes the whole op meta, so a model whose parameters
  // live on the GPU can be traced with a meta input without touching any kernel.
  const meta = ins.some((t) => t.backend === "meta");
  const be = meta ? "meta" : backend ?? ins[0]?.backend ?? getDefaultBackend();
  for (const t of ins) {
    if (!meta && t.backend !== be) {
      throw new Error(
        `${spec.name}: inputs are on different backends (${
          ins.map((t) => t.backend).join(", ")
        }); ` +
          `move them with toBackend() first`,
      );
    }
  }
  const outInfos = spec.shape(ins, attrs);
  const info: OpInfo = { ins, outs: outInfos };
  let outs: Tensor[];
  if (spec.alias) {
    outs = [new Tensor([...outInfos[0].shape], outInfos[0].dtype, be, ins[0].storage.retain())];
  } else {
    outs = outInfos.map((o) =>
      new Tensor([...o.shape], o.dtype, be, Storage.alloc(be, o.dtype, numel(o.shape)))
    );
    if (be !== "meta") BACKEND_FACETS[be](spec, ins, outs, attrs, info);
  }
  if (gradEnabled && typeof spec.grad === "function" && ins.some((t) => t.requiresGrad)) {
    const node: GradNode = { op: spec as OpSpec<never>, ins, outs, attrs };
    for (const o of outs) {
      if (o.dtype === "f32") {
        o.requiresGrad = true;
        o.node = node;
      }
    }
  }
  tracer?.record(spec as OpSpec<never>, ins, outs, attrs);
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
