/**
 * From channel classes to ZIGs. Each prune class of the channel store is one group; its
 * parameter slices are the attachment indices whose channels fall into it (producers of the
 * channels that must be zero are *members*, everything else that goes with the group is a
 * *consumer*). Groups with the same slices (same parameters, same sizes) whose indices advance
 * regularly form one ZIG family: group j's indices along a slice are
 * `offset + j*stride ... + block - 1`. Groups that do not line up become families of one.
 * Everything is flat typed arrays: a ResNet-50 has some 30k channels and 200k slice indices.
 */
import type { Graph } from "../graph/graph.ts";
import type { Attachment, Channels } from "./channels.ts";
import type { Layout } from "./layout.ts";
import type { Blocker, ParamSlice, Zig } from "./types.ts";

/** The ZIG and group of every channel position of one tensor (-1: no ZIG). */
export interface TensorChannels {
  /** The tensor's channel axes. */
  axes: number[];
  /** ZIG id of each channel position (-1: no ZIG). */
  zig: Int32Array;
  /** Group (channel) index within its ZIG of each position. */
  group: Int32Array;
}

interface SliceKey {
  param: string;
  axis: number;
  role: string;
  trainable: boolean;
  member: boolean;
  required: boolean;
}

/**
 * One group: its root channel, reasons to stay, and its slices: for each of its keys, a run of
 * sorted indices `idx[from[q]] ... idx[to[q] - 1]` in the shared index buffer.
 */
interface Group {
  root: number;
  reasons: ReadonlySet<number>;
  keys: number[];
  from: number[];
  to: number[];
}

const text = (b: Blocker) => (b.op ? `${b.op} (layer ${b.layer || "<root>"}): ${b.why}` : b.why);

