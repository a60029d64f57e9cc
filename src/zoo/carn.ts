/**
 * CARN, the Cascading Residual Network for super-resolution (Ahn, Kang, Sohn, ECCV 2018), as in
 * the authors' PyTorch code (nmhkahn/CARN-pytorch, `carn.py` and `ops.py`), single scale:
 *
 * - `MeanShift` subtracts the DIV2K RGB mean (0.4488, 0.4371, 0.4040) at the entry and adds it
 *   back at the exit. The reference freezes 1x1 identity convs for this; here the mean is a
 *   buffer (not trainable, not counted), which computes the same thing.
 * - `entry`: 3x3 conv 3->64.
 * - `b1`, `b2`, `b3`: cascading blocks; each runs three residual blocks (3x3 conv, ReLU, 3x3
 *   conv, add the input, ReLU) and after each one concatenates everything so far and fuses it
 *   with a 1x1 conv + ReLU (`c1`: 128->64, `c2`: 192->64, `c3`: 256->64).
 * - The same cascade at the global level: `c1`, `c2`, `c3` over the blocks' outputs.
 * - `upsample`: 3x3 conv 64->64·r², ReLU, PixelShuffle(r) (twice for x4).
 * - `exit`: 3x3 conv 64->3.
 *
 * At x2 this has 964,163 trainable parameters (the paper's 1,592K counts the multi-scale model
 * with x2, x3 and x4 upsamplers).
 */
import { Conv2d, PixelShuffle, ReLU, Sequential } from "../nn/index.ts";
import { Module } from "../nn/module.ts";
import { add, concat, relu, sub, tensor, upsample } from "../ops/index.ts";
import { constantInit, fanInOut, normalInit, type ParamInitOptions } from "../nn/init.ts";
import type { Tensor } from "../tensor.ts";
import { type ModelOptions, seeded } from "./common.ts";

/** DIV2K RGB mean used by CARN. */
export const DIV2K_MEAN = [0.4488, 0.4371, 0.404] as const;

/** Subtract (or add back) a per-channel constant; the constant is a buffer `mean`. */
export class MeanShift extends Module {
  readonly mean: Tensor;
  constructor(mean: readonly number[], readonly subtract: boolean) {
    super();
    this.mean = this.buffer("mean", tensor([...mean], [1, mean.length, 1, 1]));
  }
  forward(x: Tensor): Tensor {
    return this.subtract ? sub(x, this.mean) : add(x, this.mean);
  }
}

