/**
 * The cpu engine of DHSPG: the same five phases as the WebGPU kernels (variant, group stats,
 * global summary, decide, update; plus the once-only partition and the optional projection
 * cap), on host arrays. Used when the parameters live on the cpu backend.
 */
import type { Layout } from "./dhspg_layout.ts";
import { NONE } from "./dhspg_layout.ts";
import { roundHalfEven, S, type StepGrads, type StepPlan, zigShare } from "./dhspg_plan.ts";

const SAFE = 1e-8;

/** Phases over host arrays; field names follow the GPU buffers. */
export class CpuEngine {
  readonly x: Float32Array;
  readonly d: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** Per group: |x|^2, x.d, |d|^2, max|x|. */
  readonly stats: Float32Array;
  /** Per group: coefficient on x, fixed zero, lambda_j, projected. */
  readonly gstate: Float32Array;
  readonly mask: Uint32Array;
  readonly summary = new Float32Array(S.length);

  constructor(readonly L: Layout) {
    this.x = new Float32Array(L.n);
    this.d = new Float32Array(L.n);
    this.m = new Float32Array(L.n);
    this.v = new Float32Array(L.n);
    this.stats = new Float32Array(L.ng * 4);
    this.gstate = new Float32Array(L.ng * 4);
    this.mask = new Uint32Array(L.ng);
  }

  private load(): void {
    for (const p of this.L.params) this.x.set(p.tensor.hostData() as Float32Array, p.offset);
  }

  step(plan: StepPlan, sg: StepGrads): void {
    this.load();
    this.variant(plan, sg);
    this.groupStats();
    this.global(plan.needZeros, plan.t - 1);
    if (plan.partitionNow) this.partition(plan);
    this.decide(plan);
    if (plan.upper < 1 && plan.partitioned && plan.halfSpace && !plan.warm) this.cap(plan.upper);
    this.update(plan.lr);
    for (const p of this.L.params) {
      (p.tensor.hostData() as Float32Array).set(this.x.subarray(p.offset, p.offset + p.size));
    }
    // Buffers the zero value of a group depends on follow the group to zero.
    for (const b of this.L.buffers) {
      const v = b.tensor.hostData();
      for (let i = 0; i < v.length; i++) {
        const g = b.gid[i];
        if (g !== NONE && (this.gstate[g * 4 + 1] > 0.5 || this.gstate[g * 4 + 3] > 0.5)) v[i] = 0;
      }
    }
  }

  private variant(P: StepPlan, sg: StepGrads): void {
    const { x, d, m, v } = this;
    const gid = this.L.gid;
    this.L.params.forEach((p, k) => {
      const g = sg.grads[k];
      const end = p.offset + p.size;
      if (!g) {
        d.fill(0, p.offset, end);
        return;
      }
      const gh = g.hostData();
      for (let i = p.offset; i < end; i++) {
        const xv = x[i];
        const inG = gid[i] !== NONE;
        let gv = gh[i - p.offset];
        if (!P.decoupled && !(inG && P.l1)) gv = gv + P.wd * xv;
        let dir = gv;
        if (P.mode === "sgd") {
          if (P.momentum) {
            dir = sg.first[k] ? gv : P.b1 * m[i] + (1 - P.damp) * gv;
            m[i] = dir;
          }
        } else {
          const mm = P.b1 * m[i] + (1 - P.b1) * gv;
          const vv = P.b2 * v[i] + (1 - P.b2) * gv * gv;
          m[i] = mm;
          v[i] = vv;
          dir = (mm / P.bc1) / (Math.sqrt(vv / P.bc2) + SAFE);
        }
        d[i] = dir;
        if (!inG) {
          let xn = xv;
          if (P.decoupled) xn = xn - P.lr * P.wd * xv;
          x[i] = xn - P.lr * dir;
        }
      }
    });
  }