/** Build the ZIGs, the trainable parameters outside them, and every tensor's channels. */
export function assemble(
  ch: Channels,
  g: Graph,
  layouts: readonly (Layout | null | undefined)[],
) {
  const n = ch.size;
  const r1 = new Int32Array(n), r2 = new Int32Array(n);
  for (let c = 0; c < n; c++) (r1[c] = ch.zeroRoot(c), r2[c] = ch.pruneRoot(c));
  // Zero classes a reader needs zero; prune classes that contain one.
  const needs = new Uint8Array(n), groupNeeds = new Uint8Array(n);
  for (let c = 0; c < n; c++) if (ch.needed[c]) needs[r1[c]] = 1;
  for (let c = 0; c < n; c++) if (needs[r1[c]]) groupNeeds[r2[c]] = 1;
  // Reasons per prune class: fixes, and a needed zero class that an op made nonzero.
  const reasons = new Map<number, Set<number>>();
  const reason = (root: number, b: number) => {
    const s = reasons.get(root);
    if (s) s.add(b);
    else reasons.set(root, new Set([b]));
  };
  for (const [c, bs] of ch.fixes) for (const b of bs) reason(r2[c], b);
  const nonzeroWhy = new Map<number, number[]>();
  for (let c = 0; c < n; c++) {
    if (ch.nonzero[c] < 0) continue;
    const l = nonzeroWhy.get(r1[c]);
    if (!l) nonzeroWhy.set(r1[c], [ch.nonzero[c]]);
    else if (!l.includes(ch.nonzero[c])) l.push(ch.nonzero[c]);
  }
  for (const [z1, bs] of nonzeroWhy) {
    if (needs[z1]) { for (const b of bs) reason(r2[z1], b); }
  }
  // Slice keys (parameter, axis, member or consumer).
  const keys: SliceKey[] = [];
  const keyIds = new Map<string, number>();
  const keyOf = (a: Attachment, member: boolean) => {
    const required = member && a.required;
    const name = `${a.param}\u0000${a.axis}\u0000${member ? "m" : "c"}\u0000${required}`;
    let id = keyIds.get(name);
    if (id === undefined) {
      const { param, axis, role, trainable } = a;
      keyIds.set(name, id = keys.length);
      keys.push({ param, axis, role, trainable, member, required });
    }
    return id;
  };
  // Every attachment index as (group root, key, index), flat.
  let total = 0;
  for (const a of ch.attachments) total += a.ids.length;
  const eRoot = new Int32Array(total), eKey = new Int32Array(total), eIdx = new Int32Array(total);
  let e = 0;
  for (const a of ch.attachments) {
    const km = keyOf(a, true), kc = keyOf(a, false);
    for (let i = 0; i < a.ids.length; i++) {
      const c = a.ids[i];
      if (c < 0) continue;
      const root = r2[c];
      // Producers of the channels that must be zero are members (in a group that cannot be
      // pruned anyway, every producer is listed as a member).
      const member = a.kind === "producer" &&
        (reasons.has(root) || (groupNeeds[root] ? needs[r1[c]] === 1 : ch.canZero(c)));
      eRoot[e] = root, eKey[e] = member ? km : kc, eIdx[e] = i, e++;
    }
  }
  // Entries sorted by (root, key, index) as one number each (root in channel order, which is
  // creation order): a native numeric sort, decoded in place.
  let maxIdx = 1;
  for (const a of ch.attachments) maxIdx = Math.max(maxIdx, a.ids.length);
  const K = keys.length, code = new Float64Array(e);
  for (let i = 0; i < e; i++) code[i] = (eRoot[i] * K + eKey[i]) * maxIdx + eIdx[i];
  code.sort();
  // A consumer key whose parameter and axis also have a member key: the member's indices win.
  const pair = keys.map((k) =>
    k.member ? -1 : keys.findIndex((o) => o.member && o.param === k.param && o.axis === k.axis)
  );
  const paired = pair.some((m) => m >= 0);
  const idx = new Int32Array(e);
  let nIdx = 0;
  const groups: Group[] = [];
  const none: ReadonlySet<number> = new Set();
  let r = 0, k = 0, i = 0;
  const read = (at: number) => {
    const v = code[at];
    i = v % maxIdx;
    const rk = (v - i) / maxIdx;
    k = rk % K;
    r = (rk - k) / K;
  };
  for (let s = 0; s < e;) {
    read(s);
    const root = r;
    const gr: Group = { root, reasons: reasons.get(root) ?? none, keys: [], from: [], to: [] };
    while (s < e && r === root) {
      const key = k, start = nIdx;
      while (s < e && r === root && k === key) {
        if (nIdx === start || idx[nIdx - 1] !== i) idx[nIdx++] = i;
        if (++s < e) read(s);
      }
      gr.keys.push(key), gr.from.push(start), gr.to.push(nIdx);
    }
    if (paired) dropMemberIndices(gr, pair, idx);
    groups.push(gr);
  }
  // Prunability, then families of groups with the same slices and reasons.
  const noTrainable = ch.blocker({
    op: "",
    layer: "",
    why: "no trainable parameter produces these channels",
  });
  const families = new Map<string, Group[]>();
  const familyKey = new Map<number, string>();
  for (const gr of groups) {
    if (!gr.reasons.size && !gr.keys.some((k) => keys[k].member && keys[k].trainable)) {
      gr.reasons = new Set([noTrainable]);
    }
    let fk = gr.reasons.size ? [...gr.reasons].sort((a, b) => a - b).join(",") + "|" : "|";
    for (let q = 0; q < gr.keys.length; q++) fk += gr.keys[q] + ":" + (gr.to[q] - gr.from[q]) + ",";
    const f = families.get(fk);
    if (f) f.push(gr);
    else families.set(fk, [gr]);
    familyKey.set(gr.root, fk);
  }
  // Module paths: the spaces (creation batches) of each root's channels, by family.
  const familyOf = new Int32Array(n).fill(-1);
  [...families.values()].forEach((list, f) => list.forEach((gr) => (familyOf[gr.root] = f)));
  const familySpaces = [...families.values()].map(() => new Set<number>());
  for (let c = 0; c < n; c++) {
    const f = familyOf[r2[c]];
    if (f >= 0) familySpaces[f].add(ch.space[c]);
  }
  /** The spaces of some groups (a family, or one group of a family that did not line up). */
  const spacesOf = (list: readonly Group[]): Set<number> => {
    const f = familyOf[list[0].root];
    if (list.length === families.get(familyKey.get(list[0].root)!)?.length) return familySpaces[f];
    const roots = new Set(list.map((gr) => gr.root)), out = new Set<number>();
    for (let c = 0; c < n; c++) if (roots.has(r2[c])) out.add(ch.space[c]);
    return out;
  };
  const zigs: Zig[] = [];
  const where = new Map<number, { zig: number; index: number }>();
  const emit = (list: Group[], buf: Int32Array = idx) => {
    const first = list[0];
    const blockers = [...first.reasons].sort((a, b) => a - b).map((b) => ch.blockers[b]);
    const slices = (member: boolean): ParamSlice[] | null => {
      const out: ParamSlice[] = [];
      for (let q = 0; q < first.keys.length; q++) {
        const key = keys[first.keys[q]];
        if (key.member !== member) continue;
        const runs = regular(buf, list.map((gr) => gr.from[q]), list.map((gr) => gr.to[q]));
        if (!runs) return null;
        for (const s of runs) {
          const ps: ParamSlice = {
            param: key.param,
            axis: key.axis,
            offset: s.offset,
            block: s.block,
            role: key.role,
            trainable: key.trainable,
          };
          if (s.stride !== s.block) ps.stride = s.stride;
          if (key.required) ps.required = true;
          out.push(ps);
        }
      }
      return out;
    };
    const members = slices(true), consumers = slices(false);
    if (!members || !consumers) return false;
    const layers = new Set<string>();
    for (const sp of spacesOf(list)) for (const l of ch.layers[sp]) layers.add(l);
    const id = zigs.length;
    const z: Zig = {
      id,
      size: list.length,
      prunable: blockers.length === 0,
      members,
      consumers,
      layers: [...layers],
    };
    if (blockers.length) {
      z.reason = blockers.slice(0, 3).map(text).join("; ");
      z.blockedBy = blockers;
    }
    zigs.push(z);
    list.forEach((gr, index) => where.set(gr.root, { zig: id, index }));
    return true;
  };
  const scattered = ch.blocker({
    op: "",
    layer: "",
    why: "its parameter slices are scattered (no regular channel layout)",
  });
  for (const list of families.values()) {
    if (emit(list)) continue;
    // Groups that do not advance regularly: one ZIG each (scattered ones cannot be pruned).
    for (const gr of list) {
      if (emit([gr])) continue;
      // Its slices become the ranges covering them (informational: it is not pruned).
      const spans = gr.keys.map((_, q) => span(idx.subarray(gr.from[q], gr.to[q])));
      const from: number[] = [], to: number[] = [];
      let at = 0;
      for (const l of spans) (from.push(at), at += l.length, to.push(at));
      const reasons = new Set([...gr.reasons, scattered]);
      emit([{ ...gr, reasons, from, to }], Int32Array.from(spans.flat()));
    }
  }
  // Per tensor: the ZIG and group of each channel position.
  const zigOf = new Int32Array(n).fill(-1), indexOf = new Int32Array(n).fill(-1);
  for (const [root, w] of where) (zigOf[root] = w.zig, indexOf[root] = w.index);
  const tensorChannels = new Map<number, TensorChannels>();
  const tensorZigs = new Map<number, number[]>();
  layouts.forEach((l, t) => {
    if (!l) return;
    const zig = new Int32Array(l.ids.length), grp = new Int32Array(l.ids.length);
    const seen = new Set<number>();
    for (let p = 0; p < l.ids.length; p++) {
      const root = r2[l.ids[p]];
      zig[p] = zigOf[root], grp[p] = indexOf[root];
      seen.add(zig[p]);
    }
    tensorChannels.set(t, { axes: l.axes, zig, group: grp });
    tensorZigs.set(t, [...seen]);
  });
  const inPrunable = new Set<string>();
  for (const z of zigs) if (z.prunable) { for (const m of z.members) inPrunable.add(m.param); }
  const otherParams = g.params.filter((p) => p.trainable && !inPrunable.has(p.name))
    .map((p) => p.name);
  return { zigs, otherParams, tensorZigs, tensorChannels };
}

