/**
 * Zero-Invariant Group partition: union-find over channel spaces (OTOv2 §3, porting notes §9).
 *
 * Every activation tensor gets a channel *layout*: the ordered segments of its axis 1, each a
 * run of entries that maps onto the base channels of one channel space (`num/den` entries per
 * base channel: 1 for a conv output, H*W after a flatten, 1/r² after a pixel shuffle). Ops
 * transform layouts by their channel rule:
 * - stem (conv, linear, convT): a fresh space for the output; the weight rows and bias are
 *   its members; the weight's input columns consume the input's segments. Grouped convs tie
 *   output blocks to input blocks instead (the rows join the input's space).
 * - accessory (norms, PReLU): output = input layout; per-channel parameters become members.
 * - passthrough: output = input layout. joint (add, mul): operands' spaces are united.
 * - concat (axis 1): segments in order with offsets. reshape/flatten and pixel shuffle scale the
 *   entries per channel. block / no rule: every space it touches becomes unprunable.
 * A parameter attached to several spaces with the same range (weight sharing) unites them;
 * with conflicting ranges the spaces become unprunable. Model inputs and outputs are fixed.
 * One root space = one ZIG family; group j = base channels j*unit ... j*unit+unit-1.
 */
import { getOp, type OpInfo } from "../ops/registry.ts";
import type { Graph, GraphNode, GraphTensor } from "../graph/graph.ts";
import { type ChannelRule, resolveRule } from "./rules.ts";
import type { Partition } from "./types.ts";
import { ChannelSpaces, gcd, type Layout, type Seg } from "./spaces.ts";

/** Options of {@link partition}. */
export interface PartitionOptions {
  /** Kept channel counts should be multiples of this (§3.8); stored for the optimizer. */
  groupDivisible?: number;
}

interface ParamView {
  param: string;
  role: string;
  trainable: boolean;
  /** Axis of the parameter that holds the values (the only axis that is not 1). */
  paramAxis: number;
  /** The tensor's only non-1 axis (-1 for a scalar). */
  viewAxis: number;
  size: number;
}

/** The partition plus the per-tensor channel spaces (for DOT and compression). */
export interface Analysis {
  partition: Partition;
  /** ZIG ids of each tensor's channel segments in order (-1: a space that is no ZIG). */
  tensorZigs: Map<number, number[]>;
}

/**
 * ZIG partition of a traced graph. Deterministic: spaces are numbered in node order.
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

/** {@link partition} with the channel spaces of every tensor. */
export function analyze(graph: Graph, opts: PartitionOptions = {}): Analysis {
  return new Analyzer(graph).run(opts);
}

class Analyzer {
  private readonly cs = new ChannelSpaces();
  /** Layout of each activation tensor; undefined for static tensors; null without axis 1. */
  private readonly layouts: (Layout | null | undefined)[];
  private readonly views: (ParamView | null)[];
  /** Value of tensors made by `fill` (constants that follow a channel count). */
  private readonly fillValue: (number | undefined)[];

  constructor(private readonly g: Graph) {
    this.layouts = g.tensors.map(() => undefined);
    this.views = g.tensors.map((t) => this.paramView(t));
    this.fillValue = g.tensors.map(() => undefined);
  }

  // -------------------------------------------------------------------------------------------
  // tensors

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

  private isStatic(t: number): boolean {
    return this.layouts[t] === undefined;
  }

  private channels(t: number): number {
    const s = this.g.tensors[t].shape;
    return s.length >= 2 ? s[1] : -1;
  }

  private setLayout(t: number, l: Layout | null, path: string): void {
    this.layouts[t] = this.channels(t) < 0 ? null : l;
    if (!l || !path) return;
    for (const s of l) {
      const r = this.cs.find(s.space);
      if (!r.layers.includes(path)) r.layers.push(path);
    }
  }

  // -------------------------------------------------------------------------------------------

