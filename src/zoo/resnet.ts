/**
 * ResNets in the torchvision layout (module names `conv1`, `bn1`, `layer1.0.conv1`,
 * `layer2.0.downsample.0`, `fc`): BasicBlock and Bottleneck (stride on the 3x3 conv, "ResNet
 * v1.5"), an ImageNet stem (7x7 stride-2 conv, 3x3 stride-2 max-pool) or a CIFAR stem (3x3
 * stride-1 conv, no pool, as in kuangliu/pytorch-cifar).
 *
 * - `resnet18` (CIFAR, 10 classes): 11,173,962 parameters.
 * - `resnet50` (ImageNet, 1000 classes): 25,557,032 parameters.
 */
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Linear,
  MaxPool2d,
  Sequential,
} from "../nn/index.ts";
import { Module } from "../nn/module.ts";
import { add, flatten, relu } from "../ops/index.ts";
import type { Tensor } from "../tensor.ts";
import { type ModelOptions, seeded } from "./common.ts";

/** 1x1 conv + BatchNorm projection shortcut (`downsample.0`, `downsample.1`). */
function downsample(inC: number, outC: number, stride: number): Sequential {
  return new Sequential(new Conv2d(inC, outC, 1, { stride, bias: false }), new BatchNorm2d(outC));
}

/** Two 3x3 convs with BatchNorm; identity or projection shortcut; ReLU after the add. */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inPlanes: number, planes: number, stride = 1) {
    super();
    this.conv1 = this.module(
      "conv1",
      new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false }),
    );
    this.bn1 = this.module("bn1", new BatchNorm2d(planes));
    this.conv2 = this.module("conv2", new Conv2d(planes, planes, 3, { padding: 1, bias: false }));
    this.bn2 = this.module("bn2", new BatchNorm2d(planes));
    this.downsample = stride !== 1 || inPlanes !== planes
      ? this.module("downsample", downsample(inPlanes, planes, stride))
      : null;
  }

  forward(x: Tensor): Tensor {
    const out = this.bn2.call(this.conv2.call(relu(this.bn1.call(this.conv1.call(x)))));
    const identity = this.downsample ? this.downsample.call(x) : x;
    return relu(add(out, identity));
  }
}

/** 1x1 reduce, 3x3 (carries the stride), 1x1 expand (x4), each with BatchNorm. */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inPlanes: number, planes: number, stride = 1) {
    super();
    const out = planes * Bottleneck.expansion;
    this.conv1 = this.module("conv1", new Conv2d(inPlanes, planes, 1, { bias: false }));
    this.bn1 = this.module("bn1", new BatchNorm2d(planes));
    this.conv2 = this.module(
      "conv2",
      new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false }),
    );
    this.bn2 = this.module("bn2", new BatchNorm2d(planes));
    this.conv3 = this.module("conv3", new Conv2d(planes, out, 1, { bias: false }));
    this.bn3 = this.module("bn3", new BatchNorm2d(out));
    this.downsample = stride !== 1 || inPlanes !== out
      ? this.module("downsample", downsample(inPlanes, out, stride))
      : null;
  }

  forward(x: Tensor): Tensor {
    let out = relu(this.bn1.call(this.conv1.call(x)));
    out = relu(this.bn2.call(this.conv2.call(out)));
    out = this.bn3.call(this.conv3.call(out));
    const identity = this.downsample ? this.downsample.call(x) : x;
    return relu(add(out, identity));
  }
}

/** Options of {@link ResNet}. */
export interface ResNetOptions extends ModelOptions {
  /** "imagenet": 7x7/2 conv + 3x3/2 max-pool; "cifar": 3x3/1 conv, no pool (default). */
  stem?: "imagenet" | "cifar";
  /** Planes of each stage (default [w, 2w, 4w, 8w] with w = `width` ?? 64). */
  planes?: readonly number[];
  /** Stride of each stage's first block (default [1, 2, 2, 2]). */
  strides?: readonly number[];
}

/** A ResNet: stem, `layer1..layerN` of blocks, global average pool, `fc`. */
export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool: MaxPool2d | null;
  readonly layers: Sequential[] = [];
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;

  constructor(
    block: typeof BasicBlock | typeof Bottleneck,
    depths: readonly number[],
    opts: ResNetOptions = {},
  ) {
    super();
    const w = opts.width ?? 64;
    const planes = opts.planes ?? depths.map((_, i) => w * 2 ** i);
    const strides = opts.strides ?? depths.map((_, i) => (i === 0 ? 1 : 2));
    const inC = opts.inChannels ?? 3;
    const imagenet = opts.stem === "imagenet";
    this.conv1 = this.module(
      "conv1",
      imagenet
        ? new Conv2d(inC, w, 7, { stride: 2, padding: 3, bias: false })
        : new Conv2d(inC, w, 3, { padding: 1, bias: false }),
    );
    this.bn1 = this.module("bn1", new BatchNorm2d(w));
    this.maxpool = imagenet
      ? this.module("maxpool", new MaxPool2d(3, { stride: 2, padding: 1 }))
      : null;
    let inPlanes = w;
    depths.forEach((n, i) => {
      const blocks: Module[] = [];
      for (let b = 0; b < n; b++) {
        blocks.push(new block(inPlanes, planes[i], b === 0 ? strides[i] : 1));
        inPlanes = planes[i] * block.expansion;
      }
      this.layers.push(this.module(`layer${i + 1}`, new Sequential(...blocks)));
    });
    this.avgpool = this.module("avgpool", new AdaptiveAvgPool2d(1));
    this.fc = this.module("fc", new Linear(inPlanes, opts.numClasses ?? 1000));
  }

  forward(x: Tensor): Tensor {
    let out = relu(this.bn1.call(this.conv1.call(x)));
    if (this.maxpool) out = this.maxpool.call(out);
    for (const l of this.layers) out = l.call(out);
    return this.fc.call(flatten(this.avgpool.call(out), 1));
  }
}

/**
 * CIFAR ResNet18 (kuangliu/pytorch-cifar): 3x3 stem, BasicBlocks [2, 2, 2, 2], 10 classes:
 * 11,173,962 parameters. The global pool is adaptive (the reference's `avg_pool2d(4)` is the same
 * on 32x32 inputs).
 */
export function resnet18(opts: ResNetOptions = {}): ResNet {
  return seeded(
    opts.seed,
    () =>
      new ResNet(BasicBlock, [2, 2, 2, 2], {
        ...opts,
        stem: opts.stem ?? "cifar",
        numClasses: opts.numClasses ?? 10,
      }),
  );
}

/** torchvision ResNet50: ImageNet stem, Bottlenecks [3, 4, 6, 3], 1000 classes: 25,557,032. */
export function resnet50(opts: ResNetOptions = {}): ResNet {
  return seeded(
    opts.seed,
    () =>
      new ResNet(Bottleneck, [3, 4, 6, 3], {
        ...opts,
        stem: opts.stem ?? "imagenet",
        numClasses: opts.numClasses ?? 1000,
      }),
  );
}
