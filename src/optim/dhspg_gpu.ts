/**
 * The WebGPU engine of DHSPG. Persistent buffers (created once):
 * - `x`, `d`: the flat parameter and gradient/variant space (parameters and gradients are
 *   copied in with copyBufferToBuffer at the start of a step, `x` is copied back at the end);
 * - `m`, `v`: momentum / Adam moments (only when the variant needs them);
 * - `gid` (u32 per element), `chunk` (u32 flags per 256-element chunk), CSR `start`/`idx`;
 * - per group: `stats` (vec4: |x|^2, x.d, |d|^2, max|x|), `gstate` (vec4: coef, fixed zero,
 *   lambda, projected), `mask` (G_p), `score`/`top` (partition scratch), `gzig`;
 * - per ZIG: `zmeta` (vec4: base, G, width); `summary` (16 floats).
 *
 * One step records: the copies in, `variant` (elementwise), `stats` (a workgroup per group),
 * `global` (one workgroup), [`score`, `rank`, `select` once, at the partition step], `decide`
 * (a thread per group), [`cap` when upperGroupSparsity < 1], `update` (elementwise), the copies
 * out, [`buffers`: required buffer slices of zeroed groups set to 0]. Nothing is read back inside a step; `stats()` reads the 16-float summary.
 */
import variantSrc from "../../kernels/optim/dhspg_variant.wgsl" with { type: "text" };
import statsSrc from "../../kernels/optim/dhspg_stats.wgsl" with { type: "text" };
import globalSrc from "../../kernels/optim/dhspg_global.wgsl" with { type: "text" };
import scoreSrc from "../../kernels/optim/dhspg_score.wgsl" with { type: "text" };
import rankSrc from "../../kernels/optim/dhspg_rank.wgsl" with { type: "text" };
import selectSrc from "../../kernels/optim/dhspg_select.wgsl" with { type: "text" };
import decideSrc from "../../kernels/optim/dhspg_decide.wgsl" with { type: "text" };
import capSrc from "../../kernels/optim/dhspg_cap.wgsl" with { type: "text" };
import updateSrc from "../../kernels/optim/dhspg_update.wgsl" with { type: "text" };
import buffersSrc from "../../kernels/optim/dhspg_buffers.wgsl" with { type: "text" };
import {
  acquireBuffer,
  copyBuffer,
  dispatch,
  grid1d,
  type Kernel,
  readBuffer,
  releaseBuffer,
  specialize,
  Uniforms,
  upload,
} from "../backend/webgpu.ts";
import { CHUNK, type Layout } from "./dhspg_layout.ts";
import { S, type StepGrads, type StepPlan } from "./dhspg_plan.ts";

const K = {
  variant: specialize("dhspg_variant", variantSrc),
  stats: specialize("dhspg_stats", statsSrc),
  global: specialize("dhspg_global", globalSrc),
  score: specialize("dhspg_score", scoreSrc),
  rank: specialize("dhspg_rank", rankSrc),
  select: specialize("dhspg_select", selectSrc),
  decide: specialize("dhspg_decide", decideSrc),
  cap: specialize("dhspg_cap", capSrc),
  update: specialize("dhspg_update", updateSrc),
  buffers: specialize("dhspg_buffers", buffersSrc),
} satisfies Record<string, Kernel>;

function buf(words: number): GPUBuffer {
  return acquireBuffer(Math.max(words, 1) * 4);
}

/** The WebGPU engine; see the module comment for buffers and kernels. */
export class GpuEngine {
  private readonly owned: GPUBuffer[] = [];
  private readonly x: GPUBuffer;
  private readonly d: GPUBuffer;
  private readonly m: GPUBuffer;
  private readonly v: GPUBuffer;
  private readonly gid: GPUBuffer;
  private readonly chunk: GPUBuffer;
  private readonly start: GPUBuffer;
  private readonly idx: GPUBuffer;
  private readonly stats: GPUBuffer;
  private readonly gstate: GPUBuffer;
  private readonly mask: GPUBuffer;
  private readonly score: GPUBuffer;
  private readonly top: GPUBuffer;
  private readonly gzig: GPUBuffer;
  private readonly zmeta: GPUBuffer;
  private readonly summary: GPUBuffer;
  /** Group id of every element of each required buffer (see `Layout.buffers`). */
  private readonly bufferGid: GPUBuffer[];
  private chunkFlags: Uint32Array;
  private uploadedFlags: Uint32Array | null = null;

