/** Pooling layers over NCHW input, as PyTorch's. */
import { Module } from "../module.ts";
import type { Tensor } from "../../tensor.ts";
import { adaptiveAvgPool2d, avgPool2d, globalMaxPool2d, maxPool2d } from "../../ops/index.ts";
import { pair, type Size2 } from "./util.ts";

/** Options of {@link MaxPool2d}. */
export interface MaxPool2dLayerOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  /** Implicit -infinity padding on each side: one size or [height, width] (default 0). */
  padding?: Size2;
  /** Spacing between window taps: one size or [height, width] (default 1). */
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
  /** Window [height, width]. */
  kernelSize: [number, number];
  /** Step between windows [height, width]. */
  stride: [number, number];
  /** Padding [height, width]. */
  padding: [number, number];
  /** Spacing between window taps [height, width]. */
  dilation: [number, number];
  /** Whether output sizes round up (a last, partial window). */
  ceilMode: boolean;

  /** Max pooling with a `kernel` window (one size or [kh, kw]); stride defaults to the kernel. */
  constructor(kernel: Size2, opts: MaxPool2dLayerOptions = {}) {
    super();
    const L = "MaxPool2d";
    this.kernelSize = pair(kernel, "kernel", L);
    this.stride = pair(opts.stride ?? kernel, "stride", L);
    this.padding = pair(opts.padding ?? 0, "padding", L);
    this.dilation = pair(opts.dilation ?? 1, "dilation", L);
    this.ceilMode = opts.ceilMode ?? false;
  }

  /** The maximum of each window of x [N, C, H, W]. */
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
  /** Zero padding on each side: one size or [height, width] (default 0). */
  padding?: Size2;
  /** Count padded zeros in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
  /** Whether output sizes round up (a last, partial window; default false). */
  ceilMode?: boolean;
}

/** Average pooling. */
export class AvgPool2d extends Module {
  /** Window [height, width]. */
  kernelSize: [number, number];
  /** Step between windows [height, width]. */
  stride: [number, number];
  /** Padding [height, width]. */
  padding: [number, number];
  /** Whether padded zeros count in each window's mean. */
  countIncludePad: boolean;
  /** Whether output sizes round up (a last, partial window). */
  ceilMode: boolean;

  /** Average pooling with a `kernel` window (one size or [kh, kw]); stride defaults to it. */
  constructor(kernel: Size2, opts: AvgPool2dLayerOptions = {}) {
    super();
    const L = "AvgPool2d";
    this.kernelSize = pair(kernel, "kernel", L);
    this.stride = pair(opts.stride ?? kernel, "stride", L);
    this.padding = pair(opts.padding ?? 0, "padding", L);
    this.countIncludePad = opts.countIncludePad ?? true;
    this.ceilMode = opts.ceilMode ?? false;
  }

  /** The mean of each window of x [N, C, H, W]. */
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
  /** Output [height, width]. */
  outputSize: [number, number];

  /** Average pooling to a fixed `outputSize` (one size or [h, w]) whatever the input size. */
  constructor(outputSize: Size2) {
    super();
    this.outputSize = pair(outputSize, "outputSize", "AdaptiveAvgPool2d");
  }

  /** x [N, C, H, W] averaged over adaptive windows to [N, C, outH, outW]. */
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

/**
 * Max pooling to a fixed output size; only `1` (global max pooling, as CBAM's channel attention
 * uses) is supported.
 */
export class AdaptiveMaxPool2d extends Module {
  /** Output [height, width] (1 x 1: global max pooling). */
  outputSize: [number, number];

  /** Max pooling to `outputSize` (one size or [h, w]; only 1 x 1 is supported). */
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

  /** The maximum of each channel: [N, C, 1, 1]. */
  forward(x: Tensor): Tensor {
    return globalMaxPool2d(x);
  }
}
