/**
 * Compression (OTOv2 §5, HEAD-style zero detection on trainable slices): find the groups whose
 * trainable member slices are exactly zero, remove their member and consumer slices from every
 * parameter and buffer, and rebuild the traced graph with the new shapes (conv `groups`,
 * reshape/expand targets and constants that follow a channel count are updated; every op's shape
 * rule re-checks the result). The compact model is a {@link GraphModule}.
 */
import { type HostArray, hostArray, numel, type Tensor } from "../tensor.ts";
import { fromHost } from "../tensor.ts";
import { upload } from "../backend/webgpu.ts";
import { getOp, type OpInfo } from "../ops/registry.ts";
import { Module } from "../nn/module.ts";
import { copyAttrs, expandTarget, Graph, type GraphNode, reshapeTarget } from "../graph/graph.ts";
import { trace } from "../graph/trace.ts";
import { resolveRule } from "../zig/rules.ts";
import type { ChannelRule } from "../zig/rules.ts";
import { partition as makePartition } from "../zig/partition.ts";
import type { ParamSlice, Partition, Zig } from "../zig/types.ts";
import { Rng } from "../random.ts";
import { graphCost } from "./flops.ts";
import { GraphModule } from "./graph_module.ts";

/** Options of {@link compress}. */
export interface CompressOptions {
  /** Input shape used to trace a Module (required when `source` is a Module). */
  input?: readonly number[];
  /**
   * Train-mode graph for the compact model: `true` (default for a Module) traces the Module in
   * train mode; a Graph is used as given; `false` gives an eval-only compact model.
   */
  trainGraph?: boolean | Graph;
}

/** Kept channels of one ZIG family. */
export interface ZigKept {
  id: number;
  size: number;
  kept: number;
  prunable: boolean;
}

/** Sizes before and after compression. */
export interface CompressReport {
  paramsBefore: number;
  paramsAfter: number;
  macsBefore: number;
  macsAfter: number;
  flopsBefore: number;
  flopsAfter: number;
  zigs: ZigKept[];
  /** Things worth knowing (e.g. why there is no train-mode graph). */
  notes: string[];
}

/** What {@link compress} returns. */
export interface CompressResult {
  /** The compact model (eval mode). */
  model: GraphModule;
  /** Its graph (eval mode). */
  graph: Graph;
  report: CompressReport;
  /** Kept group indices of every prunable ZIG, by ZIG id. */
  kept: Map<number, number[]>;
}

/**
 * Compress a model (or a traced graph with its parameters) by removing its zero groups.
 *
 * @example
 * ```ts
 * import { compress, init, partition, randn, trace, zeroRandomGroups, zoo } from "../../mod.ts";
 * await init();
 * const model = zoo["small-cnn"].build();
 * const input = [1, 1, 28, 28];
 * const part = partition(trace(model, input));
 * // ... train with DHSPG so groups become exactly zero (here: zero half of them at random) ...
 * await zeroRandomGroups(model.stateDict(), part, { fraction: 0.5, seed: 1 });
 * const { model: small, report } = await compress(model, undefined, part, { input });
 * console.log(report.paramsBefore, "->", report.paramsAfter); // 20538 -> 9122
 * small.call(randn([2, 1, 28, 28], { seed: 0 })); // [2, 10], with half the channels
 * ```
 */
