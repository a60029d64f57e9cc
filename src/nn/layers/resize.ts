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
  scaleFactor: number | readonly [number, number];
  mode: "nearest" | "bilinear";
  alignCorners: boolean;
  constructor(opts: UpsampleLayerOptions) {
    super();
    this.scaleFactor = opts.scaleFactor;
    this.mode = opts.mode ?? "nearest";
    this.alignCorners = opts.alignCorners ?? false;
  }
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
  upscaleFactor: number;
  constructor(upscaleFactor: number) {
    super();
    this.upscaleFactor = positiveInt(upscaleFactor, "upscaleFactor", "PixelShuffle");
  }
  forward(x: Tensor): Tensor {
    return pixelShuffle(x, this.upscaleFactor);
  }
}
