/**
 * Ops that move channel positions around: concatenation and split (along the channels or any
 * other axis), slices, permutes, reshapes, reductions and pixel shuffles. Each maps the input
 * layout to the output's (see `layout.ts`); when positions of several tensors coincide their
 * channels are joined.
 */
import type { GraphNode } from "../graph/graph.ts";
import type { Blocker } from "./types.ts";
import type { Channels } from "./channels.ts";
import {
  concatLayout,
  type Layout,
  padLayout,
  permuteLayout,
  reduceLayout,
  reshapeLayout,
  sliceLayout,
} from "./layout.ts";

/** What the movement handlers need from the partition's graph walk. */
export interface Walk {
  readonly ch: Channels;
  /** Layout of a tensor: undefined for static tensors, null without tracked channels. */
  layout(t: number): Layout | null | undefined;
  /** Value of a tensor made by `fill`. */
  fill(t: number): number | undefined;
  shape(t: number): number[];
  fresh(
    axes: number[],
    shape: readonly number[],
    opts?: { nonzero?: Blocker; fix?: Blocker },
  ): Layout;
  mapped(l: Layout, b: Blocker): Layout;
  blocker(n: GraphNode, why: string): Blocker;
  block(n: GraphNode, why: string): void;
  setOut(n: GraphNode, l: Layout | null): void;
  setLayout(t: number, l: Layout | null, path: string): void;
  /**
   * Attach a static operand that is a parameter with its values along `axis` of an `outRank`
   * output as producer of the channels `ids`; false when it is not one.
   */
  attachParam(t: number, outRank: number, axis: number, ids: Int32Array): boolean;
  /** The first tensor input with tracked channels, and its index. */
  data(n: GraphNode): { i: number; l: Layout } | null;
}

export function concatNode(w: Walk, n: GraphNode, axis: number): void {
  const out = w.shape(n.outputs[0]);
  const ax = axis < 0 ? axis + out.length : axis;
  const shapes = n.inputs.map((t) => w.shape(t));
  const carrier = n.inputs.map((t) => w.layout(t)).find((l): l is Layout => !!l);
  if (!carrier) return w.block(n, "reads no tensor with tracked channels");
  const onAxis = carrier.axes.includes(ax);
  const ls: Layout[] = [];
  const statics: number[] = [];
  for (let i = 0; i < n.inputs.length; i++) {
    const l = w.layout(n.inputs[i]);
    if (l) {
      if (l.axes.join() !== carrier.axes.join()) {
        return w.block(n, "concatenates tensors whose channels lie on different axes");
      }
      ls.push(l);
    } else if (onAxis) {
      // A constant (or untracked tensor) concatenated to the channels: fixed channels.
      const b = w.blocker(n, "concatenates a constant to the channels");
      ls.push(w.fresh(carrier.axes, shapes[i], { fix: b }));
    } else statics.push(n.inputs[i]);
  }
  if (onAxis) {
    const l = concatLayout(ls, shapes, ax, out);
    return l ? w.setOut(n, l) : w.block(n, "too many positions to track");
  }
  for (const l of ls.slice(1)) {
    for (let p = 0; p < l.ids.length; p++) w.ch.union(ls[0].ids[p], l.ids[p]);
  }
  // Beside the channels (along tokens, rows): zeros, or a parameter whose values go with them.
  const one = carrier.axes.length === 1 ? carrier.axes[0] : -1;
  const nonzero =
    statics.filter((t) =>
      w.fill(t) !== 0 && !(one >= 0 && w.attachParam(t, out.length, one, ls[0].ids))
    ).length > 0;
  const why = "concatenates a constant that is not zero next to the channels";
  w.setOut(n, nonzero ? w.mapped(ls[0], w.blocker(n, why)) : ls[0]);
}

