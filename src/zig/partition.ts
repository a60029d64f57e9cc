/**
 * Zero-Invariant Group partition: union-find over channels (OTOv2 §3, porting notes §9).
 *
 * Every activation tensor gets a channel *layout* (`layout.ts`): the axes that carry tracked
 * channels and a channel id per position. Ops transform layouts by their channel rule:
 * - stem (conv, linear, convT): fresh channels for the output (weight rows and bias produce
 *   them); the weight's input columns consume the input's channels. Grouped convs tie each
 *   output block to its input block (whole conv groups go together).
 * - accessory (norms, PReLU): same channels; per-channel parameters are attached to them, and
 *   a buffer the zero value depends on (batch norm without affine) joins the zero test.
 * - passthrough / joint (add, mul): the operands' channels are zero together. A product with a
 *   channel that cannot be zero (a gate) only couples the gate's channel: it is removed along.
 * - map (sigmoid, exp, x + 1): fresh channels coupled to the input's, which are not zero.
 * - concat / split / slice / permute / reshape / reduce move positions around (any axis).
 * - block / no rule: every channel it touches must stay.
 * Model inputs and outputs are fixed. The groups, their ZIG families and parameter slices are
 * assembled in `assemble.ts`.
 */
import { getOp, type OpInfo } from "../ops/registry.ts";
import type { Graph, GraphNode, GraphTensor } from "../graph/graph.ts";
import { type ChannelRule, resolveRule } from "./rules.ts";
import type { Blocker, Partition } from "./types.ts";
import { Channels } from "./channels.ts";
import { alignLayout, type Layout, productForm, sameAxes, sizesOf } from "./layout.ts";
import {
  concatNode,
  padNode,
  permuteNode,
  pixelShuffleNode,
  reduceNode,
  reshapeNode,
  sliceNode,
  splitNode,
  type Walk,
} from "./moves.ts";
import { assemble, type TensorChannels } from "./assemble.ts";

/** Options of {@link partition}. */
export interface PartitionOptions {
  /** Kept channel counts should be multiples of this (§3.8); stored for the optimizer. */
  groupDivisible?: number;
}

/** The partition plus the channels of every tensor (for DOT and compression). */
export interface Analysis {
  partition: Partition;
  /** ZIG ids of each tensor's channels, in order of first appearance (-1: no ZIG). */
  tensorZigs: Map<number, number[]>;
  /** Per tensor with tracked channels: its channel axes and each position's ZIG and group. */
  tensorChannels: Map<number, TensorChannels>;
}

/** A parameter (or buffer) seen through a reshape: its one axis of size > 1. */
interface ParamView {
  param: string;
  role: string;
  trainable: boolean;
  /** Axis of the parameter that holds the values. */
  paramAxis: number;
  /** The tensor's only non-1 axis (-1 for a scalar). */
  viewAxis: number;
  size: number;
}

type StemRule = Extract<ChannelRule<unknown>, { kind: "stem" }>;
type AccessoryRule = Extract<ChannelRule<unknown>, { kind: "accessory" }>;
type JointRule = Extract<ChannelRule<unknown>, { kind: "joint" }>;

const INPUT: Blocker = { op: "", layer: "", why: "tied to the model input" };
const OUTPUT: Blocker = { op: "", layer: "", why: "feeds the model output" };

/**
 * ZIG partition of a traced graph. Deterministic: channels are numbered in node order.
 *
 * @example
 * ```ts
 * import { init, partition, trace, zoo } from "../../mod.ts";
 * await init();
 * const model = zoo["small-cnn"].build();
 * const p = partition(trace(model, [1, 1, 28, 28]));
 * for (const z of p.zigs) console.log(z.id, z.size, z.prunable, z.reason ?? "");
 * ```
 */
export function partition(graph: Graph, opts: PartitionOptions = {}): Partition {
  return analyze(graph, opts).partition;
}

/** {@link partition} with the channels of every tensor. */
export function analyze(graph: Graph, opts: PartitionOptions = {}): Analysis {
  return new Analyzer(graph).run(opts);
}

