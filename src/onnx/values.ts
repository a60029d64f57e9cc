/**
 * Host values of an imported ONNX graph: initializers that are not parameters, `Constant`
 * nodes, and everything computed from them and from tensor *shapes* (`Shape`, `Gather`,
 * `Concat`, ... feeding `Reshape`, `Slice`, `Expand`). These are evaluated in plain TypeScript
 * for the shapes of each call, so shape arithmetic never becomes a node of the traced graph and
 * the batch size follows the input. Integers are JavaScript numbers (int64 values beyond 2^53
 * only ever act as "to the end" markers, which a float keeps).
 */

/** Element kind of a host value. */
export type ValueKind = "float" | "int" | "bool";

/** A host value: element kind, shape and row-major data. */
export interface HostValue {
  kind: ValueKind;
  shape: number[];
  data: ArrayLike<number>;
  /** Computed from a tensor's shape (so it follows the batch size of every call). */
  fromShape?: boolean;
}

/** A host value (float data is rounded to float32 as ONNX stores it). */
export function hostValue(
  kind: ValueKind,
  shape: readonly number[],
  data: ArrayLike<number>,
  fromShape = false,
): HostValue {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) {
    throw new Error(`host value of shape [${shape}] needs ${n} values, got ${data.length}`);
  }
  // Float data stays in (or becomes) a Float32Array without a second copy of large weights.
  const d = kind === "float"
    ? (data instanceof Float32Array ? data : Float32Array.from(data))
    : Array.from(data);
  return fromShape
    ? { kind, shape: [...shape], data: d, fromShape }
    : { kind, shape: [...shape], data: d };
}

/** Whether `v` is a host value (not a Tensor). */
export function isHost(v: unknown): v is HostValue {
  return typeof v === "object" && v !== null && "kind" in v && "data" in v &&
    !("storage" in v);
}

/** Number of elements of a shape. */
export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The values as plain numbers. */
export function numbers(v: HostValue): number[] {
  return Array.from(v.data);
}

const anyFromShape = (vs: readonly HostValue[]) => vs.some((v) => v.fromShape);

/** Row-major strides. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) (s[i] = acc, acc *= shape[i]);
  return s;
}

/** NumPy broadcast of shapes; throws naming `op` when they do not broadcast. */
export function broadcast(op: string, ...shapes: (readonly number[])[]): number[] {
  const r = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(r).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const k = r - s.length + i, d = s[i], o = out[k];
      if (d === o || d === 1) continue;
      if (o === 1) out[k] = d;
      else {throw new Error(`${op}: shapes ${
          shapes.map((x) => `[${x}]`).join(", ")
        } do not broadcast`);}
    }
  }
  return out;
}

/** Elementwise map over broadcast operands. */
export function mapBroadcast(
  op: string,
  vs: readonly HostValue[],
  kind: ValueKind,
  f: (...xs: number[]) => number,
): HostValue {
  const out = broadcast(op, ...vs.map((v) => v.shape));
  const n = size(out);
  const r = out.length;
  const st = vs.map((v) => {
    const s = strides(v.shape);
    return out.map((_, i) => {
      const k = i - (r - v.shape.length);
      return k < 0 || v.shape[k] === 1 ? 0 : s[k];
    });
  });
  const data = new Array<number>(n);
  const args = new Array<number>(vs.length);
  for (let i = 0; i < n; i++) {
    let rem = i;
    const offs = new Array<number>(vs.length).fill(0);
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % out[d];
      rem = (rem - c) / out[d];
      for (let j = 0; j < vs.length; j++) offs[j] += c * st[j][d];
    }
    for (let j = 0; j < vs.length; j++) args[j] = vs[j].data[offs[j]];
    data[i] = f(...args);
  }
  return hostValue(kind, out, data, anyFromShape(vs));
}

