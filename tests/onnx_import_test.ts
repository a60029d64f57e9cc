/**
 * ONNX import against an independent runtime: torchvision exports (tests/fixtures/onnx, made by
 * tools/onnx_fixtures.py from Debian's PyTorch with random weights and randomized BatchNorm
 * statistics) are imported, run on the cpu backend and compared with onnxruntime-node at batch
 * 1 and 3; their prunable group counts are pinned; a seeded half of every prunable ZIG is zeroed,
 * the model compressed, and the compact model compared with the full one and, exported to ONNX,
 * with onnxruntime.
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import * as o from "../mod.ts";
import { importOnnx, type OnnxModule } from "../src/onnx/import.ts";
import { BasicBlock, mobilenetV2, ResNet } from "../src/zoo/index.ts";

const DIR = new URL("./fixtures/onnx/", import.meta.url).pathname;
const TOL = 1e-4;
/**
 * onnxruntime's graph optimizations are off: its Pad + AveragePool fusion (1.20.1) drops the
 * padded zeros of count_include_pad=0 pools (torchvision Inception v3 differs from PyTorch).
 */
const UNOPTIMIZED = { graphOptimizationLevel: "disabled" } as const;

interface Fixture {
  input: number[] | number[][];
  opset: number;
  mode: "preserve" | "training" | "eval";
  dynamicBatch: boolean;
}
const MANIFEST: Record<string, Fixture> =
  JSON.parse(await Deno.readTextFile(`${DIR}manifest.json`)).fixtures;

