/**
 * Prune your own model with OTO: define a Module, train it once with DHSPG, compress it, check
 * the compact model gives the same outputs, and save it.
 *
 * ```sh
 * deno run -A examples/prune_your_model.ts            # ~1 minute on a laptop CPU (llvmpipe)
 * deno run -A examples/prune_your_model.ts --steps 300 --target 0.6 --out out/mine
 * ```
 *
 * The model below is an ordinary oto Module: a conv stem, a residual block and a concat of two
 * branches, then global pooling and a linear classifier. Nothing in it is OTO-specific: `OTO`
 * traces it, finds its Zero-Invariant Groups (channels that can be removed together), and
 * `oto.dhspg()` trains it so that a target fraction of those groups becomes exactly zero.
 * @module
 */
import { flags, numberFlag, runMain } from "./cli.ts";
import {
  AdaptiveAvgPool2d,
  add,
  backward,
  BatchNorm2d,
  concat,
  Conv2d,
  crossEntropyLoss,
  DataLoader,
  exportOnnx,
  flatten,
  fromHost,
  init,
  Linear,
  manualSeed,
  Module,
  noGrad,
  OTO,
  relu,
  saveWeights,
  type Tensor,
  tidy,
} from "../mod.ts";
import { makeSynthetic } from "../src/data/synthetic.ts";

/** conv-BN-ReLU. */
class ConvBnRelu extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, stride = 1) {
    super();
    this.conv = this.module("conv", new Conv2d(cin, cout, 3, { padding: 1, stride, bias: false }));
    this.bn = this.module("bn", new BatchNorm2d(cout));
  }
  forward(x: Tensor): Tensor {
    return relu(this.bn.call(this.conv.call(x)));
  }
}

/** Your model: stem, residual block, two concatenated branches, classifier. */
export class MyNet extends Module {
  readonly stem = this.module("stem", new ConvBnRelu(1, 16, 2));
  readonly block1 = this.module("block1", new ConvBnRelu(16, 16));
  readonly block2 = this.module("block2", new ConvBnRelu(16, 16));
  readonly left = this.module("left", new ConvBnRelu(16, 24, 2));
  readonly right = this.module("right", new ConvBnRelu(16, 8, 2));
  readonly pool = this.module("pool", new AdaptiveAvgPool2d(1));
  readonly fc = this.module("fc", new Linear(32, 10));
  forward(x: Tensor): Tensor {
    const h = this.stem.call(x);
    const r = relu(add(h, this.block2.call(this.block1.call(h))));
    const c = concat([this.left.call(r), this.right.call(r)], 1);
    return this.fc.call(flatten(this.pool.call(c), 1));
  }
}

async function main(): Promise<void> {
  const a = flags(Deno.args, {
    steps: { type: "string", default: "120" },
    target: { type: "string", default: "0.5" },
    out: { type: "string", default: "out/prune_your_model" },
  });
  const steps = numberFlag(
    "steps",
    a.steps,
    "a positive integer",
    (x) => Number.isInteger(x) && x > 0,
  );
  const target = numberFlag("target", a.target, "a number in [0, 1)", (x) => x >= 0 && x < 1);
  const { backend } = await init();
  console.log(`backend ${backend}`);

  manualSeed(0);
  const model = new MyNet();
  // 1. Trace and partition.
  const oto = await OTO.create(model, [1, 1, 28, 28], { name: "MyNet" });
  console.log(oto.zigs.report);

  // 2. Train with DHSPG: plain SGD for 30 steps, then prune toward the target.
  const opt = oto.dhspg({
    variant: "sgd",
    lr: 0.05,
    firstMomentum: 0.9,
    lambda: 1,
    epsilon: 0.95,
    targetGroupSparsity: target,
    startPruningStep: 30,
  });
  const data = makeSynthetic({ n: 2048, seed: 1 });
  const loader = new DataLoader(data, { batchSize: 32, shuffle: true, seed: 0 });
  let step = 0;
  while (step < steps) {
    for await (const { x, y } of loader) {
      if (step++ >= steps) break;
      const loss = tidy(() => {
        const l = crossEntropyLoss(model.call(x), y);
        backward(l);
        return l;
      }).keep();
      opt.step();
      opt.zeroGrad();
      if (step % 20 === 0) {
        const s = await opt.stats();
        console.log(
          `step ${step}: loss ${(await loss.item()).toFixed(3)}, ` +
            `group sparsity ${s.groupSparsity.toFixed(2)} (${s.zeroGroups}/${s.totalGroups})`,
        );
      }
      loss.dispose();
    }
  }

  // 3. Compress: the zero groups disappear.
  const { model: small, report } = await oto.compress();
  console.log(
    `params ${report.paramsBefore} -> ${report.paramsAfter}, ` +
      `MACs ${report.macsBefore} -> ${report.macsAfter}`,
  );
  for (const z of report.zigs.filter((q) => q.prunable)) {
    console.log(`  ZIG #${z.id}: kept ${z.kept} of ${z.size} channels`);
  }

  // 4. Same outputs.
  model.eval();
  const batch = loader.hostBatch(0, 0);
  const x = fromHost(batch.x, [batch.n, 1, 28, 28], "f32", backend);
  const [full, compact] = await Promise.all([
    noGrad(() => tidy(() => model.call(x))).data(),
    noGrad(() => tidy(() => small.call(x))).data(),
  ]);
  let diff = 0;
  for (let i = 0; i < full.length; i++) diff = Math.max(diff, Math.abs(full[i] - compact[i]));
  console.log(`max |full - compressed| = ${diff.toExponential(2)}`);

  // 5. Save: safetensors weights and ONNX.
  await Deno.mkdir(a.out!, { recursive: true });
  await saveWeights(small, `${a.out}/compressed.safetensors`);
  await exportOnnx(small, `${a.out}/compressed.onnx`, [1, 1, 28, 28]);
  console.log(`wrote ${a.out}/compressed.safetensors and ${a.out}/compressed.onnx`);
}

if (import.meta.main) await runMain("prune_your_model", main);
