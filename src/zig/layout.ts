/**
 * Channel layouts: which axes of a tensor carry tracked channels and, for every position of
 * those axes, which channel (a global channel id of the partition's union-find). Positions are
 * explicit, so permutes, reshapes (flatten, a split of the channel axis), strided slices and
 * concatenations along any axis are one re-enumeration each, whatever order they come in.
 */

/** The tracked channels of one tensor. */
export interface Layout {
  /** Tensor axes that carry channels, ascending. */
  axes: number[];
  /** Channel id of every position of those axes (row-major over them, in tensor order). */
  ids: Int32Array;
}

/** A layout larger than this many positions is not tracked (the channels are fixed). */
export const MAX_POSITIONS = 1 << 23;

const prod = (xs: readonly number[]) => xs.reduce((p, x) => p * x, 1);

/** Sizes of `axes` in `shape`. */
export const sizesOf = (shape: readonly number[], axes: readonly number[]): number[] =>
  axes.map((a) => shape[a]);

/** Row-major index of `coords` over `sizes`. */
function indexOf(coords: readonly number[], sizes: readonly number[]): number {
  let i = 0;
  for (let k = 0; k < sizes.length; k++) i = i * sizes[k] + coords[k];
  return i;
}

/**
 * A new id array of `sizes`, position by position: `from(coords)` gives the position in `old`
 * (or -1 for a channel the caller fills in).
 */
function enumerate(
  sizes: readonly number[],
  old: Int32Array,
  from: (coords: number[]) => number,
): Int32Array | null {
  const n = prod(sizes);
  if (n > MAX_POSITIONS) return null;
  const out = new Int32Array(n);
  const c = new Array(sizes.length).fill(0);
  for (let i = 0; i < n; i++) {
    const at = from(c);
    out[i] = at < 0 ? -1 : old[at];
    for (let k = sizes.length - 1; k >= 0; k--) {
      if (++c[k] < sizes[k]) break;
      c[k] = 0;
    }
  }
  return out;
}

/** The layout after `permute(perm)`: output axis k is input axis perm[k]. */
export function permuteLayout(l: Layout, inShape: readonly number[], perm: readonly number[]) {
  const axes = l.axes.map((a) => perm.indexOf(a)).sort((p, q) => p - q);
  const oldSizes = sizesOf(inShape, l.axes);
  // Output composite axis i (tensor axis axes[i]) is input axis perm[axes[i]].
  const where = l.axes.map((a) => axes.indexOf(perm.indexOf(a)));
  const ids = enumerate(
    axes.map((a) => inShape[perm[a]]),
    l.ids,
    (c) => indexOf(where.map((w) => c[w]), oldSizes),
  );
  return ids && { axes, ids };
}

/** The layout of a strided slice (per axis: first index, step; `outShape` the result). */
export function sliceLayout(
  l: Layout,
  inShape: readonly number[],
  starts: readonly number[],
  steps: readonly number[],
  outShape: readonly number[],
): Layout | null {
  const oldSizes = sizesOf(inShape, l.axes);
  const ids = enumerate(
    sizesOf(outShape, l.axes),
    l.ids,
    (c) => indexOf(c.map((v, k) => starts[l.axes[k]] + v * steps[l.axes[k]]), oldSizes),
  );
  return ids && { axes: [...l.axes], ids };
}

/**
 * The layout of a zero padding (`before` positions per axis, `outShape` the result): the added
 * channel positions are -1, for the caller to fill in.
 */
export function padLayout(
  l: Layout,
  inShape: readonly number[],
  before: readonly number[],
  outShape: readonly number[],
): Layout | null {
  const oldSizes = sizesOf(inShape, l.axes);
  const ids = enumerate(sizesOf(outShape, l.axes), l.ids, (c) => {
    const at = c.map((v, k) => v - before[l.axes[k]]);
    return at.every((v, k) => v >= 0 && v < oldSizes[k]) ? indexOf(at, oldSizes) : -1;
  });
  return ids && { axes: [...l.axes], ids };
}