/** Gather along `axis` with integer indices (negative counts from the end). */
export function gatherHost(x: HostValue, idx: HostValue, axis: number): HostValue {
  const r = x.shape.length;
  const ax = axis < 0 ? axis + r : axis;
  const dim = x.shape[ax];
  const outer = size(x.shape.slice(0, ax)), inner = size(x.shape.slice(ax + 1));
  const ids = numbers(idx).map((i) => {
    const j = i < 0 ? i + dim : i;
    if (!(j >= 0 && j < dim)) throw new Error(`Gather: index ${i} is outside an axis of ${dim}`);
    return j;
  });
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const j of ids) {
      for (let k = 0; k < inner; k++) data.push(x.data[(o * dim + j) * inner + k]);
    }
  }
  const shape = [...x.shape.slice(0, ax), ...idx.shape, ...x.shape.slice(ax + 1)];
  return hostValue(x.kind, shape, data, x.fromShape || idx.fromShape);
}

/** Strided view copy: out[i] = x[offset + Σ coord·stride]. */
function strided(
  x: HostValue,
  shape: readonly number[],
  st: readonly number[],
  offset: number,
  fromShape: boolean,
): HostValue {
  const n = size(shape);
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let rem = i, at = offset;
    for (let d = shape.length - 1; d >= 0; d--) {
      const c = rem % shape[d];
      rem = (rem - c) / shape[d];
      at += c * st[d];
    }
    data[i] = x.data[at];
  }
  return hostValue(x.kind, shape, data, fromShape);
}

/** Resolved slice of one axis: first index, count and step (ONNX / NumPy clamping). */
export function sliceAxis(
  dim: number,
  start: number,
  end: number,
  step: number,
): { start: number; len: number } {
  if (!Number.isInteger(step) || step === 0) throw new Error(`Slice: step must be nonzero`);
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  const norm = (v: number) => (v < 0 ? v + dim : v);
  let s: number, e: number;
  if (step > 0) {
    s = clamp(norm(start), 0, dim);
    e = clamp(norm(end), 0, dim);
  } else {
    s = clamp(norm(start), -1, dim - 1);
    e = clamp(norm(end), -1, dim - 1);
  }
  const len = step > 0 ? Math.ceil((e - s) / step) : Math.ceil((s - e) / -step);
  return { start: s, len: Math.max(0, len) };
}

/** Per-axis starts, steps and output shape of an ONNX Slice. */
export function slicePlan(
  shape: readonly number[],
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[] | null,
  steps: readonly number[] | null,
): { starts: number[]; steps: number[]; shape: number[] } {
  const r = shape.length;
  const st = shape.map(() => 0), sp = shape.map(() => 1), out = [...shape];
  const ax = axes ?? starts.map((_, i) => i);
  if (ends.length !== starts.length || ax.length !== starts.length) {
    throw new Error(`Slice: starts, ends and axes differ in length`);
  }
  ax.forEach((a0, i) => {
    const a = a0 < 0 ? a0 + r : a0;
    if (!(a >= 0 && a < r)) throw new Error(`Slice: axis ${a0} is out of range for rank ${r}`);
    const step = steps ? steps[i] : 1;
    const { start, len } = sliceAxis(shape[a], starts[i], ends[i], step);
    st[a] = start, sp[a] = step, out[a] = len;
  });
  return { starts: st, steps: sp, shape: out };
}

/** Slice a host value. */
export function sliceHost(
  x: HostValue,
  plan: { starts: number[]; steps: number[]; shape: number[] },
): HostValue {
  const s = strides(x.shape);
  let off = 0;
  plan.starts.forEach((v, d) => (off += v * s[d]));
  return strided(x, plan.shape, s.map((v, d) => v * plan.steps[d]), off, !!x.fromShape);
}

/** Concatenate host values along `axis`. */
export function concatHost(vs: readonly HostValue[], axis: number): HostValue {
  const r = vs[0].shape.length;
  const ax = axis < 0 ? axis + r : axis;
  const shape = [...vs[0].shape];
  shape[ax] = vs.reduce((a, v) => a + v.shape[ax], 0);
  const outer = size(shape.slice(0, ax));
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const v of vs) {
      const blk = size(v.shape.slice(ax));
      for (let k = 0; k < blk; k++) data.push(v.data[o * blk + k]);
    }
  }
  const kind = vs.some((v) => v.kind === "float") ? "float" : vs[0].kind;
  return hostValue(kind, shape, data, anyFromShape(vs));
}

