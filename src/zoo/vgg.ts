/**
 * VGG for CIFAR (32x32 inputs): 3x3 convolutions with bias, ReLU, optional BatchNorm after every
 * convolution, 2x2 max-pools, then a fully connected classifier. With the VGG16 configuration
 * and a 512-512-512-10 classifier this is the CIFAR VGG16 of the OTO papers: 15,245,130
 * parameters (15,253,578 with BatchNorm).
 */
import { BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU, Sequential } from "../nn/index.ts";
import { Module } from "../nn/module.ts";
import { flatten } from "../ops/index.ts";
import type { Tensor } from "../tensor.ts";
import { type ModelOptions, scaleWidth, seeded } from "./common.ts";

/** A VGG feature configuration: output channels of each 3x3 conv, "M" for a 2x2 max-pool. */
export type VggConfig = readonly (number | "M")[];

/** The 13-convolution VGG16 configuration. */
export const VGG16_CONFIG: VggConfig = [
  64,
  64,
  "M",
  128,
  128,
  "M",
  256,
  256,
  256,
  "M",
  512,
  512,
  512,
  "M",
  512,
  512,
  512,
  "M",
];

/** Options of {@link VGG}. */
export interface VggOptions extends ModelOptions {
  /** BatchNorm after each convolution (default false). */
  batchNorm?: boolean;
  /** Hidden widths of the classifier (default [512, 512], scaled by `width`). */
  hidden?: readonly number[];
  /** Input height = width, to size the first Linear (default 32). */
  inputSize?: number;
}

/** VGG: `features` (convs, norms, ReLUs, pools) then `classifier` (Linear, ReLU, ...). */
export class VGG extends Module {
  readonly features: Sequential;
  readonly classifier: Sequential;

  constructor(config: VggConfig, opts: VggOptions = {}) {
    super();
    const layers: Module[] = [];
    let c = opts.inChannels ?? 3;
    let s = opts.inputSize ?? 32;
    for (const v of config) {
      if (v === "M") {
        layers.push(new MaxPool2d(2, { stride: 2 }));
        s = Math.floor(s / 2);
        continue;
      }
      layers.push(new Conv2d(c, v, 3, { padding: 1 }));
      if (opts.batchNorm) layers.push(new BatchNorm2d(v));
      layers.push(new ReLU());
      c = v;
    }
    if (s < 1) {
      throw new Error(`VGG: input size ${opts.inputSize ?? 32} is too small for the pools`);
    }
    this.features = this.module("features", new Sequential(...layers));
    const head: Module[] = [];
    let f = c * s * s;
    for (const h of opts.hidden ?? [512, 512]) {
      head.push(new Linear(f, h), new ReLU());
      f = h;
    }
    head.push(new Linear(f, opts.numClasses ?? 10));
    this.classifier = this.module("classifier", new Sequential(...head));
  }

  forward(x: Tensor): Tensor {
    return this.classifier.call(flatten(this.features.call(x), 1));
  }
}

/** CIFAR VGG16 (no BatchNorm): 15,245,130 parameters at full width with 10 classes. */
export function vgg16(opts: VggOptions = {}): VGG {
  return seeded(opts.seed, () => {
    const w = opts.width;
    const cfg = VGG16_CONFIG.map((v) => v === "M" ? v : scaleWidth(v, w, 64));
    const hidden = opts.hidden ?? [scaleWidth(512, w, 64), scaleWidth(512, w, 64)];
    return new VGG(cfg, { ...opts, hidden });
  });
}

/** CIFAR VGG16 with BatchNorm: 15,253,578 trainable parameters at full width. */
export function vgg16bn(opts: VggOptions = {}): VGG {
  return vgg16({ ...opts, batchNorm: true });
}
