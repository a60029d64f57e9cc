/** Pooling layers over NCHW input, as PyTorch's. */
import { Module } from "../module.ts";
import type { Tensor } from "../../tensor.ts";
import { adaptiveAvgPool2d, avgPool2d, globalMaxPool2d, maxPool2d } from "../../ops/index.ts";
import { pair, type Size2 } from "./util.ts";

/** Options of {@link MaxPool2d}. */
export interface MaxPool2dLayerOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  padding?: Size2;
  dilation?: Size2;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
}

/**
 * Max pooling. `new MaxPool2d(2)` halves H and W.
 *
 * @example
 * ```ts
 * const pool = new MaxPool2d(3, { stride: 2, padding: 1 });
 * ```
 */
export class MaxPool2d extends Module {
  kernelSize: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  ceilMode: boolean;

  constructor(kernel: Size2, opts: MaxPool2dLayerOptions = {}) {
    super();
    const L = "MaxPool2d";
    this.kernelSize = pair(kernel, "kernel", L);
    this.stride = pair(opts.stride ?? kernel, "stride", L);
    this.padding = pair(opts.padding ?? 0, "padding", L);
    this.dilation = pair(opts.dilation ?? 1, "dilation", L);
    this.ceilMode = opts.ceilMode ?? false;
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, {
      kernel: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      ceilMode: this.ceilMode,
    });
  }
}

/** Options of {@link AvgPool2d}. */
export interface AvgPool2dLayerOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  padding?: Size2;
  /** Count padded zeros in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
  ceilMode?: boolean;
}

/** Average pooling. */
export class AvgPool2d extends Module {
  kernelSize: [number, number];
  stride: [number, number];
  padding: [number, number];
  countIncludePad: boolean;
  ceilMode: boolean;

  constructor(kernel: Size2, opts: AvgPool2dLayerOptions = {}) {
    super();
    const L = "AvgPool2d";
    this.kernelSize = pair(kernel, "kernel", L);
    this.stride = pair(opts.stride ?? kernel, "stride", L);
    this.padding = pair(opts.padding ?? 0, "padding", L);
    this.countIncludePad = opts.countIncludePad ?? true;
    this.ceilMode = opts.ceilMode ?? false;
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, {
      kernel: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      countIncludePad: this.countIncludePad,
      ceilMode: this.ceilMode,
    });
  }
}

/** Average pooling to a fixed output size (`1` for global average pooling). */
export class AdaptiveAvgPool2d extends Module {
  outputSize: [number, number];

  constructor(outputSize: Size2) {
    super();
    this.outputSize = pair(outputSize, "outputSize", "AdaptiveAvgPool2d");
  }

  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

/**
 * Max pooling to a fixed output size; only `1` (global max pooling, as CBAM's channel attention
 * uses) is supported.
 */
export class AdaptiveMaxPool2d extends Module {
  outputSize: [number, number];

  constructor(outputSize: Size2) {
    super();
    this.outputSize = pair(outputSize, "outputSize", "AdaptiveMaxPool2d");
    if (this.outputSize[0] !== 1 || this.outputSize[1] !== 1) {
      throw new Error(
        `AdaptiveMaxPool2d: only output size 1 (global max pooling) is supported, got ` +
          `${this.outputSize}`,
      );
    }
  }

  forward(x: Tensor): Tensor {
    return globalMaxPool2d(x);
  }
}
