/**
 * Normalisation layers, as PyTorch's: `BatchNorm2d`, `InstanceNorm2d`, `LayerNorm`,
 * `LayerNorm2d` (channel-wise LayerNorm on NCHW, as in ConvNeXt) and `GroupNorm`. Scales start
 * at one and shifts at zero.
 */
import { Module } from "../module.ts";
import type { Tensor } from "../../tensor.ts";
import {
  add,
  batchNorm,
  fill,
  groupNorm,
  instanceNorm,
  layerNorm,
  layerNorm2d,
} from "../../ops/index.ts";
import { noGrad } from "../../ops/registry.ts";
import { constantInit } from "../init.ts";
import { positiveInt } from "./util.ts";

/** Options of {@link BatchNorm2d}. */
export interface BatchNormLayerOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the new batch statistics in the running averages (default 0.1). */
  momentum?: number;
  /** Learn a per-channel scale `weight` and shift `bias` (default true). */
  affine?: boolean;
  /**
   * Also keep PyTorch's `num_batches_tracked` counter buffer (an i32 scalar), so state dicts
   * match PyTorch's name for name (default false; it costs one tiny kernel per training step).
   */
  numBatchesTracked?: boolean;
}

/**
 * Batch normalisation over the channels of [N, C, H, W] (or [N, C]) input. Training mode
 * normalises with the batch statistics and updates the buffers `running_mean` (zeros) and
 * `running_var` (ones) in place (unbiased variance, as PyTorch); eval mode uses the buffers.
 *
 * @example
 * ```ts
 * import { BatchNorm2d, init, randn } from "../../../mod.ts";
 * await init();
 * const x = randn([8, 16, 4, 4], { seed: 0 });
 * const bn = new BatchNorm2d(16);
 * const y = bn.call(x);   // training: batch statistics
 * bn.eval();              // now running statistics
 * ```
 */
export class BatchNorm2d extends Module {
  /** Channels (the size of dimension 1). */
  numFeatures: number;
  /** Added to the variance before the square root. */
  eps: number;
  /** Weight of each new batch's statistics in the running averages. */
  momentum: number;
  /** Whether the layer has a learned scale and shift. */
  affine: boolean;

  /** BatchNorm over `numFeatures` channels (options as PyTorch's, with its defaults). */
  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super();
    this.numFeatures = positiveInt(numFeatures, "numFeatures", "BatchNorm2d");
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    this.affine = opts.affine ?? true;
    if (this.affine) {
      this.param("weight", constantInit([numFeatures], 1));
      this.param("bias", constantInit([numFeatures], 0));
    }
    this.buffer("running_mean", constantInit([numFeatures], 0));
    this.buffer("running_var", constantInit([numFeatures], 1));
    if (opts.numBatchesTracked) this.buffer("num_batches_tracked", fill([], 0, undefined, "i32"));
  }

  /** Per-channel scale (null when not affine). */
  get weight(): Tensor | null {
    return this.getParam("weight") ?? null;
  }
  /** Per-channel shift (null when not affine). */
  get bias(): Tensor | null {
    return this.getParam("bias") ?? null;
  }
  /** Running mean of each channel. */
  get runningMean(): Tensor {
    return this.getBuffer("running_mean")!;
  }
  /** Running (unbiased) variance of each channel. */
  get runningVar(): Tensor {
    return this.getBuffer("running_var")!;
  }

  /** Normalised x: batch statistics in train mode (updating the running ones), else running. */
  forward(x: Tensor): Tensor {
    const y = batchNorm(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
    const nbt = this.getBuffer("num_batches_tracked");
    if (this.training && nbt) {
      noGrad(() => this.buffer("num_batches_tracked", add(nbt, fill([], 1, nbt.backend, "i32"))));
    }
    return y;
  }
}

/** Options of {@link InstanceNorm2d}. */
export interface InstanceNormLayerOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Learn a per-channel scale and shift (default false, as PyTorch). */
  affine?: boolean;
}

/** Instance normalisation: each (sample, channel) plane normalised on its own. No buffers. */
export class InstanceNorm2d extends Module {
  /** Channels (the size of dimension 1). */
  numFeatures: number;
  /** Added to the variance before the square root. */
  eps: number;
  /** Whether the layer has a learned scale and shift. */
  affine: boolean;

  /** InstanceNorm over `numFeatures` channels (options as PyTorch's, with its defaults). */
  constructor(numFeatures: number, opts: InstanceNormLayerOptions = {}) {
    super();
    this.numFeatures = positiveInt(numFeatures, "numFeatures", "InstanceNorm2d");
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.affine ?? false;
    if (this.affine) {
      this.param("weight", constantInit([numFeatures], 1));
      this.param("bias", constantInit([numFeatures], 0));
    }
  }