class Analyzer implements Walk {
  readonly ch = new Channels();
  /** Layout of each activation; undefined for static tensors; null without tracked channels. */
  private readonly layouts: (Layout | null | undefined)[];
  private readonly views: (ParamView | null)[];
  /** Value of tensors made by `fill` (constants that follow a channel count). */
  private readonly fillValue: (number | undefined)[];
  /** Layouts (by their ids) of blocked ops' outputs: fixed, on a guessed axis. */
  private readonly opaque = new WeakSet<Int32Array>();

  constructor(private readonly g: Graph) {
    this.layouts = g.tensors.map(() => undefined);
    this.views = g.tensors.map((t) => this.paramView(t));
    this.fillValue = g.tensors.map(() => undefined);
  }

  run(opts: PartitionOptions): Analysis {
    const g = this.g;
    for (const t of g.inputs) {
      const s = g.tensors[t].shape;
      this.layouts[t] = s.length < 2 ? null : this.fresh([1], s, { fix: INPUT });
    }
    for (const n of g.nodes) this.node(n);
    for (const t of g.outputs) this.fixLayout(this.layouts[t], OUTPUT);
    this.sharedParams();
    const r = assemble(this.ch, g, this.layouts);
    const partition: Partition = { zigs: r.zigs, otherParams: r.otherParams };
    if (opts.groupDivisible !== undefined) partition.groupDivisible = opts.groupDivisible;
    return { partition, tensorZigs: r.tensorZigs, tensorChannels: r.tensorChannels };
  }

  // -------------------------------------------------------------------------------------------
  // helpers

  private paramView(t: GraphTensor): ParamView | null {
    if (t.kind !== "param" && t.kind !== "buffer") return null;
    const nonOne = t.shape.map((d, i) => (d !== 1 ? i : -1)).filter((i) => i >= 0);
    if (nonOne.length > 1) return null;
    const ax = nonOne[0] ?? -1;
    return {
      param: t.name!,
      role: t.kind,
      trainable: t.kind === "param",
      paramAxis: ax,
      viewAxis: ax,
      size: ax >= 0 ? t.shape[ax] : 1,
    };
  }

  layout(t: number): Layout | null | undefined {
    return this.layouts[t];
  }

  fill(t: number): number | undefined {
    return this.fillValue[t];
  }

  private isStatic(t: number): boolean {
    return this.layouts[t] === undefined;
  }

  shape(t: number): number[] {
    return this.g.tensors[t].shape;
  }

  /** A fresh layout with new channels on `axes` of a tensor of `shape`. */
  fresh(
    axes: number[],
    shape: readonly number[],
    opts: { nonzero?: Blocker; fix?: Blocker } = {},
  ): Layout {
    const n = sizesOf(shape, axes).reduce((p, x) => p * x, 1);
    return { axes, ids: this.ch.fresh(n, opts) };
  }

  blocker(n: GraphNode, why: string): Blocker {
    return { op: n.op, layer: n.path, why };
  }

  private fixLayout(l: Layout | null | undefined, b: Blocker): void {
    if (l) this.ch.fix(l.ids, b);
  }

  setLayout(t: number, l: Layout | null, path: string): void {
    if (l && l.axes.length > 1) {
      l = productForm(
        l,
        this.shape(t),
        (x, y) => this.ch.couple(x, y),
        (c) => this.ch.pruneRoot(c),
      );
    }
    this.layouts[t] = l;
    if (l) this.ch.touch(l.ids, path);
  }

  /** Every tensor the node reads is fixed; outputs get fresh fixed channels. */
  block(n: GraphNode, why: string): void {
    const b = this.blocker(n, why);
    for (const t of n.inputs) this.fixLayout(this.layouts[t], b);
    for (const t of n.outputs) {
      const s = this.shape(t);
      this.setLayout(t, s.length < 2 ? null : this.opaqueLayout([1], s, b), n.path);
    }
  }

  /**
   * Fixed channels whose axis is a guess (a blocked op's output): a later op that reads its
   * channels on another axis (a Linear after an attention matmul) takes them there instead.
   */
  private opaqueLayout(axes: number[], shape: readonly number[], b: Blocker): Layout {
    const l = this.fresh(axes, shape, { fix: b });
    this.opaque.add(l.ids);
    return l;
  }