/**
 * Prunable groups of each fixture (the widths are tools/onnx_fixtures.py's). Derivations:
 *
 * resnet18 (torchvision ResNet, BasicBlocks [2, 2, 2, 2], stem 64, stage widths 4/8/8/16):
 *   stem conv1+bn1 (read by layer1.0.conv1 and layer1.0's projection)  64
 *   each block's conv1 output (bn1, relu, read by conv2): 4+4+8+8+8+8+16+16  72
 *   each stage's residual stream (block 0's bn2 + projection bn, block 1's bn2, the adds;
 *   the last one read through avgpool/flatten by fc): 4+8+8+16  36
 *   total 64 + 72 + 36 = 172 (input and fc output are fixed).
 * resnet18-folded / resnet18-train / resnet-fmnist (blocks [1, 1, 1, 1], widths 8/8/16/16):
 *   64 + 48 + 48 = 160.
 * resnet-bottleneck (Bottlenecks [1, 1, 1, 1], planes 4/8/8/8, expansion 4): stem 64; per
 *   block conv1 and conv2 outputs 2·(4+8+8+8) = 56; streams 16+32+32+32 = 112: 232.
 * mobilenet-v2 (width 0.5, settings t/c/n/s 1/16/1/1, 6/24/2/2, 6/32/2/2, 6/48/1/1, last conv
 *   64; channels rounded to multiples of 8: 16, 8, 16, 16, 24):
 *   stem conv 16 (with the first block's depthwise conv, which keeps its space)  16
 *   first block's projection 16->8 (read by the next expansion)  8
 *   expansion hidden widths (pw, dw, read by the projection): 48 + 96 + 96 + 96 + 96  432
 *   residual streams 16 (blocks 2, 3) and 16 (blocks 4, 5)  32
 *   last block's projection 24 (read by the last conv)  24
 *   last conv 64 (ReLU6, pool, flatten, classifier)  64
 *   total 16 + 8 + 432 + 32 + 24 + 64 = 576.
 * squeezenet (SqueezeNet 1.1 layout, Fire(16,4,8,8) x2, Fire(16/24,8,12,12) x2, final conv 10
 *   into the output): stem 16; squeeze 4+4+8+8 = 24; each Fire's concat (expand1x1 | expand3x3)
 *   is read by the next squeeze or the final conv: 16+16+24+24 = 80; total 120.
 * mobilenet-v3-small (width 0.25, the first 5 blocks, last channel 64):
 *   stem 8 (with block 1's depthwise conv; its SE gate's fc2 rows go along), block 1's SE
 *   hidden 8, its projection 8 (read by block 2), expansions 24 + 24 (blocks 2, 3), the stream
 *   of blocks 2-3 (projection + residual) 8, block 4's expansion 24 (hard swish, SE: hidden 8),
 *   the stream of blocks 4-5 16, block 5's expansion 64 (SE hidden 16), last conv 96 (read by
 *   the classifier's Linear 96->64) and that Linear's 64:
 *   8+8+8+24+24+8+24+8+16+64+16+96+64 = 368.
 * efficientnet-b0 (width and depth 0.25, 4 stages of one MBConv, last conv 64): stem 8 joined
 *   with stage 1's depthwise conv and projection by the residual add (SE gated), SE hiddens
 *   2+2+2+4, expansions 48+48+96, projections 8+16+24 (read by the next expansion / last
 *   conv), last conv 64: 8+10+192+48+64 = 322.
 * regnet-y (widths 8/16/32/32, group width 4, SE 0.25): stem 32; grouped convs prune whole
 *   groups of 4: 8/4 + 16/4 + 32/4 + 32/4 = 22; SE hiddens 8+2+4+8 = 22; stage streams
 *   (projection + each block's last conv) 8+16+32 = 56: 32+22+22+56 = 132.
 * densenet (growth 8, blocks (2, 2), 16 initial features, bottleneck 16): stem 16, each dense
 *   layer's bottleneck 16 and new 8 channels: 4·24 = 96, the transition 16: 128.
 * shufflenet-v2 (stages [2, 2, 2], widths 8/16/32/64, conv5 64): conv1 8 (read by stage 2's
 *   first unit); per stage of branch width b: each unit's branch2 hidden conv b + b, the first
 *   unit's two branch outputs (tied pairwise by the shuffle) b, of which the first half also
 *   absorbs the second unit's branch output in pairs through the next shuffle: b groups;
 *   stages b = 8, 16, 32: 3b each = 24 + 48 + 96; conv5 64: 8 + 168 + 64 = 240.
 * convnext (dims 16, 32, one block each): each stage's stream (stem or downsample conv, its
 *   LayerNorm2d, the block's depthwise conv, channels-last LayerNorm, second Linear and layer
 *   scale) 16 + 32, each block's hidden 4·dim 64 + 128: 240.
 * layers-mix: c1 8 under GroupNorm(2) (blocks of 4, then PReLU) 2; c2 16 (BN, LeakyReLU; read
 *   by the transposed conv and, sliced in halves b[:, :8] and b[:, 8:], through the upsamplings
 *   and the concat by c5) 16; the transposed conv 8 (InstanceNorm, GELU, read by c3) 8; c3 16
 *   through PixelShuffle(2) (blocks of 4) 4; c4 8 (SiLU, concat, read by c5) 8; c5 12 (Mish,
 *   HardSwish, mean over H and W, read by fc) 12; total 50.
 */
const GROUPS: Record<string, number> = {
  "resnet18": 172,
  "resnet18-folded": 160,
  "resnet18-train": 160,
  "resnet-fmnist": 160,
  "resnet-bottleneck": 232,
  "mobilenet-v2": 576,
  "squeezenet": 120,
  "mobilenet-v3-small": 368,
  "mobilenet-v3-small-op17": 368,
  "efficientnet-b0": 322,
  "regnet-y": 132,
  "densenet": 128,
  "shufflenet-v2": 240,
  "mnasnet": 1280,
  "googlenet": 202,
  "layers-mix": 50,
  "convnext": 240,
  "convnext-op17": 240,
};

/**
 * The oto ops each fixture imports as (the traced graph's op counts): exporter idioms come back
 * as one op each (convnext: LayerNorm, GELU and linear layers; efficientnet: SiLU; mobilenet-v3:
 * HardSwish; layers-mix: GroupNorm, Mish, ...), never as the
 * arithmetic they were written with.
 */
