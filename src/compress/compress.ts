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
import { Module, type ModuleOutput } from "../nn/module.ts";
import { Graph } from "../graph/graph.ts";
import { sampleShapes, trace } from "../graph/trace.ts";
import { analyze } from "../zig/partition.ts";
import {
  type ParamSlice,
  type Partition,
  sliceIndices,
  zeroTested,
  type Zig,
} from "../zig/types.ts";
import { compactGraph, keptPositions } from "./compact.ts";

export { compactGraph };
import { Rng } from "../random.ts";
import { graphCost } from "./flops.ts";
import { GraphModule } from "./graph_module.ts";

/** Options of {@link compress}. */
export interface CompressOptions {
  /**
   * Input shape used to trace a Module (required when `source` is a Module); a list of shapes
   * for a model with several inputs.
   */
  input?: readonly number[] | readonly (readonly number[])[];
  /**
   * Train-mode graph for the compact model: `true` (default for a Module) traces the Module in
   * train mode; a Graph is used as given; `false` gives an eval-only compact model.
   */
  trainGraph?: boolean | Graph;
}

/** Kept channels of one ZIG family. */
export interface ZigKept {
  /** The ZIG's id. */
  id: number;
  /** Channels before compression. */
  size: number;
  /** Channels kept. */
  kept: number;
  /** Whether the ZIG could be pruned. */
  prunable: boolean;
}

/** Sizes before and after compression. */
export interface CompressReport {
  /** Trainable parameters of the full model. */
  paramsBefore: number;
  /** Trainable parameters of the compact model. */
  paramsAfter: number;
  /** Multiply-accumulates per image of the full model. */
  macsBefore: number;
  /** Multiply-accumulates per image of the compact model. */
  macsAfter: number;
  /** Arithmetic operations per image of the full model. */
  flopsBefore: number;
  /** Arithmetic operations per image of the compact model. */
  flopsAfter: number;
  /** Channels kept in each ZIG family. */
  zigs: ZigKept[];
  /** Things worth knowing (e.g. why there is no train-mode graph). */
  notes: string[];
}

/** What {@link compress} returns. */
export interface CompressResult<O extends ModuleOutput = Tensor> {
  /** The compact model (eval mode); it returns what the original model returned. */
  model: GraphModule<O>;
  /** Its graph (eval mode). */
  graph: Graph;
  /** Sizes before and after, and what was kept per ZIG. */
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
export async function compress<O extends ModuleOutput = Tensor>(
  source: Module<O> | Graph,
  params?: ReadonlyMap<string, Tensor>,
  part?: Partition,
  opts: CompressOptions = {},
): Promise<CompressResult<O>> {
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
        // Batch statistics need two samples per channel.
        const shapes = sampleShapes(opts.input).map((s) => [Math.max(2, s[0]), ...s.slice(1)]);
        try {
          trainGraph = trace(source, shapes, { training: true });
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
  const an = analyze(graph);
  part ??= an.partition;
  checkPartition(graph, part);

  const values = await readParams(graph, params);
  const zero = keepOnePerSpace(part, zeroGroups(graph, part, values));
  const kept = new Map<number, number[]>();
  const removed = new Map<string, Map<number, Set<number>>>();
  for (const z of part.zigs) {
    if (!z.prunable) continue;
    const flags = zero.get(z.id)!;
    const keep = flags.map((f, j) => (f ? -1 : j)).filter((j) => j >= 0);
    kept.set(z.id, keep);
    const keepSet = new Set(keep);
    for (const s of [...z.members, ...z.consumers]) {
      let axes = removed.get(s.param);
      if (!axes) removed.set(s.param, axes = new Map());
      let set = axes.get(s.axis);
      if (!set) axes.set(s.axis, set = new Set());
      for (let j = 0; j < z.size; j++) {
        if (!keepSet.has(j)) { for (const i of sliceIndices(s, j)) set.add(i); }
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
  const compact = compactGraph(graph, newShapes, keptPositions(an, removed));
  let compactTrain: Graph | undefined;
  if (trainGraph) {
    try {
      compactTrain = compactGraph(
        trainGraph,
        newShapes,
        keptPositions(analyze(trainGraph), removed),
      );
    } catch (e) {
      notes.push(`no train-mode graph: ${(e as Error).message}`);
    }
  }
  const model = new GraphModule<O>(compact, state, { trainGraph: compactTrain });
  if (source instanceof Module && source.ioNames) model.ioNames = { ...source.ioNames };
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
      const end = z.size ? sliceIndices(s, z.size - 1).pop()! + 1 : s.offset;
      if (s.axis >= p.shape.length || end > p.shape[s.axis]) {
        throw new Error(
          `compress: ZIG #${z.id} slice of ${s.param} (axis ${s.axis}, ${s.offset}..${end}) ` +
            `exceeds its shape [${p.shape}]; the partition does not match this graph`,
        );
      }
    }
  }
}

/** Per group j, whether any element of group j's part of slice `s` is nonzero in `data`. */
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
  // Which group owns each index along the axis (-1: none).
  const owner = new Int32Array(dim).fill(-1);
  for (let j = 0; j < size; j++) for (const i of sliceIndices(s, j)) owner[i] = j;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) continue;
    const g = owner[Math.floor(i / inner) % dim];
    if (g >= 0) nonzero[g] = true;
  }
}

