/**
 * MobileNetV2 (Sandler et al. 2018) in torchvision's layout and module names: `features.0` is
 * conv 3x3/2 + BN + ReLU6, then inverted residual blocks (`features.i.conv`: 1x1 expansion +
 * BN + ReLU6 unless the expansion ratio is 1, 3x3 depthwise + BN + ReLU6, 1x1 projection + BN;
 * a residual add when stride is 1 and the widths match), a last 1x1 conv + BN + ReLU6,
 * global average pooling and `classifier` = [Dropout(0.2), Linear]. Channel widths are rounded
 * as torchvision's `_make_divisible` does. Width 1.0 with 1000 classes: 3,504,872 parameters.
 */
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  Linear,
  ReLU6,
  Sequential,
} from "../nn/index.ts";
import { Module } from "../nn/module.ts";
import { add, flatten } from "../ops/index.ts";
import type { Tensor } from "../tensor.ts";
import { type ModelOptions, seeded } from "./common.ts";

/** torchvision's `_make_divisible`: round to a multiple of `d`, never down by more than 10%. */
export function makeDivisible(v: number, d = 8): number {
  const n = Math.max(d, Math.floor(v + d / 2) - (Math.floor(v + d / 2) % d));
  return n < 0.9 * v ? n + d : n;
}

/** Conv (no bias) + BatchNorm (+ ReLU6): torchvision's `Conv2dNormActivation`. */
function convBn(inC: number, outC: number, k: number, stride = 1, groups = 1, act = true) {
  const layers: Module[] = [
    new Conv2d(inC, outC, k, { stride, padding: (k - 1) >> 1, groups, bias: false }),
    new BatchNorm2d(outC),
  ];
  if (act) layers.push(new ReLU6());
  return new Sequential(...layers);
}

/** Expansion (unless the ratio is 1), depthwise 3x3, linear projection; residual when it fits. */
export class InvertedResidual extends Module {
  readonly conv: Sequential;
  readonly residual: boolean;
  constructor(inC: number, outC: number, stride: number, expand: number) {
    super();
    const hidden = Math.round(inC * expand);
    this.residual = stride === 1 && inC === outC;
    const layers: Module[] = [];
    if (expand !== 1) layers.push(convBn(inC, hidden, 1));
    layers.push(
      convBn(hidden, hidden, 3, stride, hidden),
      new Conv2d(hidden, outC, 1, { bias: false }),
      new BatchNorm2d(outC),
    );
    // torchvision flattens the expansion block into the same Sequential.
    this.conv = this.module("conv", new Sequential(...layers));
  }
  forward(x: Tensor): Tensor {
    const y = this.conv.call(x);
    return this.residual ? add(x, y) : y;
  }
}

/** Options of {@link mobilenetV2}. */
export interface MobileNetV2Options extends ModelOptions {
  /** Width multiplier (default 1; `width` sets it as width/32 when given). */
  widthMult?: number;
  /** [t, c, n, s] rows: expansion, channels, repeats, first stride (torchvision's default). */
  settings?: readonly (readonly [number, number, number, number])[];
  /** Channels of the last conv (default 1280 · max(1, widthMult)). */
  lastChannel?: number;
}

const SETTINGS: readonly (readonly [number, number, number, number])[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** MobileNetV2: `features`, global average pool, `classifier`. */
export class MobileNetV2 extends Module {
  readonly features: Sequential;
  readonly pool: AdaptiveAvgPool2d;
  readonly classifier: Sequential;
  constructor(opts: MobileNetV2Options = {}) {
    super();
    const wm = opts.widthMult ?? (opts.width !== undefined ? opts.width / 32 : 1);
    let inC = makeDivisible(32 * wm);
    const last = opts.lastChannel ?? makeDivisible(1280 * Math.max(1, wm));
    const layers: Module[] = [convBn(opts.inChannels ?? 3, inC, 3, 2)];
    for (const [t, c, n, s] of opts.settings ?? SETTINGS) {
      const outC = makeDivisible(c * wm);
      for (let i = 0; i < n; i++) {
        layers.push(new InvertedResidual(inC, outC, i === 0 ? s : 1, t));
        inC = outC;
      }
    }
    layers.push(convBn(inC, last, 1));
    this.features = this.module("features", new Sequential(...layers));
    this.pool = this.module("pool", new AdaptiveAvgPool2d(1));
    this.classifier = this.module(
      "classifier",
      new Sequential(new Dropout(0.2), new Linear(last, opts.numClasses ?? 1000)),
    );
  }
  forward(x: Tensor): Tensor {
    return this.classifier.call(flatten(this.pool.call(this.features.call(x)), 1));
  }
}

/** torchvision MobileNetV2 (width 1.0, 1000 classes: 3,504,872 parameters). */
export function mobilenetV2(opts: MobileNetV2Options = {}): MobileNetV2 {
  return seeded(opts.seed, () => new MobileNetV2(opts));
}
