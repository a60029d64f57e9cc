/**
 * conv2d forward and forward+backward (input and weight gradients) in GFLOP/s for typical
 * MNIST/CIFAR shapes, side by side with TF.js-WebGPU on the same adapter:
 * `deno bench -A bench/conv.bench.ts`.
 *
 * The machine is shared and noisy, so ours and the peer alternate inside one process (ours,
 * peer, ours, peer, ...) and the summary compares medians and minimums. Every measured
 * iteration waits for the GPU to finish (`sync()` here, `onSubmittedWorkDone` for TF.js).
 * FLOPs: one multiply-add = 2 FLOPs; forward = 2·N·Cout·Ho·Wo·Cin/groups·kh·kw, forward+backward
 * = 3x that (forward, input gradient, weight gradient), the convention of bench/peers/tfjs.ts.
 * Both engines get the same x, w and dy, and their outputs (y; dx and dw) are checked to agree
 * before anything is timed.
 *
 * Environment: CONV_BENCH_ROUNDS (timed rounds per shape, default 7),
 * CONV_BENCH_SHAPES=bar (only the [8,16,32,32]x[32,16,3,3] shape of the performance bar).
 * The same shape is also registered with `Deno.bench` (ours vs TF.js, fwd+bwd) for deno's table.
 */
import { backward, conv2d, init, randn, sync, type Tensor, tidy } from "../mod.ts";
import { initTfjsWebgpu, tfConv2dFwd, tfConv2dFwdBwd, type TfPeer } from "./peers/tfjs.ts";
import { checkSame } from "./util.ts";

interface Shape {
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: number;
  padding: number;
}

const BAR: Shape = { x: [8, 16, 32, 32], w: [32, 16, 3, 3], stride: 1, padding: 1 };
const SHAPES: Shape[] = Deno.env.get("CONV_BENCH_SHAPES") === "bar" ? [BAR] : [
  { x: [64, 1, 28, 28], w: [16, 1, 3, 3], stride: 1, padding: 1 },
  { x: [64, 16, 14, 14], w: [32, 16, 3, 3], stride: 1, padding: 1 },
  BAR,
  { x: [32, 64, 16, 16], w: [64, 64, 3, 3], stride: 1, padding: 1 },
  { x: [32, 32, 16, 16], w: [64, 32, 3, 3], stride: 2, padding: 1 },
  { x: [32, 64, 8, 8], w: [128, 64, 1, 1], stride: 1, padding: 0 },
];
const ROUNDS = Math.max(1, Number(Deno.env.get("CONV_BENCH_ROUNDS") ?? 7) || 7);

const { backend, adapter } = await init({ quiet: true });
const peer = await initTfjsWebgpu();
console.log(`oto backend: ${backend} (${adapter})`);
console.log(
  peer.ok ? `TF.js peer: webgpu (${peer.adapter})` : `TF.js peer unavailable: ${peer.reason}`,
);

/** Our side of one shape: fixed x, w, dy; `fwd()` / `fwdBwd()` run one step and sync. */
function ours(s: Shape) {
  const x = randn(s.x, { seed: 1 }).keep();
  const w = randn(s.w, { seed: 2, std: Math.sqrt(2 / (s.w[1] * s.w[2] * s.w[3])) }).keep();
  const opts = { stride: s.stride, padding: s.padding };
  const dy = tidy(() => randn(conv2d(x, w, null, opts).shape, { seed: 3 })).keep();
  const flops = 2 * dy.size * s.w[1] * s.w[2] * s.w[3];
  const fwd = async () => {
    tidy(() => void conv2d(x, w, null, opts));
    await sync();
  };
  const fwdBwd = async () => {
    x.requiresGrad = true;
    w.requiresGrad = true;
    tidy(() => backward(conv2d(x, w, null, opts), dy));
    await sync();
    for (const t of [x, w]) (t.grad?.dispose(), t.grad = null);
  };
  const dispose = () => [x, w, dy].forEach((t: Tensor) => t.dispose());
  /** Host copies of the inputs, for the peer. */
  const data = async () => ({ x: await x.data(), w: await w.data(), dy: await dy.data() });
  /** y, then [dx, dw], read back (for the check against the peer). */
  const results = async () => {
    const y = conv2d(x, w, null, opts);
    const fwdOut = [await y.data()];
    y.dispose();
    x.requiresGrad = true;
    w.requiresGrad = true;
    tidy(() => backward(conv2d(x, w, null, opts), dy));
    const bwdOut = [await x.grad!.data(), await w.grad!.data()];
    for (const t of [x, w]) (t.grad?.dispose(), t.grad = null);
    return { fwd: fwdOut, fwdBwd: bwdOut };
  };
  return { flops, fwd, fwdBwd, dispose, data, results };
}

