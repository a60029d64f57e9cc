/**
 * From channel classes to ZIGs. Each prune class of the channel store is one group; its
 * parameter slices are the attachment indices whose channels fall into it (producers of the
 * channels that must be zero are *members*, everything else that goes with the group is a
 * *consumer*). Groups with the same slices (same parameters, same sizes) whose indices advance
 * regularly form one ZIG family: group j's indices along a slice are
 * `offset + j*stride ... + block - 1`. Groups that do not line up become families of one.
 */
import type { Graph } from "../graph/graph.ts";
import type { Channels } from "./channels.ts";
import type { Layout } from "./layout.ts";
import type { Blocker, ParamSlice, Zig } from "./types.ts";

/** The ZIG and group of every channel position of one tensor (-1: no ZIG). */
export interface TensorChannels {
  axes: number[];
  zig: Int32Array;
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

interface Group {
  root: number;
  /** Slice key (index into the key table) -> sorted indices along the parameter axis. */
  slices: Map<number, number[]>;
  reasons: Set<number>;
  channels: number[];
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
  // Zero classes: needed (a reader needs them zero) and why they cannot be zero.
  const needs = new Uint8Array(n);
  const nonzeroWhy = new Map<number, Set<number>>();
  for (let c = 0; c < n; c++) {
    if (ch.needed[c]) needs[r1[c]] = 1;
    if (ch.nonzero[c] >= 0) {
      const s = nonzeroWhy.get(r1[c]);
      if (s) s.add(ch.nonzero[c]);
      else nonzeroWhy.set(r1[c], new Set([ch.nonzero[c]]));
    }
  }
  const groupNeeds = new Uint8Array(n);
  const groups = new Map<number, Group>();
  const group = (root: number): Group => {
    let gr = groups.get(root);
    if (!gr) groups.set(root, gr = { root, slices: new Map(), reasons: new Set(), channels: [] });
    return gr;
  };
  for (let c = 0; c < n; c++) if (needs[r1[c]]) groupNeeds[r2[c]] = 1;
  for (let c = 0; c < n; c++) {
    const gr = group(r2[c]);
    gr.channels.push(c);
    for (const b of ch.fixes.get(c) ?? []) gr.reasons.add(b);
    // A reader needs this channel zero, but an op made it nonzero (conv(sigmoid(x))).
    if (needs[r1[c]] && !ch.canZero(c)) {
      for (const b of nonzeroWhy.get(r1[c]) ?? []) gr.reasons.add(b);
    }
  }
  // Attachment indices into groups.
  const keys: SliceKey[] = [];
  const keyIds = new Map<string, number>();
  const keyOf = (a: (typeof ch.attachments)[number], member: boolean) => {
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
  for (const a of ch.attachments) {
    const km = keyOf(a, true), kc = keyOf(a, false);
    for (let i = 0; i < a.ids.length; i++) {
      const c = a.ids[i];
      if (c < 0) continue;
      const gr = group(r2[c]);
      // Producers of the channels that must be zero are members (in a group that cannot be
      // pruned anyway, every producer is listed as a member).
      const member = a.kind === "producer" &&
        (gr.reasons.size > 0 || (groupNeeds[gr.root] ? needs[r1[c]] === 1 : ch.canZero(c)));
      const key = member ? km : kc;
      const list = gr.slices.get(key);
      if (list) list.push(i);
      else gr.slices.set(key, [i]);
    }
  }
  // Deduplicate, and a consumer index that is also a member index is the member's.
  for (const gr of groups.values()) {
    for (const [k, list] of gr.slices) gr.slices.set(k, [...new Set(list)].sort((p, q) => p - q));
    for (const [k, list] of gr.slices) {
      const key = keys[k];
      if (key.member) continue;
      const mk = [...gr.slices.keys()].find((o) => {
        const ok = keys[o];
        return ok.member && ok.param === key.param && ok.axis === key.axis;
      });
      if (!mk) continue;
      const taken = new Set(gr.slices.get(mk));
      const rest = list.filter((i) => !taken.has(i));
      if (rest.length) gr.slices.set(k, rest);
      else gr.slices.delete(k);
    }
  }
  // Prunability per group, then families of groups with the same slices.
  const withSlices = [...groups.values()].filter((gr) => gr.slices.size > 0)
    .sort((a, b) => a.root - b.root);
  const families = new Map<string, Group[]>();
  for (const gr of withSlices) {
    const trainableMember = [...gr.slices.keys()].some((k) => {
      const key = keys[k];
      return key.member && key.trainable;
    });
    if (!gr.reasons.size && !trainableMember) {
      gr.reasons.add(ch.blocker({
        op: "",
        layer: "",
        why: "no trainable parameter produces these channels",
      }));
    }
    const sig = [...gr.slices.entries()].map(([k, l]) => `${k}\u0001${l.length}`).sort();
    const fk = `${[...gr.reasons].sort().join(",")}\u0002${sig.join("\u0002")}`;
    const f = families.get(fk);
    if (f) f.push(gr);
    else families.set(fk, [gr]);
  }
  const zigs: Zig[] = [];
  const where = new Map<number, { zig: number; index: number }>();
  const emit = (list: Group[]) => {
    const id = zigs.length;
    const first = list[0];
    const reasons = [...first.reasons].sort((a, b) => a - b).map((b) => ch.blockers[b]);
    const slices = (member: boolean): ParamSlice[] | null => {
      const out: ParamSlice[] = [];
      for (const k of first.slices.keys()) {
        const key = keys[k];
        if (key.member !== member) continue;
        const runs = regular(list.map((gr) => gr.slices.get(k)!));
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
    for (const gr of list) {
      for (const c of gr.channels) for (const l of ch.layers[ch.space[c]]) layers.add(l);
    }
    const z: Zig = {
      id,
      size: list.length,
      prunable: reasons.length === 0,
      members,
      consumers,
      layers: [...layers],
    };
    if (reasons.length) {
      z.reason = reasons.slice(0, 3).map(text).join("; ");
      z.blockedBy = reasons;
    }
    zigs.push(z);
    list.forEach((gr, index) => where.set(gr.root, { zig: id, index }));
    return true;
  };
  for (const list of families.values()) {
    if (emit(list)) continue;
    // Groups that do not advance regularly: one ZIG each (scattered ones cannot be pruned).
    for (const gr of list) {
      if (emit([gr])) continue;
      gr.reasons.add(ch.blocker({
        op: "",
        layer: "",
        why: "its parameter slices are scattered (no regular channel layout)",
      }));
      for (const [k, l] of gr.slices) gr.slices.set(k, span(l));
      emit([gr]);
    }
  }
  // Per tensor: the ZIG and group of each channel position.
  const tensorChannels = new Map<number, TensorChannels>();
  const tensorZigs = new Map<number, number[]>();
  layouts.forEach((l, t) => {
    if (!l) return;
    const zig = new Int32Array(l.ids.length), grp = new Int32Array(l.ids.length);
    const seen: number[] = [];
    for (let p = 0; p < l.ids.length; p++) {
      const w = where.get(r2[l.ids[p]]);
      zig[p] = w?.zig ?? -1;
      grp[p] = w?.index ?? -1;
      if (!seen.includes(zig[p])) seen.push(zig[p]);
    }
    tensorChannels.set(t, { axes: l.axes, zig, group: grp });
    tensorZigs.set(t, seen);
  });
  const inPrunable = new Set<string>();
  for (const z of zigs) if (z.prunable) { for (const m of z.members) inPrunable.add(m.param); }
  const otherParams = g.params.filter((p) => p.trainable && !inPrunable.has(p.name))
    .map((p) => p.name);
  return { zigs, otherParams, tensorZigs, tensorChannels };
}

/** Runs of consecutive indices: [start, length][]. */
function runsOf(l: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const i of l) {
    const last = out[out.length - 1];
    if (last && i === last[0] + last[1]) last[1]++;
    else out.push([i, 1]);
  }
  return out;
}

/**
 * One offset/block/stride slice per run of consecutive indices (a channel read twice through a
 * shared conv has two runs), when every group has the same runs and they advance regularly;
 * null otherwise.
 */
function regular(lists: readonly number[][]) {
  const runs = lists.map(runsOf);
  const shape = runs[0].map((r) => r[1]);
  if (runs.some((r) => r.length !== shape.length || r.some((x, k) => x[1] !== shape[k]))) {
    return null;
  }
  return shape.map((block, k) => {
    const stride = lists.length > 1 ? runs[1][k][0] - runs[0][k][0] : block;
    if (stride < block) return null;
    for (let j = 1; j < runs.length; j++) {
      if (runs[j][k][0] !== runs[0][k][0] + j * stride) return null;
    }
    return { offset: runs[0][k][0], block, stride };
  }).reduce<{ offset: number; block: number; stride: number }[] | null>(
    (acc, s) => (acc && s ? [...acc, s] : null),
    [],
  );
}

/** The contiguous range covering every index (for a group that cannot be pruned). */
function span(l: readonly number[]): number[] {
  const lo = l[0], hi = l[l.length - 1];
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}