const OPS: Record<string, Record<string, number>> = {
  "convnext-op17": {
    conv2d: 4,
    permute: 10,
    layerNorm: 5,
    linear: 5,
    gelu: 2,
    mul: 2,
    add: 2,
    adaptiveAvgPool2d: 1,
    reshape: 1,
  },
  "convnext": {
    conv2d: 4,
    permute: 10,
    layerNorm: 5,
    linear: 5,
    gelu: 2,
    mul: 2,
    add: 2,
    adaptiveAvgPool2d: 1,
    reshape: 1,
  },
  "densenet": {
    conv2d: 10,
    batchNorm: 11,
    relu: 11,
    maxPool2d: 1,
    concat: 4,
    avgPool2d: 1,
    adaptiveAvgPool2d: 1,
    reshape: 1,
    linear: 1,
  },
  "efficientnet-b0": {
    conv2d: 21,
    batchNorm: 13,
    silu: 13,
    adaptiveAvgPool2d: 5,
    sigmoid: 4,
    mul: 4,
    add: 1,
    reshape: 1,
    linear: 1,
  },
  "googlenet": {
    conv2d: 21,
    batchNorm: 21,
    relu: 21,
    maxPool2d: 6,
    concat: 3,
    adaptiveAvgPool2d: 1,
    reshape: 1,
    linear: 1,
  },
  "layers-mix": {
    conv2d: 5,
    reshape: 3,
    groupNorm: 1,
    prelu: 1,
    batchNorm: 1,
    leakyRelu: 1,
    convTranspose2d: 1,
    instanceNorm: 1,
    gelu: 1,
    pixelShuffle: 1,
    silu: 1,
    slice: 2,
    upsample: 2,
    concat: 1,
    mish: 1,
    hardSwish: 1,
    mean: 1,
    linear: 1,
    softmax: 1,
  },
  "mnasnet": { conv2d: 52, batchNorm: 52, relu: 35, add: 10, mean: 1, linear: 1 },
  "mobilenet-v2": {
    conv2d: 19,
    batchNorm: 19,
    clamp: 13,
    add: 2,
    adaptiveAvgPool2d: 1,
    reshape: 1,
    linear: 1,
  },
  "mobilenet-v3-small-op17": {
    conv2d: 22,
    batchNorm: 16,
    hardSwish: 7,
    relu: 8,
    adaptiveAvgPool2d: 4,
    hardSigmoid: 3,
    mul: 3,
    add: 2,
    reshape: 1,
    linear: 2,
  },
  "mobilenet-v3-small": {
    conv2d: 22,
    batchNorm: 16,
    hardSwish: 7,
    relu: 8,
    adaptiveAvgPool2d: 4,
    hardSigmoid: 3,
    mul: 3,
    add: 2,
    reshape: 1,
    linear: 2,
  },
  "regnet-y": {
    conv2d: 24,
    batchNorm: 16,
    relu: 17,
    adaptiveAvgPool2d: 5,
    sigmoid: 4,
    mul: 4,
    add: 4,
    reshape: 1,
    linear: 1,
  },
  "resnet-bottleneck": {
    conv2d: 17,
    batchNorm: 17,
    relu: 13,
    maxPool2d: 1,
    add: 4,
    adaptiveAvgPool2d: 1,
    reshape: 1,
    linear: 1,
  },
  "resnet-fmnist": {
    conv2d: 13,
    batchNorm: 13,
    relu: 9,
    maxPool2d: 1,
    add: 4,
    adaptiveAvgPool2d: 1,
    reshape: 1,
    linear: 1,
  },
  "resnet18-folded": {
    conv2d: 13,
    relu: 9,
    maxPool2d: 1,
    add: 4,
    adaptiveAvgPool2d: 1,
    reshape: 1,
    linear: 1,
  },
  "resnet18-train": {
    conv2d: 13,
    batchNorm: 13,
    relu: 9,
    maxPool2d: 1,
    add: 4,
    adaptiveAvgPool2d: 1,
    reshape: 1,
    linear: 1,
  },
  "resnet18": {
    conv2d: 21,
    batchNorm: 21,
    relu: 17,
    maxPool2d: 1,
    add: 8,
    adaptiveAvgPool2d: 1,
    reshape: 1,
    linear: 1,
  },
  "shufflenet-v2": {
    conv2d: 26,
    batchNorm: 26,
    relu: 17,
    maxPool2d: 1,
    concat: 6,
    reshape: 12,
    permute: 6,
    slice: 6,
    mean: 1,
    linear: 1,
  },

  "squeezenet": { conv2d: 14, relu: 14, maxPool2d: 2, concat: 4, adaptiveAvgPool2d: 1, reshape: 1 },
};

