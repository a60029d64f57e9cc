/**
 * ConvNeXt (Liu et al. 2022) in torchvision's layout, channels-first throughout: the block's
 * pointwise "Linear" layers are 1x1 convolutions (same parameters as Linear over channels) and
 * its LayerNorm is {@link LayerNorm2d}. No layer scale and no stochastic depth, so
 * `convnext-tiny` (depths [3, 3, 9, 3], dims [96, 192, 384, 768], 1000 classes) has 28,582,504
 * parameters: torchvision's 28,589,128 minus the 18 layer-scale vectors (3·96 + 3·192 + 9·384 +
 * 3·768 = 6,624).
 */
import {
  AdaptiveAvgPool2d,
  Conv2d,
  Flatten,
  GELU,
  LayerNorm2d,
  Linear,
  Sequential,
} from "../nn/index.ts";
import { Module } from "../nn/module.ts";
import { add } from "../ops/index.ts";
import type { Tensor } from "../tensor.ts";
import { type ModelOptions, scaleWidth, seeded } from "./common.ts";

/** x + pwconv2(GELU(pwconv1(norm(dwconv7x7(x))))). */
export class ConvNeXtBlock extends Module {
  readonly dwconv: Conv2d;
  readonly norm: LayerNorm2d;
  readonly pwconv1: Conv2d;
  readonly act: GELU;
  readonly pwconv2: Conv2d;

  constructor(dim: number) {
    super();
    this.dwconv = this.module("dwconv", new Conv2d(dim, dim, 7, { padding: 3, groups: dim }));
    this.norm = this.module("norm", new LayerNorm2d(dim, { eps: 1e-6 }));
    this.pwconv1 = this.module("pwconv1", new Conv2d(dim, 4 * dim, 1));
    this.act = this.module("act", new GELU());
    this.pwconv2 = this.module("pwconv2", new Conv2d(4 * dim, dim, 1));
  }

  forward(x: Tensor): Tensor {
    const y = this.pwconv2.call(
      this.act.call(this.pwconv1.call(this.norm.call(this.dwconv.call(x)))),
    );
    return add(x, y);
  }
}

/** Options of {@link ConvNeXt}. */
export interface ConvNeXtOptions extends ModelOptions {
  /** Channels of the stages (default [96, 192, 384, 768] scaled by `width`/96). */
  dims?: readonly number[];
}

/**
 * ConvNeXt: `features` = [stem, stage1, down2, stage2, down3, stage3, down4, stage4] (stem:
 * 4x4/4 conv + LayerNorm2d; downsampling: LayerNorm2d + 2x2/2 conv), then `avgpool` and
 * `classifier` = [LayerNorm2d, Flatten, Linear].
 */
export class ConvNeXt extends Module {
  readonly features: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly classifier: Sequential;

  constructor(depths: readonly number[], dims: readonly number[], opts: ModelOptions = {}) {
    super();
    if (depths.length !== dims.length) {
      throw new Error(`ConvNeXt: ${depths.length} depths but ${dims.length} dims`);
    }
    const parts: Module[] = [
      new Sequential(
        new Conv2d(opts.inChannels ?? 3, dims[0], 4, { stride: 4 }),
        new LayerNorm2d(dims[0], { eps: 1e-6 }),
      ),
    ];
    depths.forEach((n, i) => {
      if (i > 0) {
        parts.push(
          new Sequential(
            new LayerNorm2d(dims[i - 1], { eps: 1e-6 }),
            new Conv2d(dims[i - 1], dims[i], 2, { stride: 2 }),
          ),
        );
      }
      const blocks: Module[] = [];
      for (let b = 0; b < n; b++) blocks.push(new ConvNeXtBlock(dims[i]));
      parts.push(new Sequential(...blocks));
    });
    this.features = this.module("features", new Sequential(...parts));
    this.avgpool = this.module("avgpool", new AdaptiveAvgPool2d(1));
    const last = dims[dims.length - 1];
    this.classifier = this.module(
      "classifier",
      new Sequential(
        new LayerNorm2d(last, { eps: 1e-6 }),
        new Flatten(1),
        new Linear(last, opts.numClasses ?? 1000),
      ),
    );
  }

  forward(x: Tensor): Tensor {
    return this.classifier.call(this.avgpool.call(this.features.call(x)));
  }
}

/** ConvNeXt-T without layer scale: 28,582,504 parameters at full width with 1000 classes. */
export function convnextTiny(opts: ConvNeXtOptions = {}): ConvNeXt {
  return seeded(opts.seed, () => {
    const dims = opts.dims ?? [96, 192, 384, 768].map((d) => scaleWidth(d, opts.width, 96));
    return new ConvNeXt([3, 3, 9, 3], dims, opts);
  });
}
