/**
 * DHSPG's flat layout, built once at construction on the host.
 *
 * Every optimised parameter gets a range of one flat space (its offset rounded up to a multiple
 * of {@link CHUNK} elements, so a 256-thread workgroup never straddles two parameters). Each
 * channel `j` of each prunable ZIG is one *group* with a global id (ZIGs in id order, channels
 * in order). Two index structures describe the groups:
 * - `gid`: for every flat element, its global group id or {@link NONE} (trained by the plain
 *   base optimizer): the elementwise kernels read it coalesced, in parameter order;
 * - CSR lists `csrStart`/`csrIdx`: for every group, the flat indices of its elements (all slices
 *   of all member parameters, each slice's rows contiguous), so one workgroup per group reduces
 *   norms and inner products without atomics.
 */
import type { Tensor } from "../tensor.ts";
import { type ParamSlice, type Partition, sliceIndices } from "../zig/types.ts";

/** Elements per chunk; parameter offsets are multiples of it. Equals the kernels' workgroup. */
export const CHUNK = 256;
/** `gid` value of elements outside every prunable group. */
export const NONE = 0xffffffff;

/** One optimised parameter and where it lives in the flat space. */
export interface FlatParam {
  name: string;
  tensor: Tensor;
  /** First flat element (multiple of CHUNK). */
  offset: number;
  size: number;
  /** Elements of this parameter that belong to a prunable group. */
  grouped: number;
}

/** One prunable ZIG as DHSPG sees it. */
export interface ZigLayout {
  /** `Zig.id` from the partition. */
  id: number;
  /** Channels (groups) G. */
  size: number;
  /** Global id of its channel 0. */
  base: number;
  /** Elements per group d (trainable slices only). */
  width: number;
  /** Module paths, for reports. */
  layers: string[];
}

/** Everything the engines need. */
export interface Layout {
  params: FlatParam[];
  /** Flat length (a multiple of CHUNK). */
  n: number;
  gid: Uint32Array;
  zigs: ZigLayout[];
  /** Number of groups. */
  ng: number;
  /** ng + 1 entries. */
  csrStart: Uint32Array;
  csrIdx: Uint32Array;
  /** For each group, the index of its ZIG in `zigs`. */
  gzig: Uint32Array;
  /** Parameters named only by buffer slices (running statistics): never optimised. */
  excluded: string[];
  /**
   * Buffers a zero group's channel value depends on (batch norm without affine parameters):
   * per element, the group it belongs to (or NONE); zeroed with the group.
   */
  buffers: { name: string; tensor: Tensor; gid: Uint32Array }[];
}

function sliceGeometry(s: ParamSlice, shape: readonly number[], zig: number, g: number) {
  const where = `DHSPG: ZIG ${zig} member ${s.param} (${s.role}, axis ${s.axis})`;
  if (!Number.isInteger(s.axis) || s.axis < 0 || s.axis >= shape.length) {
    throw new Error(`${where}: axis is out of range for shape [${shape}]`);
  }
  const stride = s.stride ?? s.block;
  if (!(s.block >= 1) || !(s.offset >= 0) || !(stride >= s.block)) {
    throw new Error(
      `${where}: needs offset >= 0, block >= 1 and stride >= block, got ${s.offset}, ` +
        `${s.block}, ${stride}`,
    );
  }
  const dim = shape[s.axis];
  if (g > 0 && s.offset + (g - 1) * stride + s.block > dim) {
    throw new Error(
      `${where}: ${g} channels x block ${s.block} from offset ${s.offset}` +
        `${stride !== s.block ? ` (stride ${stride})` : ""} exceed dimension ${dim} of shape ` +
        `[${shape}]; the partition does not match the parameters`,
    );
  }
  let outer = 1, inner = 1;
  for (let a = 0; a < s.axis; a++) outer *= shape[a];
  for (let a = s.axis + 1; a < shape.length; a++) inner *= shape[a];
  return { outer, dim, inner };
}

/**
 * Build the layout. `params` are the tensors to optimise; every trainable member of a prunable
 * ZIG must be among them.
 */