  run(opts: PartitionOptions): Analysis {
    const g = this.g;
    for (const t of g.inputs) {
      const c = this.channels(t);
      this.layouts[t] = c < 0 ? null : this.cs.fresh(c, "tied to the model input");
    }
    for (const n of g.nodes) this.node(n);
    for (const t of g.outputs) {
      const l = this.layouts[t];
      this.cs.fixLayout(l, "feeds the model output");
    }
    this.cs.sharedParams();
    const trainable = this.g.params.filter((p) => p.trainable).map((p) => p.name);
    const { partition, zigOf } = this.cs.zigs(trainable, opts.groupDivisible);
    const tensorZigs = new Map<number, number[]>();
    this.layouts.forEach((l, t) => {
      if (l) tensorZigs.set(t, l.map((s) => zigOf(s.space)));
    });
    return { partition, tensorZigs };
  }

  private node(n: GraphNode): void {
    const g = this.g;
    if (n.inputs.every((t) => this.isStatic(t))) {
      this.staticNode(n);
      return;
    }
    const info: OpInfo = {
      ins: n.inputs.map((t) => g.tensors[t]),
      outs: n.outputs.map((t) => g.tensors[t]),
    };
    const where = `${n.op}${n.path ? ` (${n.path})` : ""}`;
    const op = getOp(n.op);
    let rule: ChannelRule<unknown> | undefined;
    try {
      rule = op.channels
        ? resolveRule(op.channels as ChannelRule<unknown>, n.attrs, info)
        : undefined;
    } catch (e) {
      this.block(n, `${where}: channel rule failed (${(e as Error).message})`);
      return;
    }
    if (!rule) {
      this.block(n, `op ${where} has no channel rule`);
      return;
    }
    switch (rule.kind) {
      case "stem":
        return this.stem(n, rule, where);
      case "accessory":
        return this.accessory(n, rule, info, where);
      case "passthrough":
        return this.passthrough(n, where);
      case "joint":
        return this.joint(n, rule.product ?? false, where);
      case "concat":
        return this.concat(n);
      case "flatten":
        return this.reshape(n, where);
      case "pixelShuffle": {
        const r = rule.factor(n.attrs);
        return rule.inverse ? this.rescale(n, r * r, 1, where) : this.rescale(n, 1, r * r, where);
      }
      case "block":
        return this.block(n, `${where}: ${rule.reason}`);
      default:
        return this.block(n, `op ${where} has an unknown channel rule`);
    }
  }

  /** Nodes whose inputs are all parameters or constants: their outputs are static too. */
  private staticNode(n: GraphNode): void {
    const g = this.g;
    if (n.op === "fill") { for (const t of n.outputs) this.fillValue[t] = n.attrs.value as number; }
    // A reshape of a vector-like parameter stays a view of it ([C] -> [1, C, 1, 1]).
    const v = n.inputs.length === 1 ? this.views[n.inputs[0]] : null;
    if (v && (n.op === "reshape" || n.op === "cast")) {
      const shape = g.tensors[n.outputs[0]].shape;
      const nonOne = shape.map((d, i) => (d !== 1 ? i : -1)).filter((i) => i >= 0);
      if (nonOne.length <= 1) this.views[n.outputs[0]] = { ...v, viewAxis: nonOne[0] ?? -1 };
    }
  }

