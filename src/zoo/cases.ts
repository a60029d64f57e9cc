/**
 * Tiny models that exercise the hard cases of graph capture, zero-invariant groups and
 * compression: channel concatenation feeding a BatchNorm, sums of BatchNorms, a layer applied
 * twice, grouped and depthwise convolutions, transposed convolutions, InstanceNorm with
 * LeakyReLU/PReLU, and Flatten feeding a Linear with spatial size > 1. Widths are small so
 * tests can run them on the cpu backend.
 */
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  InstanceNorm2d,
  LeakyReLU,
  Linear,
  PReLU,
  ReLU,
} from "../nn/index.ts";
import { Module } from "../nn/module.ts";
import { add, concat, flatten, relu } from "../ops/index.ts";
import type { Tensor } from "../tensor.ts";
import { type ModelOptions, seeded } from "./common.ts";

/**
 * The OTOv2 DemoNet "concat case", widths scaled by w (default 8; OTOv2 uses 64):
 *
 * ```
 * x1 = relu(bn1(conv1(x)))                       3 -> w
 * t  = conv2(x1)                                 w -> 2w
 * x2 = bn2(t) + bn3(t) + conv3(x1)               2w (two BNs share their input, then a sum)
 * x4 = bn4(concat(x1, x2))                       3w
 * y  = gemm2(gemm1(flatten(avgpool(conv5(x4))))) 3w -> 4w -> 4w -> classes
 * ```
 */
export class ConcatBnCase extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly bn3: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn4: BatchNorm2d;
  readonly conv5: Conv2d;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly gemm1: Linear;
  readonly gemm2: Linear;

  constructor(opts: ModelOptions = {}) {
    super();
    const w = opts.width ?? 8;
    const p = { padding: 1 };
    this.conv1 = this.module("conv1", new Conv2d(opts.inChannels ?? 3, w, 3, p));
    this.bn1 = this.module("bn1", new BatchNorm2d(w));
    this.conv2 = this.module("conv2", new Conv2d(w, 2 * w, 3, p));
    this.bn2 = this.module("bn2", new BatchNorm2d(2 * w));
    this.bn3 = this.module("bn3", new BatchNorm2d(2 * w));
    this.conv3 = this.module("conv3", new Conv2d(w, 2 * w, 3, p));
    this.bn4 = this.module("bn4", new BatchNorm2d(3 * w));
    this.conv5 = this.module("conv5", new Conv2d(3 * w, 4 * w, 3, p));
    this.avgpool = this.module("avgpool", new AdaptiveAvgPool2d(1));
    this.gemm1 = this.module("gemm1", new Linear(4 * w, 4 * w));
    this.gemm2 = this.module("gemm2", new Linear(4 * w, opts.numClasses ?? 10));
  }

  forward(x: Tensor): Tensor {
    const x1 = relu(this.bn1.call(this.conv1.call(x)));
    const t = this.conv2.call(x1);
    const x2 = add(add(this.bn2.call(t), this.bn3.call(t)), this.conv3.call(x1));
    const x4 = this.bn4.call(concat([x1, x2], 1));
    const h = flatten(this.avgpool.call(this.conv5.call(x4)), 1);
    return this.gemm2.call(this.gemm1.call(h));
  }
}

/** One conv (`shared`, w -> w) applied twice: `fc(pool(shared(relu(shared(stem(x))))))`. */
export class WeightSharingCase extends Module {
  readonly stem: Conv2d;
  readonly bn: BatchNorm2d;
  readonly shared: Conv2d;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;

  constructor(opts: ModelOptions = {}) {
    super();
    const w = opts.width ?? 8;
    this.stem = this.module("stem", new Conv2d(opts.inChannels ?? 3, w, 3, { padding: 1 }));
    this.bn = this.module("bn", new BatchNorm2d(w));
    this.shared = this.module("shared", new Conv2d(w, w, 3, { padding: 1 }));
    this.avgpool = this.module("avgpool", new AdaptiveAvgPool2d(1));
    this.fc = this.module("fc", new Linear(w, opts.numClasses ?? 10));
  }