/** `relu(body(x) + x)` with body = 3x3 conv, ReLU, 3x3 conv. */
export class CarnResidualBlock extends Module {
  readonly body: Sequential;
  constructor(c: number) {
    super();
    this.body = this.module(
      "body",
      new Sequential(
        new Conv2d(c, c, 3, { padding: 1 }),
        new ReLU(),
        new Conv2d(c, c, 3, { padding: 1 }),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    return relu(add(this.body.call(x), x));
  }
}

/** 1x1 conv + ReLU (the reference's `BasicBlock(in, out, 1, 1, 0)`). */
function fuse(inC: number, outC: number): Sequential {
  return new Sequential(new Conv2d(inC, outC, 1), new ReLU());
}

/**
 * Three units with cascading 1x1 fusion: o_i = c_i(concat(x, u_1, ..., u_i)), u_i = unit_i(o_{i-1}).
 * Used for the cascading block (units = residual blocks) and the whole network (units =
 * cascading blocks).
 */
abstract class Cascade extends Module {
  protected units: Module[] = [];
  protected fusers: Module[] = [];

  protected build(c: number, make: () => Module): void {
    for (let i = 1; i <= 3; i++) this.units.push(this.module(`b${i}`, make()));
    for (let i = 1; i <= 3; i++) this.fusers.push(this.module(`c${i}`, fuse(c * (i + 1), c)));
  }

  protected cascade(x: Tensor): Tensor {
    let cat = x;
    let o = x;
    for (let i = 0; i < 3; i++) {
      cat = concat([cat, this.units[i].call(o)], 1);
      o = this.fusers[i].call(cat);
    }
    return o;
  }
}

/** CARN's cascading block: `b1..b3` residual blocks, `c1..c3` fusion convs. */
export class CascadingBlock extends Cascade {
  constructor(c: number) {
    super();
    this.build(c, () => new CarnResidualBlock(c));
  }
  forward(x: Tensor): Tensor {
    return this.cascade(x);
  }
}

/** Options of {@link CARN}: `scale` 2 (default), 3 or 4; `width` the feature channels (64). */
export interface CarnOptions extends ModelOptions {
  /**
   * Add the bilinearly upscaled input to the output (a global residual, as VDSR and most later
   * networks do; CARN itself has none): the network then learns only the detail, which trains
   * in far fewer steps. The exit's mean shift is left out, the input's stays. Default false.
   */
  globalResidual?: boolean;
  /**
   * Initialise for a residual network that must learn in few steps (default: as
   * `globalResidual`): He-normal weights (fan-in, ReLU gain), zero biases, the second conv of
   * every residual block scaled by 0.1 (EDSR's residual scaling, at initialisation only) and a
   * zero exit conv, so that the untrained network is exactly the bilinear upscaling and
   * features keep their spatial variation through the cascade. PyTorch's default (kaiming
   * uniform with a = sqrt(5), biases up to 1/sqrt(fan_in)) shrinks the spatial signal about
   * 8-fold by the upsampler of carn-small, where per-channel offsets dominate, and the network
   * starts by adding a 2x2 checkerboard (PixelShuffle of those offsets) to the bilinear image.
   * Measured (carn-small x2 in PyTorch on the embedded sample, 300 steps of 16 24x24 patches,
   * Adam 1e-3 cosine, seeds 1 and 3): 33.88 / 33.78 dB PSNR-Y on the held-out images with this
   * initialisation; 32.60 / 32.60 dB with the default one (200 steps), 32.62 dB from the draw
   * oto made before (320 steps; bilinear upscaling 32.45, bicubic 33.43).
   */
  residualInit?: boolean;
}

/** CARN: sub_mean, entry, b1..b3, c1..c3, upsample, exit, add_mean. */
export class CARN extends Cascade {
  readonly subMean: MeanShift;
  readonly entry: Conv2d;
  readonly upsample: Sequential;
  readonly exit: Conv2d;
  /** Adds the mean back at the exit (absent with `globalResidual`). */
  readonly addMean?: MeanShift;
  /** Upscaling factor. */
  readonly scale: number;
  readonly globalResidual: boolean;
  /** Whether {@link CarnOptions.residualInit} drew the weights (and draws scratch ones). */
  private readonly ownInit: boolean;

  constructor(opts: CarnOptions = {}) {
    super();
    const c = opts.width ?? 64;
    const inC = opts.inChannels ?? 3;
    const scale = opts.scale ?? 2;
    if (![2, 3, 4].includes(scale)) throw new Error(`CARN: scale must be 2, 3 or 4, got ${scale}`);
    this.scale = scale;
    const mean = inC === 3 ? [...DIV2K_MEAN] : new Array(inC).fill(0.5);
    this.subMean = this.module("sub_mean", new MeanShift(mean, true));
    this.entry = this.module("entry", new Conv2d(inC, c, 3, { padding: 1 }));
    this.build(c, () => new CascadingBlock(c));
    const up: Module[] = [];
    for (const r of scale === 4 ? [2, 2] : [scale]) {
      up.push(new Conv2d(c, c * r * r, 3, { padding: 1 }), new ReLU(), new PixelShuffle(r));
    }
    this.upsample = this.module("upsample", new Sequential(...up));
    this.exit = this.module("exit", new Conv2d(c, inC, 3, { padding: 1 }));
    this.globalResidual = opts.globalResidual ?? false;
    if (!this.globalResidual) this.addMean = this.module("add_mean", new MeanShift(mean, false));
    this.ownInit = opts.residualInit ?? this.globalResidual;
    if (this.ownInit) this.residualInit();
  }

  /** See {@link CarnOptions.residualInit}; draws in module order from the global generator. */
  private residualInit(): void {
    for (const [name, m] of this.namedModules()) {
      if (!(m instanceof Conv2d)) continue;
      const w = m.getParam("weight")!, b = m.getParam("bias");
      const fresh = this.initLayer(name, w.shape, b ? b.shape[0] : 0);
      m.param("weight", fresh.weight);
      if (b && fresh.bias) m.param("bias", fresh.bias);
    }
  }

  /** With {@link CarnOptions.residualInit}, that rule at any (compressed) shape. */
  override initLayer(
    path: string,
    weightShape: readonly number[],
    biasSize: number,
    opts: ParamInitOptions = {},
  ): { weight: Tensor; bias: Tensor | null } {
    if (!this.ownInit) return super.initLayer(path, weightShape, biasSize, opts);
    const gain = path === "exit" ? 0 : /\.body\.2$/.test(path) ? 0.1 : 1;
    const std = gain * Math.sqrt(2 / fanInOut(weightShape).fanIn);
    const weight = gain === 0
      ? constantInit(weightShape, 0, opts)
      : normalInit(weightShape, std, 0, opts);
    return { weight, bias: biasSize > 0 ? constantInit([biasSize], 0, opts) : null };
  }

  forward(x: Tensor): Tensor {
    const h = this.cascade(this.entry.call(this.subMean.call(x)));
    const y = this.exit.call(this.upsample.call(h));
    if (this.addMean) return this.addMean.call(y);
    return add(upsample(x, { scaleFactor: this.scale, mode: "bilinear" }), y);
  }
}

/** CARN (x2 by default): 964,163 trainable parameters at width 64 and x2. */
export function carn(opts: CarnOptions = {}): CARN {
  return seeded(opts.seed, () => new CARN(opts));
}

/**
 * `carn-small`: CARN's architecture at width 16 (61,331 parameters at x2, 1/16 of CARN's
 * multiply-adds) with the global residual (bilinear upscaling of the input added to the
 * output) and the matching initialisation ({@link CarnOptions.residualInit}), sized to train
 * in minutes on a CPU.
 */
export function carnSmall(opts: CarnOptions = {}): CARN {
  return carn({ width: 16, globalResidual: true, ...opts });
}
