/**
 * Training-step throughput (images/s) of the small CNN at batch 64, ours and TF.js-WebGPU side
 * by side on the same adapter: `deno bench -A bench/train.bench.ts`.
 *
 * Both sides run the same network and step as `tfSmallCnnStep` (bench/peers/tfjs.ts): conv 3x3
 * 1→16 + bias + ReLU + maxpool 2, conv 3x3 16→32 + bias + ReLU + maxpool 2, linear 1568→10,
 * softmax cross entropy (batch mean), plain SGD lr 0.01, on fixed random data; every step
 * reads the scalar loss back (the peer's contract), which also waits for the weight updates.
 * The peer starts from our initial weights and data, and the losses of the first two steps
 * (the second one after an SGD update) are checked to agree before anything is timed.
 * We also time the example's model (with BatchNorm, SGD momentum) and steps that read nothing
 * back (synced every 10 steps), which is how `examples/train_mnist.ts` trains.
 *
 * The machine is shared and noisy, so the two sides alternate inside one process and the
 * summary compares medians. Environment: TRAIN_BENCH_ROUNDS (timed steps per side, default 5).
 * The peer is skipped cleanly (our numbers still print) when `initTfjsWebgpu()` fails.
 */
import {
  backward,
  crossEntropyLoss,
  init,
  type Module,
  randn,
  SGD,
  sync,
  type Tensor,
  tensor,
  tidy,
} from "../mod.ts";
import { SmallCnn } from "../examples/train_mnist.ts";
import { type CnnInit, initTfjsWebgpu, type TfCnnPeer, tfSmallCnnStep } from "./peers/tfjs.ts";
import { checkSame } from "./util.ts";

const BATCH = 64;
const ROUNDS = Math.max(1, Number(Deno.env.get("TRAIN_BENCH_ROUNDS") ?? 5) || 5);

const { backend, adapter } = await init({ quiet: true });
const peerInit = await initTfjsWebgpu();
console.log(`oto backend: ${backend} (${adapter})`);
console.log(
  peerInit.ok
    ? `TF.js peer: webgpu (${peerInit.adapter})`
    : `TF.js peer unavailable: ${peerInit.reason}`,
);

/** Our training step on fixed data; `run()` does one step (reading the loss back if asked). */
function ours(opts: { batchNorm: boolean; momentum: number }) {
  const model: Module = new SmallCnn({ batchNorm: opts.batchNorm });
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: opts.momentum });
  const x = randn([BATCH, 1, 28, 28], { seed: 42 }).keep();
  const y = tensor(Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % 10), [BATCH], {
    dtype: "i32",
  }).keep();
  let lastLoss = NaN;
  const step = (): Tensor => {
    const loss = tidy(() => {
      const l = crossEntropyLoss(model.call(x), y);
      backward(l);
      return l;
    });
    opt.step();
    opt.zeroGrad();
    return loss;
  };
  return {
    get lastLoss() {
      return lastLoss;
    },
    /** One step; awaits the loss (like the peer). */
    async run() {
      const l = step();
      lastLoss = await l.item();
      l.dispose();
    },
    /** `n` steps without reading back, then one sync. */
    async runMany(n: number) {
      for (let i = 0; i < n; i++) step().dispose();
      await sync();
    },
    /** The data and the current weights in the peer's {@link CnnInit} form. */
    async init(): Promise<CnnInit> {
      const [w1, b1, w2, b2, w3, b3] = await Promise.all(model.parameters().map((p) => p.data()));
      return { x: await x.data(), labels: await y.data(), w1, b1, w2, b2, w3, b3 };
    },
    dispose() {
      opt.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    },
  };
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

const fmt = (label: string, t: number[]) =>
  `${label.padEnd(44)} median ${(median(t) * 1000).toFixed(1).padStart(8)} ms/step ` +
  `${(BATCH / median(t)).toFixed(1).padStart(7)} images/s (min ${
    (Math.min(...t) * 1000).toFixed(1)
  } ms)`;

// ---------------------------------------------------------------------------------------------
// Side-by-side summary (alternating rounds).

const same = ours({ batchNorm: false, momentum: 0 });
const peer: TfCnnPeer | null = peerInit.ok
  ? tfSmallCnnStep(BATCH, { init: await same.init() })
  : null;
// Warm-up (shader compiles, first uploads), and the check that both take the same steps.
for (const step of [1, 2]) {
  await same.run();
  if (peer) {
    const [theirs] = await peer.outputs();
    console.log(checkSame(`train step ${step} loss`, [[same.lastLoss]], [theirs], 1e-4));
  }
}
const tOurs: number[] = [], tPeer: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  tOurs.push(await seconds(() => same.run()));
  if (peer) tPeer.push(await seconds(() => peer.run()));
}
console.log(`\nsmall CNN training step, batch ${BATCH}, loss read back every step:`);
console.log(fmt("oto  (conv+bias, SGD lr 0.01)", tOurs));
if (peer) {
  console.log(fmt("TF.js (same network and step)", tPeer));
  console.log(
    `oto is ${(median(tPeer) / median(tOurs)).toFixed(2)}x the TF.js throughput ` +
      `(losses: oto ${same.lastLoss.toFixed(4)}, TF.js ${peer.lastLoss.toFixed(4)})`,
  );
}
const tMany: number[] = [];
for (let r = 0; r < Math.max(1, ROUNDS >> 1); r++) {
  tMany.push((await seconds(() => same.runMany(10))) / 10);
}
console.log(fmt("oto  same step, no readback (10 steps, 1 sync)", tMany));
same.dispose();
const bn = ours({ batchNorm: true, momentum: 0.9 });
await bn.run();
await bn.run();
const tBn: number[] = [];
for (let r = 0; r < ROUNDS; r++) tBn.push(await seconds(() => bn.run()));
console.log(fmt("oto  example model (conv-BN, SGD momentum)", tBn));
bn.dispose();

// ---------------------------------------------------------------------------------------------
// deno bench table.

const benchOurs = ours({ batchNorm: false, momentum: 0 });
await benchOurs.run();
Deno.bench({
  name: `oto small CNN train step (batch ${BATCH})`,
  group: "train-step",
  baseline: true,
  n: ROUNDS,
  warmup: 1,
  fn: () => benchOurs.run(),
});
if (peer) {
  Deno.bench({
    name: `TF.js small CNN train step (batch ${BATCH})`,
    group: "train-step",
    n: ROUNDS,
    warmup: 1,
    fn: () => peer.run(),
  });
}
globalThis.addEventListener("unload", () => {
  benchOurs.dispose();
  peer?.dispose();
});
