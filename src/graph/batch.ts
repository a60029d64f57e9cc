/**
 * How a traced graph depends on the batch size. A model computes shape attributes from its
 * input (`reshape(x, [n, ...])`, `expand(cls, [n, 1, c])`, a slice at row `n`, `zeros([n, c])`),
 * and a trace records them as numbers. Tracing the model a second time (shape-only) at batch + 1
 * gives, for every attribute and tensor shape, how much it grows per sample: at run time the graph
 * evaluates them for the actual batch instead of guessing which axis a traced 1 stood for.
 */
import type { GraphNode, GraphTensor } from "./graph.ts";

/**
 * Annotate `a` (traced at batch b) from `b` (the same model traced at batch b + 1): every node's
 * `batchDelta` and every tensor's `batchDelta` (absent where nothing changes). Returns false and
 * annotates nothing when the two traces are not the same op sequence (the model branches on the
 * batch size, or an op short-cuts at one of them).
 */
export function annotateBatch(
  a: { nodes: GraphNode[]; tensors: GraphTensor[] },
  b: { nodes: readonly GraphNode[]; tensors: readonly GraphTensor[] },
): boolean {
  if (a.nodes.length !== b.nodes.length || a.tensors.length !== b.tensors.length) return false;
  const tensorDeltas: (number[] | undefined)[] = [];
  for (let i = 0; i < a.tensors.length; i++) {
    const x = a.tensors[i].shape, y = b.tensors[i].shape;
    if (x.length !== y.length || a.tensors[i].kind !== b.tensors[i].kind) return false;
    const d = y.map((v, k) => v - x[k]);
    tensorDeltas.push(d.some((v) => v !== 0) ? d : undefined);
  }
  const nodeDeltas: (Record<string, unknown> | undefined)[] = [];
  for (let i = 0; i < a.nodes.length; i++) {
    const x = a.nodes[i], y = b.nodes[i];
    if (x.op !== y.op || !sameIds(x.inputs, y.inputs) || !sameIds(x.outputs, y.outputs)) {
      return false;
    }
    const d = diff(x.attrs, y.attrs);
    if (d === MISMATCH) return false;
    nodeDeltas.push(d === undefined ? undefined : d as Record<string, unknown>);
  }
  a.tensors.forEach((t, i) => {
    if (tensorDeltas[i]) t.batchDelta = tensorDeltas[i];
    else delete t.batchDelta;
  });
  a.nodes.forEach((n, i) => {
    if (nodeDeltas[i]) n.batchDelta = nodeDeltas[i];
    else delete n.batchDelta;
  });
  return true;
}

const MISMATCH = Symbol("mismatch");

const sameIds = (x: readonly number[], y: readonly number[]) =>
  x.length === y.length && x.every((v, i) => v === y[i]);

/** y - x on numeric leaves (undefined: no change); MISMATCH where the structure differs. */
function diff(x: unknown, y: unknown): unknown {
  if (typeof x === "number" && typeof y === "number") {
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) return undefined;
    const d = y - x;
    return Number.isFinite(d) ? d : MISMATCH;
  }
  if (Array.isArray(x) && Array.isArray(y)) {
    if (x.length !== y.length) return MISMATCH;
    const ds = x.map((v, i) => diff(v, y[i]));
    if (ds.includes(MISMATCH)) return MISMATCH;
    return ds.some((d) => d !== undefined) ? ds : undefined;
  }
  if (x && y && typeof x === "object" && typeof y === "object") {
    const keys = Object.keys(x);
    if (keys.length !== Object.keys(y).length) return MISMATCH;
    const out: Record<string, unknown> = {};
    let any = false;
    for (const k of keys) {
      if (!(k in y)) return MISMATCH;
      const d = diff((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]);
      if (d === MISMATCH) return MISMATCH;
      if (d !== undefined) (out[k] = d, any = true);
    }
    return any ? out : undefined;
  }
  return x === y ? undefined : MISMATCH;
}

/** `attrs` at `extra` samples more than traced (`delta` from {@link annotateBatch}). */
export function attrsAtBatch<T>(attrs: T, delta: unknown, extra: number): T {
  if (delta === undefined || extra === 0) return attrs;
  if (typeof attrs === "number") return (attrs + (delta as number) * extra) as T;
  if (Array.isArray(attrs)) {
    return attrs.map((v, i) => attrsAtBatch(v, (delta as unknown[])[i], extra)) as T;
  }
  if (attrs && typeof attrs === "object") {
    const out = { ...attrs } as Record<string, unknown>;
    for (const [k, d] of Object.entries(delta as Record<string, unknown>)) {
      out[k] = attrsAtBatch(out[k], d, extra);
    }
    return out as T;
  }
  return attrs;
}

/** A tensor's shape at `extra` samples more than traced. */
export function shapeAtBatch(t: GraphTensor, extra: number): number[] {
  const d = t.batchDelta;
  return d && extra ? t.shape.map((s, k) => s + d[k] * extra) : t.shape;
}

/**
 * How many samples more than traced the inputs `xs` have: null when the graph carries no batch
 * annotation or the inputs disagree (then shape attributes follow the ops' `follow` facets).
 */
export function extraSamples(
  inputs: readonly GraphTensor[],
  xs: readonly { shape: readonly number[] }[],
): number | null {
  let extra: number | null = null;
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i], d = t.batchDelta;
    if (!d || d[0] !== 1 || d.some((v, k) => k > 0 && v !== 0)) return null;
    const e = xs[i].shape[0] - t.shape[0];
    if (xs[i].shape.length !== t.shape.length || (extra !== null && e !== extra)) return null;
    extra = e;
  }
  return extra;
}