export function splitNode(w: Walk, n: GraphNode, axis: number): void {
  const d = w.data(n)!;
  const inShape = w.shape(n.inputs[d.i]);
  const ax = axis < 0 ? axis + inShape.length : axis;
  let off = 0;
  for (const t of n.outputs) {
    const s = w.shape(t);
    const starts = inShape.map((_, k) => (k === ax ? off : 0));
    off += s[ax];
    const l = sliceLayout(d.l, inShape, starts, inShape.map(() => 1), s);
    if (!l) return w.block(n, "too many positions to track");
    w.setLayout(t, l, n.path);
  }
}

export function sliceNode(
  w: Walk,
  n: GraphNode,
  starts: readonly number[],
  steps: readonly number[],
): void {
  const d = w.data(n)!;
  // Forward or reversed (x[:, ::-1]) channels stay a run; every k-th channel is not tracked.
  if (d.l.axes.some((a) => Math.abs(steps[a]) !== 1)) {
    return w.block(n, "takes every k-th channel (a strided channel slice)");
  }
  const l = sliceLayout(d.l, w.shape(n.inputs[d.i]), starts, steps, w.shape(n.outputs[0]));
  w.setOut(n, l);
}

/**
 * Zero padding: the input's channels keep their positions (shifted), the added positions along
 * a channel axis are channels of their own that are always zero, so they go with whatever they
 * meet (a residual add) and are removed with it.
 */
export function padNode(w: Walk, n: GraphNode, before: readonly number[]): void {
  const d = w.data(n)!;
  const l = padLayout(d.l, w.shape(n.inputs[d.i]), before, w.shape(n.outputs[0]));
  if (!l) return w.block(n, "too many positions to track");
  const holes = l.ids.reduce((k, id) => k + (id < 0 ? 1 : 0), 0);
  if (holes) {
    const zeros = w.ch.fresh(holes);
    let k = 0;
    for (let p = 0; p < l.ids.length; p++) if (l.ids[p] < 0) l.ids[p] = zeros[k++];
  }
  w.setOut(n, l);
}

export function permuteNode(w: Walk, n: GraphNode, perm: readonly number[]): void {
  const d = w.data(n)!;
  const l = permuteLayout(d.l, w.shape(n.inputs[d.i]), perm);
  return l ? w.setOut(n, l) : w.block(n, "too many positions to track");
}

export function reshapeNode(w: Walk, n: GraphNode): void {
  const d = w.data(n)!;
  const l = reshapeLayout(d.l, w.shape(n.inputs[d.i]), w.shape(n.outputs[0]));
  return typeof l === "string" ? w.block(n, l) : w.setOut(n, l);
}

export function reduceNode(
  w: Walk,
  n: GraphNode,
  axes: readonly number[],
  keepDims: boolean,
  consumes: boolean,
) {
  const d = w.data(n)!;
  const hit = d.l.axes.filter((a) => axes.includes(a));
  if (!hit.length) return w.setOut(n, reduceLayout(d.l, axes, keepDims));
  if (consumes && hit.length === d.l.axes.length) {
    // Zero channels add nothing: the channels are read (consumed) like a conv's input.
    w.ch.need(d.l.ids);
    const s = w.shape(n.outputs[0]);
    return w.setOut(
      n,
      s.length < 2 ? null : w.fresh([1], s, {
        nonzero: w.blocker(n, "a sum over channels"),
      }),
    );
  }
  w.block(n, `${n.op} over the channel axis mixes channels`);
}

export function pixelShuffleNode(w: Walk, n: GraphNode, r: number, inverse: boolean): void {
  const d = w.data(n)!;
  if (d.l.axes.length !== 1 || d.l.axes[0] !== 1) {
    return w.block(n, "its input's channels are not on axis 1");
  }
  const rr = r * r, src = d.l.ids;
  const c = w.shape(n.outputs[0])[1];
  const ids = new Int32Array(c);
  for (let i = 0; i < c; i++) {
    if (inverse) ids[i] = src[Math.floor(i / rr)];
    else {
      // Output channel i interleaves input channels i*r²..i*r²+r²-1: zero together.
      for (let k = 1; k < rr; k++) w.ch.union(src[i * rr], src[i * rr + k]);
      ids[i] = src[i * rr];
    }
  }
  w.setOut(n, { axes: [1], ids });
}