export async function compress(
  source: Module | Graph,
  params?: ReadonlyMap<string, Tensor>,
  part?: Partition,
  opts: CompressOptions = {},
): Promise<CompressResult> {
  let graph: Graph;
  let trainGraph: Graph | undefined;
  const notes: string[] = [];
  if (source instanceof Module) {
    if (!opts.input) throw new Error("compress: pass opts.input (the input shape) with a Module");
    graph = trace(source, opts.input);
    params ??= source.stateDict();
    if (opts.trainGraph !== false) {
      if (opts.trainGraph instanceof Graph) trainGraph = opts.trainGraph;
      else {
        const shape = [Math.max(2, opts.input[0]), ...opts.input.slice(1)];
        try {
          trainGraph = trace(source, shape, { training: true });
        } catch (e) {
          notes.push(`no train-mode graph: ${(e as Error).message}`);
        }
      }
    }
  } else {
    graph = source;
    if (!params) throw new Error("compress: pass the parameters with a Graph");
    if (opts.trainGraph instanceof Graph) trainGraph = opts.trainGraph;
  }
  part ??= makePartition(graph);
  checkPartition(graph, part);

  const values = await readParams(graph, params);
  const zero = zeroGroups(graph, part, values);
  const kept = new Map<number, number[]>();
  const removed = new Map<string, Map<number, Set<number>>>();
  for (const z of part.zigs) {
    if (!z.prunable) continue;
    const flags = zero.get(z.id)!;
    let keep = flags.map((f, j) => (f ? -1 : j)).filter((j) => j >= 0);
    // Never remove a whole space: its output is zero anyway, keep one channel.
    if (keep.length === 0) keep = [0];
    kept.set(z.id, keep);
    const keepSet = new Set(keep);
    for (const s of [...z.members, ...z.consumers]) {
      let axes = removed.get(s.param);
      if (!axes) removed.set(s.param, axes = new Map());
      let set = axes.get(s.axis);
      if (!set) axes.set(s.axis, set = new Set());
      for (let j = 0; j < z.size; j++) {
        if (keepSet.has(j)) continue;
        for (let q = 0; q < s.block; q++) set.add(s.offset + j * s.block + q);
      }
    }
  }

  const state = new Map<string, Tensor>();
  const newShapes = new Map<string, number[]>();
  for (const p of graph.params) {
    const v = values.get(p.name)!;
    const axes = removed.get(p.name);
    const keepIdx = p.shape.map((d, ax) => {
      const r = axes?.get(ax);
      return r && r.size ? [...Array(d).keys()].filter((i) => !r.has(i)) : null;
    });
    const sliced = gatherAxes(v, p.shape, keepIdx, p.dtype);
    newShapes.set(p.name, sliced.shape);
    const be = lookup(params, p.name, p.aliases)!.backend;
    state.set(p.name, fromHost(sliced.data, sliced.shape, p.dtype, be === "meta" ? "cpu" : be));
  }
  const compact = compactGraph(graph, newShapes);
  let compactTrain: Graph | undefined;
  if (trainGraph) {
    try {
      compactTrain = compactGraph(trainGraph, newShapes);
    } catch (e) {
      notes.push(`no train-mode graph: ${(e as Error).message}`);
    }
  }
  const model = new GraphModule(compact, state, { trainGraph: compactTrain });
  model.eval();
  const before = graphCost(graph), after = graphCost(compact);
  return {
    model,
    graph: compact,
    kept,
    report: {
      paramsBefore: before.params,
      paramsAfter: after.params,
      macsBefore: before.macs,
      macsAfter: after.macs,
      flopsBefore: before.flops,
      flopsAfter: after.flops,
      zigs: part.zigs.map((z) => ({
        id: z.id,
        size: z.size,
        kept: kept.get(z.id)?.length ?? z.size,
        prunable: z.prunable,
      })),
      notes,
    },
  };
}

function lookup(
  params: ReadonlyMap<string, Tensor>,
  name: string,
  aliases: readonly string[],
): Tensor | undefined {
  return params.get(name) ?? aliases.map((a) => params.get(a)).find((t) => t);
}

/** Host copies of every parameter and buffer the graph knows. */
async function readParams(
  graph: Graph,
  params: ReadonlyMap<string, Tensor>,
): Promise<Map<string, HostArray>> {
  const out = new Map<string, HostArray>();
  for (const p of graph.params) {
    const t = lookup(params, p.name, p.aliases);
    if (!t) throw new Error(`compress: parameter "${p.name}" is missing`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new Error(`compress: "${p.name}" has shape [${t.shape}], traced [${p.shape}]`);
    }
    out.set(p.name, await t.data());
  }
  return out;
}

/** Every slice must name a known parameter and fit inside its axis. */
function checkPartition(graph: Graph, part: Partition): void {
  for (const z of part.zigs) {
    for (const s of [...z.members, ...z.consumers]) {
      const p = graph.param(s.param);
      if (!p) throw new Error(`compress: ZIG #${z.id} names unknown parameter "${s.param}"`);
      const end = s.offset + z.size * s.block;
      if (s.axis >= p.shape.length || end > p.shape[s.axis]) {
        throw new Error(
          `compress: ZIG #${z.id} slice of ${s.param} (axis ${s.axis}, ${s.offset}..${end}) ` +
            `exceeds its shape [${p.shape}]; the partition does not match this graph`,
        );
      }
    }
  }
}

/** Per group j, whether channel j of each slice's axis is all zero in `data`. */
function sliceZero(
  data: HostArray,
  shape: readonly number[],
  s: ParamSlice,
  size: number,
  nonzero: boolean[],
): void {
  let inner = 1;
  for (let i = s.axis + 1; i < shape.length; i++) inner *= shape[i];
  const dim = shape[s.axis];
  const end = s.offset + size * s.block;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) continue;
    const e = Math.floor(i / inner) % dim;
    if (e >= s.offset && e < end) nonzero[Math.floor((e - s.offset) / s.block)] = true;
  }
}

/**
 * For each prunable ZIG, which groups are exactly zero on all trainable member slices
 * (buffers such as running statistics are ignored, §5.1).
 */
