/**
 * Model zoo: exact parameter counts of the full-size models against the published ones, output
 * shapes (shape-only forward with a meta input, so full-size models cost nothing to run),
 * real cpu forwards of scaled-down versions, multiply-adds of the Fashion-MNIST models checked
 * against hand arithmetic, and seeded reproducibility.
 */
import assert from "node:assert/strict";
import {
  type BackendName,
  getDefaultBackend,
  setDefaultBackend,
  type Tensor,
} from "../src/tensor.ts";
import { type OpSpec, setTracer } from "../src/ops/registry.ts";
import { uniform, upsample, zeros } from "../src/ops/index.ts";
import type { AnyModule, Module } from "../src/nn/module.ts";
import { flattenOutput } from "../src/graph/graph.ts";
import { type ModelOptions, zoo } from "../src/zoo/index.ts";

/** Build on `backend` (meta: shapes only, nothing allocated). */
function buildOn(backend: BackendName, name: string, opts: ModelOptions = {}): AnyModule {
  const prev = getDefaultBackend();
  setDefaultBackend(backend);
  try {
    return zoo[name].build(opts);
  } finally {
    setDefaultBackend(prev);
  }
}

const metaInput = (shape: readonly number[]): Tensor => zeros(shape, { backend: "meta" });

/** Shape-only forward; returns the (first) output shape and the multiply-adds the ops report. */
function traceMeta(
  model: AnyModule,
  shape: readonly number[] | number[][],
): { out: number[]; macs: number } {
  let macs = 0;
  const prev = setTracer({
    record(op: OpSpec<never>, ins, outs, attrs) {
      const c = op.cost?.({ ins, outs }, attrs as never);
      if (c) macs += c.macs;
    },
  });
  try {
    const shapes = typeof shape[0] === "number" ? [shape as number[]] : shape as number[][];
    const y = flattenOutput(model.call(...shapes.map(metaInput))).tensors[0];
    return { out: [...y.shape], macs };
  } finally {
    setTracer(prev);
  }
}

// Published parameter counts (trainable scalars) and output shapes at the published input size.
const FULL: [string, number, number[]][] = [
  ["vgg16", 15_245_130, [1, 10]],
  ["vgg16-bn", 15_253_578, [1, 10]],
  ["resnet18", 11_173_962, [1, 10]],
  ["resnet50", 25_557_032, [1, 1000]],
  ["densenet121", 7_048_548, [1, 100]],
  // torchvision convnext_tiny (28,589,128) without its 18 layer-scale vectors (6,624 scalars).
  ["convnext-tiny", 28_582_504, [1, 1000]],
  // torchvision mobilenet_v2 (width 1.0, 1000 classes).
  ["mobilenet-v2", 3_504_872, [1, 1000]],
  // CARN-pytorch single scale x2: entry 1,792 + 3 cascading blocks of 258,624 (3 residual blocks
  // of 2·36,928 + fusion convs 8,256 + 12,352 + 16,448) + global fusion 37,056 + upsampler
  // 3x3 64->256 147,712 + exit 1,731 = 964,163 (the mean shifts are constants).
  ["carn", 964_163, [1, 3, 64, 64]],
  // The same at width 16: entry 3·16·9 + 16 = 448; cascading block 3·2·(16·16·9 + 16) = 13,920
  // + fusion 528 + 784 + 1,040 = 16,272, three of them 48,816; global fusion 2,352; upsampler
  // 16·64·9 + 64 = 9,280; exit 16·3·9 + 3 = 435: 61,331.
  ["carn-small", 61_331, [1, 3, 64, 64]],
];