/** The layout after reducing `axes` (none of which carries channels). */
export function reduceLayout(l: Layout, axes: readonly number[], keepDims: boolean): Layout {
  if (keepDims) return l;
  return { axes: l.axes.map((a) => a - axes.filter((r) => r < a).length), ids: l.ids };
}

/**
 * Runs of a reshape: consecutive input axes and output axes with equal products (the same
 * memory in the same order). Size-1 axes join the run before them.
 */
export function reshapeRuns(a: readonly number[], b: readonly number[]) {
  const runs: { ins: number[]; outs: number[] }[] = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    const ins: number[] = [], outs: number[] = [];
    let pa = 1, pb = 1;
    if (i < a.length) (pa *= a[i], ins.push(i++));
    if (j < b.length) (pb *= b[j], outs.push(j++));
    while (pa !== pb) {
      if (pa < pb && i < a.length) (pa *= a[i], ins.push(i++));
      else if (j < b.length) (pb *= b[j], outs.push(j++));
      else if (i < a.length) (pa *= a[i], ins.push(i++));
      else break;
    }
    // Trailing size-1 axes stay with this run.
    while (i < a.length && a[i] === 1 && (j >= b.length || b[j] !== 1)) ins.push(i++);
    while (j < b.length && b[j] === 1 && (i >= a.length || a[i] !== 1)) outs.push(j++);
    runs.push({ ins, outs });
  }
  return runs;
}

/**
 * The layout after a reshape `inShape -> outShape`: every output axis of a run that holds a
 * channel axis carries channels (a flatten of C, H, W gives H*W positions per channel). Returns
 * a reason instead when the channels would mix with the batch axis.
 */
export function reshapeLayout(
  l: Layout,
  inShape: readonly number[],
  outShape: readonly number[],
): Layout | string {
  const runs = reshapeRuns(inShape, outShape).filter((r) => r.ins.some((a) => l.axes.includes(a)));
  if (runs.some((r) => r.ins.includes(0) || r.outs.includes(0))) {
    return "reshape merges the channel and batch axes";
  }
  // Size-1 output axes carry no positions of their own (unless every axis is 1).
  const all = runs.flatMap((r) => r.outs).sort((p, q) => p - q);
  const big = all.filter((a) => outShape[a] !== 1);
  const axes = big.length ? big : all.slice(0, 1);
  const pos = new Map(axes.map((a, i) => [a, i]));
  const oldSizes = sizesOf(inShape, l.axes);
  const slot = new Map(l.axes.map((a, k) => [a, k])); // input channel axis -> coordinate
  const oldCoords = new Array(l.axes.length).fill(0);
  const ids = enumerate(sizesOf(outShape, axes), l.ids, (c) => {
    for (const r of runs) {
      // Flat position inside the run, from the output coordinates, back to input coordinates.
      let flat = 0;
      for (const o of r.outs) flat = flat * outShape[o] + (c[pos.get(o) ?? -1] ?? 0);
      for (let t = r.ins.length - 1; t >= 0; t--) {
        const a = r.ins[t], d = inShape[a];
        const s = slot.get(a);
        if (s !== undefined) oldCoords[s] = flat % d;
        flat = Math.floor(flat / d);
      }
    }
    return indexOf(oldCoords, oldSizes);
  });
  return ids ? { axes, ids } : "the reshaped channel axes are too large to track";
}

/**
 * The layout of a concatenation along `axis`, which carries channels in every operand (`ls`
 * all share their axes): positions in operand order along that axis.
 */
