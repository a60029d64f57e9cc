/**
 * The compact graph: the traced graph with sliced parameters. Every tensor whose channels the
 * partition tracks gets its compact shape from the kept channel positions (a reshape, expand,
 * slice or split of channels is given the exact compact target, whatever axes the channels lie
 * on); the attributes that count channels follow (conv `groups`, group-norm groups, layer-norm
 * `normCount`, `fill` constants standing in for per-channel values); every op's shape rule
 * re-checks the result, and an op that disagrees is named with its layer.
 */
import { getOp, type OpInfo } from "../ops/registry.ts";
import { sameShape } from "../ops/util.ts";
import { copyAttrs, Graph, type GraphNode } from "../graph/graph.ts";
import { type ChannelRule, resolveRule } from "../zig/rules.ts";
import type { Analysis } from "../zig/partition.ts";
import { sliceIndices } from "../zig/types.ts";

/** Kept channel positions of a tensor: its channel axes and a flag per position. */
export interface KeptPositions {
  axes: number[];
  keep: Uint8Array;
}

/** Removed indices: parameter -> axis -> indices. */
export type Removed = ReadonlyMap<string, ReadonlyMap<number, ReadonlySet<number>>>;

/**
 * Which channel positions of every tracked tensor survive, given the parameter indices that
 * compression removes (a group is gone when its first member slice is).
 */
export function keptPositions(an: Analysis, removed: Removed): Map<number, KeptPositions> {
  const gone = an.partition.zigs.map((z) => {
    const m = z.members.find((s) => s.trainable) ?? z.members[0];
    if (!z.prunable || !m) return null;
    const set = removed.get(m.param)?.get(m.axis);
    return Array.from(
      { length: z.size },
      (_, j) => !!set && sliceIndices(m, j).every((i) => set.has(i)),
    );
  });
  const out = new Map<number, KeptPositions>();
  for (const [t, tc] of an.tensorChannels) {
    const keep = new Uint8Array(tc.zig.length);
    for (let p = 0; p < keep.length; p++) {
      const z = tc.zig[p];
      keep[p] = z >= 0 && gone[z]?.[tc.group[p]] ? 0 : 1;
    }
    out.set(t, { axes: tc.axes, keep });
  }
  return out;
}

/** Per channel axis, which coordinates keep at least one position. */
function keptCoords(shape: readonly number[], k: KeptPositions): boolean[][] {
  const sizes = k.axes.map((a) => shape[a]);
  const coords = sizes.map((s) => new Array<boolean>(s).fill(false));
  const c = new Array(sizes.length).fill(0);
  for (let p = 0; p < k.keep.length; p++) {
    if (k.keep[p]) c.forEach((v, q) => (coords[q][v] = true));
    for (let q = sizes.length - 1; q >= 0; q--) {
      if (++c[q] < sizes[q]) break;
      c[q] = 0;
    }
  }
  return coords;
}

const count = (xs: readonly boolean[]) => xs.reduce((s, x) => s + (x ? 1 : 0), 0);

/**
 * The graph with new parameter shapes. `kept` (from {@link keptPositions}) gives the compact
 * shape of every tracked tensor; without it only the shape rules and conv groups are followed.
 */
