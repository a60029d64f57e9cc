/**
 * The partition's channel store: every channel a stem, a non-zero-invariant map or a constant
 * creates gets a global id, and two union-finds over those ids record what the ops imply:
 * - *zero classes* (`union`): channels that are zero together (an add's operands and output,
 *   a ReLU's input and output, the rows of a weight shared by two applications);
 * - *prune classes* (`couple`, implied by `union`): channels removed together, whatever their
 *   values (a gate's channel with the channel it multiplies; a channel and its sigmoid).
 * A prune class is one group of a ZIG. Per channel the store also keeps whether it can be made
 * zero (a map's output cannot), whether a reader needs it zero (a consumer's input columns),
 * why it must stay (fixes), and which parameter slices belong to it (attachments).
 */
import type { Blocker } from "./types.ts";

/** A parameter slice along one axis: the channel id of every index of that axis. */
export interface Attachment {
  param: string;
  role: string;
  trainable: boolean;
  axis: number;
  ids: Int32Array;
  /** Producers make the channel (weight rows, norm parameters); consumers read it. */
  kind: "producer" | "consumer";
  /** A buffer the channel's zero value depends on (part of the zero test). */
  required: boolean;
}

/** Disjoint sets over channel ids (path halving, smaller id as root: deterministic). */
class UnionFind {
  readonly parent: number[] = [];
  add(n: number): void {
    for (let i = 0; i < n; i++) this.parent.push(this.parent.length);
  }
  find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) x = p[x] = p[p[x]];
    return x;
  }
  /** Returns [kept root, merged root] or null when already joined. */
  union(a: number, b: number): [number, number] | null {
    let ra = this.find(a), rb = this.find(b);
    if (ra === rb) return null;
    if (rb < ra) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    return [ra, rb];
  }
}

/** The channel store (see the module comment). */
export class Channels {
  private readonly zero = new UnionFind();
  private readonly prune = new UnionFind();
  /** Per zero-class root: every channel of it can be made zero. */
  private readonly zeroable: boolean[] = [];
  /** Per channel: why it is not zero when its inputs are (index into `blockers`), or -1. */
  readonly nonzero: number[] = [];
  /** Per channel: a reader needs it to be zero before it can be removed. */
  readonly needed: boolean[] = [];
  /** Per channel: reasons it must stay (indices into `blockers`). */
  readonly fixes = new Map<number, number[]>();
  /** Per channel: the space (creation batch) it belongs to, for layer names. */
  readonly space: number[] = [];
  /** Module paths that touch each space. */
  readonly layers: Set<string>[] = [];
  readonly blockers: Blocker[] = [];
  private readonly blockerIds = new Map<string, number>();
  readonly attachments: Attachment[] = [];

  get size(): number {
    return this.space.length;
  }

  /** `n` new channels (one space); `nonzero`: they are not zero when their inputs are. */
  fresh(n: number, opts: { nonzero?: Blocker; fix?: Blocker } = {}): Int32Array {
    const start = this.size;
    const sp = this.layers.length;
    this.layers.push(new Set());
    this.zero.add(n);
    this.prune.add(n);
    const nz = opts.nonzero ? this.blocker(opts.nonzero) : -1;
    for (let i = 0; i < n; i++) {
      this.zeroable.push(nz < 0);
      this.nonzero.push(nz);
      this.needed.push(false);
      this.space.push(sp);
    }
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) ids[i] = start + i;
    if (opts.fix) this.fix(ids, opts.fix);
    return ids;
  }

  blocker(b: Blocker): number {
    const key = `${b.op}\u0000${b.layer}\u0000${b.why}`;
    let id = this.blockerIds.get(key);
    if (id === undefined) {
      id = this.blockers.length;
      this.blockers.push(b);
      this.blockerIds.set(key, id);
    }
    return id;
  }

  /** Zero class of a channel. */
  zeroRoot(c: number): number {
    return this.zero.find(c);
  }
  /** Prune class (group) of a channel. */
  pruneRoot(c: number): number {
    return this.prune.find(c);
  }
  /** Whether the channel's zero class can be made zero. */
  canZero(c: number): boolean {
    return this.zeroable[this.zero.find(c)];
  }

  /** a and b are zero together (and removed together). */
  union(a: number, b: number): void {
    const r = this.zero.union(a, b);
    if (r) this.zeroable[r[0]] = this.zeroable[r[0]] && this.zeroable[r[1]];
    this.prune.union(a, b);
  }

  /** a and b are removed together. */
  couple(a: number, b: number): void {
    this.prune.union(a, b);
  }

  /** These channels must stay (model output, an op that mixes channels). */
  fix(ids: ArrayLike<number>, why: Blocker): void {
    const b = this.blocker(why);
    for (let i = 0; i < ids.length; i++) {
      const c = ids[i];
      const list = this.fixes.get(c);
      if (!list) this.fixes.set(c, [b]);
      else if (!list.includes(b)) list.push(b);
    }
  }

  /** A reader needs these channels zero before they can be removed. */
  need(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) this.needed[ids[i]] = true;
  }

  attach(a: Attachment): void {
    this.attachments.push(a);
  }

  /** Record that module `path` touches the spaces of these channels. */
  touch(ids: ArrayLike<number>, path: string): void {
    if (!path) return;
    let last = -1;
    for (let i = 0; i < ids.length; i++) {
      const sp = this.space[ids[i]];
      if (sp !== last) this.layers[sp].add(path), last = sp;
    }
  }
}