/**
 * For each prunable ZIG, which groups are exactly zero on every member slice the channel's
 * value depends on: the trainable ones and the buffers marked `required` (batch norm without
 * affine parameters outputs -runningMean/sd in eval mode). Other buffers (running statistics
 * behind a zero gamma and beta) do not count (§5.1).
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
      if (!zeroTested(m)) continue;
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

// ---------------------------------------------------------------------------------------------
// Zeroing groups (tests, `--verify`, `random_set_zero_groups`)

/**
 * Never remove a whole space: when every group of the ZIGs that share a parameter axis (one
 * conv's rows split into several ZIGs: an irregular order such as a channel reversal or the
 * zero channels padded around a shortcut) is zero, the first group of the first one stays (its
 * output is zero anyway). A ZIG that is only part of a space is removed whole.
 */
function keepOnePerSpace(
  part: Partition,
  zero: Map<number, boolean[]>,
): Map<number, boolean[]> {
  const zigs = part.zigs.filter((z) => z.prunable);
  const root = new Map<number, number>(zigs.map((z) => [z.id, z.id]));
  const find = (i: number): number => {
    while (root.get(i) !== i) i = root.get(i)!;
    return i;
  };
  const byAxis = new Map<string, number>();
  for (const z of zigs) {
    for (const m of z.members) {
      const key = `${m.param}\u0000${m.axis}`;
      const other = byAxis.get(key);
      if (other === undefined) byAxis.set(key, z.id);
      else root.set(find(z.id), find(other));
    }
  }
  const spaces = new Map<number, Zig[]>();
  for (const z of zigs) {
    const r = find(z.id);
    if (!spaces.has(r)) spaces.set(r, []);
    spaces.get(r)!.push(z);
  }
  const out = new Map(zero);
  for (const list of spaces.values()) {
    if (!list.every((z) => zero.get(z.id)!.every((f) => f))) continue;
    const first = list[0];
    out.set(first.id, zero.get(first.id)!.map((f, j) => (j === 0 ? false : f)));
  }
  return out;
}

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

/** Zero groups `groups` of `zig` on its trainable and required member slices, in place. */
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
      if (!zeroTested(m)) continue;
      const t = params.get(m.param);
      if (!t) throw new Error(`zeroGroups: parameter "${m.param}" is missing`);
      let axes = hits.get(t);
      if (!axes) hits.set(t, axes = new Map());
      let hit = axes.get(m.axis);
      if (!hit) axes.set(m.axis, hit = new Uint8Array(t.shape[m.axis]));
      for (const j of groups) for (const i of sliceIndices(m, j)) hit[i] = 1;
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