  forward(x: Tensor): Tensor {
    const h = relu(this.bn.call(this.stem.call(x)));
    const y = this.shared.call(relu(this.shared.call(h)));
    return this.fc.call(flatten(this.avgpool.call(relu(y)), 1));
  }
}

/**
 * Grouped and depthwise convolutions: stem 3 -> 2w, conv 2w -> 2w with groups 2, depthwise 3x3
 * (groups = 2w), pointwise 1x1 2w -> 4w, each followed by BN and ReLU; pool, fc.
 */
export class GroupedConvCase extends Module {
  readonly stem: Conv2d;
  readonly bn0: BatchNorm2d;
  readonly grouped: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly depthwise: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly pointwise: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;

  constructor(opts: ModelOptions = {}) {
    super();
    const c = 2 * (opts.width ?? 4);
    this.stem = this.module(
      "stem",
      new Conv2d(opts.inChannels ?? 3, c, 3, { padding: 1, bias: false }),
    );
    this.bn0 = this.module("bn0", new BatchNorm2d(c));
    this.grouped = this.module(
      "grouped",
      new Conv2d(c, c, 3, { padding: 1, groups: 2, bias: false }),
    );
    this.bn1 = this.module("bn1", new BatchNorm2d(c));
    this.depthwise = this.module(
      "depthwise",
      new Conv2d(c, c, 3, { padding: 1, groups: c, bias: false }),
    );
    this.bn2 = this.module("bn2", new BatchNorm2d(c));
    this.pointwise = this.module("pointwise", new Conv2d(c, 2 * c, 1, { bias: false }));
    this.bn3 = this.module("bn3", new BatchNorm2d(2 * c));
    this.avgpool = this.module("avgpool", new AdaptiveAvgPool2d(1));
    this.fc = this.module("fc", new Linear(2 * c, opts.numClasses ?? 10));
  }

  forward(x: Tensor): Tensor {
    let h = relu(this.bn0.call(this.stem.call(x)));
    h = relu(this.bn1.call(this.grouped.call(h)));
    h = relu(this.bn2.call(this.depthwise.call(h)));
    h = relu(this.bn3.call(this.pointwise.call(h)));
    return this.fc.call(flatten(this.avgpool.call(h), 1));
  }
}

/**
 * Encoder-decoder with transposed convolutions: 3x3/2 conv 3 -> w, BN, ReLU; ConvTranspose2d
 * w -> w (3x3, stride 2, padding 1, output padding 1: back to the input size), BN, ReLU;
 * ConvTranspose2d w -> w/2 (2x2, stride 2: twice the input size), ReLU; 1x1 conv to 3 channels.
 */
export class ConvTransposeCase extends Module {
  readonly down: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly up1: ConvTranspose2d;
  readonly bn2: BatchNorm2d;
  readonly up2: ConvTranspose2d;
  readonly head: Conv2d;

  constructor(opts: ModelOptions = {}) {
    super();
    const w = opts.width ?? 8;
    const inC = opts.inChannels ?? 3;
    this.down = this.module("down", new Conv2d(inC, w, 3, { stride: 2, padding: 1, bias: false }));
    this.bn1 = this.module("bn1", new BatchNorm2d(w));
    this.up1 = this.module(
      "up1",
      new ConvTranspose2d(w, w, 3, { stride: 2, padding: 1, outputPadding: 1, bias: false }),
    );
    this.bn2 = this.module("bn2", new BatchNorm2d(w));
    this.up2 = this.module("up2", new ConvTranspose2d(w, Math.max(1, w / 2), 2, { stride: 2 }));
    this.head = this.module("head", new Conv2d(Math.max(1, w / 2), inC, 1));
  }

