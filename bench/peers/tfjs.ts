/**
 * TensorFlow.js (WebGPU backend) peer for side-by-side benchmarks.
 *
 * Pinned versions: `npm:@tensorflow/tfjs@4.22.0` + `npm:@tensorflow/tfjs-backend-webgpu@4.22.0`
 * (both resolve the same `@tensorflow/tfjs-core@4.22.0`, so the backend registers into the engine
 * that `tf` uses). The packages are loaded lazily inside {@link initTfjsWebgpu}, so importing
 * this module never fails at load time; if the import or the backend init fails, init returns
 * `{ ok: false, reason }` and the bench can report "TF.js peer unavailable".
 *
 * Usage:
 * ```ts
 * const init = await initTfjsWebgpu();
 * if (!init.ok) console.log(`TF.js peer unavailable: ${init.reason}`);
 * else {
 *   const p = tfMatmul(1024);
 *   await p.run(); // warm-up (shader compile + upload)
 *   await p.run(); // timed
 *   p.dispose();
 * }
 * ```
 *
 * Completion ("sync") semantics of `run()`: TF.js-WebGPU records dispatches into a command
 * encoder and only submits every 15 dispatches (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE) or on a
 * read. The default `sync: "queue"` ends the open compute pass, submits the pending encoder
 * (`backend.submitQueue()`) and awaits `device.queue.onSubmittedWorkDone()`. That waits for
 * every kernel of the step to finish on the GPU without copying any result back, which is the
 * cheapest faithful sync and what an engine-side `onSubmittedWorkDone` measures.
 * `sync: "read"` instead awaits `tensor.data()` on every output (TF.js's own readback path:
 * copy to a staging buffer + mapAsync + copy to JS), i.e. it adds the device->host transfer.
 * `tfSmallCnnStep` always reads back the scalar loss (4 bytes) since that is its contract.
 * Every wait is bounded by `timeoutMs` (default 120 s) so a wedged adapter rejects instead of
 * hanging the bench.
 */

// Inline npm specifiers on purpose: deno.json is shared and must not grow bench-only deps.
// deno-lint-ignore no-import-prefix
import type * as TfNs from "npm:@tensorflow/tfjs@4.22.0";

type Tf = typeof TfNs;
type Tensor = TfNs.Tensor;

/** How `run()` waits for completion; see module doc. */
export type TfSync = "queue" | "read";

export interface TfPeerOptions {
  /** Completion mode for run(); default "queue". */
  sync?: TfSync;
  /** Upper bound for one run()'s GPU wait, in ms; default 120000. */
  timeoutMs?: number;
  /** Seed for the fixed random inputs; default 42. */
  seed?: number;
}

export interface TfPeer {
  /** Human-readable op description, e.g. "matmul 1024x1024x1024". */
  readonly name: string;
  /** FLOPs per run() (convention documented per constructor). */
  readonly flops: number;
  /** Executes one step and resolves once the GPU finished it. */
  run(): Promise<void>;
  /**
   * One step's results read back in oto's layouts (NCHW activations, OIHW weights), so a bench
   * can check that both engines compute the same numbers before it times them.
   */
  outputs(): Promise<Float32Array[]>;
  /** Releases all tensors/variables owned by this peer. Idempotent. */
  dispose(): void;
}

export interface TfInitResult {
  ok: boolean;
  reason?: string;
  adapter?: string;
}