/** A consumer's indices that the group's member slice of the same parameter also has go. */
function dropMemberIndices(gr: Group, pair: readonly number[], idx: Int32Array): void {
  let empty = false;
  for (let q = 0; q < gr.keys.length; q++) {
    const m = gr.keys.indexOf(pair[gr.keys[q]]);
    if (m < 0) continue;
    const taken = new Set(idx.subarray(gr.from[m], gr.to[m]));
    let w = gr.from[q];
    for (let r = gr.from[q]; r < gr.to[q]; r++) if (!taken.has(idx[r])) idx[w++] = idx[r];
    gr.to[q] = w;
    empty ||= w === gr.from[q];
  }
  if (!empty) return;
  const keep = gr.keys.map((_, q) => gr.to[q] > gr.from[q]);
  gr.keys = gr.keys.filter((_, q) => keep[q]);
  gr.from = gr.from.filter((_, q) => keep[q]);
  gr.to = gr.to.filter((_, q) => keep[q]);
}

/** Runs of consecutive indices of `buf[from, to)`: [start, length][]. */
function runsOf(buf: Int32Array, from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  for (let k = from; k < to; k++) {
    const i = buf[k];
    const last = out[out.length - 1];
    if (last && i === last[0] + last[1]) last[1]++;
    else out.push([i, 1]);
  }
  return out;
}