  /** Every space the node reads becomes unprunable; outputs get fresh fixed spaces. */
  private block(n: GraphNode, reason: string): void {
    for (const t of n.inputs) this.cs.fixLayout(this.layouts[t], reason);
    for (const t of n.outputs) {
      const c = this.channels(t);
      this.setLayout(t, c < 0 ? null : this.cs.fresh(c, `produced by ${reason}`), n.path);
    }
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

  private stem(n: GraphNode, rule: Extract<ChannelRule<unknown>, { kind: "stem" }>, where: string) {
    const g = this.g;
    const roleIdx = (role: string) => n.params.find((p) => p.role === role)?.input;
    const wi = rule.weightInput ?? roleIdx("weight") ?? 1;
    const bi = rule.biasInput ?? roleIdx("bias") ?? (n.inputs.length > 2 ? 2 : -1);
    const x = n.inputs[0], out = n.outputs[0];
    const xl = this.layouts[x];
    const w = this.paramInput(n, wi);
    if (!w) return this.block(n, `${where}: the weight is computed in forward, not a parameter`);
    const b = bi >= 0 && bi < n.inputs.length ? this.paramInput(n, bi) : null;
    if (bi >= 0 && bi < n.inputs.length && !b) {
      return this.block(n, `${where}: the bias is computed in forward, not a parameter`);
    }
    const ws = g.tensors[n.inputs[wi]].shape;
    const xs = g.tensors[x].shape, os = g.tensors[out].shape;
    if (!xl || os.length < 2) return this.block(n, `${where}: input or output has no channel axis`);
    if (ws.length === 2 && xs.length !== 2) {
      return this.block(
        n,
        `${where}: a linear layer on a rank-${xs.length} input reads its last axis, not the ` +
          `channel axis`,
      );
    }
    const outAxis = typeof rule.outAxis === "function" ? rule.outAxis(n.attrs) : rule.outAxis;
    const inAxis = typeof rule.inAxis === "function" ? rule.inAxis(n.attrs) : rule.inAxis;
    const attrGroups = (n.attrs as { groups?: unknown }).groups;
    const groups = rule.groups?.(n.attrs) ?? (typeof attrGroups === "number" ? attrGroups : 1);
    const cin = xs[1], cout = os[1];
    const wp = { param: w.param, role: w.role, trainable: w.trainable };
    const bp = b && { param: b.param, role: b.role, trainable: b.trainable };
    if (groups === 1) {
      if (ws[inAxis] !== cin || ws[outAxis] !== cout) {
        return this.block(n, `${where}: weight [${ws}] does not match ${cin} -> ${cout} channels`);
      }
      for (const s of xl) this.cs.attach(s, wp, inAxis, "consumer");
      const ol = this.cs.fresh(cout);
      this.cs.attach(ol[0], wp, outAxis, "member");
      if (bp) this.cs.attach(ol[0], bp, 0, "member");
      this.setLayout(out, ol, n.path);
      return;
    }
    // Grouped: output block k (cout/groups channels) reads only input block k (cin/groups).
    const ci = cin / groups, co = cout / groups;
    if (!Number.isInteger(ci) || !Number.isInteger(co)) {
      return this.block(
        n,
        `${where}: ${cin} -> ${cout} channels do not split into ${groups} groups`,
      );
    }
    const rowsOut = ws[outAxis] === cout, rowsIn = ws[inAxis] === cin;
    if (!rowsOut && !rowsIn) {
      return this.block(n, `${where}: grouped weight [${ws}] has no full channel axis`);
    }
    if (xl.some((s) => s.offset % ci !== 0 || s.len % ci !== 0)) {
      return this.block(n, `${where}: its ${groups} groups straddle concatenated channel spaces`);
    }
    const ol: Layout = [];
    for (const s of xl) {
      // A group of the space must cover whole conv groups: unit*num/den multiple of ci.
      this.cs.coarsen(s.space, (ci * s.den) / gcd(s.num, ci * s.den));
      const num = s.num * co, den = s.den * ci, d = gcd(num, den);
      const os2: Seg = {
        space: s.space,
        offset: (s.offset / ci) * co,
        len: (s.len / ci) * co,
        num: num / d,
        den: den / d,
      };
      this.cs.coarsen(s.space, os2.den / gcd(os2.num, os2.den));
      ol.push(os2);
      if (rowsOut) this.cs.attach(os2, wp, outAxis, "member");
      else this.cs.attach(s, wp, inAxis, "member");
      if (bp) this.cs.attach(os2, bp, 0, "member");
    }
    this.setLayout(out, ol, n.path);
  }

  private accessory(
    n: GraphNode,
    rule: Extract<ChannelRule<unknown>, { kind: "accessory" }>,
    info: OpInfo,
    where: string,
  ): void {
    const xl = this.layouts[n.inputs[0]];
    const c = this.channels(n.inputs[0]);
    if (!xl) return this.block(n, `${where}: input has no channel axis`);
    const block = rule.blockSize?.(n.attrs, info) ?? 1;
    if (block > 1) {
      // Channels normalised together (GroupNorm) go together: whole blocks only.
      if (xl.some((s) => s.offset % block !== 0 || s.len % block !== 0)) {
        return this.block(n, `${where}: its channel blocks straddle concatenated spaces`);
      }
      for (const s of xl) this.cs.coarsen(s.space, (block * s.den) / gcd(s.num, block * s.den));
    }
    for (let i = 1; i < n.inputs.length; i++) {
      const t = n.inputs[i];
      if (!this.isStatic(t)) {
        return this.block(n, `${where}: input ${i} is computed from the data`);
      }
      const v = this.views[t];
      const role = n.params.find((p) => p.input === i)?.role ?? `input${i}`;
      if (v && v.size === 1) continue; // a shared scalar (PReLU with one slope)
      const fv = this.fillValue[t];
      if (fv !== undefined) {
        // A constant standing in for a missing gamma/beta (compression resizes the fill).
        if (fv !== 0 && /beta|bias|shift/i.test(role)) {
          return this.block(n, `${where}: a constant nonzero ${role} shifts zero channels`);
        }
        continue;
      }
      if (!v || v.size !== c) {
        return this.block(
          n,
          `${where}: ${role} [${this.g.tensors[t].shape}] is not one value per channel`,
        );
      }
      for (const s of xl) {
        this.cs.attach(s, { param: v.param, role, trainable: v.trainable }, v.paramAxis, "member");
      }
    }
    for (const t of n.outputs) {
      if (this.channels(t) !== c) return this.block(n, `${where}: changes the channel count`);
      this.setLayout(t, xl, n.path);
    }
  }

  private passthrough(n: GraphNode, where: string): void {
    const x = n.inputs.findIndex((t) => !this.isStatic(t));
    const xl = this.layouts[n.inputs[x]];
    const c = this.channels(n.inputs[x]);
    for (let i = 0; i < n.inputs.length; i++) {
      if (i === x || this.isStatic(n.inputs[i])) continue;
      const l = this.layouts[n.inputs[i]];
      if (this.channels(n.inputs[i]) === c && l && xl && this.align(xl, l)) continue;
      return this.block(n, `${where}: reads several tensors with different channels`);
    }
    for (const t of n.outputs) {
      const oc = this.channels(t);
      if (oc < 0) {
        this.cs.fixLayout(xl, `${where}: removes the channel axis`);
        this.setLayout(t, null, n.path);
      } else if (oc !== c || !xl) {
        return this.block(n, `${where}: changes the channel count (${c} -> ${oc})`);
      } else this.setLayout(t, xl, n.path);
    }
  }

  /** Unite two layouts segment by segment; false (nothing united) if they do not line up. */
  private align(a: Layout, b: Layout): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      const x = a[i], y = b[i];
      if (x.offset !== y.offset || x.len !== y.len || x.num !== y.num || x.den !== y.den) {
        return false;
      }
    }
    for (let i = 0; i < a.length; i++) this.cs.union(a[i].space, b[i].space);
    return true;
  }

  private joint(n: GraphNode, product: boolean, where: string): void {
    const g = this.g;
    const out = n.outputs[0];
    const os = g.tensors[out].shape;
    const r = os.length;
    const c = r >= 2 ? os[1] : -1;
    const full: Layout[] = [];
    const problems: string[] = [];
    const members: ParamView[] = [];
    for (let i = 0; i < n.inputs.length; i++) {
      const t = n.inputs[i];
      const s = g.tensors[t].shape;
      const ax = 1 - (r - s.length);
      const size = c < 0 || ax < 0 ? 1 : s[ax];
      if (!this.isStatic(t)) {
        const l = this.layouts[t];
        if (size === c && c >= 0 && l) full.push(l);
        else if (!product && c > 1) {
          problems.push(`${where}: adds a tensor broadcast over channels (not zero-invariant)`);
        }
        continue;
      }
      // Static operand: a per-channel parameter is a member; a scalar is fine for products.
      const v = this.views[t];
      if (size === c && c > 1) {
        const fv = this.fillValue[t];
        if (v && v.viewAxis - (s.length - r) === 1 && v.size === c) members.push(v);
        else if (fv !== undefined && (product || fv === 0)) continue;
        else problems.push(`${where}: combines channels with a constant`);
      } else if (size === c && c === 1) {
        continue;
      } else if (!product && this.fillValue[t] !== 0 && c > 1) {
        if (v && v.param) members.push({ ...v, size: 1 });
        else problems.push(`${where}: adds a constant to every channel (not zero-invariant)`);
      }
    }
    if (c < 0) {
      this.setLayout(out, null, n.path);
      return;
    }
    if (full.length === 0) {
      this.setLayout(out, this.cs.fresh(c, `${where}: channels come from constants`), n.path);
      return;
    }
    const ol = full[0];
    for (const l of full.slice(1)) {
      if (!this.align(ol, l)) {
        for (const x of full) {
          this.cs.fixLayout(x, `${where}: joins tensors with different layouts`);
        }
      }
    }
    for (const p of problems) this.cs.fixLayout(ol, p);
    for (const v of members) {
      if (v.size === 1) {
        // x + scalar parameter: zero only when that shared scalar is zero; not prunable.
        this.cs.fixLayout(ol, `${where}: adds the shared parameter ${v.param} to every channel`);
        continue;
      }
      for (const s of ol) {
        this.cs.attach(
          s,
          { param: v.param, role: v.role, trainable: v.trainable },
          v.paramAxis,
          "member",
        );
      }
    }
    this.setLayout(out, ol, n.path);
  }

  private concat(n: GraphNode): void {
    const ol: Layout = [];
    let off = 0;
    for (const t of n.inputs) {
      const c = this.channels(t);
      const l = this.isStatic(t)
        ? this.cs.fresh(c, "a constant concatenated to channels")
        : this.layouts[t]!;
      for (const s of l) ol.push({ ...s, offset: s.offset + off });
      off += c;
    }
    this.setLayout(n.outputs[0], ol, n.path);
  }

  /** reshape: same batch axis; each channel's H*W block maps onto whole output entries. */
  private reshape(n: GraphNode, where: string): void {
    const a = this.g.tensors[n.inputs[0]].shape, b = this.g.tensors[n.outputs[0]].shape;
    const xl = this.layouts[n.inputs[0]];
    if (b.length < 2 || !xl) {
      this.cs.fixLayout(xl, `${where}: reshape removes the channel axis`);
      this.setLayout(n.outputs[0], null, n.path);
      return;
    }
    if (a[0] !== b[0]) return this.block(n, `${where}: reshape mixes the batch and channel axes`);
    let s = 1, t = 1;
    for (const d of a.slice(2)) s *= d;
    for (const d of b.slice(2)) t *= d;
    if (s % t === 0) return this.rescale(n, s / t, 1, where);
    if (t % s === 0) return this.rescale(n, 1, t / s, where);
    return this.block(n, `${where}: reshape splits channels across output entries`);
  }

  /** Output entries per input entry = mul/div (flatten: H*W; pixel shuffle: 1/r²). */
  private rescale(n: GraphNode, mul: number, div: number, where: string): void {
    const xl = this.layouts[n.inputs[0]];
    const out = n.outputs[0];
    if (!xl || this.channels(out) < 0) return this.block(n, `${where}: no channel axis`);
    if ((this.channels(n.inputs[0]) * mul) / div !== this.channels(out)) {
      return this.block(n, `${where}: unexpected channel count`);
    }
    if (xl.some((s) => (s.offset * mul) % div !== 0 || (s.len * mul) % div !== 0)) {
      return this.block(n, `${where}: merges channels of different spaces`);
    }
    const ol = xl.map((s) => {
      const num = s.num * mul, den = s.den * div, d = gcd(num, den);
      const seg: Seg = {
        space: s.space,
        offset: (s.offset * mul) / div,
        len: (s.len * mul) / div,
        num: num / d,
        den: den / d,
      };
      // A group must map onto whole output entries.
      this.cs.coarsen(s.space, seg.den / gcd(seg.num, seg.den));
      return seg;
    });
    this.setLayout(out, ol, n.path);
  }
}