  forward(x: Tensor): Tensor {
    let h = relu(this.bn1.call(this.down.call(x)));
    h = relu(this.bn2.call(this.up1.call(h)));
    return this.head.call(relu(this.up2.call(h)));
  }
}

/**
 * conv 3 -> w, InstanceNorm (affine), LeakyReLU(0.2); conv w -> w, InstanceNorm (no affine),
 * PReLU (one slope per channel); conv w -> 3 (an image-to-image chain, as in style transfer).
 */
export class InstanceNormCase extends Module {
  readonly conv1: Conv2d;
  readonly in1: InstanceNorm2d;
  readonly act1: LeakyReLU;
  readonly conv2: Conv2d;
  readonly in2: InstanceNorm2d;
  readonly act2: PReLU;
  readonly conv3: Conv2d;

  constructor(opts: ModelOptions = {}) {
    super();
    const w = opts.width ?? 8;
    const inC = opts.inChannels ?? 3;
    this.conv1 = this.module("conv1", new Conv2d(inC, w, 3, { padding: 1 }));
    this.in1 = this.module("in1", new InstanceNorm2d(w, { affine: true }));
    this.act1 = this.module("act1", new LeakyReLU(0.2));
    this.conv2 = this.module("conv2", new Conv2d(w, w, 3, { padding: 1 }));
    this.in2 = this.module("in2", new InstanceNorm2d(w));
    this.act2 = this.module("act2", new PReLU(w));
    this.conv3 = this.module("conv3", new Conv2d(w, inC, 3, { padding: 1 }));
  }

  forward(x: Tensor): Tensor {
    const h = this.act1.call(this.in1.call(this.conv1.call(x)));
    return this.conv3.call(this.act2.call(this.in2.call(this.conv2.call(h))));
  }
}

/**
 * conv 3 -> w (3x3, stride 2) on 8x8 inputs, BN, ReLU, Flatten of [w, 4, 4] (each channel owns
 * 16 consecutive features), Linear 16w -> 2w, ReLU, Linear 2w -> classes.
 */
export class FlattenLinearCase extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  readonly fc1: Linear;
  readonly act: ReLU;
  readonly fc2: Linear;

  constructor(opts: ModelOptions & { inputSize?: number } = {}) {
    super();
    const w = opts.width ?? 8;
    const s = Math.floor(((opts.inputSize ?? 8) + 2 - 3) / 2) + 1;
    this.conv = this.module(
      "conv",
      new Conv2d(opts.inChannels ?? 3, w, 3, { stride: 2, padding: 1 }),
    );
    this.bn = this.module("bn", new BatchNorm2d(w));
    this.fc1 = this.module("fc1", new Linear(w * s * s, 2 * w));
    this.act = this.module("act", new ReLU());
    this.fc2 = this.module("fc2", new Linear(2 * w, opts.numClasses ?? 10));
  }

  forward(x: Tensor): Tensor {
    const h = flatten(relu(this.bn.call(this.conv.call(x))), 1);
    return this.fc2.call(this.act.call(this.fc1.call(h)));
  }
}

/** Seeded builders of the cases. */
export const caseConcatBn = (o: ModelOptions = {}): ConcatBnCase =>
  seeded(o.seed, () => new ConcatBnCase(o));
export const caseWeightSharing = (o: ModelOptions = {}): WeightSharingCase =>
  seeded(o.seed, () => new WeightSharingCase(o));
export const caseGroupedConv = (o: ModelOptions = {}): GroupedConvCase =>
  seeded(o.seed, () => new GroupedConvCase(o));
export const caseConvTranspose = (o: ModelOptions = {}): ConvTransposeCase =>
  seeded(o.seed, () => new ConvTransposeCase(o));
export const caseInstanceNorm = (o: ModelOptions = {}): InstanceNormCase =>
  seeded(o.seed, () => new InstanceNormCase(o));
export const caseFlattenLinear = (
  o: ModelOptions & { inputSize?: number } = {},
): FlattenLinearCase => seeded(o.seed, () => new FlattenLinearCase(o));