  /** x normalised over each image's and channel's spatial positions. */
  forward(x: Tensor): Tensor {
    return instanceNorm(x, this.getParam("weight") ?? null, this.getParam("bias") ?? null, {
      eps: this.eps,
    });
  }
}

/** Options of {@link LayerNorm}. */
export interface LayerNormLayerOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Learn `weight` and `bias` of the normalised shape (default true). */
  elementwiseAffine?: boolean;
}

/**
 * Layer normalisation over the trailing `normalizedShape` dims, as `nn.LayerNorm`.
 *
 * @example
 * ```ts
 * const ln = new LayerNorm(64);   // x: [N, T, 64]
 * ```
 */
export class LayerNorm extends Module {
  /** The trailing dimensions normalised together. */
  normalizedShape: number[];
  /** Added to the variance before the square root. */
  eps: number;
  /** Whether the layer has a learned elementwise scale and shift. */
  elementwiseAffine: boolean;

  /** LayerNorm over the trailing `normalizedShape` dimensions (options as PyTorch's). */
  constructor(normalizedShape: number | readonly number[], opts: LayerNormLayerOptions = {}) {
    super();
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    shape.forEach((d) => positiveInt(d, "normalizedShape entries", "LayerNorm"));
    this.normalizedShape = shape;
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    if (this.elementwiseAffine) {
      this.param("weight", constantInit(shape, 1));
      this.param("bias", constantInit(shape, 0));
    }
  }

  /** x normalised over its trailing `normalizedShape` dimensions. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.getParam("weight") ?? null, this.getParam("bias") ?? null, {
      normalizedShape: this.normalizedShape,
      eps: this.eps,
    });
  }
}

/** Options of {@link LayerNorm2d}. */
export interface LayerNorm2dLayerOptions {
  /** Default 1e-6 (ConvNeXt's). */
  eps?: number;
}

/**
 * LayerNorm over the channel axis of NCHW input (each pixel normalised across its channels),
 * with per-channel `weight` and `bias`: ConvNeXt's `LayerNorm2d`.
 */
export class LayerNorm2d extends Module {
  /** Channels (the size of dimension 1). */
  numChannels: number;
  /** Added to the variance before the square root. */
  eps: number;
  /**
   * Channel count to divide by in the statistics, when it must differ from the actual channel
   * count (left undefined normally; set by compression so a pruned model keeps its outputs).
   */
  normCount?: number;

  /** LayerNorm over the channels of NCHW input, at every position (ConvNeXt's). */
  constructor(numChannels: number, opts: LayerNorm2dLayerOptions = {}) {
    super();
    this.numChannels = positiveInt(numChannels, "numChannels", "LayerNorm2d");
    this.eps = opts.eps ?? 1e-6;
    this.param("weight", constantInit([numChannels], 1));
    this.param("bias", constantInit([numChannels], 0));
  }

  /** x normalised over its channels at each position. */
  forward(x: Tensor): Tensor {
    const attrs: { eps: number; normCount?: number } = { eps: this.eps };
    if (this.normCount !== undefined) attrs.normCount = this.normCount;
    return layerNorm2d(x, this.getParam("weight")!, this.getParam("bias")!, attrs);
  }
}

/** Options of {@link GroupNorm}. */
export interface GroupNormLayerOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/** Group normalisation: channels split into `numGroups` groups normalised per sample. */
export class GroupNorm extends Module {
  /** Groups the channels are split into. */
  numGroups: number;
  /** Channels (the size of dimension 1). */
  numChannels: number;
  /** Added to the variance before the square root. */
  eps: number;

  /** GroupNorm of `numChannels` channels in `numGroups` groups (options as PyTorch's). */
  constructor(numGroups: number, numChannels: number, opts: GroupNormLayerOptions = {}) {
    super();
    positiveInt(numGroups, "numGroups", "GroupNorm");
    positiveInt(numChannels, "numChannels", "GroupNorm");
    if (numChannels % numGroups) {
      throw new Error(
        `GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`,
      );
    }
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.eps = opts.eps ?? 1e-5;
    this.param("weight", constantInit([numChannels], 1));
    this.param("bias", constantInit([numChannels], 0));
  }

  /** x normalised over each group of channels and the spatial positions. */
  forward(x: Tensor): Tensor {
    return groupNorm(x, this.getParam("weight")!, this.getParam("bias")!, {
      groups: this.numGroups,
      eps: this.eps,
    });
  }
}