async function ortRun(path: string, x: o.Tensor): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path, UNOPTIMIZED);
  const feeds = {
    [s.inputNames[0]]: new ort.Tensor("float32", (await x.data()) as Float32Array, [...x.shape]),
  };
  return (await s.run(feeds))[s.outputNames[0]].data as Float32Array;
}

/** onnxruntime's output; a file with a fixed batch runs one sample at a time. */
async function reference(path: string, x: o.Tensor, fixedBatch: number | null) {
  if (fixedBatch === null || x.shape[0] === fixedBatch) return ortRun(path, x);
  const parts: number[] = [];
  for (let i = 0; i < x.shape[0]; i++) {
    const xi = o.slice(x, [i], [i + 1]);
    parts.push(...await ortRun(path, xi));
    xi.dispose();
  }
  return Float32Array.from(parts);
}

/** max |a - b| relative to max |b|. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "output lengths");
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]) || (a[i] === b[i] ? 0 : Infinity));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-12);
}

async function output(model: o.Module, x: o.Tensor): Promise<Float32Array> {
  const y = o.tidy(() => model.call(x));
  const d = (await y.data()) as Float32Array;
  y.dispose();
  return d;
}

/** Fixtures with one input (the loop below); two-heads has two and its own test. */
const SINGLE = Object.entries(MANIFEST).filter(([, fx]) => typeof fx.input[0] === "number") as [
  string,
  Fixture & { input: number[] },
][];

