/**
 * Matmul: our engine vs TF.js-WebGPU (tfjs-backend-webgpu 4.22.0, optional peer) on square
 * n x n x n f32 products, n = 256, 512, 1024. FLOPs = 2 n^3.
 *
 * `deno bench -A bench/matmul.bench.ts`: at module load, times ours and the peer alternately in
 * this process (after one untimed warm-up each) and prints one line per case with GFLOP/s at the
 * median and best run, the adapter and the kernel used; then `Deno.bench` runs both cases of
 * each size in one group, so its summary prints the ratio. `deno run -A bench/matmul.bench.ts`
 * prints only the alternating comparison. Every timed call waits for the GPU to finish (ours:
 * `sync()`; the peer: its `run()`, which awaits onSubmittedWorkDone). Before timing, both get
 * the same inputs and their products are checked to agree (`checkSame`).
 *
 * Environment: OTO_BENCH_ROUNDS (timed rounds per size; default 9, or 5 for n >= 1024),
 * OTO_MATMUL_KERNEL (force auto | register | scalar | shared).
 */
import { matmul, randn, sync } from "../mod.ts";
import { matmulKernelFor } from "../src/ops/matmul.ts";
import { initTfjsWebgpu, tfMatmul } from "./peers/tfjs.ts";
import {
  alternate,
  checkSame,
  type Contender,
  engineAdapter,
  envInt,
  stats,
  summary,
} from "./util.ts";

const SIZES = [256, 512, 1024];

const { webgpu, adapter } = await engineAdapter();
console.log(`matmul bench: oto on ${adapter}`);
const tf = await initTfjsWebgpu();
if (!tf.ok) console.log(`TF.js peer unavailable: ${tf.reason}; its cases are skipped`);
else console.log(`TF.js peer: tfjs-backend-webgpu 4.22.0 on ${tf.adapter ?? "unknown adapter"}`);
if (!webgpu) console.log("oto has no WebGPU adapter here: its matmul cases are skipped");

for (const n of SIZES) {
  const flops = 2 * n ** 3;
  const contenders: Contender[] = [];
  const a = randn([n, n], { seed: 1 });
  const b = randn([n, n], { seed: 2 });
  if (webgpu) {
    contenders.push({
      name: "oto",
      run: async () => {
        const c = matmul(a, b);
        await sync();
        c.dispose();
      },
    });
  }
  if (tf.ok) {
    const peer = tfMatmul(n, { a: await a.data(), b: await b.data() });
    contenders.push({ name: "tfjs", run: () => peer.run() });
    if (webgpu) {
      const c = matmul(a, b);
      console.log(checkSame(`matmul ${n}`, [await c.data()], await peer.outputs()));
      c.dispose();
    }
  }
  if (contenders.length === 0) continue;

  const rounds = envInt("OTO_BENCH_ROUNDS", n >= 1024 ? 5 : 9);
  const times = await alternate(contenders, rounds);
  const kernel = webgpu ? matmulKernelFor({ m: n, n, k: n, transA: false }) : "";
  for (const c of contenders) {
    const where = c.name === "oto"
      ? `${adapter}, ${kernel} kernel`
      : tf.adapter ?? "unknown adapter";
    console.log(
      summary(`matmul ${n} ${c.name}`, stats(times.get(c.name)!), { flops }) + ` [${where}]`,
    );
  }
  if (times.size === 2) {
    const o = stats(times.get("oto")!), t = stats(times.get("tfjs")!);
    console.log(
      `matmul ${n}: oto is ${(t.median / o.median).toFixed(2)}x TF.js at the median, ` +
        `${(t.min / o.min).toFixed(2)}x at the best run`,
    );
  }

  for (const c of contenders) {
    Deno.bench({
      name: `${c.name} matmul ${n}`,
      group: `matmul ${n}x${n}x${n}`,
      baseline: c.name === "oto",
      n: n >= 1024 ? 5 : 20,
      warmup: 1,
      fn: async () => {
        await c.run();
      },
    });
  }
}
