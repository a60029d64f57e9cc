/**
 * Lost pruning is visible: the prunable group count of every zoo model (full size, shape-only
 * trace) is pinned here, each derived by hand from the architecture. A partition that marks
 * fewer channels prunable (or more: a channel that cannot be removed exactly) fails. The
 * issue-14 cases are pinned in tests/zig_cases_test.ts.
 */
import assert from "node:assert/strict";
import { init } from "../mod.ts";
import { zoo } from "../src/zoo/index.ts";
import { trace } from "../src/graph/trace.ts";
import { partition } from "../src/zig/partition.ts";
import { partitionCounts } from "../src/zig/report.ts";
import { getDefaultBackend, setDefaultBackend } from "../src/tensor.ts";

await init({ quiet: true, backend: "cpu" });

const COUNTS: [string, number][] = [
  // conv1 16 (read by conv2), conv2 32 (read by fc through flatten): 16 + 32.
  ["small-cnn", 48],
  // convs 16, 16, 32, 32 and the hidden Linear 64 (the last Linear feeds the output).
  ["vgg-small", 160],
  // Stage streams (stem joined with layer1's identity adds; projection shortcuts start the
  // next): 16 + 32 + 64; each BasicBlock's inner conv: 16 + 32 + 64. 112 + 112.
  ["resnet-small", 224],
  // 13 convs: 2·64 + 2·128 + 3·256 + 6·512 = 4224; classifier hidden layers 512 + 512.
  ["vgg16", 5248],
  ["vgg16-bn", 5248],
  // CIFAR ResNet18: stage streams 64 (stem + layer1) + 128 + 256 + 512 = 960; two blocks per
  // stage, one inner conv each: 2·(64 + 128 + 256 + 512) = 1920. The OTOv2 tutorial's 2880.
  ["resnet18", 2880],
  // ResNet50: stem 64 (read by layer1's first conv1 and downsample); stage streams 256 + 512 +
  // 1024 + 2048 = 3840; bottleneck conv1 and conv2: 2·(3·64 + 4·128 + 6·256 + 3·512) = 7552.
  ["resnet50", 11456],
  // DenseNet121 (CIFAR, growth 32): stem 64; 58 dense layers, each a 128-channel bottleneck
  // and 32 new channels: 58·160 = 9280; transitions halve 256, 512, 1024: 128 + 256 + 512.
  ["densenet121", 10240],
  // ConvNeXt-T: stage streams 96 + 192 + 384 + 768 = 1440 (stem, downsamples, depthwise convs,
  // LayerNorms, each block's second pointwise conv); hidden 4·dim per block:
  // 3·384 + 3·768 + 9·1536 + 3·3072 = 26496.
  ["convnext-tiny", 27936],
  // torchvision MobileNetV2 (width 1.0): each inverted residual's expanded channels joined by
  // its depthwise conv: 96 + 144 (c 24) + 144 + 2·192 (c 32) + 192 + 3·384 (c 64) + 384 +
  // 2·576 (c 96) + 576 + 2·960 (c 160) + 960 (c 320) = 7104; the stem's 32 channels (the first
  // block's depthwise conv has no expansion); stage streams joined by the residual adds
  // 16 + 24 + 32 + 64 + 96 + 160 + 320 = 712; the last conv's 1280 (read by the classifier).
  ["mobilenet-v2", 9128],
  // CARN (64 channels): entry 64; per cascading block (3): two inner fusions, its output
  // fusion and the first conv of its 3 residual blocks, 6·64; the global fusions 3·64; the
  // upsampler's 256 channels in pixel-shuffle blocks of 4: 64. 64 + 1152 + 192 + 64.
  ["carn", 1472],
  // carn-small: the same architecture at width 16 (the global residual adds to the output):
  // 16 + 3·6·16 + 3·16 + 16 = 368.
  ["carn-small", 368],
  // Each U-Net (w = 16): double convs 2·16 + 2·32 + 2·64 (encoder, bottleneck) + 2·32 + 2·16
  // (decoder) and the two transposed convs 32 + 16 = 368; unet1's 3-channel head is read by
  // unet2 (3 more); unet2's head feeds the output. 368 + 3 + 368.
  ["stacked-unets", 739],
  // DemoNet with w = 8: conv1 8, conv2/conv3 16 (joined by the sum), conv5 32, gemm1 32.
  ["case-concat-bn", 88],
  // stem 8, read by `shared`, whose rows make both applications' outputs: one space of 8.
  ["case-weight-sharing", 8],
  // stem and the groups-2 conv, depthwise conv in whole conv groups of 4: 8/4 = 2 groups;
  // pointwise 16.
  ["case-grouped-conv", 18],
  // down 8, up1 8, up2 4; the 1x1 head feeds the output.
  ["case-conv-transpose", 20],
  // conv1 8 (InstanceNorm affine, LeakyReLU), conv2 8 (InstanceNorm, PReLU).
  ["case-instance-norm", 16],
  // conv 8 (16 columns each in fc1), fc1 16.
  ["case-flatten-linear", 24],
];

const ISSUE14 = new Set([
  "case-bn-no-affine",
  "case-crop",
  "case-channel-split",
  "case-mobile",
  "case-reductions",
  "case-squeeze-excite",
  "case-cbam",
  "case-channels-last",
  "case-multi-io",
  "case-two-scale-detector",
  "case-shuffle",
  "case-vit",
]);

Deno.test("every zoo model's prunable group count is pinned (here or in zig_cases_test)", () => {
  const pinned = new Set(COUNTS.map((c) => c[0]));
  const missing = Object.keys(zoo).filter((k) => !pinned.has(k) && !ISSUE14.has(k));
  assert.deepEqual(missing, []);
});

for (const [name, groups] of COUNTS) {
  Deno.test(`${name}: ${groups.toLocaleString("en")} prunable groups`, () => {
    const prev = getDefaultBackend();
    setDefaultBackend("meta");
    try {
      const e = zoo[name];
      const p = partition(trace(e.build(), e.inputShapes ?? e.inputShape));
      assert.equal(partitionCounts(p).prunableGroups, groups);
    } finally {
      setDefaultBackend(prev);
    }
  });
}
