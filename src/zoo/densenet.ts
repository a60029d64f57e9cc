/**
 * DenseNet for CIFAR as in kuangliu/pytorch-cifar: a 3x3 stem conv to 2·growth channels (no
 * pooling), dense blocks of bottleneck layers (BN-ReLU-conv1x1 to 4·growth, BN-ReLU-conv3x3 to
 * growth, output concatenated in front of the input), transitions (BN-ReLU-conv1x1 to
 * floor(0.5·C), 2x2 average pool), final BN-ReLU, global average pool and a linear classifier.
 *
 * `densenet121` (growth 32, blocks [6, 12, 24, 16], 100 classes): 7,048,548 parameters, which is
 * torchvision's densenet121 (7,978,856) with the 7x7 stem conv (9,408) and its norm0 (128)
 * replaced by a 3x3 conv (1,728) and a 1024->100 classifier (102,500) instead of 1024->1000
 * (1,025,000).
 */
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  Linear,
  Sequential,
} from "../nn/index.ts";
import { Module } from "../nn/module.ts";
import { concat, flatten, relu } from "../ops/index.ts";
import type { Tensor } from "../tensor.ts";
import { type ModelOptions, seeded } from "./common.ts";

/** Bottleneck dense layer: `conv2(relu(bn2(conv1(relu(bn1(x))))))` concatenated with `x`. */
export class DenseLayer extends Module {
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;

  constructor(inPlanes: number, growth: number, bnSize = 4) {
    super();
    this.bn1 = this.module("bn1", new BatchNorm2d(inPlanes));
    this.conv1 = this.module("conv1", new Conv2d(inPlanes, bnSize * growth, 1, { bias: false }));
    this.bn2 = this.module("bn2", new BatchNorm2d(bnSize * growth));
    this.conv2 = this.module(
      "conv2",
      new Conv2d(bnSize * growth, growth, 3, { padding: 1, bias: false }),
    );
  }

  forward(x: Tensor): Tensor {
    const out = this.conv1.call(relu(this.bn1.call(x)));
    return concat([this.conv2.call(relu(this.bn2.call(out))), x], 1);
  }
}

/** Transition: BN, ReLU, 1x1 conv, 2x2 average pool. */
export class Transition extends Module {
  readonly bn: BatchNorm2d;
  readonly conv: Conv2d;
  readonly pool: AvgPool2d;

  constructor(inPlanes: number, outPlanes: number) {
    super();
    this.bn = this.module("bn", new BatchNorm2d(inPlanes));
    this.conv = this.module("conv", new Conv2d(inPlanes, outPlanes, 1, { bias: false }));
    this.pool = this.module("pool", new AvgPool2d(2, { stride: 2 }));
  }

  forward(x: Tensor): Tensor {
    return this.pool.call(this.conv.call(relu(this.bn.call(x))));
  }
}

/** Options of {@link DenseNet}. */
export interface DenseNetOptions extends ModelOptions {
  /** Growth rate (default 32). `width` (the stem's channels) defaults to 2·growth. */
  growth?: number;
  /** Bottleneck width factor (default 4). */
  bnSize?: number;
  /** Transition compression (default 0.5). */
  reduction?: number;
}

/** DenseNet: `conv1`, `dense1`, `trans1`, ..., `dense4`, `bn`, `avgpool`, `linear`. */
export class DenseNet extends Module {
  readonly conv1: Conv2d;
  readonly stages: Module[] = [];
  readonly bn: BatchNorm2d;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly linear: Linear;

  constructor(blocks: readonly number[], opts: DenseNetOptions = {}) {
    super();
    const g = opts.growth ?? 32;
    const bnSize = opts.bnSize ?? 4;
    let c = opts.width ?? 2 * g;
    this.conv1 = this.module(
      "conv1",
      new Conv2d(opts.inChannels ?? 3, c, 3, { padding: 1, bias: false }),
    );
    blocks.forEach((n, i) => {
      const layers: Module[] = [];
      for (let j = 0; j < n; j++) layers.push(new DenseLayer(c + j * g, g, bnSize));
      this.stages.push(this.module(`dense${i + 1}`, new Sequential(...layers)));
      c += n * g;
      if (i < blocks.length - 1) {
        const out = Math.floor(c * (opts.reduction ?? 0.5));
        this.stages.push(this.module(`trans${i + 1}`, new Transition(c, out)));
        c = out;
      }
    });
    this.bn = this.module("bn", new BatchNorm2d(c));
    this.avgpool = this.module("avgpool", new AdaptiveAvgPool2d(1));
    this.linear = this.module("linear", new Linear(c, opts.numClasses ?? 10));
  }

  forward(x: Tensor): Tensor {
    let out = this.conv1.call(x);
    for (const s of this.stages) out = s.call(out);
    out = this.avgpool.call(relu(this.bn.call(out)));
    return this.linear.call(flatten(out, 1));
  }
}

/**
 * CIFAR-100 DenseNet121: growth 32, blocks [6, 12, 24, 16]: 7,048,548 parameters. The global
 * pool is adaptive (the reference's `avg_pool2d(4)` is the same on 32x32 inputs).
 */
export function densenet121(opts: DenseNetOptions = {}): DenseNet {
  return seeded(
    opts.seed,
    () => new DenseNet([6, 12, 24, 16], { ...opts, numClasses: opts.numClasses ?? 100 }),
  );
}
