/**
 * Small CNNs for Fashion-MNIST ([N, 1, 28, 28], 10 classes), sized to train in minutes.
 * Multiply-adds per image count convolutions and linear layers only (out elements x
 * in-channels/groups x kernel area; bias, BatchNorm, activations and pooling not counted):
 *
 * - `small-cnn`: 1,031,744 MACs
 *   conv1 1->16 @28x28: 28·28·16·1·9 = 112,896; conv2 16->32 @14x14: 14·14·32·16·9 = 903,168;
 *   fc 1568->10: 15,680.
 * - `vgg-small`: 4,729,728 MACs
 *   1->16 @28: 112,896; 16->16 @28: 1,806,336; 16->32 @14: 903,168; 32->32 @14: 1,806,336;
 *   fc 1568->64: 100,352; fc 64->10: 640.
 * - `resnet-small`: 2,636,672 MACs
 *   stem 1->16 @28: 112,896; layer1 (16->16 @14, two 3x3): 2·451,584; layer2 (16->32, stride 2,
 *   @7): 225,792 + 451,584 + shortcut 1x1 25,088; layer3 (32->64, stride 2, @4): 294,912 +
 *   589,824 + shortcut 32,768; fc 64->10: 640.
 */
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
} from "../nn/index.ts";
import { Module } from "../nn/module.ts";
import { flatten } from "../ops/index.ts";
import type { Tensor } from "../tensor.ts";
import { type ModelOptions, scaleWidth, seeded } from "./common.ts";
import { BasicBlock } from "./resnet.ts";
import { VGG } from "./vgg.ts";

/** Options of the Fashion-MNIST models. */
export interface SmallOptions extends ModelOptions {
  /** Input height = width (default 28). */
  inputSize?: number;
}

/** conv-BN-ReLU-pool twice, then Flatten -> Linear over the 32x7x7 map. */
export class SmallCNN extends Module {
  readonly features: Sequential;
  readonly fc: Linear;
  constructor(opts: SmallOptions = {}) {
    super();
    const w = opts.width ?? 16;
    const s = Math.floor(Math.floor((opts.inputSize ?? 28) / 2) / 2);
    this.features = this.module(
      "features",
      new Sequential(
        new Conv2d(opts.inChannels ?? 1, w, 3, { padding: 1, bias: false }),
        new BatchNorm2d(w),
        new ReLU(),
        new MaxPool2d(2, { stride: 2 }),
        new Conv2d(w, 2 * w, 3, { padding: 1, bias: false }),
        new BatchNorm2d(2 * w),
        new ReLU(),
        new MaxPool2d(2, { stride: 2 }),
      ),
    );
    this.fc = this.module("fc", new Linear(2 * w * s * s, opts.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    return this.fc.call(flatten(this.features.call(x), 1));
  }
}

/** `small-cnn`: 1->16->32 channels, Linear 1568->10. */
export function smallCnn(opts: SmallOptions = {}): SmallCNN {
  return seeded(opts.seed, () => new SmallCNN(opts));
}

/**
 * `vgg-small`: VGG-style with BatchNorm, convs [16, 16, M, 32, 32, M] (3x3, bias as in VGG),
 * classifier 1568 -> 64 -> 10.
 */
export function vggSmall(opts: SmallOptions = {}): VGG {
  return seeded(opts.seed, () => {
    const c = (n: number) => scaleWidth(n, opts.width, 16);
    return new VGG([c(16), c(16), "M", c(32), c(32), "M"], {
      ...opts,
      inChannels: opts.inChannels ?? 1,
      inputSize: opts.inputSize ?? 28,
      batchNorm: true,
      hidden: [c(64)],
    });
  });
}

/**
 * ResNet-style: stem (3x3 conv 1->16, BN, ReLU, 2x2 max-pool to 14x14), BasicBlocks 16->16,
 * 16->32 (stride 2, projection shortcut), 32->64 (stride 2, projection shortcut), global
 * average pool, fc 64->10.
 */
export class ResNetSmall extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu: ReLU;
  readonly maxpool: MaxPool2d;
  readonly layer1: BasicBlock;
  readonly layer2: BasicBlock;
  readonly layer3: BasicBlock;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;

  constructor(opts: SmallOptions = {}) {
    super();
    const w = opts.width ?? 16;
    this.conv1 = this.module(
      "conv1",
      new Conv2d(opts.inChannels ?? 1, w, 3, { padding: 1, bias: false }),
    );
    this.bn1 = this.module("bn1", new BatchNorm2d(w));
    this.relu = this.module("relu", new ReLU());
    this.maxpool = this.module("maxpool", new MaxPool2d(2, { stride: 2 }));
    this.layer1 = this.module("layer1", new BasicBlock(w, w, 1));
    this.layer2 = this.module("layer2", new BasicBlock(w, 2 * w, 2));
    this.layer3 = this.module("layer3", new BasicBlock(2 * w, 4 * w, 2));
    this.avgpool = this.module("avgpool", new AdaptiveAvgPool2d(1));
    this.fc = this.module("fc", new Linear(4 * w, opts.numClasses ?? 10));
  }

  forward(x: Tensor): Tensor {
    let h = this.maxpool.call(this.relu.call(this.bn1.call(this.conv1.call(x))));
    h = this.layer3.call(this.layer2.call(this.layer1.call(h)));
    return this.fc.call(flatten(this.avgpool.call(h), 1));
  }
}

/** `resnet-small`: 2,636,672 MACs per 28x28 image. */
export function resnetSmall(opts: SmallOptions = {}): ResNetSmall {
  return seeded(opts.seed, () => new ResNetSmall(opts));
}