  /** Norms and inner products per group (also used by stats()). */
  groupStats(): void {
    const { x, d, stats } = this;
    const { csrStart, csrIdx, ng } = this.L;
    for (let g = 0; g < ng; g++) {
      let a = 0, b = 0, c = 0, mx = 0;
      for (let k = csrStart[g]; k < csrStart[g + 1]; k++) {
        const e = csrIdx[k];
        a += x[e] * x[e];
        b += x[e] * d[e];
        c += d[e] * d[e];
        mx = Math.max(mx, Math.abs(x[e]));
      }
      stats.set([a, b, c, mx], g * 4);
    }
  }

  /**
   * Zero groups, omega, reached flag, G_p count and last step's lambda summary of the
   * parameters after `done` steps; the first `done` with the target met is kept.
   */
  global(needZeros: number, done: number): void {
    const { stats, mask, gstate, summary } = this;
    let zeros = 0, omega = 0, gp = 0, lmin = Infinity, lmax = 0, lsum = 0, nl = 0, proj = 0;
    for (let g = 0; g < this.L.ng; g++) {
      if (stats[g * 4 + 3] === 0) zeros++;
      omega += Math.sqrt(stats[g * 4]);
      if (mask[g]) gp++;
      const lam = gstate[g * 4 + 2];
      if (lam > 0) (lmin = Math.min(lmin, lam), lmax = Math.max(lmax, lam), lsum += lam, nl++);
      if (gstate[g * 4 + 3] > 0.5) proj++;
    }
    const reachedAt = summary[S.reachedAt] || (zeros >= needZeros ? done + 1 : 0);
    summary.fill(0);
    summary[S.reachedAt] = reachedAt;
    summary[S.zeros] = zeros;
    summary[S.total] = this.L.ng;
    summary[S.omega] = omega;
    summary[S.reached] = zeros >= needZeros ? 1 : 0;
    summary[S.numGp] = gp;
    summary[S.lamMin] = nl ? lmin : 0;
    summary[S.lamMax] = lmax;
    summary[S.lamMean] = nl ? lsum / nl : 0;
    summary[S.projected] = proj;
    summary[S.lamCount] = nl;
  }

  /** A copy of a flat moment or of the G_p mask, for checkpoints. */
  readArray(name: "m" | "v" | "mask"): Float32Array | Uint32Array {
    return this[name].slice();
  }

  /** Overwrite an array {@link readArray} reads. */
  writeState(name: "m" | "v" | "mask", data: Float32Array | Uint32Array): void {
    this[name].set(data);
  }

  /** G_p / G_np from saliency scores (§4.5). */
  private partition(P: StepPlan): void {
    const { stats, mask } = this;
    const { ng, zigs, gzig } = this.L;
    const cos = new Float64Array(ng), r = new Float64Array(ng);
    let sc = 0, sr = 0;
    for (let g = 0; g < ng; g++) {
      const n = Math.sqrt(stats[g * 4]), gn = Math.sqrt(stats[g * 4 + 2]);
      cos[g] = stats[g * 4 + 1] / (Math.max(n, SAFE) * Math.max(gn, SAFE));
      r[g] = 1 / (n / zigs[gzig[g]].width + 1e-6);
      sc += cos[g] * cos[g];
      sr += r[g] * r[g];
    }
    const nc = Math.max(Math.sqrt(sc), 1e-12), nr = Math.max(Math.sqrt(sr), 1e-12);
    const score = new Float32Array(ng);
    for (let g = 0; g < ng; g++) score[g] = 0.5 * cos[g] / nc + 0.5 * r[g] / nr;
    const before = (i: number, j: number) =>
      score[i] > score[j] || (score[i] === score[j] && i < j);
    const top = new Uint8Array(ng);
    for (let j = 0; j < ng; j++) {
      const z = zigs[gzig[j]];
      const [lo, hi] = P.perZig ? [z.base, z.base + z.size] : [0, ng];
      const k = P.perZig ? zigShare(z.size, P.topFrac) : P.topK;
      let rank = 0;
      for (let i = lo; i < hi; i++) if (before(i, j)) rank++;
      top[j] = rank < k ? 1 : 0;
    }
    const q = P.groupDivisible;
    for (const z of zigs) {
      let keep = 0;
      for (let i = z.base; i < z.base + z.size; i++) if (!top[i]) keep++;
      const nKeep = z.size <= q
        ? z.size
        : Math.min(Math.max(roundHalfEven(keep, q), 1) * q, z.size);
      for (let j = z.base; j < z.base + z.size; j++) {
        let crank = 0; // ascending rank within the ZIG
        for (let i = z.base; i < z.base + z.size; i++) if (before(j, i)) crank++;
        mask[j] = crank < nKeep ? 0 : 1;
      }
    }
  }

