/** `Conv2d` and `ConvTranspose2d`, as PyTorch's (NCHW, weights OIHW / IOHW). */
import { Module } from "../module.ts";
import type { Tensor } from "../../tensor.ts";
import { conv2d, convTranspose2d } from "../../ops/index.ts";
import { defaultLayerInit } from "../init.ts";
import { pair, positiveInt, type Size2 } from "./util.ts";

/** Options of {@link Conv2d}. */
export interface Conv2dLayerOptions {
  /** Step between windows: one size or [height, width] (default 1). */
  stride?: Size2;
  /** Zeros added on each side: one size or [height, width] (default 0). */
  padding?: Size2;
  /** Spacing between kernel taps: one size or [height, width] (default 1). */
  dilation?: Size2;
  /** Channel groups: in and out channels are split into this many groups (default 1). */
  groups?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/** Options of {@link ConvTranspose2d}. */
export interface ConvTranspose2dLayerOptions extends Conv2dLayerOptions {
  /** Extra rows/columns added to one side of the output (must be < stride or dilation). */
  outputPadding?: Size2;
}

function checkGroups(layer: string, inC: number, outC: number, groups: number): void {
  positiveInt(inC, "inChannels", layer);
  positiveInt(outC, "outChannels", layer);
  positiveInt(groups, "groups", layer);
  if (inC % groups || outC % groups) {
    throw new Error(
      `${layer}: inChannels (${inC}) and outChannels (${outC}) must both be divisible by ` +
        `groups (${groups})`,
    );
  }
}

/** Geometry, weight and bias shared by {@link Conv2d} and {@link ConvTranspose2d}. */
export abstract class ConvBase extends Module {
  /** Input channels. */
  inChannels: number;
  /** Output channels. */
  outChannels: number;
  /** Kernel [height, width]. */
  kernelSize: [number, number];
  /** Step between windows [height, width]. */
  stride: [number, number];
  /** Zero padding on each side [height, width]. */
  padding: [number, number];
  /** Spacing between kernel taps [height, width]. */
  dilation: [number, number];
  /** Channel groups. */
  groups: number;

  /** Options checked (errors name `layer`) and weights drawn as PyTorch does. */
  protected constructor(
    layer: string,
    inChannels: number,
    outChannels: number,
    kernel: Size2,
    opts: Conv2dLayerOptions,
  ) {
    super();
    const groups = opts.groups ?? 1;
    checkGroups(layer, inChannels, outChannels, groups);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernel, "kernel", layer);
    this.stride = pair(opts.stride ?? 1, "stride", layer);
    this.padding = pair(opts.padding ?? 0, "padding", layer);
    this.dilation = pair(opts.dilation ?? 1, "dilation", layer);
    this.groups = groups;
  }

  /** Create weight (of `shape`) and bias with PyTorch's initialisation. */
  protected initParams(shape: number[], bias: boolean | undefined): void {
    const p = defaultLayerInit(shape, bias === false ? 0 : this.outChannels);
    this.param("weight", p.weight);
    if (p.bias) this.param("bias", p.bias);
  }

  /** Conv2d: [out, in/groups, kh, kw]; ConvTranspose2d: [in, out/groups, kh, kw]. */
  get weight(): Tensor {
    return this.getParam("weight")!;
  }
  /** [out], or null without bias. */
  get bias(): Tensor | null {
    return this.getParam("bias") ?? null;
  }
}

/**
 * 2-D convolution. `weight` [out, in/groups, kh, kw] and `bias` [out], initialised as PyTorch
 * (kaiming_uniform_(a=√5): U(±1/√fan_in), fan_in = in/groups·kh·kw). `Conv2d(3, 64, 3)` has
 * 64·3·3·3 + 64 = 1792 parameters.
 *
 * @example
 * ```ts
 * import { Conv2d, init, randn } from "../../../mod.ts";
 * await init();
 * const x = randn([2, 3, 32, 32], { seed: 0 });
 * const conv = new Conv2d(3, 16, 3, { padding: 1 });
 * const y = conv.call(x); // [N, 16, H, W] = [2, 16, 32, 32]
 * ```
 */
export class Conv2d extends ConvBase {
  /** `inChannels` to `outChannels` with a `kernelSize` kernel (one size or [kh, kw]). */
  constructor(
    inChannels: number,
    outChannels: number,
    kernel: Size2,
    opts: Conv2dLayerOptions = {},
  ) {
    super("Conv2d", inChannels, outChannels, kernel, opts);
    const [kh, kw] = this.kernelSize;
    this.initParams([outChannels, inChannels / this.groups, kh, kw], opts.bias);
  }

  /** The convolution of x [N, inChannels, H, W] (plus bias): [N, outChannels, H', W']. */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}

/**
 * 2-D transposed convolution (a.k.a. deconvolution). `weight` [in, out/groups, kh, kw] and
 * `bias` [out]; PyTorch's initialisation (fan_in = out/groups·kh·kw, as PyTorch computes it).
 *
 * @example
 * ```ts
 * import { ConvTranspose2d, init, randn } from "../../../mod.ts";
 * await init();
 * const x = randn([2, 16, 8, 8], { seed: 0 });
 * const up = new ConvTranspose2d(16, 8, 2, { stride: 2 });
 * const y = up.call(x); // [N, 8, 2H, 2W] = [2, 8, 16, 16]
 * ```
 */
export class ConvTranspose2d extends ConvBase {
  /** Extra rows and columns added to one side of the output. */
  outputPadding: [number, number];

  /** `inChannels` to `outChannels` with a `kernelSize` kernel (one size or [kh, kw]). */
  constructor(
    inChannels: number,
    outChannels: number,
    kernel: Size2,
    opts: ConvTranspose2dLayerOptions = {},
  ) {
    const L = "ConvTranspose2d";
    super(L, inChannels, outChannels, kernel, opts);
    this.outputPadding = pair(opts.outputPadding ?? 0, "outputPadding", L);
    for (let i = 0; i < 2; i++) {
      if (this.outputPadding[i] >= Math.max(this.stride[i], this.dilation[i])) {
        throw new Error(
          `${L}: outputPadding [${this.outputPadding}] must be smaller than stride ` +
            `[${this.stride}] or dilation [${this.dilation}]`,
        );
      }
    }
    const [kh, kw] = this.kernelSize;
    this.initParams([inChannels, outChannels / this.groups, kh, kw], opts.bias);
  }

  /** The transposed convolution of x [N, inChannels, H, W] (plus bias). */
  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.outputPadding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}