export function buildLayout(
  params: [string, Tensor][],
  partition: Partition,
  buffers: [string, Tensor][] = [],
): Layout {
  const byName = new Map<string, Tensor>();
  for (const [name, t] of params) {
    if (byName.has(name)) throw new Error(`DHSPG: parameter "${name}" is given twice`);
    if (t.dtype !== "f32") {
      throw new Error(`DHSPG: parameter "${name}" has dtype ${t.dtype}; only f32 is trained`);
    }
    byName.set(name, t);
  }
  // Names used by buffer slices (BatchNorm running statistics): never optimised, even if the
  // caller passed a full state dict.
  const bufferNames = new Set<string>();
  const trainableNames = new Set<string>();
  for (const z of partition.zigs) {
    for (const s of z.members) (s.trainable ? trainableNames : bufferNames).add(s.param);
  }
  const excluded = [...bufferNames].filter((n) => !trainableNames.has(n) && byName.has(n));

  const flat: FlatParam[] = [];
  const index = new Map<string, FlatParam>();
  let n = 0;
  for (const [name, t] of params) {
    if (excluded.includes(name)) continue;
    const fp: FlatParam = { name, tensor: t, offset: n, size: t.size, grouped: 0 };
    flat.push(fp);
    index.set(name, fp);
    n += Math.ceil(Math.max(t.size, 1) / CHUNK) * CHUNK;
  }

  const gid = new Uint32Array(n).fill(NONE);
  const zigs: ZigLayout[] = [];
  const sorted = [...partition.zigs].filter((z) => z.prunable).sort((a, b) => a.id - b.id);
  // First pass: geometry and widths, so the CSR arrays are allocated once.
  const plans = [];
  let ng = 0, total = 0;
  for (const z of sorted) {
    const members = z.members.filter((s) => s.trainable);
    if (!members.length || z.size < 1) continue; // nothing to train: never penalised
    const geo = members.map((s) => {
      const fp = index.get(s.param);
      if (!fp) {
        throw new Error(
          `DHSPG: ZIG ${z.id} (${z.layers.join(", ")}) needs parameter "${s.param}", which is ` +
            `not among the optimised parameters; pass model.namedParameters()`,
        );
      }
      return { s, fp, ...sliceGeometry(s, fp.tensor.shape, z.id, z.size) };
    });
    const width = geo.reduce((w, g) => w + g.outer * g.s.block * g.inner, 0);
    plans.push({ z, geo, width, base: ng });
    ng += z.size;
    total += z.size * width;
  }
  const csrStart = new Uint32Array(ng + 1);
  const csrIdx = new Uint32Array(total);
  const gzig = new Uint32Array(ng);
  let k = 0;
  for (const { z, geo, width, base } of plans) {
    const zi = zigs.length;
    for (let j = 0; j < z.size; j++) {
      const g = base + j;
      for (const { s, fp, outer, dim, inner } of geo) {
        for (let o = 0; o < outer; o++) {
          for (const c of sliceIndices(s, j)) {
            const row = fp.offset + (o * dim + c) * inner;
            for (let i = 0; i < inner; i++) {
              const e = row + i;
              if (gid[e] !== NONE) {
                const other = zigs[gzig[gid[e]]]?.id ?? z.id;
                throw new Error(
                  `DHSPG: element ${e - fp.offset} of "${fp.name}" belongs to two groups ` +
                    `(ZIG ${other} and ZIG ${z.id}); shared parameters must be in one ZIG`,
                );
              }
              gid[e] = g;
              csrIdx[k++] = e;
            }
          }
        }
        fp.grouped += outer * s.block * inner;
      }
      csrStart[g + 1] = k;
      gzig[g] = zi;
    }
    zigs.push({ id: z.id, size: z.size, base, width, layers: z.layers });
  }
  return {
    params: flat,
    n,
    gid,
    zigs,
    ng,
    csrStart,
    csrIdx,
    gzig,
    excluded,
    buffers: requiredBuffers(plans, byName, buffers),
  };
}

/** The required buffer slices of the prunable groups, with each element's group. */
function requiredBuffers(
  plans: { z: Partition["zigs"][number]; base: number }[],
  byName: ReadonlyMap<string, Tensor>,
  buffers: [string, Tensor][],
): Layout["buffers"] {
  const extra = new Map(buffers);
  const out = new Map<string, Layout["buffers"][number]>();
  for (const { z, base } of plans) {
    for (const s of z.members) {
      if (s.trainable || !s.required) continue;
      let b = out.get(s.param);
      if (!b) {
        const t = extra.get(s.param) ?? byName.get(s.param);
        if (!t) {
          throw new Error(
            `DHSPG: ZIG ${z.id} (${z.layers.join(", ")}) needs buffer "${s.param}" zeroed with ` +
              `its groups (the channel's value depends on it, e.g. BatchNorm without affine ` +
              `parameters); pass the model's buffers: new DHSPG(params, partition, ` +
              `{ buffers: model.namedBuffers() })`,
          );
        }
        b = { name: s.param, tensor: t, gid: new Uint32Array(t.size).fill(NONE) };
        out.set(s.param, b);
      }
      const shape = b.tensor.shape;
      let inner = 1, outer = 1;
      for (let a = s.axis + 1; a < shape.length; a++) inner *= shape[a];
      for (let a = 0; a < s.axis; a++) outer *= shape[a];
      for (let j = 0; j < z.size; j++) {
        for (const c of sliceIndices(s, j)) {
          for (let o = 0; o < outer; o++) {
            for (let i = 0; i < inner; i++) b.gid[(o * shape[s.axis] + c) * inner + i] = base + j;
          }
        }
      }
    }
  }
  return [...out.values()];
}