Deno.test("zoo carn-small: residual initialisation (He normal, scaled residual convs, zero exit)", () => {
  const m = buildOn("cpu", "carn-small", { seed: 3 });
  const std = (a: Float32Array) => {
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    return Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
  };
  let convs = 0;
  for (const [name, p] of m.namedParameters()) {
    const v = p.hostData() as Float32Array;
    if (name.endsWith(".bias") || name.startsWith("exit.")) {
      assert.ok(v.every((x) => x === 0), `${name} is zero`);
      continue;
    }
    // kaiming_normal_(mode="fan_in", nonlinearity="relu"): std sqrt(2 / fan_in); the second
    // conv of each residual block a tenth of that.
    const fanIn = p.shape[1] * p.shape[2] * p.shape[3];
    const want = (name.includes(".body.2.") ? 0.1 : 1) * Math.sqrt(2 / fanIn);
    const got = std(v);
    // 432 to 9,216 draws: the sample std is within 10% of the true one by a wide margin.
    assert.ok(Math.abs(got / want - 1) < 0.1, `${name}: std ${got}, want ${want}`);
    convs++;
  }
  assert.equal(convs, 1 + 3 * (3 * 2 + 3) + 3 + 1, "every conv but the exit is drawn");
  // Untrained, the network is the bilinear upscaling of its input, for any input.
  const x = uniform([2, 3, 7, 5], { backend: "cpu", seed: 9 });
  const up = upsample(x, { scaleFactor: 2, mode: "bilinear" });
  assert.deepEqual(Array.from(m.call(x).hostData()), Array.from(up.hostData()));
  // CARN itself keeps PyTorch's default layer initialisation (nonzero biases and exit).
  const ref = buildOn("cpu", "carn", { width: 4 });
  for (const name of ["entry.bias", "exit.weight", "exit.bias"]) {
    const p = ref.namedParameters().find(([n]) => n === name)![1];
    assert.ok((p.hostData() as Float32Array).some((v) => v !== 0), `carn ${name} is drawn`);
  }
  // Seeded: the same seed gives the same weights, another seed others.
  const again = buildOn("cpu", "carn-small", { seed: 3 }).namedParameters();
  const other = buildOn("cpu", "carn-small", { seed: 4 }).namedParameters();
  const entry = (ps: [string, Tensor][]) => Array.from(ps[0][1].hostData());
  assert.deepEqual(entry(again), entry(m.namedParameters()));
  assert.notDeepEqual(entry(other), entry(m.namedParameters()));
});

Deno.test("zoo carn x3 / x4: parameters counted by hand, output shapes", () => {
  // Without its upsampler CARN has 964,163 - 147,712 = 816,451 parameters. x3: one 3x3 conv
  // 64->576 (64·576·9 + 576 = 332,352); x4: two 64->256 convs (2·147,712 = 295,424). With the
  // x2 upsampler these make the paper's multi-scale 1,592K (816,451 + 775,488 = 1,591,939).
  for (const [scale, params] of [[3, 1_148_803], [4, 1_111_875]]) {
    const m = buildOn("meta", "carn", { scale });
    assert.equal(m.numParameters(), params, `carn x${scale}`);
    assert.deepEqual(traceMeta(m, [1, 3, 10, 12]).out, [1, 3, 10 * scale, 12 * scale]);
  }
  // The global residual adds no parameters; with a zero exit conv the output is exactly the
  // bilinearly upscaled input (the input mean shift cancels through the zero conv).
  const res = buildOn("cpu", "carn", { width: 4, scale: 3, globalResidual: true } as ModelOptions);
  assert.equal(
    res.numParameters(),
    buildOn("meta", "carn", { width: 4, scale: 3 }).numParameters(),
  );
  for (const [name, p] of res.namedParameters()) if (name.startsWith("exit.")) p.hostData().fill(0);
  const x = uniform([1, 3, 5, 4], { backend: "cpu", seed: 4 });
  const up = upsample(x, { scaleFactor: 3, mode: "bilinear" });
  assert.deepEqual(Array.from(res.call(x).hostData()), Array.from(up.hostData()));
  const small = buildOn("meta", "carn-small", { scale: 4 });
  assert.deepEqual(traceMeta(small, [1, 3, 8, 8]).out, [1, 3, 32, 32]);
  assert.throws(
    () => buildOn("meta", "carn", { scale: 5 }),
    /CARN: scale must be 2, 3 or 4, got 5/,
  );
});