/**
 * The slices of groups whose indices are `buf[from[j], to[j])`: one offset/block/stride slice
 * per run of consecutive indices (a channel read twice through a shared conv has two runs),
 * when every group has the same runs and they advance regularly; null otherwise.
 */
function regular(buf: Int32Array, from: readonly number[], to: readonly number[]) {
  // Fast path: every group is one contiguous run of the same length.
  const block = to[0] - from[0], G = from.length;
  let contiguous = true;
  for (let j = 0; j < G && contiguous; j++) {
    contiguous = to[j] - from[j] === block && buf[to[j] - 1] - buf[from[j]] === block - 1;
  }
  if (contiguous) {
    const stride = G > 1 ? buf[from[1]] - buf[from[0]] : block;
    if (stride < block) return null;
    for (let j = 1; j < G; j++) if (buf[from[j]] !== buf[from[0]] + j * stride) return null;
    return [{ offset: buf[from[0]], block, stride }];
  }
  const runs = from.map((f, j) => runsOf(buf, f, to[j]));
  const shape = runs[0].map((r) => r[1]);
  if (runs.some((r) => r.length !== shape.length || r.some((x, k) => x[1] !== shape[k]))) {
    return null;
  }
  const out: { offset: number; block: number; stride: number }[] = [];
  for (let k = 0; k < shape.length; k++) {
    const b = shape[k];
    const stride = G > 1 ? runs[1][k][0] - runs[0][k][0] : b;
    if (stride < b) return null;
    for (let j = 1; j < G; j++) if (runs[j][k][0] !== runs[0][k][0] + j * stride) return null;
    out.push({ offset: runs[0][k][0], block: b, stride });
  }
  return out;
}

/** The contiguous range covering every index (for a group that cannot be pruned). */
function span(l: ArrayLike<number>): number[] {
  const lo = l[0], hi = l[l.length - 1];
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}