  /** `l` seen on `axes` of a tensor of `shape`, when `l` is opaque; else null. */
  private reaxis(l: Layout, axes: number[], shape: readonly number[], n: GraphNode) {
    if (!this.opaque.has(l.ids)) return null;
    if (l.axes.length === axes.length && l.axes.every((a, i) => a === axes[i])) return l;
    return this.opaqueLayout(axes, shape, this.blocker(n, "reads channels an earlier op fixed"));
  }

  /** The first tensor input with tracked channels, and its index. */
  data(n: GraphNode): { i: number; l: Layout } | null {
    for (let i = 0; i < n.inputs.length; i++) {
      const l = this.layouts[n.inputs[i]];
      if (l) return { i, l };
    }
    return null;
  }

  /** Fresh channels coupled to `l`'s, which are not zero when `l`'s are (a map's output). */
  mapped(l: Layout, b: Blocker): Layout {
    const next = new Map<number, number>();
    const ids = new Int32Array(l.ids.length);
    for (let i = 0; i < ids.length; i++) {
      const c = l.ids[i];
      let m = next.get(c);
      if (m === undefined) {
        m = this.ch.fresh(1, { nonzero: b })[0];
        this.ch.couple(c, m);
        next.set(c, m);
      }
      ids[i] = m;
    }
    return { axes: [...l.axes], ids };
  }

  private paramInput(n: GraphNode, i: number): ParamView | null {
    const t = this.g.tensors[n.inputs[i]];
    if (t.kind !== "param" && t.kind !== "buffer") return null;
    const np = n.params.find((p) => p.input === i)!;
    return {
      param: t.name!,
      role: np.role,
      trainable: np.trainable,
      paramAxis: 0,
      viewAxis: 0,
      size: t.shape[0],
    };
  }

  private attach(
    v: { param: string; role: string; trainable: boolean },
    axis: number,
    ids: Int32Array,
    kind: "producer" | "consumer",
    required = false,
  ): void {
    this.ch.attach({ ...v, axis, ids, kind, required });
    if (kind === "consumer") this.ch.need(ids);
  }

  // -------------------------------------------------------------------------------------------

  private node(n: GraphNode): void {
    if (n.inputs.every((t) => this.isStatic(t))) return this.staticNode(n);
    const g = this.g;
    const info: OpInfo = {
      ins: n.inputs.map((t) => g.tensors[t]),
      outs: n.outputs.map((t) => g.tensors[t]),
    };
    const op = getOp(n.op);
    let rule: ChannelRule<unknown> | undefined;
    try {
      rule = op.channels
        ? resolveRule(op.channels as ChannelRule<unknown>, n.attrs, info)
        : undefined;
    } catch (e) {
      return this.block(n, `channel rule failed (${(e as Error).message})`);
    }
    if (!rule) return this.block(n, "has no channel rule");
    if (!this.data(n) && rule.kind !== "joint" && rule.kind !== "concat") {
      return this.block(n, "reads no tensor with tracked channels");
    }
    const a = n.attrs;
    switch (rule.kind) {
      case "stem":
        return this.stem(n, rule);
      case "accessory":
        return this.accessory(n, rule, info);
      case "passthrough":
        return this.passthrough(n, rule.mixes?.(a) ?? []);
      case "map": {
        const d = this.data(n);
        if (!d || n.inputs.some((t, i) => i !== d.i && !this.isStatic(t))) {
          return this.block(n, "a map of several tensors");
        }
        const mixes = rule.mixes?.(a) ?? [];
        if (d.l.axes.some((x) => mixes.includes(x))) {
          return this.block(n, `mixes positions along axes [${mixes}], which carry channels`);
        }
        return this.setOut(n, this.mapped(d.l, this.blocker(n, rule.reason)));
      }
      case "joint":
        return this.joint(n, rule);
      case "concat":
        return concatNode(this, n, rule.axis?.(a) ?? 1);
      case "split":
        return splitNode(this, n, rule.axis(a));
      case "flatten":
        return reshapeNode(this, n);
      case "permute":
        return permuteNode(this, n, rule.perm(a));
      case "reduce":
        return reduceNode(this, n, rule.axes(a), rule.keepDims(a), rule.consumes ?? false);
      case "slice":
        return sliceNode(this, n, rule.starts(a), rule.steps(a));
      case "pad":
        return padNode(this, n, rule.before(a));
      case "pixelShuffle":
        return pixelShuffleNode(this, n, rule.factor(a), rule.inverse ?? false);
      case "block":
        return this.block(n, rule.reason);
      default:
        return this.block(n, "has an unknown channel rule");
    }
  }

