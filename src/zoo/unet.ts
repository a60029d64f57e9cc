/**
 * Two small U-Nets in sequence (the second refines the first's output), for dense prediction
 * on 64x64 inputs.
 *
 * Each U-Net, with base width w (default 16) and three resolutions:
 *
 * | module       | layers                                                  | channels      | size  |
 * |--------------|---------------------------------------------------------|---------------|-------|
 * | `enc1`       | (3x3 conv, BN, ReLU) x 2                                | in -> w       | H     |
 * | `pool1`      | 2x2 max-pool                                            | w             | H/2   |
 * | `enc2`       | (3x3 conv, BN, ReLU) x 2                                | w -> 2w       | H/2   |
 * | `pool2`      | 2x2 max-pool                                            | 2w            | H/4   |
 * | `bottleneck` | (3x3 conv, BN, ReLU) x 2                                | 2w -> 4w      | H/4   |
 * | `up2`        | 2x2 stride-2 ConvTranspose2d                            | 4w -> 2w      | H/2   |
 * | `dec2`       | concat(enc2, up2) then (3x3 conv, BN, ReLU) x 2         | 4w -> 2w      | H/2   |
 * | `up1`        | 2x2 stride-2 ConvTranspose2d                            | 2w -> w       | H     |
 * | `dec1`       | concat(enc1, up1) then (3x3 conv, BN, ReLU) x 2         | 2w -> w       | H     |
 * | `head`       | 1x1 conv                                                | w -> out      | H     |
 *
 * Convolutions followed by BatchNorm have no bias; the transposed convs and the head do.
 * `stacked-unets`: `unet1` maps 3 -> 3 channels (w = 16), `unet2` maps those 3 -> 2 channels
 * (w = 16, e.g. two-class segmentation logits); input [1, 3, 64, 64], output [1, 2, 64, 64].
 */
import { BatchNorm2d, Conv2d, ConvTranspose2d, MaxPool2d, ReLU, Sequential } from "../nn/index.ts";
import { Module } from "../nn/module.ts";
import { concat } from "../ops/index.ts";
import type { Tensor } from "../tensor.ts";
import { type ModelOptions, seeded } from "./common.ts";

/** (3x3 conv without bias, BatchNorm, ReLU) twice. */
export function doubleConv(inC: number, outC: number): Sequential {
  return new Sequential(
    new Conv2d(inC, outC, 3, { padding: 1, bias: false }),
    new BatchNorm2d(outC),
    new ReLU(),
    new Conv2d(outC, outC, 3, { padding: 1, bias: false }),
    new BatchNorm2d(outC),
    new ReLU(),
  );
}

/** A three-level U-Net (see the module documentation for the layers and widths). */
export class UNet extends Module {
  readonly enc1: Sequential;
  readonly pool1: MaxPool2d;
  readonly enc2: Sequential;
  readonly pool2: MaxPool2d;
  readonly bottleneck: Sequential;
  readonly up2: ConvTranspose2d;
  readonly dec2: Sequential;
  readonly up1: ConvTranspose2d;
  readonly dec1: Sequential;
  readonly head: Conv2d;

  constructor(inC: number, outC: number, w = 16) {
    super();
    this.enc1 = this.module("enc1", doubleConv(inC, w));
    this.pool1 = this.module("pool1", new MaxPool2d(2, { stride: 2 }));
    this.enc2 = this.module("enc2", doubleConv(w, 2 * w));
    this.pool2 = this.module("pool2", new MaxPool2d(2, { stride: 2 }));
    this.bottleneck = this.module("bottleneck", doubleConv(2 * w, 4 * w));
    this.up2 = this.module("up2", new ConvTranspose2d(4 * w, 2 * w, 2, { stride: 2 }));
    this.dec2 = this.module("dec2", doubleConv(4 * w, 2 * w));
    this.up1 = this.module("up1", new ConvTranspose2d(2 * w, w, 2, { stride: 2 }));
    this.dec1 = this.module("dec1", doubleConv(2 * w, w));
    this.head = this.module("head", new Conv2d(w, outC, 1));
  }

  forward(x: Tensor): Tensor {
    const e1 = this.enc1.call(x);
    const e2 = this.enc2.call(this.pool1.call(e1));
    const b = this.bottleneck.call(this.pool2.call(e2));
    const d2 = this.dec2.call(concat([e2, this.up2.call(b)], 1));
    const d1 = this.dec1.call(concat([e1, this.up1.call(d2)], 1));
    return this.head.call(d1);
  }
}

/** Options of {@link StackedUNets}. */
export interface StackedUNetsOptions extends ModelOptions {
  /** Channels between the two U-Nets (default 3). */
  midChannels?: number;
  /** Output channels of the second U-Net (default 2). */
  outChannels?: number;
}

/** `unet2(unet1(x))`. */
export class StackedUNets extends Module {
  readonly unet1: UNet;
  readonly unet2: UNet;
  constructor(opts: StackedUNetsOptions = {}) {
    super();
    const w = opts.width ?? 16;
    const mid = opts.midChannels ?? 3;
    this.unet1 = this.module("unet1", new UNet(opts.inChannels ?? 3, mid, w));
    this.unet2 = this.module("unet2", new UNet(mid, opts.outChannels ?? 2, w));
  }
  forward(x: Tensor): Tensor {
    return this.unet2.call(this.unet1.call(x));
  }
}

/** Two stacked U-Nets, 3 -> 3 -> 2 channels, base width 16. */
export function stackedUnets(opts: StackedUNetsOptions = {}): StackedUNets {
  return seeded(opts.seed, () => new StackedUNets(opts));
}