export function compactGraph(
  graph: Graph,
  paramShapes: ReadonlyMap<string, readonly number[]>,
  kept: ReadonlyMap<number, KeptPositions> = new Map(),
): Graph {
  const tensors = graph.tensors.map((t) => ({ ...t, shape: [...t.shape] }));
  for (const t of tensors) {
    const s = t.name !== undefined ? paramShapes.get(t.name) : undefined;
    if (s && (t.kind === "param" || t.kind === "buffer")) t.shape = [...s];
  }
  const coordsOf = new Map<number, boolean[][]>();
  const coords = (t: number) => {
    let c = coordsOf.get(t);
    const k = kept.get(t);
    if (!c && k) coordsOf.set(t, c = keptCoords(graph.tensors[t].shape, k));
    return c;
  };
  /** The compact shape of a tracked tensor (null when untracked). */
  const expected = (t: number): number[] | null => {
    const k = kept.get(t), c = coords(t);
    if (!k || !c) return null;
    const s = [...graph.tensors[t].shape];
    k.axes.forEach((a, q) => (s[a] = count(c[q])));
    return s;
  };
  const dynamic = tensors.map((t) => t.kind === "input");
  const nodes: GraphNode[] = graph.nodes.map((n) => ({ ...n, attrs: copyAttrs(n.attrs) }));
  for (const n of nodes) {
    const where = `${n.op} (layer ${n.path || "<root>"})`;
    const oldInfo: OpInfo = {
      ins: n.inputs.map((t) => graph.tensors[t]),
      outs: n.outputs.map((t) => graph.tensors[t]),
    };
    const d0 = n.inputs.findIndex((t) => dynamic[t]);
    if (d0 >= 0) followFills(graph, nodes, tensors, n, d0, kept.get(n.inputs[d0]));
    const newIns = n.inputs.map((t) => tensors[t]);
    const op = getOp(n.op);
    const exp = n.outputs.map(expected);
    let attrs = n.attrs;
    // Kept channels can shrink an output whose inputs did not (zero channels padded on).
    const changed = newIns.some((t, i) => !sameShape(t.shape, oldInfo.ins[i].shape)) ||
      exp.some((e, i) => e && !sameShape(e, oldInfo.outs[i].shape));
    if (changed) {
      try {
        attrs = shapeAttrs(n, attrs, exp, oldInfo, newIns, coords(n.inputs[0]), kept);
      } catch (e) {
        throw new Error(`compress: ${where}: ${(e as Error).message}`);
      }
    }
    if (d0 >= 0) {
      const rule = resolveRule(op.channels as ChannelRule<unknown>, n.attrs, oldInfo);
      attrs = channelCountAttrs(rule, attrs, n.attrs, oldInfo, newIns[d0].shape, d0, where);
    }
    let outs;
    try {
      outs = op.shape(newIns, attrs as never);
    } catch (e) {
      throw new Error(`compress: ${where} rejects the compact shapes: ${(e as Error).message}`);
    }
    outs.forEach((o, i) => {
      const e = exp[i];
      if (e && (e.length !== o.shape.length || e.some((d, k) => d !== o.shape[k]))) {
        throw new Error(
          `compress: ${where} gives [${o.shape}] where the kept channels need [${e}]; its ` +
            `channel rule does not match what the op computes`,
        );
      }
      const t = tensors[n.outputs[i]];
      t.shape = [...o.shape];
      t.dtype = o.dtype;
      if (d0 >= 0) dynamic[n.outputs[i]] = true;
    });
    n.attrs = attrs;
  }
  const params = graph.params.map((p) => ({
    ...p,
    shape: [...(paramShapes.get(p.name) ?? p.shape)],
  }));
  return new Graph({
    nodes,
    tensors,
    inputs: graph.inputs,
    outputs: graph.outputs,
    params,
    constants: graph.constants,
    outputKind: graph.outputKind,
    outputNames: graph.outputNames,
  });
}

/**
 * Attributes that hold shapes: reshape/expand targets and split sizes are the compact output
 * shapes; a slice of channels starts after the kept positions before it. Other ops follow their
 * inputs through their `follow` facet.
 */