  /** Nodes whose inputs are all parameters or constants: their outputs are static too. */
  private staticNode(n: GraphNode): void {
    if (n.op === "fill") { for (const t of n.outputs) this.fillValue[t] = n.attrs.value as number; }
    // A reshape of a vector-like parameter stays a view of it ([C] -> [1, C, 1, 1]).
    const v = n.inputs.length === 1 ? this.views[n.inputs[0]] : null;
    if (v && (n.op === "reshape" || n.op === "cast")) {
      const shape = this.shape(n.outputs[0]);
      const nonOne = shape.map((d, i) => (d !== 1 ? i : -1)).filter((i) => i >= 0);
      if (nonOne.length <= 1) this.views[n.outputs[0]] = { ...v, viewAxis: nonOne[0] ?? -1 };
    }
    // An expanded parameter ([1, 1, C] -> [N, 1, C], ViT's class token) keeps its values' axis.
    if (v && n.op === "expand" && v.viewAxis >= 0) {
      const d = this.shape(n.outputs[0]).length - this.shape(n.inputs[0]).length;
      this.views[n.outputs[0]] = { ...v, viewAxis: v.viewAxis + d };
    }
    if (v && (n.op === "reshape" || n.op === "cast") && this.fillValue[n.inputs[0]] !== undefined) {
      this.fillValue[n.outputs[0]] = this.fillValue[n.inputs[0]];
    }
  }

  setOut(n: GraphNode, l: Layout | null): void {
    this.setLayout(n.outputs[0], l, n.path);
  }

  private stem(n: GraphNode, rule: StemRule): void {
    const g = this.g;
    const roleIdx = (role: string) => n.params.find((p) => p.role === role)?.input;
    const wi = rule.weightInput ?? roleIdx("weight") ?? 1;
    const bi = rule.biasInput ?? roleIdx("bias") ?? (n.inputs.length > 2 ? 2 : -1);
    const x = n.inputs[0], out = n.outputs[0];
    let xl = this.layouts[x];
    const w = this.paramInput(n, wi);
    if (!w) return this.block(n, "the weight is computed in forward, not a parameter");
    const b = bi >= 0 && bi < n.inputs.length ? this.paramInput(n, bi) : null;
    if (bi >= 0 && bi < n.inputs.length && !b) {
      return this.block(n, "the bias is computed in forward, not a parameter");
    }
    const ws = g.tensors[n.inputs[wi]].shape;
    const xs = this.shape(x), os = this.shape(out);
    // A 2-D weight (linear) reads the last axis; conv-like stems read axis 1.
    const ax = ws.length === 2 ? xs.length - 1 : 1;
    if (!xl || xs.length < 2 || os.length !== xs.length) {
      return this.block(n, "input or output has no channel axis");
    }
    xl = this.reaxis(xl, [ax], xs, n) ?? xl;
    if (xl.axes.length !== 1 || xl.axes[0] !== ax) {
      return this.block(n, `reads axis ${ax}, but the input's channels are on axes [${xl.axes}]`);
    }
    const outAxis = typeof rule.outAxis === "function" ? rule.outAxis(n.attrs) : rule.outAxis;
    const inAxis = typeof rule.inAxis === "function" ? rule.inAxis(n.attrs) : rule.inAxis;
    const attrGroups = (n.attrs as { groups?: unknown }).groups;
    const groups = rule.groups?.(n.attrs) ?? (typeof attrGroups === "number" ? attrGroups : 1);
    const cin = xs[ax], cout = os[ax];
    const wp = { param: w.param, role: w.role, trainable: w.trainable };
    const ol = this.fresh([ax], os);
    if (groups === 1) {
      if (ws[inAxis] !== cin || ws[outAxis] !== cout) {
        return this.block(n, `weight [${ws}] does not match ${cin} -> ${cout} channels`);
      }
      this.attach(wp, inAxis, xl.ids, "consumer");
    } else {
      // Output block k (cout/groups channels) reads only input block k (cin/groups): whole
      // conv groups are zero together and go together (depthwise: out c*m+t with in c).
      const ci = cin / groups, co = cout / groups;
      if (!Number.isInteger(ci) || !Number.isInteger(co)) {
        return this.block(n, `${cin} -> ${cout} channels do not split into ${groups} groups`);
      }
      const rowsOut = ws[outAxis] === cout, rowsIn = ws[inAxis] === cin;
      if (!rowsOut && !rowsIn) return this.block(n, `grouped weight [${ws}] has no channel axis`);
      for (let k = 0; k < groups; k++) {
        const lead = ol.ids[k * co];
        for (let t = 0; t < co; t++) this.ch.union(lead, ol.ids[k * co + t]);
        for (let s = 0; s < ci; s++) this.ch.union(lead, xl.ids[k * ci + s]);
      }
      if (!rowsOut) this.attach(wp, inAxis, xl.ids, "producer");
    }
    if (groups === 1 || ws[outAxis] === cout) this.attach(wp, outAxis, ol.ids, "producer");
    if (b) this.attach(b, 0, ol.ids, "producer");
    this.setOut(n, ol);
  }