for (const [name, params, out] of FULL) {
  Deno.test(`zoo ${name}: ${params.toLocaleString("en")} parameters, output [${out}]`, () => {
    const m = buildOn("meta", name);
    assert.equal(m.numParameters(), params, `${name} parameter count`);
    assert.deepEqual(traceMeta(m, zoo[name].inputShape).out, out, `${name} output shape`);
  });
}

Deno.test("zoo stacked-unets: parameters counted by hand, output [1, 2, 64, 64]", () => {
  // One U-Net with base width 16 (BN convs have no bias; BN has 2 parameters per channel):
  //   enc1 3->16:   3·16·9 + 32 + 16·16·9 + 32 = 2,800
  //   enc2 16->32:  16·32·9 + 64 + 32·32·9 + 64 = 13,952
  //   bottleneck 32->64: 32·64·9 + 128 + 64·64·9 + 128 = 55,552
  //   up2 ConvT 64->32 2x2 + bias: 64·32·4 + 32 = 8,224
  //   dec2 64->32:  64·32·9 + 64 + 32·32·9 + 64 = 27,776
  //   up1 ConvT 32->16: 32·16·4 + 16 = 2,064
  //   dec1 32->16:  32·16·9 + 32 + 16·16·9 + 32 = 6,976
  //   head 1x1 16->out + bias: 17·out
  // unet1 (3->3): 117,344 + 51 = 117,395; unet2 (3->2): 117,344 + 34 = 117,378.
  const m = buildOn("meta", "stacked-unets");
  assert.equal(m.numParameters(), 117_395 + 117_378);
  assert.deepEqual(traceMeta(m, zoo["stacked-unets"].inputShape).out, [1, 2, 64, 64]);
});

// Fashion-MNIST models: MACs per 28x28 image (convolutions and linear layers: output elements
// x input channels per group x kernel area; bias, BatchNorm, activations, pools not counted).
const SMALL: [string, number, number][] = [
  // small-cnn
  //   conv1 1->16 3x3 @28x28: 28·28·16 outputs x 1·9 = 112,896
  //   conv2 16->32 3x3 @14x14: 14·14·32 outputs x 16·9 = 903,168
  //   fc 32·7·7 = 1568 -> 10: 15,680                          total 1,031,744
  // params: 144 + BN 32 + 4,608 + BN 64 + 15,690 = 20,538
  ["small-cnn", 1_031_744, 20_538],
  // vgg-small: convs [16, 16, M, 32, 32, M] with bias and BN, classifier 1568 -> 64 -> 10
  //   1->16 @28: 28·28·16·9 = 112,896;  16->16 @28: 28·28·16·16·9 = 1,806,336
  //   16->32 @14: 14·14·32·16·9 = 903,168;  32->32 @14: 14·14·32·32·9 = 1,806,336
  //   fc 1568->64: 100,352;  fc 64->10: 640                     total 4,729,728
  // params: (144+16) + 32 + (2,304+16) + 32 + (4,608+32) + 64 + (9,216+32) + 64
  //         + (100,352+64) + (640+10) = 117,626
  ["vgg-small", 4_729_728, 117_626],
  // resnet-small: stem 1->16 @28 = 112,896, max-pool to 14x14
  //   layer1 16->16 @14: two 3x3: 2 · 14·14·16·16·9 = 903,168
  //   layer2 16->32 stride 2 @7: 7·7·32·16·9 = 225,792; 7·7·32·32·9 = 451,584;
  //     shortcut 1x1/2: 7·7·32·16 = 25,088
  //   layer3 32->64 stride 2 @4 (7 -> floor((7+2-3)/2)+1 = 4): 4·4·64·32·9 = 294,912;
  //     4·4·64·64·9 = 589,824; shortcut 1x1/2 (7 -> 4): 4·4·64·32 = 32,768
  //   fc 64->10: 640                                            total 2,636,672
  // params: 144 + 32 + (2·2,304 + 64) + (4,608 + 64 + 9,216 + 64 + 512 + 64)
  //         + (18,432 + 128 + 36,864 + 128 + 2,048 + 128) + 650 = 77,754
  ["resnet-small", 2_636_672, 77_754],
];