export function concatLayout(
  ls: readonly Layout[],
  shapes: readonly (readonly number[])[],
  axis: number,
  outShape: readonly number[],
): Layout | null {
  const axes = ls[0].axes;
  const k = axes.indexOf(axis);
  const starts: number[] = [];
  let off = 0;
  for (const s of shapes) (starts.push(off), off += s[axis]);
  const total = prod(sizesOf(outShape, axes));
  if (total > MAX_POSITIONS) return null;
  const ids = new Int32Array(total);
  const sizes = sizesOf(outShape, axes);
  const c = new Array(axes.length).fill(0);
  for (let i = 0; i < total; i++) {
    let op = shapes.length - 1;
    while (starts[op] > c[k]) op--;
    const local = c.map((v, t) => (t === k ? v - starts[op] : v));
    ids[i] = ls[op].ids[indexOf(local, sizesOf(shapes[op], axes))];
    for (let t = sizes.length - 1; t >= 0; t--) {
      if (++c[t] < sizes[t]) break;
      c[t] = 0;
    }
  }
  return { axes: [...axes], ids };
}

/**
 * An operand's layout as seen from an output of rank `outRank` (NumPy broadcasting aligns the
 * trailing axes); null when the operand is broadcast along a channel axis.
 */
export function alignLayout(
  l: Layout,
  shape: readonly number[],
  outShape: readonly number[],
): Layout | null {
  const d = outShape.length - shape.length;
  if (l.axes.some((a) => shape[a] !== outShape[a + d])) return null;
  return d === 0 ? l : { axes: l.axes.map((a) => a + d), ids: l.ids };
}

/** Whether two layouts have the same channel axes and sizes (positions can be compared). */
export function sameAxes(a: Layout, b: Layout): boolean {
  return a.ids.length === b.ids.length && a.axes.length === b.axes.length &&
    a.axes.every((x, i) => x === b.axes[i]);
}

/**
 * Channels over several axes: axes the channel ids do not depend on are dropped (an
 * unflatten [N, C*H*W] -> [N, C, H, W] has its channels on axis 1 only). When the ids depend
 * on several axes (a split of the channel axis into groups), the compact tensor must stay a
 * grid: positions that differ only along the other axes are removed together, so channels
 * are pruned along the last of them.
 */
export function productForm(
  l: Layout,
  shape: readonly number[],
  couple: (a: number, b: number) => void,
  root: (c: number) => number,
): Layout {
  const sizes = sizesOf(shape, l.axes);
  const strides = sizes.map((_, k) => sizes.slice(k + 1).reduce((p, x) => p * x, 1));
  const depends = (f: (c: number) => number) =>
    sizes.flatMap((s, k) => {
      for (let i = 0; i < l.ids.length && s > 1; i++) {
        const ck = Math.floor(i / strides[k]) % s;
        if (ck + 1 < s && f(l.ids[i]) !== f(l.ids[i + strides[k]])) return [k];
      }
      return [];
    });
  const dep = depends((c) => c);
  // What is removed together (the prune classes) must depend on one axis only: then any
  // removal keeps a grid. Otherwise join what differs only along the other axes.
  const groups = depends(root);
  if (groups.length >= 2) {
    const last = groups[groups.length - 1];
    const first = new Map<number, number>();
    for (let i = 0; i < l.ids.length; i++) {
      const key = Math.floor(i / strides[last]) % sizes[last];
      const c = first.get(key);
      if (c === undefined) first.set(key, l.ids[i]);
      else couple(c, l.ids[i]);
    }
  }
  const keep = dep.length ? dep : [0];
  if (keep.length === l.axes.length) return l;
  // Project onto the kept axes (coordinate 0 along the dropped ones).
  const ks = keep.map((k) => sizes[k]);
  const n = ks.reduce((p, x) => p * x, 1);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let rem = i, at = 0;
    for (let q = keep.length - 1; q >= 0; q--) {
      at += (rem % ks[q]) * strides[keep[q]];
      rem = Math.floor(rem / ks[q]);
    }
    ids[i] = l.ids[at];
  }
  return { axes: keep.map((k) => l.axes[k]), ids };
}
