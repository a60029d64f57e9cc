/** Resolution-changing layers: Upsample and PixelShuffle. */
import { Module } from "../module.ts";
import type { Tensor } from "../../tensor.ts";
import { pixelShuffle, upsample } from "../../ops/index.ts";
import { positiveInt } from "./util.ts";

/** Options of {@link Upsample}. */
export interface UpsampleLayerOptions {
  /** Factor for H and W (a number or [fh, fw]). */
  scaleFactor: number | readonly [number, number];
  /** "nearest" (default) or "bilinear". */
  mode?: "nearest" | "bilinear";
  /** Bilinear only: align the corner pixels (default false). */
  alignCorners?: boolean;
}

/** Upsample NCHW input by a scale factor. */
export class Upsample extends Module {
  /** Output size / input size, one factor or [height, width]. */
  scaleFactor: number | readonly [number, number];
  /** How output pixels are computed from input pixels. */
  mode: "nearest" | "bilinear";
  /** Whether corner pixels of input and output are aligned (bilinear only). */
  alignCorners: boolean;
  /** Upsampling by `scaleFactor` (options as PyTorch's `nn.Upsample`). */
  constructor(opts: UpsampleLayerOptions) {
    super();
    this.scaleFactor = opts.scaleFactor;
    this.mode = opts.mode ?? "nearest";
    this.alignCorners = opts.alignCorners ?? false;
  }
  /** x [N, C, H, W] resized to [N, C, H * s, W * s]. */
  forward(x: Tensor): Tensor {
    return upsample(x, {
      scaleFactor: this.scaleFactor,
      mode: this.mode,
      alignCorners: this.alignCorners,
    });
  }
}

/** [N, C·r², H, W] -> [N, C, H·r, W·r] (sub-pixel convolution output). */
export class PixelShuffle extends Module {
  /** The factor r: each output pixel block of r x r comes from r^2 channels. */
  upscaleFactor: number;
  /** Pixel shuffle by `upscaleFactor`. */
  constructor(upscaleFactor: number) {
    super();
    this.upscaleFactor = positiveInt(upscaleFactor, "upscaleFactor", "PixelShuffle");
  }
  /** x [N, C r^2, H, W] rearranged to [N, C, H r, W r]. */
  forward(x: Tensor): Tensor {
    return pixelShuffle(x, this.upscaleFactor);
  }
}
