/**
 * DHSPG training step vs a plain SGD step on the same model: the zoo's `resnet-small`
 * (Fashion-MNIST ResNet: stem + three BasicBlocks + fc) at batch 64, fixed random data:
 * `deno bench -A bench/dhspg.bench.ts`. Target: a DHSPG step at most 1.3x the SGD step.
 *
 * Both sides use SGD with momentum 0.9 as the base; DHSPG partitions on its first step
 * (startPruningStep 0) and runs its full pruning phase afterwards (adaptive lambda + half-space
 * projection every step; the target 0.5 is not reached within the timed steps). A timed round
 * is `STEPS` training steps (forward, backward, update) without readback, then one `sync()`;
 * the two sides alternate round by round on the shared machine and the summary compares
 * medians. The optimizer step alone (gradients kept, `STEPS` updates, one sync) is timed too.
 *
 * Environment: DHSPG_BENCH_ROUNDS (timed rounds per side, default 5), DHSPG_BENCH_STEPS
 * (steps per round, default 3), DHSPG_BENCH_BATCH (default 64).
 */
import {
  backward,
  crossEntropyLoss,
  DHSPG,
  type Module,
  randn,
  SGD,
  sync,
  tensor,
  tidy,
} from "../mod.ts";
import { trace } from "../src/graph/trace.ts";
import { partition } from "../src/zig/partition.ts";
import { resnetSmall } from "../src/zoo/index.ts";
import { alternate, engineAdapter, envInt, ms, stats } from "./util.ts";

const ROUNDS = envInt("DHSPG_BENCH_ROUNDS", 5);
const STEPS = envInt("DHSPG_BENCH_STEPS", 3);
const BATCH = envInt("DHSPG_BENCH_BATCH", 64);

const { adapter, webgpu } = await engineAdapter();
console.log(`oto adapter: ${adapter}`);
/** Wait for the GPU (the cpu backend finishes synchronously). */
const settle = webgpu ? sync : () => Promise.resolve();

type Opt = { step(): void; zeroGrad(): void; dispose(): void };

function setup(kind: "sgd" | "dhspg") {
  const model: Module = resnetSmall({ seed: 0 });
  const opt: Opt = kind === "sgd"
    ? new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 })
    : new DHSPG(model.namedParameters(), partition(trace(model, [1, 1, 28, 28])), {
      variant: "sgd",
      lr: 0.01,
      firstMomentum: 0.9,
      targetGroupSparsity: 0.5,
      startPruningStep: 0,
    });
  const x = randn([BATCH, 1, 28, 28], { seed: 42 }).keep();
  const y = tensor(Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % 10), [BATCH], {
    dtype: "i32",
  }).keep();
  const forwardBackward = () =>
    tidy(() => {
      backward(crossEntropyLoss(model.call(x), y));
    });
  return {
    opt,
    /** STEPS full training steps, then one sync. */
    async train() {
      for (let i = 0; i < STEPS; i++) {
        forwardBackward();
        opt.step();
        opt.zeroGrad();
      }
      await settle();
    },
    /** STEPS optimizer steps on kept gradients, then one sync. */
    async update() {
      for (let i = 0; i < STEPS; i++) opt.step();
      await settle();
    },
    forwardBackward,
    dispose() {
      opt.zeroGrad();
      opt.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    },
  };
}

const sgd = setup("sgd");
const dhspg = setup("dhspg");
const t = await alternate([
  { name: "sgd", run: () => sgd.train() },
  { name: "dhspg", run: () => dhspg.train() },
], ROUNDS);
const per = (name: string) => stats(t.get(name)!.map((s) => s / STEPS));
const a = per("sgd"), b = per("dhspg");
console.log(`\nresnet-small training step, batch ${BATCH} (${ROUNDS} rounds of ${STEPS} steps):`);
console.log(`  SGD (momentum 0.9)    median ${ms(a.median)}/step (min ${ms(a.min)})`);
console.log(`  DHSPG (sgd, pruning)  median ${ms(b.median)}/step (min ${ms(b.min)})`);
console.log(`  DHSPG / SGD = ${(b.median / a.median).toFixed(3)} (target <= 1.3)`);

sgd.forwardBackward();
dhspg.forwardBackward();
const u = await alternate([
  { name: "sgd", run: () => sgd.update() },
  { name: "dhspg", run: () => dhspg.update() },
], ROUNDS);
const ua = stats(u.get("sgd")!.map((s) => s / STEPS));
const ub = stats(u.get("dhspg")!.map((s) => s / STEPS));
console.log(`optimizer step alone (gradients kept):`);
console.log(`  SGD   median ${ms(ua.median)} (min ${ms(ua.min)})`);
console.log(`  DHSPG median ${ms(ub.median)} (min ${ms(ub.min)})`);
if (dhspg.opt instanceof DHSPG) {
  const s = await dhspg.opt.stats();
  console.log(
    `DHSPG state: step ${s.step}, ${s.totalGroups} groups, |G_p| ${s.numGp}, ` +
      `sparsity ${s.groupSparsity.toFixed(3)}, last-step lambdas ${s.lambda.count}`,
  );
}

Deno.bench({
  name: `SGD train step resnet-small (batch ${BATCH})`,
  group: "dhspg",
  baseline: true,
  n: ROUNDS,
  warmup: 1,
  fn: () => sgd.train(),
});
Deno.bench({
  name: `DHSPG train step resnet-small (batch ${BATCH})`,
  group: "dhspg",
  n: ROUNDS,
  warmup: 1,
  fn: () => dhspg.train(),
});
globalThis.addEventListener("unload", () => {
  sgd.dispose();
  dhspg.dispose();
});