  private accessory(n: GraphNode, rule: AccessoryRule, info: OpInfo): void {
    const xs = this.shape(n.inputs[0]);
    const ax = rule.axis?.(n.attrs, info) ?? 1;
    const x0 = this.layouts[n.inputs[0]];
    const xl = x0 && (this.reaxis(x0, [ax], xs, n) ?? x0);
    if (!xl || xl.axes.length !== 1 || xl.axes[0] !== ax) {
      return this.block(n, `normalises axis ${ax}, where the input has no single channel axis`);
    }
    const c = xs[ax];
    const block = rule.blockSize?.(n.attrs, info) ?? 1;
    if (block > 1) {
      // Channels normalised together (GroupNorm) are zero together: whole blocks only.
      if (c % block !== 0) return this.block(n, `${c} channels do not form blocks of ${block}`);
      for (let i = 0; i < c; i++) this.ch.union(xl.ids[i - (i % block)], xl.ids[i]);
    }
    // Per-channel inputs: parameters/buffers (attached), constants (fill), or scalars.
    const inputs = new Map<number, { view: ParamView | null; fill?: number; shared: boolean }>();
    for (let i = 1; i < n.inputs.length; i++) {
      const t = n.inputs[i];
      if (!this.isStatic(t)) return this.block(n, `input ${i} is computed from the data`);
      const v = this.views[t];
      const role = n.params.find((p) => p.input === i)?.role ?? v?.role ?? `input${i}`;
      const fv = this.fillValue[t];
      const shared = numelOf(this.shape(t)) === 1;
      if (!shared && fv === undefined && (!v || v.size !== c)) {
        return this.block(n, `${role} [${this.shape(t)}] is not one value per channel`);
      }
      inputs.set(i, { view: v && { ...v, role }, fill: fv, shared });
    }
    // The first way to a zero output channel the model can meet.
    const ways = rule.zeroWhen ?? [rule.perChannelInputs];
    const can = (i: number) => {
      const x = inputs.get(i);
      if (!x) return false;
      if (x.fill !== undefined) return x.fill === 0;
      return !!x.view && !x.shared;
    };
    const way = ways.find((w) => w.every(can));
    let ol = xl;
    if (!way) {
      const names = ways.map((w) => w.map((i) => inputs.get(i)?.view?.role ?? `input ${i}`));
      ol = this.mapped(
        xl,
        this.blocker(n, `a zero channel is not zero after it (${names.join(" or ")} is constant)`),
      );
    }
    for (const [i, x] of inputs) {
      if (!x.view || x.shared || x.fill !== undefined) continue;
      const required = !x.view.trainable && !!way?.includes(i);
      this.attach(x.view, x.view.paramAxis, ol.ids, "producer", required);
    }
    for (const t of n.outputs) {
      if (this.shape(t)[ax] !== c) return this.block(n, "changes the channel count");
      this.setLayout(t, ol, n.path);
    }
  }