function shapeAttrs(
  n: GraphNode,
  attrs: Record<string, unknown>,
  exp: readonly (number[] | null)[],
  oldInfo: OpInfo,
  newIns: readonly { shape: readonly number[]; dtype: string }[],
  inCoords: boolean[][] | undefined,
  kept: ReadonlyMap<number, KeptPositions>,
): Record<string, unknown> {
  const e0 = exp[0];
  if ((n.op === "reshape" || n.op === "expand") && e0) return { ...attrs, shape: e0 };
  if (n.op === "split" && exp.every((e) => e)) {
    const axis = attrs.axis as number;
    return { ...attrs, sizes: exp.map((e) => e![axis]) };
  }
  if (n.op === "pad" && e0) {
    // Along a channel axis, each side keeps its padded positions that survived.
    const before = [...(attrs.before as number[])], after = [...(attrs.after as number[])];
    const k = kept.get(n.outputs[0])!, out = oldInfo.outs[0].shape;
    const oc = keptCoords(out, k);
    k.axes.forEach((a, q) => {
      before[a] = count(oc[q].slice(0, before[a]));
      after[a] = count(oc[q].slice(out[a] - after[a]));
    });
    return { ...attrs, before, after };
  }
  if (n.op === "slice" && e0) {
    const starts = [...(attrs.starts as number[])];
    const k = kept.get(n.inputs[0]);
    const steps = attrs.steps as number[];
    k?.axes.forEach((a, q) => {
      // A reversed run (step -1) starts at its last kept channel at or below the old start.
      const back = steps[a] < 0 ? 1 : 0;
      const before = inCoords![q].slice(0, starts[a] + back);
      starts[a] = Math.max(0, count(before) - back);
    });
    return { ...attrs, starts, shape: e0 };
  }
  const op = getOp(n.op);
  return op.follow
    ? op.follow(attrs as never, oldInfo, newIns as never) as Record<string, unknown>
    : attrs;
}

/** Channel counts in attributes: conv groups, group-norm groups, normCount. */
function channelCountAttrs(
  rule: ChannelRule<unknown>,
  attrs: Record<string, unknown>,
  oldAttrs: Record<string, unknown>,
  oldInfo: OpInfo,
  newX: readonly number[],
  d0: number,
  where: string,
): Record<string, unknown> {
  const oldC = oldInfo.ins[d0].shape[1], newC = newX[1];
  if (rule.kind === "stem") {
    const ga = oldAttrs.groups;
    const g = rule.groups?.(oldAttrs) ?? (typeof ga === "number" ? ga : 1);
    if (g > 1 && oldC !== newC) {
      const ng = (g * newC) / oldC;
      if (!Number.isInteger(ng)) {
        throw new Error(`compress: ${where}: ${newC} channels do not form whole groups`);
      }
      return (rule.withGroups?.(attrs, ng) as Record<string, unknown>) ?? { ...attrs, groups: ng };
    }
  } else if (rule.kind === "accessory") {
    if (rule.normCount) {
      attrs = rule.normCount.set(attrs, rule.normCount.get(oldAttrs, oldInfo)) as Record<
        string,
        unknown
      >;
    }
    const b = rule.blockSize?.(oldAttrs, oldInfo) ?? 1;
    if (b > 1 && oldC !== newC) {
      if (typeof attrs.groups !== "number") {
        throw new Error(`compress: ${where}: cannot update its channel blocks (no groups attr)`);
      }
      return { ...attrs, groups: newC / b };
    }
  }
  return attrs;
}

/**
 * A `fill` constant that stands in for per-channel values (a norm without affine parameters,
 * a constant added to channels) follows the channel count of the tensor it meets, along each of
 * that tensor's channel axes.
 */
function followFills(
  graph: Graph,
  nodes: GraphNode[],
  tensors: { shape: number[] }[],
  n: GraphNode,
  d0: number,
  k: KeptPositions | undefined,
): void {
  const x = n.inputs[d0];
  const oldX = graph.tensors[x].shape, newX = tensors[x].shape;
  const axes = k?.axes ?? [1];
  n.inputs.forEach((t, i) => {
    if (i === d0) return;
    const p = graph.tensors[t].producer;
    if (p === undefined || nodes[p].op !== "fill") return;
    const old = graph.tensors[t].shape;
    const shape = [...old];
    for (const a of axes) {
      // A 1-D fill is the per-channel vector of a norm (gamma/beta of its channel axis).
      const ax = old.length === 1 ? 0 : a - (oldX.length - old.length);
      if (ax >= 0 && old[ax] === oldX[a] && oldX[a] !== newX[a]) shape[ax] = newX[a];
    }
    if (shape.every((d, q) => d === old[q])) return;
    tensors[t].shape = shape;
    nodes[p].attrs = { ...nodes[p].attrs, shape };
  });
}