  constructor(readonly L: Layout, needs: { m: boolean; v: boolean }) {
    const own = (b: GPUBuffer) => (this.owned.push(b), b);
    const zeros = (words: number) => {
      const b = own(buf(words));
      upload(b, new Uint32Array(b.size / 4));
      return b;
    };
    const init = (data: Uint32Array | Float32Array) => {
      const b = own(buf(data.length));
      if (data.length) upload(b, data);
      return b;
    };
    this.x = own(buf(L.n));
    this.d = zeros(L.n);
    this.m = needs.m ? zeros(L.n) : own(buf(1));
    this.v = needs.v ? zeros(L.n) : own(buf(1));
    this.gid = init(L.gid);
    this.chunkFlags = new Uint32Array(L.n / CHUNK);
    this.chunk = zeros(this.chunkFlags.length);
    this.start = init(L.csrStart);
    this.idx = init(L.csrIdx);
    this.stats = zeros(L.ng * 4);
    this.gstate = zeros(L.ng * 4);
    this.mask = zeros(L.ng);
    this.score = own(buf(L.ng));
    this.top = own(buf(L.ng));
    this.gzig = init(L.gzig);
    const zm = new Uint32Array(Math.max(L.zigs.length, 1) * 4);
    L.zigs.forEach((z, i) => zm.set([z.base, z.size, z.width, 0], i * 4));
    this.zmeta = init(zm);
    this.summary = zeros(S.length);
    this.bufferGid = L.buffers.map((b) => init(b.gid));
  }

  private loadParams(): void {
    for (const p of this.L.params) {
      const src = p.tensor.storage.gpu;
      if (!src) throw new Error(`DHSPG: parameter "${p.name}" is not on the webgpu backend`);
      copyBuffer(src, this.x, p.size * 4, 0, p.offset * 4);
    }
  }

  private setFlags(sg: StepGrads): void {
    const f = this.chunkFlags;
    this.L.params.forEach((p, k) => {
      const flag = (sg.grads[k] ? 1 : 0) | (sg.first[k] ? 2 : 0);
      f.fill(
        flag,
        p.offset / CHUNK,
        (p.offset + Math.ceil(Math.max(p.size, 1) / CHUNK) * CHUNK) / CHUNK,
      );
    });
    const old = this.uploadedFlags;
    if (!old || old.some((w, i) => w !== f[i])) {
      if (f.length) upload(this.chunk, f);
      this.uploadedFlags = f.slice();
    }
  }

  private groupStats(): void {
    const L = this.L;
    const [gx, gy] = grid1d(L.ng, 1);
    dispatch(
      K.stats,
      [this.x, this.d, this.start, this.idx, this.stats],
      [gx, gy],
      new Uniforms().u32(L.ng, gx, 0, 0),
    );
  }

  /** The summary of the parameters after `done` steps (see {@link S.reachedAt}). */
  private global(needZeros: number, done: number): void {
    dispatch(
      K.global,
      [this.stats, this.mask, this.gstate, this.summary],
      [1],
      new Uniforms().u32(this.L.ng, needZeros, done, 0),
    );
  }

