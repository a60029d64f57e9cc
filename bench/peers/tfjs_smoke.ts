/**
 * Smoke/timing run for the TF.js-WebGPU peer: `deno run -A bench/peers/tfjs_smoke.ts [reps]`.
 *
 * For each peer op: one warm-up run() (shader compile + first upload), then `reps`
 * timed run()s (default 7); prints median seconds and GFLOP/s (= flops / median / 1e9). Also checks that
 * no tensors leak across runs. Exits 0 even when the peer is unavailable (prints why), 1 when
 * an op fails; every run is bounded by a timeout and the script exits explicitly so a wedged
 * GPU cannot keep the process alive.
 */

import {
  initTfjsWebgpu,
  tfConv2dFwd,
  tfConv2dFwdBwd,
  tfMatmul,
  tfNumTensors,
  type TfPeer,
  tfSmallCnnStep,
  type TfSync,
} from "./tfjs.ts";

const RUN_TIMEOUT_MS = 180_000;
const reps = Math.max(1, Number(Deno.args[0] ?? 7) || 7);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timeRun(p: TfPeer): Promise<number> {
  const t0 = performance.now();
  await p.run();
  return (performance.now() - t0) / 1000;
}

async function bench(label: string, make: () => TfPeer, extra?: (p: TfPeer) => string) {
  const before = tfNumTensors();
  const p = make();
  try {
    const warm = await timeRun(p);
    const base = tfNumTensors();
    const times: number[] = [];
    for (let i = 0; i < reps; i++) times.push(await timeRun(p));
    const leaked = tfNumTensors() - base;
    const med = median(times);
    const gflops = p.flops / med / 1e9;
    console.log(
      `${label.padEnd(44)} median ${med.toFixed(4)} s  ${gflops.toFixed(3).padStart(8)} GFLOP/s` +
        `  (warm-up ${warm.toFixed(3)} s, min ${Math.min(...times).toFixed(4)} s, ` +
        `${(p.flops / 1e6).toFixed(1)} MFLOP${leaked ? `, LEAK ${leaked} tensors` : ""}` +
        `${extra ? ", " + extra(p) : ""})`,
    );
  } finally {
    p.dispose();
    const left = tfNumTensors() - before;
    if (left) console.log(`  WARNING: ${left} tensors left after dispose()`);
  }
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const init = await initTfjsWebgpu();
  if (!init.ok) {
    console.log(`TF.js peer unavailable: ${init.reason}`);
    return 0;
  }
  console.log(
    `TF.js webgpu ready in ${((performance.now() - t0) / 1000).toFixed(2)} s; adapter: ` +
      `${init.adapter ?? "unknown"}; ${reps} timed reps after 1 warm-up`,
  );
  const opts = { timeoutMs: RUN_TIMEOUT_MS };
  const read = { ...opts, sync: "read" as TfSync };
  await bench("matmul 256 (sync=queue)", () => tfMatmul(256, opts));
  await bench("matmul 1024 (sync=queue)", () => tfMatmul(1024, opts));
  await bench("matmul 1024 (sync=read, +4 MiB readback)", () => tfMatmul(1024, read));
  await bench(
    "conv2d fwd [8,16,32,32]x[32,16,3,3]",
    () => tfConv2dFwd(undefined, undefined, 1, 1, opts),
  );
  await bench(
    "conv2d fwd+bwd [8,16,32,32]x[32,16,3,3]",
    () => tfConv2dFwdBwd([8, 16, 32, 32], [32, 16, 3, 3], 1, 1, opts),
  );
  await bench(
    "conv2d fwd+bwd (sync=read)",
    () => tfConv2dFwdBwd([8, 16, 32, 32], [32, 16, 3, 3], 1, 1, read),
  );
  await bench(
    "small CNN SGD step, batch 64",
    () => tfSmallCnnStep(64, opts),
    (p) => `loss ${(p as ReturnType<typeof tfSmallCnnStep>).lastLoss.toFixed(4)}`,
  );
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error("tfjs smoke failed:", e);
}
Deno.exit(code);