for (const [name, macs, params] of SMALL) {
  Deno.test(`zoo ${name}: ${macs.toLocaleString("en")} MACs per image (<= 5M)`, () => {
    const m = buildOn("meta", name);
    assert.equal(m.numParameters(), params, `${name} parameters`);
    const r = traceMeta(m, [1, 1, 28, 28]);
    assert.deepEqual(r.out, [1, 10]);
    assert.equal(r.macs, macs, `${name} MACs (from the ops' cost facets)`);
    assert.ok(macs <= 5_000_000);
    // The cost scales with the batch.
    assert.equal(traceMeta(m, [3, 1, 28, 28]).macs, 3 * macs);
  });
}

// Scaled-down versions run for real on the cpu backend (tiny widths, small inputs).
const SCALED: [string, ModelOptions & Record<string, unknown>, number[] | number[][], number[]][] =
  [
    ["vgg16", { width: 4 }, [2, 3, 32, 32], [2, 10]],
    ["vgg16-bn", { width: 4 }, [2, 3, 32, 32], [2, 10]],
    ["resnet18", { width: 4 }, [2, 3, 16, 16], [2, 10]],
    ["resnet50", { width: 2, numClasses: 7 }, [1, 3, 64, 64], [1, 7]],
    ["densenet121", { growth: 2, numClasses: 5 }, [1, 3, 16, 16], [1, 5]],
    ["convnext-tiny", { width: 4, numClasses: 6 }, [1, 3, 32, 32], [1, 6]],
    ["mobilenet-v2", { widthMult: 0.25, numClasses: 5 }, [2, 3, 32, 32], [2, 5]],
    ["carn", { width: 4 }, [1, 3, 6, 6], [1, 3, 12, 12]],
    ["stacked-unets", { width: 2 }, [1, 3, 16, 16], [1, 2, 16, 16]],
    ["small-cnn", { width: 4 }, [2, 1, 28, 28], [2, 10]],
    ["vgg-small", { width: 4 }, [2, 1, 28, 28], [2, 10]],
    ["resnet-small", { width: 4 }, [2, 1, 28, 28], [2, 10]],
    ["case-concat-bn", {}, [2, 3, 8, 8], [2, 10]],
    ["case-multi-io", {}, [[2, 3, 8, 8], [2, 5]], [2, 10]],
    ["case-weight-sharing", {}, [2, 3, 8, 8], [2, 10]],
    ["case-grouped-conv", {}, [2, 3, 8, 8], [2, 10]],
    ["case-conv-transpose", {}, [2, 3, 8, 8], [2, 3, 16, 16]],
    ["case-instance-norm", {}, [2, 3, 8, 8], [2, 3, 8, 8]],
    ["case-flatten-linear", {}, [2, 3, 8, 8], [2, 10]],
    ["case-bn-no-affine", {}, [2, 3, 8, 8], [2, 10]],
    ["case-crop", {}, [2, 3, 8, 8], [2, 10]],
    ["case-channel-split", {}, [2, 3, 8, 8], [2, 10]],
    ["case-mobile", {}, [2, 3, 8, 8], [2, 10]],
    ["case-reductions", {}, [2, 3, 8, 8], [2, 10]],
    ["case-squeeze-excite", {}, [2, 3, 8, 8], [2, 10]],
    ["case-cbam", {}, [2, 3, 8, 8], [2, 10]],
    ["case-channels-last", {}, [2, 3, 8, 8], [2, 10]],
    ["case-two-scale-detector", {}, [2, 3, 16, 16], [2, 6, 8, 8]],
    ["case-shuffle", {}, [2, 3, 8, 8], [2, 10]],
    ["case-vit", {}, [2, 3, 8, 8], [2, 10]],
  ];