  /** Output positions = input positions; several tensor inputs are joined position by position. */
  private passthrough(n: GraphNode, mixes: readonly number[]): void {
    const d = this.data(n)!;
    if (d.l.axes.some((a) => mixes.includes(a))) {
      return this.block(n, `mixes positions along axes [${mixes}], which carry channels`);
    }
    const out = this.shape(n.outputs[0]);
    const l = alignLayout(d.l, this.shape(n.inputs[d.i]), out);
    if (!l) return this.block(n, "changes the size of a channel axis");
    for (let i = 0; i < n.inputs.length; i++) {
      const t = n.inputs[i];
      if (i === d.i || this.isStatic(t)) continue;
      const o = this.layouts[t];
      const al = o && alignLayout(o, this.shape(t), out);
      if (!al || !sameAxes(al, l)) return this.block(n, "reads tensors with different channels");
      for (let p = 0; p < l.ids.length; p++) this.ch.union(l.ids[p], al.ids[p]);
    }
    for (const t of n.outputs) {
      const s = this.shape(t);
      if (s.length !== out.length || l.axes.some((a) => s[a] !== out[a])) {
        return this.block(n, "changes the size of a channel axis");
      }
      this.setLayout(t, l, n.path);
    }
  }

  private joint(n: GraphNode, rule: JointRule): void {
    const out = this.shape(n.outputs[0]);
    const r = out.length;
    const full: Layout[] = [];
    const channelAxes = n.inputs.flatMap((t) => {
      const l = this.layouts[t];
      const al = l && alignLayout(l, this.shape(t), out);
      return al ? al.axes : [];
    });
    let nonzero: string | null = null; // why the output is not zero when the channels are
    const params: { v: ParamView; axis: number; divisor: boolean }[] = [];
    let broadcastData = false;
    for (let i = 0; i < n.inputs.length; i++) {
      const t = n.inputs[i];
      const s = this.shape(t);
      const divisor = rule.divisor === true && i === 1;
      if (!this.isStatic(t)) {
        const l = this.layouts[t];
        const al = l && alignLayout(l, s, out);
        if (al && divisor) return this.block(n, "divides by a tensor of channels");
        if (al) full.push(al);
        else {
          // Broadcast along a channel axis (a [N, 1, H, W] attention map): its one channel
          // cannot shrink.
          broadcastData = true;
          this.fixLayout(l, this.blocker(n, "broadcasts it over the channels of another operand"));
        }
        continue;
      }
      const v = this.views[t] ?? this.axisView(t, r, channelAxes);
      const fv = this.fillValue[t];
      // A per-channel parameter (bias, layer scale) on the output's channel axis.
      const vAxis = v && v.viewAxis >= 0 ? v.viewAxis + (r - s.length) : -1;
      if (v && v.size > 1 && v.size === out[vAxis] && channelAxes.includes(vAxis)) {
        params.push({ v, axis: vAxis, divisor });
        continue;
      }
      const keeps = rule.zeroWith ?? (() => rule.product === true);
      const values = fv !== undefined ? [fv] : v ? null : this.constantValues(t);
      if (values ? values.every(keeps) : rule.product && !divisor) continue;
      nonzero = v
        ? `combines the parameter ${v.param} with every channel`
        : "combines the channels with a constant that does not keep zeros";
    }
    if (broadcastData && !rule.product && !rule.divisor) {
      nonzero ??= "adds a tensor broadcast over channels (not zero-invariant)";
    }
    if (full.length === 0) {
      const b = this.blocker(n, "channels come from constants");
      return this.setOut(n, r < 2 ? null : this.fresh([1], out, { fix: b }));
    }
    // Opaque operands (blocked outputs) take the axes of the others.
    const target = full.find((x) => !this.opaque.has(x.ids)) ?? full[0];
    const fullShapes = n.inputs.filter((t) => {
      const l = this.layouts[t];
      return !!l && !!alignLayout(l, this.shape(t), out);
    }).map((t) => this.shape(t));
    full.forEach((x, i) => {
      if (sameAxes(x, target) || !this.opaque.has(x.ids)) return;
      const s = fullShapes[i], d = r - s.length;
      if (target.axes.some((a) => s[a - d] !== out[a])) return; // broadcast there: stays
      full[i] = this.opaqueLayout(target.axes, out, this.blocker(n, "reads fixed channels"));
    });
    const l = full[0];
    if (full.some((x) => !sameAxes(x, l))) {
      const b = this.blocker(n, "joins tensors whose channels lie on different axes");
      for (const x of full) this.fixLayout(x, b);
      return this.setOut(n, this.fresh(l.axes, out, { fix: b }));
    }
    const ids = new Int32Array(l.ids);
    for (let p = 0; p < ids.length; p++) {
      if (!rule.product) {
        for (const x of full) this.ch.union(ids[p], x.ids[p]);
        continue;
      }
      // A product is zero when any factor is: it joins the factors that can be zero, and the
      // others (a gate after a sigmoid) are only removed along.
      const zero = full.filter((x) => this.ch.canZero(x.ids[p]));
      const lead = zero.length ? zero[0].ids[p] : ids[p];
      ids[p] = lead;
      for (const x of full) {
        if (!zero.length || zero.includes(x)) this.ch.union(lead, x.ids[p]);
        else this.ch.couple(lead, x.ids[p]);
      }
    }
    let ol: Layout = { axes: [...l.axes], ids };
    for (const { v, axis, divisor } of params) {
      if (l.axes.length !== 1 || axis !== l.axes[0] || v.size !== out[axis]) {
        return this.block(n, `parameter ${v.param} is not one value per channel`);
      }
      if (!divisor) continue;
      this.attach(v, v.paramAxis, ids, "consumer");
    }
    if (nonzero) ol = this.mapped(ol, this.blocker(n, nonzero));
    for (const { v, divisor } of params) {
      if (!divisor) this.attach(v, v.paramAxis, ol.ids, "producer");
    }
    this.setOut(n, ol);
  }