/** Structural view of the bits of `WebGPUBackend` (tfjs-backend-webgpu 4.22.0) that we use. */
interface WebGpuBackendLike {
  device: GPUDevice;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

const DEFAULT_TIMEOUT_MS = 120_000;

let tfMod: Tf | null = null;
let adapterDesc: string | undefined;
let initPromise: Promise<TfInitResult> | null = null;

/** Rejects with a clear message if `p` does not settle within `ms`. Clears its timer. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Loads TF.js + the WebGPU backend, selects "webgpu" and awaits `tf.ready()`.
 * Never throws; repeated calls share one attempt.
 */
export function initTfjsWebgpu(timeoutMs = 60_000): Promise<TfInitResult> {
  initPromise ??= doInit(timeoutMs);
  return initPromise;
}

async function doInit(timeoutMs: number): Promise<TfInitResult> {
  try {
    if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
      return { ok: false, reason: "navigator.gpu is not available (WebGPU disabled)" };
    }
    // Literal specifiers so the module graph (and lockfile) knows them; loaded lazily.
    const tf: Tf = await withTimeout(
      // deno-lint-ignore no-import-prefix
      import("npm:@tensorflow/tfjs@4.22.0"),
      timeoutMs,
      "import tfjs",
    );
    await withTimeout(
      // deno-lint-ignore no-import-prefix
      import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0"),
      timeoutMs,
      "import tfjs-backend-webgpu",
    );
    if (tf.findBackendFactory("webgpu") == null) {
      return { ok: false, reason: "tfjs-backend-webgpu did not register a 'webgpu' backend" };
    }
    // setBackend catches factory errors (e.g. no adapter), logs them and resolves false.
    const ok = await withTimeout(tf.setBackend("webgpu"), timeoutMs, "tf.setBackend('webgpu')");
    if (!ok) {
      const adapter = await withTimeout(navigator.gpu.requestAdapter(), timeoutMs, "adapter");
      const why = adapter == null
        ? "navigator.gpu.requestAdapter() returned null"
        : "see log above";
      return { ok: false, reason: `tf.setBackend('webgpu') returned false (${why})` };
    }
    await withTimeout(tf.ready(), timeoutMs, "tf.ready()");
    if (tf.getBackend() !== "webgpu") {
      return { ok: false, reason: `active backend is '${tf.getBackend()}', not 'webgpu'` };
    }
    adapterDesc = await describeAdapter(timeoutMs);
    tfMod = tf;
    return { ok: true, adapter: adapterDesc };
  } catch (e) {
    return { ok: false, reason: errMsg(e) };
  }
}

/** TF.js does not expose the adapter's name, so ask navigator.gpu the same way it does. */
async function describeAdapter(timeoutMs: number): Promise<string | undefined> {
  try {
    const a = await withTimeout(
      navigator.gpu.requestAdapter({ powerPreference: "high-performance" }),
      timeoutMs,
      "requestAdapter",
    );
    if (!a) return undefined;
    const info = a.info;
    const parts = [info.description, info.vendor && `vendor ${info.vendor}`, info.architecture]
      .filter((s) => s);
    if (info.isFallbackAdapter) parts.push("fallback adapter");
    return parts.join(", ") || undefined;
  } catch {
    return undefined;
  }
}

function requireTf(): Tf {
  if (!tfMod) throw new Error("TF.js WebGPU peer not initialised: await initTfjsWebgpu() first");
  return tfMod;
}

/** Waits until everything queued so far (including `outs`) has executed. Disposes nothing. */
async function syncOn(tf: Tf, outs: Tensor[], sync: TfSync, timeoutMs: number): Promise<void> {
  if (sync === "read") {
    await withTimeout(Promise.all(outs.map((t) => t.data())), timeoutMs, "tf readback");
    return;
  }
  const b = tf.backend() as unknown as WebGpuBackendLike;
  b.ensureCommandEncoderReady();
  b.endComputePassEncoder();
  b.submitQueue();
  await withTimeout(b.device.queue.onSubmittedWorkDone(), timeoutMs, "onSubmittedWorkDone");
}

/** Deterministic N(0, std) tensor so runs are reproducible. */
function randn(tf: Tf, shape: number[], seed: number, std = 1): Tensor {
  return tf.randomNormal(shape, 0, std, "float32", seed);
}

/** Permute a row-major host array of `shape` by `perm` (output axis i = input axis perm[i]). */
export function permuteHost(
  data: ArrayLike<number>,
  shape: readonly number[],
  perm: readonly number[],
): Float32Array {
  const out = new Float32Array(data.length);
  const oshape = perm.map((p) => shape[p]);
  const istr = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const idx = new Array(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let rem = o, at = 0;
    for (let d = oshape.length - 1; d >= 0; d--) {
      idx[d] = rem % oshape[d];
      rem = (rem - idx[d]) / oshape[d];
      at += idx[d] * istr[perm[d]];
    }
    out[o] = data[at];
  }
  return out;
}

const NCHW_TO_NHWC = [0, 2, 3, 1], NHWC_TO_NCHW = [0, 3, 1, 2];
const OIHW_TO_HWIO = [2, 3, 1, 0], HWIO_TO_OIHW = [3, 2, 0, 1];

async function read(t: Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.data() as Float32Array);
}