for (const [name, opts, inShape, outShape] of SCALED) {
  Deno.test(`zoo ${name} (scaled down): cpu forward [${inShape}] -> [${outShape}]`, async () => {
    const m = buildOn("cpu", name, { seed: 1, ...opts });
    assert.deepEqual(traceMeta(m, inShape).out, outShape, "meta forward shape");
    const shapes = typeof inShape[0] === "number" ? [inShape as number[]] : inShape as number[][];
    const xs = shapes.map((s, i) => uniform(s, { backend: "cpu", seed: 2 + i, low: -1, high: 1 }));
    const y = flattenOutput(m.call(...xs)).tensors[0];
    assert.deepEqual([...y.shape], outShape);
    const v = await y.data();
    assert.ok(v.every(Number.isFinite), `${name}: non-finite output`);
    assert.ok(v.some((a) => a !== 0), `${name}: all-zero output`);
    m.dispose();
  });
}

Deno.test("zoo: every entry is covered and its input shape is batch 1", () => {
  const covered = new Set([
    ...FULL.map((r) => r[0]),
    ...SMALL.map((r) => r[0]),
    ...SCALED.map((r) => r[0]),
  ]);
  for (const [name, e] of Object.entries(zoo)) {
    assert.ok(covered.has(name), `${name} has no test`);
    assert.equal(e.inputShape[0], 1, name);
    assert.ok(e.description.length > 10, name);
    // Every zoo model accepts its documented input.
    const m = buildOn("meta", name);
    assert.equal(traceMeta(m, e.inputShapes ?? e.inputShape).out[0], 1, name);
  }
  assert.equal(Object.keys(zoo).length, 31);
});

Deno.test("zoo: construction is seeded (same seed, same weights; other seed, other weights)", () => {
  const flat = (m: Module) => m.parameters().flatMap((p) => Array.from(p.hostData()));
  const a = flat(buildOn("cpu", "case-concat-bn", { seed: 5 }));
  buildOn("cpu", "small-cnn"); // draws from the global generator in between
  const b = flat(buildOn("cpu", "case-concat-bn", { seed: 5 }));
  const c = flat(buildOn("cpu", "case-concat-bn", { seed: 6 }));
  assert.ok(a.length > 0);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  // Default seed 0 is reproducible too.
  assert.deepEqual(flat(buildOn("cpu", "small-cnn")), flat(buildOn("cpu", "small-cnn")));
});

Deno.test("zoo: module paths follow the reference names", () => {
  const names = (n: string, o: ModelOptions & Record<string, unknown> = {}) =>
    buildOn("meta", n, o).namedParameters().map(([p]) => p);
  const r50 = names("resnet50", { width: 2 });
  for (
    const p of ["conv1.weight", "layer1.0.downsample.0.weight", "layer4.2.bn3.bias", "fc.bias"]
  ) {
    assert.ok(r50.includes(p), `resnet50 has ${p}`);
  }
  const dn = names("densenet121", { growth: 2 });
  for (const p of ["dense1.5.conv2.weight", "trans3.conv.weight", "dense4.15.bn1.weight"]) {
    assert.ok(dn.includes(p), `densenet121 has ${p}`);
  }
  assert.ok(!dn.includes("trans4.conv.weight"));
  const cn = names("convnext-tiny", { width: 4 });
  for (const p of ["features.0.0.weight", "features.5.8.pwconv2.weight", "classifier.2.weight"]) {
    assert.ok(cn.includes(p), `convnext-tiny has ${p}`);
  }
  const carn = names("carn", { width: 4 });
  for (const p of ["entry.weight", "b3.b2.body.2.weight", "c3.0.weight", "upsample.0.weight"]) {
    assert.ok(carn.includes(p), `carn has ${p}`);
  }
});