async function seconds(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function line(label: string, flops: number, t: number[]): string {
  const med = median(t), min = Math.min(...t);
  return `${label.padEnd(5)} median ${(med * 1000).toFixed(1).padStart(7)} ms ` +
    `${(flops / med / 1e9).toFixed(2).padStart(6)} GFLOP/s   min ${
      (min * 1000).toFixed(1).padStart(7)
    } ms ` +
    `${(flops / min / 1e9).toFixed(2).padStart(6)} GFLOP/s`;
}

for (const s of SHAPES) {
  const name = `conv2d x[${s.x}] w[${s.w}] s${s.stride} p${s.padding}`;
  const me = ours(s);
  const data = await me.data();
  const tf: { fwd: TfPeer; fwdBwd: TfPeer } | null = peer.ok
    ? {
      fwd: tfConv2dFwd(s.x, s.w, s.stride, s.padding, data),
      fwdBwd: tfConv2dFwdBwd(s.x, s.w, s.stride, s.padding, data),
    }
    : null;
  if (tf) {
    const mine = await me.results();
    console.log(checkSame(`${name} fwd`, mine.fwd, await tf.fwd.outputs()));
    console.log(checkSame(`${name} fwd+bwd (dx, dw)`, mine.fwdBwd, await tf.fwdBwd.outputs()));
  }
  for (const mode of ["fwd", "fwd+bwd"] as const) {
    const mine = mode === "fwd" ? me.fwd : me.fwdBwd;
    const theirs = tf && (mode === "fwd" ? tf.fwd : tf.fwdBwd);
    const flops = me.flops * (mode === "fwd" ? 1 : 3);
    // Warm-up: shader compiles and first uploads.
    await mine();
    await theirs?.run();
    const a: number[] = [], b: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      a.push(await seconds(mine));
      if (theirs) b.push(await seconds(() => theirs.run()));
    }
    console.log(
      `\n${name} ${mode} (${(flops / 1e6).toFixed(1)} MFLOP, ${ROUNDS} alternating rounds)`,
    );
    console.log(`  ${line("oto", flops, a)}`);
    if (theirs) {
      console.log(`  ${line("tfjs", flops, b)}`);
      console.log(
        `  speedup oto/tfjs: median ${(median(b) / median(a)).toFixed(2)}x, ` +
          `min ${(Math.min(...b) / Math.min(...a)).toFixed(2)}x`,
      );
    }
  }
  me.dispose();
  tf?.fwd.dispose();
  tf?.fwdBwd.dispose();
}

// deno bench's own table for the performance-bar shape.
const bar = ours(BAR);
const barPeer = peer.ok
  ? tfConv2dFwdBwd(BAR.x, BAR.w, BAR.stride, BAR.padding, await bar.data())
  : null;
if (barPeer) {
  const mine = await bar.results();
  console.log(checkSame("bar shape fwd+bwd (dx, dw)", mine.fwdBwd, await barPeer.outputs()));
}
Deno.bench({
  name: "oto conv2d fwd+bwd [8,16,32,32]x[32,16,3,3]",
  group: "conv2d fwd+bwd",
  baseline: true,
  n: 10,
  warmup: 2,
  fn: bar.fwdBwd,
});
if (barPeer) {
  Deno.bench({
    name: "tfjs conv2d fwd+bwd [8,16,32,32]x[32,16,3,3]",
    group: "conv2d fwd+bwd",
    n: 10,
    warmup: 2,
    fn: () => barPeer.run(),
  });
}