/** Permute axes of a host value. */
export function transposeHost(x: HostValue, perm: readonly number[]): HostValue {
  const s = strides(x.shape);
  return strided(x, perm.map((p) => x.shape[p]), perm.map((p) => s[p]), 0, !!x.fromShape);
}

/** Broadcast a host value to `shape`. */
export function expandHost(x: HostValue, shape: readonly number[]): HostValue {
  const out = broadcast("Expand", x.shape, shape);
  const r = out.length, s = strides(x.shape);
  const st = out.map((_, i) => {
    const k = i - (r - x.shape.length);
    return k < 0 || x.shape[k] === 1 ? 0 : s[k];
  });
  return strided(x, out, st, 0, !!x.fromShape);
}

/** A new shape for the same data (the data is shared). */
export function withShape(x: HostValue, shape: readonly number[]): HostValue {
  if (size(shape) !== x.data.length) {
    throw new Error(`Reshape: cannot reshape [${x.shape}] to [${shape}]`);
  }
  const v: HostValue = { kind: x.kind, shape: [...shape], data: x.data };
  if (x.fromShape) v.fromShape = true;
  return v;
}

/**
 * ONNX Reshape target: 0 copies the input dim (unless `allowzero`), one -1 is inferred.
 */
export function reshapeShape(
  inShape: readonly number[],
  target: readonly number[],
  allowZero = false,
): number[] {
  const out = target.map((d, i) => (d === 0 && !allowZero ? inShape[i] : d));
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1 || out.some((d) => d < -1 || d === undefined)) {
    throw new Error(`Reshape: invalid target [${target}] for input [${inShape}]`);
  }
  if (neg === 1) {
    const known = size(out.filter((d) => d !== -1));
    const n = size(inShape);
    if (known === 0 || n % known !== 0) {
      throw new Error(`Reshape: cannot reshape [${inShape}] to [${target}]`);
    }
    out[out.indexOf(-1)] = n / known;
  }
  if (size(out) !== size(inShape)) {
    throw new Error(`Reshape: cannot reshape [${inShape}] (${size(inShape)} elements) to [${out}]`);
  }
  return out;
}

/** Reduce a host value over `axes` (all when empty and `noopWithEmpty` is false). */
export function reduceHost(
  x: HostValue,
  axes: readonly number[],
  keepDims: boolean,
  kind: "sum" | "mean" | "max" | "min" | "prod",
): HostValue {
  const r = x.shape.length;
  const set = new Set(
    (axes.length ? axes : x.shape.map((_, i) => i)).map((a) => a < 0 ? a + r : a),
  );
  const outFull = x.shape.map((d, i) => (set.has(i) ? 1 : d));
  const n = size(outFull);
  const init = { sum: 0, mean: 0, max: -Infinity, min: Infinity, prod: 1 }[kind];
  const acc = new Array<number>(n).fill(init);
  const count = new Array<number>(n).fill(0);
  const os = strides(outFull);
  for (let i = 0; i < x.data.length; i++) {
    let rem = i, o = 0;
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % x.shape[d];
      rem = (rem - c) / x.shape[d];
      if (!set.has(d)) o += c * os[d];
    }
    const v = x.data[i];
    if (kind === "sum" || kind === "mean") acc[o] += v;
    else if (kind === "prod") acc[o] *= v;
    else if (kind === "max") acc[o] = Math.max(acc[o], v);
    else acc[o] = Math.min(acc[o], v);
    count[o]++;
  }
  if (kind === "mean") { for (let i = 0; i < n; i++) acc[i] /= count[i] || 1; }
  const shape = keepDims ? outFull : x.shape.filter((_, i) => !set.has(i));
  return hostValue(x.kind === "bool" ? "int" : x.kind, shape, acc, !!x.fromShape);
}

/** Cast to an ONNX element type code. */
export function castHost(x: HostValue, to: number): HostValue {
  const float = to === 1 || to === 10 || to === 11 || to === 16;
  if (float) return hostValue("float", x.shape, x.data, !!x.fromShape);
  if (to === 9) {
    return hostValue("bool", x.shape, Array.from(x.data, (v) => (v ? 1 : 0)), !!x.fromShape);
  }
  return hostValue("int", x.shape, Array.from(x.data, Math.trunc), !!x.fromShape);
}