  step(P: StepPlan, sg: StepGrads): void {
    const L = this.L;
    this.setFlags(sg);
    this.loadParams();
    L.params.forEach((p, k) => {
      const g = sg.grads[k];
      if (g) copyBuffer(g.storage.gpu!, this.d, p.size * 4, 0, p.offset * 4);
    });
    const [ex, ey] = grid1d(L.n, CHUNK);
    const flags1 = (P.decoupled ? 1 : 0) | (P.l1 ? 2 : 0) | (P.momentum ? 4 : 0);
    dispatch(
      K.variant,
      [this.x, this.d, this.m, this.v, this.gid, this.chunk],
      [ex, ey],
      new Uniforms().u32(L.n, ex, P.mode === "sgd" ? 0 : 1, flags1)
        .f32(P.lr, P.wd, P.b1, P.b2, P.damp, P.bc1, P.bc2, 1e-8),
    );
    if (L.ng > 0) {
      this.groupStats();
      this.global(P.needZeros, P.t - 1);
      if (P.partitionNow) this.partition(P);
      const [gx, gy] = grid1d(L.ng, 256);
      const flags = (P.partitioned ? 1 : 0) | (P.warm ? 2 : 0) | (P.halfSpace ? 4 : 0) |
        (P.fixedZero ? 8 : 0) | (P.decoupled && !P.l1 ? 16 : 0) | (P.l1 ? 32 : 0);
      dispatch(
        K.decide,
        [this.stats, this.mask, this.summary, this.gstate],
        [gx, gy],
        new Uniforms().u32(L.ng, gx, flags, 0)
          .f32(P.lr, P.wd, P.lambda, P.amp, P.hat, P.epsilon, 0, 0),
      );
      if (P.upper < 1 && P.partitioned && P.halfSpace && !P.warm) {
        dispatch(
          K.cap,
          [this.zmeta, this.stats, this.mask, this.gstate],
          [Math.ceil(L.zigs.length / 64)],
          new Uniforms().u32(L.zigs.length, 0, 0, 0).f32(P.upper, 0, 0, 0),
        );
      }
      dispatch(
        K.update,
        [this.x, this.d, this.gid, this.gstate],
        [ex, ey],
        new Uniforms().u32(L.n, ex, 0, 0).f32(P.lr, 0, 0, 0),
      );
    }
    for (const p of L.params) {
      copyBuffer(this.x, p.tensor.storage.gpu!, p.size * 4, p.offset * 4, 0);
    }
    L.buffers.forEach((b, k) => {
      const gpu = b.tensor.storage.gpu;
      if (!gpu) throw new Error(`DHSPG: buffer "${b.name}" is not on the webgpu backend`);
      const [bx, by] = grid1d(b.tensor.size, 256);
      dispatch(
        K.buffers,
        [gpu, this.bufferGid[k], this.gstate],
        [bx, by],
        new Uniforms().u32(b.tensor.size, bx, 0, 0),
      );
    });
  }

  private partition(P: StepPlan): void {
    const L = this.L;
    dispatch(
      K.score,
      [this.stats, this.gzig, this.zmeta, this.score],
      [1],
      new Uniforms().u32(L.ng, 0, 0, 0),
    );
    const [gx, gy] = grid1d(L.ng, 256);
    dispatch(
      K.rank,
      [this.score, this.gzig, this.zmeta, this.top],
      [gx, gy],
      new Uniforms().u32(L.ng, gx, P.topK, P.perZig ? 1 : 0).f32(P.topFrac, 0, 0, 0),
    );
    dispatch(
      K.select,
      [this.score, this.top, this.gzig, this.zmeta, this.mask],
      [gx, gy],
      new Uniforms().u32(L.ng, gx, P.groupDivisible, 0),
    );
  }

  /**
   * Recompute group sums and the summary from the current parameters (after `done` steps);
   * read the summary.
   */
  async refresh(needZeros: number, done: number): Promise<Float32Array> {
    if (this.L.ng > 0) {
      this.loadParams();
      this.groupStats();
      this.global(needZeros, done);
    }
    return new Float32Array(await readBuffer(this.summary, S.length * 4));
  }

  /** Per-group sums (after {@link refresh}). */
  async readStats(): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.stats, this.L.ng * 16));
  }

  async readMask(): Promise<Uint32Array> {
    return new Uint32Array(await readBuffer(this.mask, this.L.ng * 4));
  }

  async readGstate(): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.gstate, this.L.ng * 16));
  }

  /** A flat moment (n words) or the G_p mask (ng words), for checkpoints. */
  async readArray(name: "m" | "v" | "mask"): Promise<Float32Array | Uint32Array> {
    const { n, ng } = this.L;
    if (name === "mask") return new Uint32Array(await readBuffer(this.mask, ng * 4));
    return new Float32Array(await readBuffer(this[name], n * 4));
  }

  /** Overwrite an array {@link readArray} reads. */
  writeState(name: "m" | "v" | "mask", data: Float32Array | Uint32Array): void {
    if (data.length) upload(this[name], data);
  }

  /** Restore {@link S.reachedAt} (a checkpoint's); the rest of the summary is recomputed. */
  writeReachedAt(v: number): void {
    const s = new Float32Array(S.length);
    s[S.reachedAt] = v;
    upload(this.summary, s);
  }

  dispose(): void {
    for (const b of this.owned) releaseBuffer(b);
    this.owned.length = 0;
  }
}
