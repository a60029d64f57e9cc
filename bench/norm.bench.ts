/**
 * Normalisation, pooling and resize kernels: forward and forward+backward times for typical
 * CNN activation shapes, each beside `relu` on the same tensor (one read + one write, the
 * memory-bound floor): `deno bench -A bench/norm.bench.ts`.
 *
 * A normalisation forward reads x three times (mean, variance, apply) and writes once, so about
 * 2x relu is the target on a bandwidth-bound device; forward+backward recomputes the statistics
 * and adds the gradient sums. Timings alternate round-robin over the ops of one shape.
 *
 * Each timed call records NORM_BENCH_ITERS steps (default 1 on a software adapter, 20 on a
 * hardware GPU, where one submit-and-wait costs about 10 ms on its own) and reports per step.
 *
 * Environment: NORM_BENCH_ROUNDS (timed rounds, default 5), NORM_BENCH_ITERS.
 */
import {
  adaptiveAvgPool2d,
  backward,
  batchNorm,
  groupNorm,
  init,
  instanceNorm,
  layerNorm,
  layerNorm2d,
  maxPool2d,
  ones,
  randn,
  relu,
  sum,
  sync,
  type Tensor,
  tidy,
  upsample,
  zeros,
} from "../mod.ts";
const ROUNDS = Math.max(1, Number(Deno.env.get("NORM_BENCH_ROUNDS") ?? 5) || 5);
const { adapter } = await init({ quiet: true });
const soft = /llvmpipe|swiftshader|lavapipe|cpu/i.test(adapter);
const ITERS = Math.max(1, Number(Deno.env.get("NORM_BENCH_ITERS") ?? (soft ? 1 : 20)) || 1);
console.log(`oto backend adapter: ${adapter}; ${ITERS} steps per timed call`);

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Round-robin timing (seconds) after one warm-up round: noise spreads evenly. */
async function alternate(runs: { name: string; run: () => Promise<void> }[], rounds: number) {
  const out = new Map<string, number[]>(runs.map((r) => [r.name, []]));
  for (const r of runs) await r.run();
  for (let i = 0; i < rounds; i++) {
    for (const r of runs) {
      const t0 = performance.now();
      await r.run();
      out.get(r.name)!.push((performance.now() - t0) / 1000);
    }
  }
  return out;
}

type Op = (x: Tensor, g: Tensor, b: Tensor) => Tensor;

const SHAPES: number[][] = [[32, 64, 32, 32], [16, 96, 56, 56], [64, 256, 8, 8]];

function opsFor(c: number): [string, Op][] {
  const rm = zeros([c]).keep(), rv = ones([c]).keep();
  return [
    ["relu", (x) => relu(x)],
    ["batchNorm train", (x, g, b) => batchNorm(x, g, b, rm, rv, { training: true })],
    ["batchNorm eval", (x, g, b) => batchNorm(x, g, b, rm, rv, { training: false })],
    ["layerNorm2d", (x, g, b) => layerNorm2d(x, g, b)],
    ["groupNorm 8", (x, g, b) => groupNorm(x, g, b, { groups: 8 })],
    ["instanceNorm", (x, g, b) => instanceNorm(x, g, b)],
    ["layerNorm [H,W]", (x) => layerNorm(x, null, null, { normalizedShape: x.shape.slice(2) })],
    ["maxPool2d 3/2/1", (x) => maxPool2d(x, { kernel: 3, stride: 2, padding: 1 })],
    ["globalAvgPool", (x) => adaptiveAvgPool2d(x, 1)],
    ["upsample x2 bilinear", (x) => upsample(x, { scaleFactor: 2, mode: "bilinear" })],
  ];
}

for (const shape of SHAPES) {
  const c = shape[1];
  const x = randn(shape, { seed: 1 }).keep();
  const g = randn([c], { seed: 2 }).keep(), b = randn([c], { seed: 3 }).keep();
  const ops = opsFor(c);
  const contenders = ops.flatMap(([name, f]) => [
    {
      name: `${name} fwd`,
      run: async () => {
        for (let i = 0; i < ITERS; i++) tidy(() => void f(x, g, b));
        await sync();
      },
    },
    {
      name: `${name} fwd+bwd`,
      run: async () => {
        for (const t of [x, g, b]) t.requiresGrad = true;
        for (let i = 0; i < ITERS; i++) {
          tidy(() => backward(sum(f(x, g, b))));
          for (const t of [x, g, b]) (t.grad?.dispose(), t.grad = null);
        }
        await sync();
      },
    },
  ]);
  const times = await alternate(contenders, ROUNDS);
  for (const t of times.values()) t.forEach((v, i) => (t[i] = v / ITERS));
  const floor = median(times.get("relu fwd")!);
  console.log(
    `\n[${shape}] (${(x.size * 4 / 1e6).toFixed(1)} MB), ${ROUNDS} rounds, median per step:`,
  );
  for (const [name, t] of times) {
    const m = median(t);
    console.log(
      `  ${name.padEnd(28)} ${(m * 1000).toFixed(1).padStart(8)} ms  (${
        (m / floor).toFixed(1)
      }x relu)`,
    );
  }
  x.dispose();
  g.dispose();
  b.dispose();
}

const bx = randn([16, 32, 32, 32], { seed: 4 }).keep();
const bg = ones([32]).keep(), bb = zeros([32]).keep();
const brm = zeros([32]).keep(), brv = ones([32]).keep();
Deno.bench({
  name: "batchNorm train fwd+bwd [16,32,32,32]",
  n: 10,
  warmup: 2,
  fn: async () => {
    for (const t of [bx, bg, bb]) t.requiresGrad = true;
    tidy(() => backward(sum(batchNorm(bx, bg, bb, brm, brv, { training: true }))));
    await sync();
    for (const t of [bx, bg, bb]) (t.grad?.dispose(), t.grad = null);
  },
});
