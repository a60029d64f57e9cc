/**
 * Channel spaces for the ZIG partition: a union-find over spaces, the parameter slices attached
 * to each, and the assembly of one ZIG per root space (OTOv2 §3). `partition.ts` walks the graph
 * and calls these as each op's channel rule says.
 */
import type { ParamSlice, Partition, Zig } from "./types.ts";

/** A run of axis-1 entries of one tensor that belongs to one channel space. */
export interface Seg {
  space: number;
  /** First entry on axis 1. */
  offset: number;
  /** Number of entries. */
  len: number;
  /** Entries per base channel = num/den (reduced). */
  num: number;
  den: number;
}
/** The channel layout of a tensor: its axis-1 segments in order. */
export type Layout = Seg[];

/** A parameter slice attached to a space: a member (zeroed with its channel) or a consumer. */
export interface Attach {
  param: string;
  axis: number;
  offset: number;
  len: number;
  num: number;
  den: number;
  role: string;
  trainable: boolean;
  kind: "member" | "consumer";
  seq: number;
}

/** A channel space: a node of the union-find, with what is attached to it. */
export interface Space {
  id: number;
  parent: number;
  /** Number of base channels. */
  base: number;
  /** Base channels per group. */
  unit: number;
  reasons: string[];
  attaches: Attach[];
  layers: string[];
}

/** Greatest common divisor of two non-negative integers. */
export const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (a: number, b: number): number => (a / gcd(a, b)) * b;

/** The spaces of one analysis; ids are allocated in call order (deterministic). */
export class ChannelSpaces {
  private readonly spaces: Space[] = [];
  private seq = 0;

  /** A fresh space of `base` channels (fixed with `reason` when given). */
  space(base: number, reason?: string): number {
    const id = this.spaces.length;
    this.spaces.push({ id, parent: id, base, unit: 1, reasons: [], attaches: [], layers: [] });
    if (reason) this.spaces[id].reasons.push(reason);
    return id;
  }

  /** The root of space `id` (path halving). */
  find(id: number): Space {
    let s = this.spaces[id];
    while (s.parent !== s.id) {
      const p = this.spaces[s.parent];
      s.parent = p.parent;
      s = this.spaces[p.parent];
    }
    return s;
  }

  /** Unite two spaces (the lower id stays the root). */
  union(a: number, b: number): void {
    let ra = this.find(a), rb = this.find(b);
    if (ra === rb) return;
    if (rb.id < ra.id) [ra, rb] = [rb, ra];
    rb.parent = ra.id;
    if (ra.base !== rb.base) {
      this.fix(ra.id, `channel counts ${ra.base} and ${rb.base} are joined`);
    }
    ra.unit = lcm(ra.unit, rb.unit);
    for (const r of rb.reasons) if (!ra.reasons.includes(r)) ra.reasons.push(r);
    ra.attaches.push(...rb.attaches);
    for (const l of rb.layers) if (!ra.layers.includes(l)) ra.layers.push(l);
  }

  /** Make a space unprunable for `reason`. */
  fix(id: number, reason: string): void {
    const r = this.find(id);
    if (!r.reasons.includes(reason)) r.reasons.push(reason);
  }

  /** {@link fix} every space of a layout. */
  fixLayout(l: Layout | null | undefined, reason: string): void {
    for (const s of l ?? []) this.fix(s.space, reason);
  }

  /** Groups of the space must hold a multiple of `need` base channels. */
  coarsen(id: number, need: number): void {
    const r = this.find(id);
    r.unit = lcm(r.unit, need);
  }

  /** The layout of a tensor whose `len` channels are a fresh space. */
  fresh(len: number, reason?: string): Layout {
    return [{ space: this.space(len, reason), offset: 0, len, num: 1, den: 1 }];
  }

  /** Attach a parameter slice to a segment's space as a member or a consumer. */
  attach(
    seg: Seg,
    p: { param: string; role: string; trainable: boolean },
    axis: number,
    kind: Attach["kind"],
  ): void {
    this.find(seg.space).attaches.push({
      param: p.param,
      axis,
      offset: seg.offset,
      len: seg.len,
      num: seg.num,
      den: seg.den,
      role: p.role,
      trainable: p.trainable,
      kind,
      seq: this.seq++,
    });
  }