  /**
   * A parameter with values along several axes (a positional embedding [1, T, C]) seen along
   * the one channel axis of an `outRank` output it meets: its slices there go with the channels.
   */
  private axisView(t: number, outRank: number, channelAxes: readonly number[]): ParamView | null {
    const gt = this.g.tensors[t];
    const axes = [...new Set(channelAxes)];
    if ((gt.kind !== "param" && gt.kind !== "buffer") || axes.length !== 1) return null;
    const pa = axes[0] - (outRank - gt.shape.length);
    if (pa < 0 || gt.shape[pa] <= 1) return null;
    const trainable = gt.kind === "param";
    return {
      param: gt.name!,
      role: gt.kind,
      trainable,
      paramAxis: pa,
      viewAxis: pa,
      size: gt.shape[pa],
    };
  }

  /**
   * Attach a static operand that is a parameter with its values along `axis` of an `outRank`
   * output (a class token concatenated to the tokens) as producer of the channels `ids`.
   */
  attachParam(t: number, outRank: number, axis: number, ids: Int32Array): boolean {
    const v = this.views[t] ?? this.axisView(t, outRank, [axis]);
    if (!v || v.viewAxis < 0) return false;
    const d = outRank - this.shape(t).length;
    if (v.viewAxis + d !== axis || v.size !== ids.length) return false;
    this.attach(v, v.paramAxis, ids, "producer");
    return true;
  }

  /** Values of a captured constant (cpu), or null when not readable here. */
  private constantValues(t: number): number[] | null {
    const c = this.g.constants.get(t);
    if (!c || c.backend !== "cpu") return null;
    return Array.from(c.hostData());
  }

  // -------------------------------------------------------------------------------------------

  /**
   * The same parameter attached several times (weight sharing): its rows make the same
   * channels (zero together); its columns read channels that go together.
   */
  private sharedParams(): void {
    const byKey = new Map<string, typeof this.ch.attachments>();
    for (const a of this.ch.attachments) {
      const k = `${a.param}\u0000${a.axis}`;
      const l = byKey.get(k);
      if (l) l.push(a);
      else byKey.set(k, [a]);
    }
    for (const list of byKey.values()) {
      for (let j = 1; j < list.length; j++) {
        const a = list[0], b = list[j];
        const both = a.kind === "producer" && b.kind === "producer";
        for (let i = 0; i < a.ids.length; i++) {
          if (both) this.ch.union(a.ids[i], b.ids[i]);
          else this.ch.couple(a.ids[i], b.ids[i]);
        }
      }
    }
  }
}

function numelOf(s: readonly number[]): number {
  return s.reduce((p, x) => p * x, 1);
}