  private decide(P: StepPlan): void {
    const { stats, mask, gstate, summary } = this;
    const reached = summary[S.reached] > 0.5;
    for (let g = 0; g < this.L.ng; g++) {
      const nsq = stats[g * 4], xd = stats[g * 4 + 1], dd = stats[g * 4 + 2];
      const isZero = stats[g * 4 + 3] === 0;
      const n = Math.sqrt(nsq);
      let coef = 0;
      if (P.decoupled && !P.l1) coef += P.lr * P.wd;
      if (P.l1) coef += P.lr * P.wd / (n + SAFE);
      let lam = 0, proj = 0;
      if (P.partitioned && mask[g] === 1 && !reached) {
        lam = P.lambda;
        if (!P.warm && n > 0 && xd < 0) {
          const lo = -xd / n, hi = -dd * n / xd;
          lam = Math.min(Math.max(P.amp * lo, P.lambda), P.lambda * P.hat);
          if (lam >= hi) lam = (lo + hi) / 2;
        }
        if (n > 0) coef += P.lr * lam / (n + SAFE);
        if (!P.warm && P.halfSpace && !isZero) {
          const dot = nsq * (1 - coef) - P.lr * xd; // x_hat . x
          if (dot < P.epsilon * nsq) proj = 1;
        }
      }
      const fixed = isZero && P.fixedZero ? 1 : 0;
      gstate.set([coef, fixed, lam, proj], g * 4);
    }
  }

  private cap(upper: number): void {
    const { stats, mask, gstate } = this;
    for (const z of this.L.zigs) {
      let M = 0, b = 0, np = 0;
      for (let g = z.base; g < z.base + z.size; g++) {
        if (!mask[g]) continue;
        M++;
        if (stats[g * 4 + 3] === 0) b++;
        if (gstate[g * 4 + 3] > 0.5) np++;
      }
      if (M === 0) continue;
      const lim = upper * M;
      let allow = np;
      if (b >= lim) allow = 0;
      else if (b + np > lim) allow = Math.max(0, Math.floor(lim + 1e-5) - b);
      for (let g = z.base; g < z.base + z.size; g++) {
        if (mask[g] && gstate[g * 4 + 3] > 0.5) {
          if (allow > 0) allow--;
          else gstate[g * 4 + 3] = 0;
        }
      }
    }
  }

  private update(lr: number): void {
    const { x, d, gstate } = this;
    const gid = this.L.gid;
    for (let i = 0; i < this.L.n; i++) {
      const g = gid[i];
      if (g === NONE) continue;
      if (gstate[g * 4 + 1] > 0.5 || gstate[g * 4 + 3] > 0.5) x[i] = 0;
      else x[i] = x[i] - lr * d[i] - gstate[g * 4] * x[i];
    }
  }

  /** Fresh group stats and summary from the current parameters (after `done` steps). */
  refresh(needZeros: number, done: number): void {
    this.load();
    this.groupStats();
    this.global(needZeros, done);
  }

  /** Restore {@link S.reachedAt} (a checkpoint's). */
  writeReachedAt(v: number): void {
    this.summary[S.reachedAt] = v;
  }
}