  /** The same parameter slice attached to several spaces (weight sharing) unites them. */
  sharedParams(): void {
    const byKey = new Map<string, { a: Attach; space: number }[]>();
    for (const s of this.spaces) {
      if (s.parent !== s.id) continue;
      for (const a of s.attaches) {
        const k = `${a.param}\u0000${a.axis}`;
        let l = byKey.get(k);
        if (!l) byKey.set(k, l = []);
        l.push({ a, space: s.id });
      }
    }
    for (const list of byKey.values()) {
      if (list.length < 2) continue;
      for (let i = 0; i < list.length; i++) {
        for (let j = i + 1; j < list.length; j++) {
          const x = list[i].a, y = list[j].a;
          const overlap = x.offset < y.offset + y.len && y.offset < x.offset + x.len;
          if (!overlap) continue;
          if (x.offset === y.offset && x.len === y.len && x.num === y.num && x.den === y.den) {
            this.union(list[i].space, list[j].space);
          } else {
            const why = `parameter ${x.param} is shared with conflicting channel layouts`;
            this.fix(list[i].space, why);
            this.fix(list[j].space, why);
          }
        }
      }
    }
  }

  /**
   * One ZIG per root space with attached slices; `trainable` lists the model's trainable
   * parameters (those in no prunable ZIG become `otherParams`).
   */
  zigs(
    trainable: readonly string[],
    groupDivisible: number | undefined,
  ): { partition: Partition; zigOf: (space: number) => number } {
    const roots = this.spaces.filter((s) => s.parent === s.id && s.attaches.length > 0);
    const zigOf = new Map<number, number>();
    const zigs: Zig[] = roots.map((s, id) => {
      zigOf.set(s.id, id);
      const reasons = [...s.reasons];
      let size = s.base / s.unit;
      const blocks = s.attaches.map((a) => (s.unit * a.num) / a.den);
      const whole = !Number.isInteger(size) || blocks.some((b) => !Number.isInteger(b));
      if (whole) {
        reasons.push(`${s.base} channels do not split into groups of ${s.unit}`);
        size = 1;
      }
      const slices = (kind: Attach["kind"]): ParamSlice[] => {
        const seen = new Set<string>();
        const out: ParamSlice[] = [];
        const list = s.attaches.filter((a) => a.kind === kind).sort((p, q) => p.seq - q.seq);
        for (const a of list) {
          const block = whole ? a.len : (s.unit * a.num) / a.den;
          const key = `${a.param}\u0000${a.axis}\u0000${a.offset}\u0000${block}`;
          if (seen.has(key)) continue;
          if (kind === "consumer" && memberKeys.has(key)) continue;
          seen.add(key);
          out.push({
            param: a.param,
            axis: a.axis,
            offset: a.offset,
            block,
            role: a.role,
            trainable: a.trainable,
          });
        }
        return out;
      };
      const memberKeys = new Set<string>();
      const members = slices("member");
      for (const m of members) {
        memberKeys.add(`${m.param}\u0000${m.axis}\u0000${m.offset}\u0000${m.block}`);
      }
      const consumers = slices("consumer");
      if (!reasons.length && !members.some((m) => m.trainable)) {
        reasons.push("no trainable parameter produces these channels");
      }
      const z: Zig = {
        id,
        size,
        prunable: reasons.length === 0,
        members,
        consumers,
        layers: [...s.layers],
      };
      if (reasons.length) z.reason = reasons.slice(0, 3).join("; ");
      return z;
    });
    const inPrunable = new Set<string>();
    for (const z of zigs) if (z.prunable) { for (const m of z.members) inPrunable.add(m.param); }
    const otherParams = trainable.filter((name) => !inPrunable.has(name));
    const p: Partition = { zigs, otherParams };
    if (groupDivisible !== undefined) p.groupDivisible = groupDivisible;
    return { partition: p, zigOf: (space) => zigOf.get(this.find(space).id) ?? -1 };
  }
}