function convOut(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/**
 * One n x n x n float32 matmul per run() (inputs created once).
 * flops = 2 * n^3.
 */
export function tfMatmul(
  n: number,
  opts: TfPeerOptions & { a?: ArrayLike<number>; b?: ArrayLike<number> } = {},
): TfPeer {
  const tf = requireTf();
  const { sync = "queue", timeoutMs = DEFAULT_TIMEOUT_MS, seed = 42 } = opts;
  const given = (d: ArrayLike<number> | undefined, s: number) =>
    d ? tf.tensor(Float32Array.from(d), [n, n]) : randn(tf, [n, n], s);
  const a = given(opts.a, seed);
  const b = given(opts.b, seed + 1);
  let disposed = false;
  return {
    name: `matmul ${n}x${n}x${n}`,
    flops: 2 * n ** 3,
    async run() {
      const c = tf.matMul(a, b);
      try {
        await syncOn(tf, [c], sync, timeoutMs);
      } finally {
        c.dispose();
      }
    },
    async outputs() {
      const c = tf.matMul(a, b);
      try {
        return [await read(c)];
      } finally {
        c.dispose();
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      a.dispose();
      b.dispose();
    },
  };
}

/** Host data of a conv peer in oto's layouts: x NCHW, w OIHW, dy NCHW (random when absent). */
export interface ConvData {
  x?: ArrayLike<number>;
  w?: ArrayLike<number>;
  dy?: ArrayLike<number>;
}

interface ConvSetup {
  tf: Tf;
  x: Tensor;
  w: Tensor;
  dy: Tensor;
  stride: number;
  pad: number;
  name: string;
  fwdFlops: number;
  sync: TfSync;
  timeoutMs: number;
}

/**
 * `xShape` is given NCHW [N, Cin, H, W] and `wShape` OIHW [Cout, Cin, kh, kw] (our engine's
 * convention); TF.js conv2d only runs NHWC/HWIO, so the tensors are created directly in that
 * layout (random data; no per-run transposes are timed).
 */
function convSetup(
  kind: string,
  xShape: number[],
  wShape: number[],
  stride: number,
  pad: number,
  opts: TfPeerOptions & ConvData,
): ConvSetup {
  const tf = requireTf();
  const { sync = "queue", timeoutMs = DEFAULT_TIMEOUT_MS, seed = 42 } = opts;
  const [n, cin, h, w] = xShape;
  const [cout, cin2, kh, kw] = wShape;
  if (cin !== cin2) throw new Error(`conv: x has ${cin} channels but w expects ${cin2}`);
  const ho = convOut(h, kh, stride, pad);
  const wo = convOut(w, kw, stride, pad);
  const given = (d: ArrayLike<number>, shape: number[], perm: number[]) =>
    tf.tensor(permuteHost(d, shape, perm), perm.map((p) => shape[p]));
  return {
    tf,
    x: opts.x ? given(opts.x, xShape, NCHW_TO_NHWC) : randn(tf, [n, h, w, cin], seed),
    w: opts.w
      ? given(opts.w, wShape, OIHW_TO_HWIO)
      : randn(tf, [kh, kw, cin, cout], seed + 1, Math.sqrt(2 / (cin * kh * kw))),
    dy: opts.dy
      ? given(opts.dy, [n, cout, ho, wo], NCHW_TO_NHWC)
      : randn(tf, [n, ho, wo, cout], seed + 2),
    stride,
    pad,
    name: `conv2d ${kind} x[${xShape}] w[${wShape}] s${stride} p${pad}`,
    // FLOPs convention: one multiply-add = 2 FLOPs, counting only the MACs of the dense conv:
    // forward = 2 * N * Cout * Hout * Wout * Cin * kh * kw (padding taps counted as real work).
    fwdFlops: 2 * n * cout * ho * wo * cin * kh * kw,
    sync,
    timeoutMs,
  };
}

function conv(s: ConvSetup, x: Tensor, w: Tensor): Tensor {
  return s.tf.conv2d(x as TfNs.Tensor4D, w as TfNs.Tensor4D, s.stride, s.pad, "NHWC");
}

/** Back to oto's layout: 4-D outputs of a step are NHWC activations or HWIO weights. */
function toOtoLayout(t: Tensor, weight: boolean, data: Float32Array): Float32Array {
  return permuteHost(data, t.shape, weight ? HWIO_TO_OIHW : NHWC_TO_NCHW);
}

function convPeer(
  s: ConvSetup,
  flops: number,
  step: () => Tensor[],
  isWeight: (i: number) => boolean,
): TfPeer {
  let disposed = false;
  return {
    name: s.name,
    flops,
    async outputs() {
      const outs = step();
      try {
        const res: Float32Array[] = [];
        for (const [i, t] of outs.entries()) res.push(toOtoLayout(t, isWeight(i), await read(t)));
        return res;
      } finally {
        for (const t of outs) t.dispose();
      }
    },
    async run() {
      const outs = step();
      try {
        await syncOn(s.tf, outs, s.sync, s.timeoutMs);
      } finally {
        for (const t of outs) t.dispose();
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      s.x.dispose();
      s.w.dispose();
      s.dy.dispose();
    },
  };
}

/**
 * Conv2d forward only (NHWC internally). flops = 2 * N * Cout * Hout * Wout * Cin * kh * kw.
 */
export function tfConv2dFwd(
  xShape: number[] = [8, 16, 32, 32],
  wShape: number[] = [32, 16, 3, 3],
  stride = 1,
  pad = 1,
  opts: TfPeerOptions & ConvData = {},
): TfPeer {
  const s = convSetup("fwd", xShape, wShape, stride, pad, opts);
  return convPeer(s, s.fwdFlops, () => [conv(s, s.x, s.w)], () => false);
}

/**
 * Conv2d forward + backward via `tf.grads` with a fixed upstream gradient `dy`: runs the forward
 * conv, then dX (conv2DBackpropInput) and dW (conv2DBackpropFilter). Each of the three is the
 * same MAC count, so flops = 3 * (2 * N * Cout * Hout * Wout * Cin * kh * kw). `outputs()` gives
 * [dX (NCHW), dW (OIHW)].
 */
export function tfConv2dFwdBwd(
  xShape: number[] = [8, 16, 32, 32],
  wShape: number[] = [32, 16, 3, 3],
  stride = 1,
  pad = 1,
  opts: TfPeerOptions & ConvData = {},
): TfPeer {
  const s = convSetup("fwd+bwd", xShape, wShape, stride, pad, opts);
  const g = s.tf.grads((x: Tensor, w: Tensor) => conv(s, x, w));
  return convPeer(s, 3 * s.fwdFlops, () => g([s.x, s.w], s.dy), (i) => i === 1);
}

/**
 * Data and initial weights for {@link tfSmallCnnStep} in oto's layouts (x NCHW [B, 1, 28, 28],
 * conv weights OIHW, the dense weight [10, 32*7*7] over the NCHW flatten), so its steps can be
 * checked against oto's.
 */
export interface CnnInit {
  x: ArrayLike<number>;
  labels: ArrayLike<number>;
  w1: ArrayLike<number>;
  b1: ArrayLike<number>;
  w2: ArrayLike<number>;
  b2: ArrayLike<number>;
  w3: ArrayLike<number>;
  b3: ArrayLike<number>;
}

export interface TfCnnPeer extends TfPeer {
  /** Loss value read back by the most recent run() (NaN before the first). */
  readonly lastLoss: number;
}

/**
 * One SGD(lr 0.01) training step per run() of a small CNN on fixed random data (NHWC):
 * x[B,28,28,1] -> conv 3x3 1->16 pad1 + bias + ReLU -> maxpool 2 -> conv 3x3 16->32 pad1 + bias
 * + ReLU -> maxpool 2 -> flatten (32*7*7) -> dense 1568->10 + bias -> softmax cross-entropy
 * (mean over batch) vs fixed one-hot labels. Uses `tf.train.sgd(0.01).minimize(f, true)` and
 * awaits the scalar loss (`loss.data()`), which also waits for the weight updates queued before
 * the readback.
 * flops = 3 * forward MACs*2 of conv1 + conv2 + dense (bias/ReLU/pool/softmax/SGD ignored):
 * 3 * 2 * B * (16*28*28*1*9 + 32*14*14*16*9 + 1568*10).
 */
export function tfSmallCnnStep(
  batch = 64,
  opts: TfPeerOptions & { init?: CnnInit } = {},
): TfCnnPeer {
  const tf = requireTf();
  const { timeoutMs = DEFAULT_TIMEOUT_MS, seed = 42, init } = opts;
  const x =
    (init
      ? tf.tensor(permuteHost(init.x, [batch, 1, 28, 28], NCHW_TO_NHWC), [batch, 28, 28, 1])
      : randn(tf, [batch, 28, 28, 1], seed)) as TfNs.Tensor4D;
  const labelIdx = init
    ? tf.tensor(Int32Array.from(init.labels), [batch], "int32")
    : tf.randomUniform([batch], 0, 10, "int32", seed + 1);
  const labels = tf.oneHot(labelIdx as TfNs.Tensor1D, 10);
  labelIdx.dispose();
  const he = (fanIn: number) => Math.sqrt(2 / fanIn);
  // tf.variable() keeps its initial tensor alive (shared data, +1 ref), so drop our handle.
  // Unnamed so several CNN peers can coexist.
  const mkVar = (init: Tensor): TfNs.Variable => {
    const v = tf.variable(init, true);
    init.dispose();
    return v;
  };
  const hwio = (w: ArrayLike<number>, shape: number[]) =>
    tf.tensor(permuteHost(w, shape, OIHW_TO_HWIO), OIHW_TO_HWIO.map((p) => shape[p]));
  const vec = (v: ArrayLike<number>) => tf.tensor(Float32Array.from(v));
  const w1 = mkVar(init ? hwio(init.w1, [16, 1, 3, 3]) : randn(tf, [3, 3, 1, 16], seed + 2, he(9)));
  const b1 = mkVar(init ? vec(init.b1) : tf.zeros([16]));
  const w2 = mkVar(
    init ? hwio(init.w2, [32, 16, 3, 3]) : randn(tf, [3, 3, 16, 32], seed + 3, he(144)),
  );
  const b2 = mkVar(init ? vec(init.b2) : tf.zeros([32]));
  // oto's fc weight is [10, 1568] over the NCHW flatten (c, h, w); TF.js's dense kernel is
  // [1568, 10] over the NHWC flatten (h, w, c).
  const w3 = mkVar(
    init
      ? tf.tensor(permuteHost(init.w3, [10, 32, 7, 7], [2, 3, 1, 0]), [32 * 7 * 7, 10])
      : randn(tf, [32 * 7 * 7, 10], seed + 4, Math.sqrt(1 / 1568)),
  );
  const b3 = mkVar(init ? vec(init.b3) : tf.zeros([10]));
  const vars = [w1, b1, w2, b2, w3, b3];
  const opt = tf.train.sgd(0.01);
  const lossFn = (): TfNs.Scalar => {
    let h = tf.relu(tf.add(tf.conv2d(x, w1 as TfNs.Tensor4D, 1, 1), b1)) as TfNs.Tensor4D;
    h = tf.maxPool(h, 2, 2, "valid");
    h = tf.relu(tf.add(tf.conv2d(h, w2 as TfNs.Tensor4D, 1, 1), b2)) as TfNs.Tensor4D;
    h = tf.maxPool(h, 2, 2, "valid");
    const flat = tf.reshape(h, [batch, 32 * 7 * 7]);
    const logits = tf.add(tf.matMul(flat, w3), b3);
    return tf.losses.softmaxCrossEntropy(labels, logits) as TfNs.Scalar;
  };
  let disposed = false;
  let lastLoss = NaN;
  const fwdFlops = 2 * batch * (16 * 28 * 28 * 1 * 9 + 32 * 14 * 14 * 16 * 9 + 1568 * 10);
  return {
    name: `small CNN SGD step batch ${batch}`,
    flops: 3 * fwdFlops,
    get lastLoss() {
      return lastLoss;
    },
    async run() {
      const loss = opt.minimize(lossFn, true, vars);
      if (!loss) throw new Error("optimizer.minimize returned no loss");
      try {
        const v = await withTimeout(loss.data(), timeoutMs, "tf loss readback");
        lastLoss = v[0] as number;
      } finally {
        loss.dispose();
      }
    },
    /** One training step (it updates the weights); its loss. */
    async outputs() {
      await this.run();
      return [Float32Array.of(lastLoss)];
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const v of vars) v.dispose();
      opt.dispose();
      x.dispose();
      labels.dispose();
    },
  };
}

/** Live tensor count in the TF.js engine (for leak checks); -1 before init. */
export function tfNumTensors(): number {
  return tfMod ? tfMod.memory().numTensors : -1;
}

/** Adapter description captured at init (undefined before a successful init). */
export function tfAdapter(): string | undefined {
  return adapterDesc;
}