for (const [name, fx] of SINGLE) {
  Deno.test(`importOnnx ${name}: outputs equal onnxruntime, pinned groups, compression keeps them`, async () => {
    o.setDefaultBackend("cpu");
    const path = `${DIR}${name}.onnx`;
    const model = await importOnnx(path);
    assert.deepEqual(model.inputShape, [1, ...fx.input]);
    const fixed = fx.dynamicBatch ? null : 1;
    // A file with BatchNormalization training_mode=1 runs in training mode in onnxruntime:
    // compare oto's train mode with it, and eval mode with the same weights in inference form.
    const evalPath = fx.mode === "training" ? `${DIR}${name}.eval.onnx` : path;
    const xs = [1, 3].map((b, i) => o.randn([b, ...fx.input], { seed: 10 + i }));
    try {
      for (const x of xs) {
        model.eval();
        const d = relDiff(await output(model, x), await reference(evalPath, x, fixed));
        assert.ok(d <= TOL, `${name} batch ${x.shape[0]}: rel diff ${d.toExponential(2)}`);
      }
      if (fx.mode === "training") {
        const x = xs[1];
        model.train();
        const got = await output(model, x);
        model.eval();
        const d = relDiff(got, await reference(path, x, fixed));
        assert.ok(d <= TOL, `${name} train mode: rel diff ${d.toExponential(2)}`);
      }

      const ops: Record<string, number> = {};
      for (const n of o.trace(model, model.inputShape).nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
      assert.deepEqual(ops, OPS[name], `${name}: imported ops`);

      const oto = await o.OTO.create(model, model.inputShape);
      assert.equal(oto.zigs.counts.prunableGroups, GROUPS[name], `${name}: prunable groups`);

      // Zero a seeded half of every prunable ZIG; the compact model computes the same.
      await o.zeroRandomGroups(model.stateDict(), oto.partition, { seed: 3, fraction: 0.5 });
      const { model: small, report } = await oto.compress();
      if (GROUPS[name] > 0) assert.ok(report.paramsAfter < report.paramsBefore, `${name}: smaller`);
      const dir = await Deno.makeTempDir({ prefix: "oto_import_" });
      try {
        for (const x of xs) {
          model.eval();
          const full = await output(model, x);
          const compact = await output(small, x);
          const d = relDiff(compact, full);
          assert.ok(d <= TOL, `${name} compressed, batch ${x.shape[0]}: ${d.toExponential(2)}`);
          const file = `${dir}/compressed.onnx`;
          await o.exportOnnx(small, file, x.shape);
          const e = relDiff(await ortRun(file, x), compact);
          assert.ok(
            e <= TOL,
            `${name} compressed ONNX, batch ${x.shape[0]}: ${e.toExponential(2)}`,
          );
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
        small.dispose();
      }
    } finally {
      for (const x of xs) x.dispose();
      model.dispose();
    }
  });
}

Deno.test("importOnnx: parameter names and roles follow the file and the graph", async () => {
  o.setDefaultBackend("cpu");
  const model: OnnxModule = await importOnnx(`${DIR}resnet18.onnx`);
  const params = new Map(model.namedParameters());
  const buffers = new Map(model.namedBuffers());
  // Conv weights and BN scale/shift are trained; running statistics are buffers.
  for (
    const n of [
      "conv1.weight",
      "bn1.weight",
      "bn1.bias",
      "layer1.0.conv1.weight",
      "fc.weight",
      "fc.bias",
    ]
  ) {
    assert.ok(params.has(n), `${n} is a parameter`);
  }
  for (const n of ["bn1.running_mean", "bn1.running_var", "layer4.1.bn2.running_var"]) {
    assert.ok(buffers.has(n), `${n} is a buffer`);
    assert.ok(!params.has(n), `${n} is not trained`);
  }
  assert.deepEqual([...params.get("conv1.weight")!.shape], [64, 3, 7, 7]);
  assert.equal(model.inputName, "input");
  assert.equal(model.outputName, "logits");
  model.dispose();

  // ShuffleNet's shape arithmetic (Shape/Gather/Div/Concat into Reshape and Slice) stays on the
  // host: only parameters and buffers are registered, and the traced graph has no int ops.
  const shuffle = await importOnnx(`${DIR}shufflenet-v2.onnx`);
  for (const [n, t] of shuffle.stateDict()) {
    assert.ok(/weight|bias|running/.test(n), `${n} [${t.shape}] is a parameter or buffer`);
  }
  const g = o.trace(shuffle, [2, 3, 32, 32]);
  assert.ok(g.nodes.every((n) => g.tensors[n.outputs[0]].dtype === "f32"), "only float ops");
  // The channel shuffle stays Reshape/Transpose/Reshape (the partition follows it exactly).
  assert.equal(g.nodes.filter((n) => n.op === "permute").length, 6);
  assert.deepEqual(g.tensors[g.outputs[0]].shape, [2, 10], "the batch follows the input");
  shuffle.dispose();

  // A model whose BatchNorm was folded into its convs: conv biases, no buffers.
  const folded = await importOnnx(`${DIR}resnet18-folded.onnx`);
  assert.equal(folded.namedBuffers().length, 0);
  assert.ok(folded.namedParameters().some(([n]) => n.startsWith("onnx::Conv")));
  folded.dispose();
});

Deno.test("importOnnx: torchvision exports partition as the same architecture in oto's layers", async () => {
  o.setDefaultBackend("cpu");
  const twins: [string, o.Module][] = [
    [
      "resnet18",
      new ResNet(BasicBlock, [2, 2, 2, 2], {
        stem: "imagenet",
        width: 64,
        planes: [4, 8, 8, 16],
        numClasses: 10,
      }),
    ],
    [
      "mobilenet-v2",
      mobilenetV2({
        widthMult: 0.5,
        settings: [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 48, 1, 1]],
        lastChannel: 64,
        numClasses: 10,
      }),
    ],
  ];
  for (const [name, twin] of twins) {
    const model = await importOnnx(`${DIR}${name}.onnx`);
    const shape = model.inputShape;
    const counts = (m: o.Module) => o.partitionCounts(o.partition(o.trace(m, shape)));
    assert.deepEqual(counts(model), counts(twin), `${name}: ZIGs of the import and the twin`);
    assert.equal(model.numParameters(), twin.numParameters(), `${name}: parameters`);
    // The same names, so the file's weights load into the twin; then both compute the same in
    // eval mode (running statistics) and in train mode (batch statistics).
    const names = new Set(twin.namedParameters().map(([n]) => n));
    for (const [n] of model.namedParameters()) assert.ok(names.has(n), `${name}: ${n}`);
    const state = twin.stateDict();
    for (const [n, t] of model.stateDict()) {
      o.writeInto(state.get(n)!, (await t.data()) as Float32Array, n);
    }
    const x = o.randn([3, ...shape.slice(1)], { seed: 5 });
    // An eval-mode export has no Dropout (PyTorch leaves it out): nor does the twin here.
    for (const [, m] of twin.namedModules()) if (m instanceof o.Dropout) m.p = 0;
    for (const train of [false, true]) {
      model.train(train), twin.train(train);
      const a = await output(model, x), b = await output(twin, x);
      const d = relDiff(a, b);
      assert.ok(
        d <= TOL,
        `${name} ${train ? "train" : "eval"} mode vs twin: ${d.toExponential(2)}`,
      );
    }
    x.dispose();
    model.dispose();
    twin.dispose();
  }
});

Deno.test("importOnnx: two inputs and two outputs (names, onnxruntime, groups, compression)", async () => {
  o.setDefaultBackend("cpu");
  const path = `${DIR}two-heads.onnx`;
  const model = await importOnnx<Record<string, o.Tensor>>(path);
  assert.deepEqual(model.inputNames, ["image", "meta"]);
  assert.deepEqual(model.outputNames, ["logits", "mask"]);
  assert.deepEqual(model.inputShapes, [[1, 3, 16, 16], [1, 5]]);
  const session = await ort.InferenceSession.create(path, UNOPTIMIZED);
  const run = async (m: o.AnyModule, image: o.Tensor, meta: o.Tensor) => {
    m.eval();
    const y = o.tidy(() => m.call(image, meta)) as Record<string, o.Tensor>;
    return { logits: await y.logits.data(), mask: await y.mask.data() };
  };
  const onnx = async (file: string, image: o.Tensor, meta: o.Tensor) => {
    const s = file === path ? session : await ort.InferenceSession.create(file, UNOPTIMIZED);
    const t = async (x: o.Tensor) =>
      new ort.Tensor("float32", (await x.data()) as Float32Array, [...x.shape]);
    const r = await s.run({ image: await t(image), meta: await t(meta) });
    return { logits: r.logits.data as Float32Array, mask: r.mask.data as Float32Array };
  };
  // Derivation: conv1 8 (BN, ReLU, read by conv2); conv2 16 (BN, ReLU), through the spatial
  // mean and the add with relu(meta Linear 5->16), read by the class Linear and the 1x1 mask
  // conv: 16 (the meta Linear's rows join it); the inputs and outputs are fixed: 24.
  const oto = await o.OTO.create(model, model.sampleInput);
  assert.equal(oto.zigs.counts.prunableGroups, 24);
  const xs = [1, 3].map((
    b,
  ) => [o.randn([b, 3, 16, 16], { seed: b }), o.randn([b, 5], { seed: 9 + b })]);
  for (const [image, meta] of xs) {
    const [a, b] = [await run(model, image, meta), await onnx(path, image, meta)];
    for (const k of ["logits", "mask"] as const) {
      const d = relDiff(a[k], b[k]);
      assert.ok(d <= TOL, `${k} batch ${image.shape[0]}: rel diff ${d.toExponential(2)}`);
    }
  }
  await o.zeroRandomGroups(model.stateDict(), oto.partition, { seed: 1, fraction: 0.5 });
  const { model: small, report } = await oto.compress();
  assert.ok(report.paramsAfter < report.paramsBefore);
  const dir = await Deno.makeTempDir({ prefix: "oto_import_" });
  try {
    for (const [image, meta] of xs) {
      const [full, compact] = [await run(model, image, meta), await run(small, image, meta)];
      const file = `${dir}/small.onnx`;
      await o.exportOnnx(small, file, [image.shape, meta.shape]);
      const back = await onnx(file, image, meta); // the source's input and output names
      for (const k of ["logits", "mask"] as const) {
        assert.ok(relDiff(compact[k], full[k]) <= TOL, `${k}: compressed vs full`);
        assert.ok(relDiff(back[k], compact[k]) <= TOL, `${k}: compressed ONNX vs oto`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    small.dispose();
    model.dispose();
  }
});