export function zeroGroups(
  graph: Graph,
  part: Partition,
  values: ReadonlyMap<string, HostArray>,
): Map<number, boolean[]> {
  const out = new Map<number, boolean[]>();
  for (const z of part.zigs) {
    if (!z.prunable) continue;
    const nonzero = new Array(z.size).fill(false);
    for (const m of z.members) {
      if (!m.trainable) continue;
      const p = graph.param(m.param)!;
      sliceZero(values.get(p.name)!, p.shape, m, z.size, nonzero);
    }
    out.set(z.id, nonzero.map((nz) => !nz));
  }
  return out;
}

/** Keep the listed indices (null: all) of every axis. */
export function gatherAxes(
  data: HostArray,
  shape: readonly number[],
  keep: readonly (readonly number[] | null)[],
  dtype: Tensor["dtype"],
): { data: HostArray; shape: number[] } {
  if (keep.every((k) => k === null)) return { data: data.slice(), shape: [...shape] };
  const idx = keep.map((k, ax) => k ?? [...Array(shape[ax]).keys()]);
  const newShape = idx.map((k) => k.length);
  const out = hostArray(dtype, numel(newShape));
  const r = shape.length;
  const strides = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  const coord = new Array(r).fill(0);
  for (let o = 0; o < out.length; o++) {
    let at = 0;
    for (let d = 0; d < r; d++) at += idx[d][coord[d]] * strides[d];
    out[o] = data[at];
    for (let d = r - 1; d >= 0; d--) {
      if (++coord[d] < newShape[d]) break;
      coord[d] = 0;
    }
  }
  return { data: out, shape: newShape };
}

/**
 * The graph with new parameter shapes: shapes are propagated through every op's shape rule and
 * the attributes that carry channel counts follow (reshape/expand targets, conv and group-norm
 * `groups`, `fill` constants that stand in for per-channel values, accessory `normCount`).
 */
export function compactGraph(
  graph: Graph,
  paramShapes: ReadonlyMap<string, readonly number[]>,
): Graph {
  const tensors = graph.tensors.map((t) => ({ ...t, shape: [...t.shape] }));
  for (const t of tensors) {
    const s = t.name !== undefined ? paramShapes.get(t.name) : undefined;
    if (s && (t.kind === "param" || t.kind === "buffer")) t.shape = [...s];
  }
  const dynamic = tensors.map((t) => t.kind === "input");
  const nodes: GraphNode[] = graph.nodes.map((n) => ({ ...n, attrs: copyAttrs(n.attrs) }));
  for (const n of nodes) {
    const where = `${n.op}${n.path ? ` (layer ${n.path})` : ""}`;
    const oldInfo: OpInfo = {
      ins: n.inputs.map((t) => graph.tensors[t]),
      outs: n.outputs.map((t) => graph.tensors[t]),
    };
    const d0 = n.inputs.findIndex((t) => dynamic[t]);
    if (d0 >= 0) followFills(graph, nodes, tensors, n, d0);
    const newIns = n.inputs.map((t) => tensors[t]);
    const op = getOp(n.op);
    let attrs = n.attrs;
    if (n.op === "reshape" || n.op === "expand") {
      const oldIn = oldInfo.ins[0].shape, oldOut = oldInfo.outs[0].shape;
      attrs = {
        ...attrs,
        shape: n.op === "reshape"
          ? reshapeTarget(oldIn, oldOut, newIns[0].shape)
          : expandTarget(oldIn, oldOut, newIns[0].shape),
      };
    }
    if (op.channels && d0 >= 0) {
      const rule = resolveRule(op.channels as ChannelRule<unknown>, n.attrs, oldInfo);
      attrs = updateChannelAttrs(rule, attrs, n.attrs, oldInfo, newIns[d0].shape, d0, where);
    }
    let outs;
    try {
      outs = op.shape(newIns, attrs as never);
    } catch (e) {
      throw new Error(`compress: ${where} rejects the compact shapes: ${(e as Error).message}`);
    }
    outs.forEach((o, i) => {
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
  });
}

function updateChannelAttrs(
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
 * a constant added to channels) follows the channel count of the tensor it meets.
 */
function followFills(
  graph: Graph,
  nodes: GraphNode[],
  tensors: { shape: number[] }[],
  n: GraphNode,
  d0: number,
): void {
  const oldC = graph.tensors[n.inputs[d0]].shape[1];
  const newC = tensors[n.inputs[d0]].shape[1];
  if (oldC === undefined || oldC === newC) return;
  const rank = tensors[n.inputs[d0]].shape.length;
  n.inputs.forEach((t, i) => {
    if (i === d0) return;
    const p = graph.tensors[t].producer;
    if (p === undefined || nodes[p].op !== "fill") return;
    const old = graph.tensors[t].shape;
    const ax = old.length === 1 ? 0 : 1 - (rank - old.length);
    if (ax < 0 || old[ax] !== oldC) return;
    const shape = [...old];
    shape[ax] = newC;
    tensors[t].shape = shape;
    nodes[p].attrs = { ...nodes[p].attrs, shape };
  });
}

// ---------------------------------------------------------------------------------------------
// Zeroing groups (tests, `--verify`, `random_set_zero_groups`)

/** Write host values into a tensor in place (keeps its identity: optimizers, sharing). */
async function writeInPlace(t: Tensor, edit: (v: HostArray) => void): Promise<void> {
  if (t.backend === "cpu" || t.backend === "wasm") {
    edit(t.hostData());
    return;
  }
  const v = await t.data();
  edit(v);
  upload(t.storage.gpu!, v);
}

/** Zero groups `groups` of `zig` on its trainable member slices, in place. */
export async function zeroGroupsInPlace(
  params: ReadonlyMap<string, Tensor>,
  zig: Zig,
  groups: readonly number[],
): Promise<void> {
  await zeroMany(params, [{ zig, groups }]);
}

/** Zero several ZIGs' groups with one read and one write per parameter. */
async function zeroMany(
  params: ReadonlyMap<string, Tensor>,
  work: readonly { zig: Zig; groups: readonly number[] }[],
): Promise<void> {
  // Per tensor and axis: which indices to zero.
  const hits = new Map<Tensor, Map<number, Uint8Array>>();
  for (const { zig, groups } of work) {
    if (!groups.length) continue;
    for (const m of zig.members) {
      if (!m.trainable) continue;
      const t = params.get(m.param);
      if (!t) throw new Error(`zeroGroups: parameter "${m.param}" is missing`);
      let axes = hits.get(t);
      if (!axes) hits.set(t, axes = new Map());
      let hit = axes.get(m.axis);
      if (!hit) axes.set(m.axis, hit = new Uint8Array(t.shape[m.axis]));
      for (const j of groups) for (let q = 0; q < m.block; q++) hit[m.offset + j * m.block + q] = 1;
    }
  }
  for (const [t, axes] of hits) {
    await writeInPlace(t, (v) => {
      for (const [axis, hit] of axes) {
        let inner = 1;
        for (let i = axis + 1; i < t.shape.length; i++) inner *= t.shape[i];
        const dim = t.shape[axis];
        for (let i = 0; i < v.length; i++) if (hit[Math.floor(i / inner) % dim]) v[i] = 0;
      }
    });
  }
}

/**
 * Zero a seeded random `fraction` of the groups of every prunable ZIG (never all of them:
 * at most size-1), in place. Returns the zeroed group indices by ZIG id.
 */
export async function zeroRandomGroups(
  params: ReadonlyMap<string, Tensor>,
  part: Partition,
  opts: { fraction?: number; seed?: number } = {},
): Promise<Map<number, number[]>> {
  const rng = new Rng(opts.seed ?? 0);
  const f = opts.fraction ?? 0.5;
  const out = new Map<number, number[]>();
  const work: { zig: Zig; groups: number[] }[] = [];
  for (const z of part.zigs) {
    if (!z.prunable) continue;
    const k = Math.min(Math.floor(z.size * f), z.size - 1);
    const idx = [...Array(z.size).keys()];
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    const pick = idx.slice(0, Math.max(0, k)).sort((a, b) => a - b);
    work.push({ zig: z, groups: pick });
    out.set(z.id, pick);
  }
  await zeroMany(params, work);
  return out;
}

/** Human-readable summary of a compression: sizes before/after and kept channels per ZIG. */
export function formatCompression(r: CompressReport): string {
  const f = (n: number) => n.toLocaleString("en-US");
  const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(1)}%` : "-");
  const lines = [
    `params ${f(r.paramsBefore)} -> ${f(r.paramsAfter)} (${pct(r.paramsAfter, r.paramsBefore)})`,
    `MACs   ${f(r.macsBefore)} -> ${f(r.macsAfter)} (${pct(r.macsAfter, r.macsBefore)})`,
    `FLOPs  ${f(r.flopsBefore)} -> ${f(r.flopsAfter)} (${pct(r.flopsAfter, r.flopsBefore)})`,
  ];
  const pr = r.zigs.filter((z) => z.prunable);
  if (pr.length) {
    const items = pr.map((z) => `#${z.id} ${z.kept}/${z.size}`);
    lines.push("kept channels per ZIG:");
    for (let i = 0; i < items.length; i += 10) lines.push(`  ${items.slice(i, i + 10).join(", ")}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}
