/**
 * Tiny models of the patterns real networks use that the ZIG partition must prune exactly:
 * batch norm without affine parameters, crops of the input and of feature maps, channel splits
 * (YOLOv8's C2f), MobileNet blocks (ReLU6, hard swish, squeeze-excitation with a hard sigmoid,
 * depthwise convs, SiLU, Mish, `min(relu(x), 6)`), global pooling written as reductions, SE and
 * CBAM attention, ConvNeXt's channels-last blocks (permute, LayerNorm and Linear over the last
 * axis, layer scale), and models with several inputs and outputs. Widths are small so tests run
 * them on the cpu backend; each model's prunable group count is derived in tests/zig_cases_test.
 */
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  GELU,
  Hardsigmoid,
  Hardswish,
  LayerNorm,
  LayerNorm2d,
  Linear,
} from "../nn/index.ts";
import { Module } from "../nn/module.ts";
import {
  add,
  concat,
  flatten,
  full,
  gelu,
  globalMaxPool2d,
  matmul,
  max,
  maxPool2d,
  mean,
  minimum,
  mish,
  mul,
  permute,
  relu,
  relu6,
  reshape,
  sigmoid,
  silu,
  slice,
  softmax,
  split,
  upsample,
} from "../ops/index.ts";
import type { Tensor } from "../tensor.ts";
import { type ModelOptions, seeded } from "./common.ts";

const conv = (cin: number, cout: number, k: number, o: { stride?: number; groups?: number } = {}) =>
  new Conv2d(cin, cout, k, { padding: Math.floor(k / 2), bias: false, ...o });

/** conv-BN(affine false)-ReLU twice, pool, fc: eval mode outputs -mean/sd for a zero channel. */
export class BnNoAffineCase extends Module {
  c1: Conv2d;
  b1: BatchNorm2d;
  c2: Conv2d;
  b2: BatchNorm2d;
  fc: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const w = o.width ?? 8;
    this.c1 = this.module("c1", new Conv2d(o.inChannels ?? 3, w, 3, { padding: 1 }));
    this.b1 = this.module("b1", new BatchNorm2d(w, { affine: false }));
    this.c2 = this.module("c2", conv(w, 2 * w, 3, { stride: 2 }));
    this.b2 = this.module("b2", new BatchNorm2d(2 * w, { affine: false }));
    this.fc = this.module("fc", new Linear(2 * w, o.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    const h = relu(this.b1.call(this.c1.call(x)));
    const y = relu(this.b2.call(this.c2.call(h)));
    return this.fc.call(flatten(new AdaptiveAvgPool2d(1).call(y)));
  }
}

/**
 * Crops: the input's border, a skip connection cropped to the decoder's size (as the original
 * U-Net), concat, 1x1 conv, global mean over H and W, fc.
 */
export class CropCase extends Module {
  enc: Conv2d;
  bn: BatchNorm2d;
  dec: Conv2d;
  fuse: Conv2d;
  fc: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const w = o.width ?? 4;
    this.enc = this.module("enc", conv(o.inChannels ?? 3, w, 3));
    this.bn = this.module("bn", new BatchNorm2d(w));
    this.dec = this.module("dec", new Conv2d(w, w, 3)); // no padding: 2 pixels smaller
    this.fuse = this.module("fuse", new Conv2d(2 * w, w, 1));
    this.fc = this.module("fc", new Linear(w, o.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    const crop = (t: Tensor) => slice(t, [0, 0, 1, 1], [Infinity, Infinity, -1, -1]);
    const e = relu(this.bn.call(this.enc.call(crop(x))));
    const d = relu(this.dec.call(e));
    const y = relu(this.fuse.call(concat([crop(e), d], 1)));
    return this.fc.call(mean(y, [2, 3]));
  }
}

/**
 * YOLOv8's C2f: cv1 (2c channels) split into halves; the second half feeds a residual
 * bottleneck; cv2 reads both halves and the bottleneck's output; pool, fc.
 */
export class ChannelSplitCase extends Module {
  cv1: Conv2d;
  bn1: BatchNorm2d;
  ma: Conv2d;
  mb: Conv2d;
  cv2: Conv2d;
  bn2: BatchNorm2d;
  fc: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const c = o.width ?? 4;
    this.cv1 = this.module("cv1", conv(o.inChannels ?? 3, 2 * c, 1));
    this.bn1 = this.module("bn1", new BatchNorm2d(2 * c));
    this.ma = this.module("ma", conv(c, c, 3));
    this.mb = this.module("mb", conv(c, c, 3));
    this.cv2 = this.module("cv2", conv(3 * c, 2 * c, 1));
    this.bn2 = this.module("bn2", new BatchNorm2d(2 * c));
    this.fc = this.module("fc", new Linear(2 * c, o.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    const y = silu(this.bn1.call(this.cv1.call(x)));
    const [y0, y1] = split(y, 2, 1);
    const m = add(y1, this.mb.call(silu(this.ma.call(y1))));
    const z = silu(this.bn2.call(this.cv2.call(concat([y0, y1, m], 1))));
    return this.fc.call(flatten(new AdaptiveAvgPool2d(1).call(z)));
  }
}

/**
 * MobileNet blocks: a stem with `min(relu(x), 6)`; a MobileNetV2 inverted residual (1x1
 * expand, ReLU6, depthwise 3x3, ReLU6, linear 1x1 projection, add); a MobileNetV3 block (hard
 * swish, depthwise, squeeze-excitation with a hard sigmoid gate, projection); a SiLU head conv
 * and a Mish before the classifier.
 */
export class MobileCase extends Module {
  stem: Conv2d;
  bn0: BatchNorm2d;
  e1: Conv2d;
  be1: BatchNorm2d;
  d1: Conv2d;
  bd1: BatchNorm2d;
  p1: Conv2d;
  bp1: BatchNorm2d;
  e2: Conv2d;
  be2: BatchNorm2d;
  d2: Conv2d;
  bd2: BatchNorm2d;
  se1: Conv2d;
  se2: Conv2d;
  gate: Hardsigmoid;
  act: Hardswish;
  p2: Conv2d;
  bp2: BatchNorm2d;
  head: Conv2d;
  fc: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const c = o.width ?? 4;
    this.stem = this.module("stem", conv(o.inChannels ?? 3, c, 3));
    this.bn0 = this.module("bn0", new BatchNorm2d(c));
    this.e1 = this.module("e1", conv(c, 2 * c, 1));
    this.be1 = this.module("be1", new BatchNorm2d(2 * c));
    this.d1 = this.module("d1", conv(2 * c, 2 * c, 3, { groups: 2 * c }));
    this.bd1 = this.module("bd1", new BatchNorm2d(2 * c));
    this.p1 = this.module("p1", conv(2 * c, c, 1));
    this.bp1 = this.module("bp1", new BatchNorm2d(c));
    this.e2 = this.module("e2", conv(c, 2 * c, 1));
    this.be2 = this.module("be2", new BatchNorm2d(2 * c));
    this.d2 = this.module("d2", conv(2 * c, 2 * c, 3, { stride: 2, groups: 2 * c }));
    this.bd2 = this.module("bd2", new BatchNorm2d(2 * c));
    this.se1 = this.module("se1", new Conv2d(2 * c, 2, 1));
    this.se2 = this.module("se2", new Conv2d(2, 2 * c, 1));
    this.gate = this.module("gate", new Hardsigmoid());
    this.act = this.module("act", new Hardswish());
    this.p2 = this.module("p2", conv(2 * c, c + 2, 1));
    this.bp2 = this.module("bp2", new BatchNorm2d(c + 2));
    this.head = this.module("head", new Conv2d(c + 2, 2 * c, 1));
    this.fc = this.module("fc", new Linear(2 * c, o.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    const s = minimum(relu(this.bn0.call(this.stem.call(x))), full([], 6));
    let h = relu6(this.be1.call(this.e1.call(s)));
    h = relu6(this.bd1.call(this.d1.call(h)));
    const r = add(s, this.bp1.call(this.p1.call(h)));
    let g = this.act.call(this.be2.call(this.e2.call(r)));
    g = this.act.call(this.bd2.call(this.d2.call(g)));
    const se = this.se2.call(relu(this.se1.call(new AdaptiveAvgPool2d(1).call(g))));
    g = mul(g, this.gate.call(se));
    const p = this.bp2.call(this.p2.call(g));
    const y = silu(this.head.call(p));
    return this.fc.call(mish(flatten(new AdaptiveAvgPool2d(1).call(y))));
  }
}

/**
 * Global pooling written as reductions: mean and max over H and W of one feature map and the
 * global max pool of another, concatenated into the classifier.
 */
export class ReductionCase extends Module {
  a: Conv2d;
  bn: BatchNorm2d;
  b: Conv2d;
  fc: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const w = o.width ?? 4;
    this.a = this.module("a", conv(o.inChannels ?? 3, w, 3));
    this.bn = this.module("bn", new BatchNorm2d(w));
    this.b = this.module("b", new Conv2d(w, w + 2, 3, { stride: 2 }));
    this.fc = this.module("fc", new Linear(3 * w + 2, o.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    const a = relu(this.bn.call(this.a.call(x)));
    const g3 = flatten(globalMaxPool2d(relu(this.b.call(a))));
    return this.fc.call(concat([mean(a, [2, 3]), max(a, [-2, -1]), g3], 1));
  }
}

/**
 * SE-ResNet basic block: conv-BN-ReLU, conv-BN, squeeze-excitation (global pool, Linear,
 * ReLU, Linear, sigmoid, [N, C, 1, 1] gate) on the residual branch, add, ReLU; pool, fc.
 */
export class SqueezeExciteCase extends Module {
  stem: Conv2d;
  bn0: BatchNorm2d;
  c1: Conv2d;
  bn1: BatchNorm2d;
  c2: Conv2d;
  bn2: BatchNorm2d;
  fc1: Linear;
  fc2: Linear;
  fc: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const c = o.width ?? 8;
    this.stem = this.module("stem", conv(o.inChannels ?? 3, c, 3));
    this.bn0 = this.module("bn0", new BatchNorm2d(c));
    this.c1 = this.module("c1", conv(c, c, 3));
    this.bn1 = this.module("bn1", new BatchNorm2d(c));
    this.c2 = this.module("c2", conv(c, c, 3));
    this.bn2 = this.module("bn2", new BatchNorm2d(c));
    this.fc1 = this.module("fc1", new Linear(c, c / 4));
    this.fc2 = this.module("fc2", new Linear(c / 4, c));
    this.fc = this.module("fc", new Linear(c, o.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    const s = relu(this.bn0.call(this.stem.call(x)));
    const y = this.bn2.call(this.c2.call(relu(this.bn1.call(this.c1.call(s)))));
    const [n, c] = y.shape;
    const w = sigmoid(
      this.fc2.call(relu(this.fc1.call(flatten(new AdaptiveAvgPool2d(1).call(y))))),
    );
    const z = relu(add(s, mul(y, reshape(w, [n, c, 1, 1]))));
    return this.fc.call(flatten(new AdaptiveAvgPool2d(1).call(z)));
  }
}

/**
 * CBAM: channel attention (one MLP of 1x1 convs shared by the average- and max-pooled
 * descriptors, summed, sigmoid) then spatial attention (channel mean and max, 7x7 conv,
 * sigmoid); a conv and a classifier after it. The spatial attention's mean and max over the
 * channels make the attended channels unprunable; the MLP's hidden units are prunable.
 */
export class CbamCase extends Module {
  stem: Conv2d;
  bn: BatchNorm2d;
  mlp1: Conv2d;
  mlp2: Conv2d;
  spatial: Conv2d;
  out: Conv2d;
  fc: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const c = o.width ?? 8;
    this.stem = this.module("stem", conv(o.inChannels ?? 3, c, 3));
    this.bn = this.module("bn", new BatchNorm2d(c));
    this.mlp1 = this.module("mlp1", new Conv2d(c, c / 2, 1));
    this.mlp2 = this.module("mlp2", new Conv2d(c / 2, c, 1));
    this.spatial = this.module("spatial", conv(2, 1, 7));
    this.out = this.module("out", conv(c, c, 3));
    this.fc = this.module("fc", new Linear(c, o.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    const s = relu(this.bn.call(this.stem.call(x)));
    const mlp = (t: Tensor) => this.mlp2.call(relu(this.mlp1.call(t)));
    const ca = sigmoid(add(mlp(new AdaptiveAvgPool2d(1).call(s)), mlp(globalMaxPool2d(s))));
    const s1 = mul(s, ca);
    const sa = sigmoid(this.spatial.call(concat([mean(s1, 1, true), max(s1, 1, true)], 1)));
    const y = relu(this.out.call(mul(s1, sa)));
    return this.fc.call(flatten(new AdaptiveAvgPool2d(1).call(y)));
  }
}

/** One ConvNeXt block as the official code writes it (channels last between the permutes). */
class ConvNeXtBlock extends Module {
  dw: Conv2d;
  norm: LayerNorm;
  pw1: Linear;
  act: GELU;
  pw2: Linear;
  constructor(c: number) {
    super();
    this.dw = this.module("dwconv", new Conv2d(c, c, 3, { padding: 1, groups: c }));
    this.norm = this.module("norm", new LayerNorm(c, { eps: 1e-6 }));
    this.pw1 = this.module("pwconv1", new Linear(c, 4 * c));
    this.act = this.module("act", new GELU());
    this.pw2 = this.module("pwconv2", new Linear(4 * c, c));
    this.param("gamma", full([c], 0.5));
  }
  forward(x: Tensor): Tensor {
    let h = permute(this.dw.call(x), [0, 2, 3, 1]); // NCHW -> NHWC
    h = this.pw2.call(this.act.call(this.pw1.call(this.norm.call(h))));
    h = mul(this.getParam("gamma")!, h); // layer scale over the last axis
    return add(x, permute(h, [0, 3, 1, 2]));
  }
}

/**
 * ConvNeXt (official code layout): 2x2/2 stem with a channels-first LayerNorm, two blocks of
 * depthwise conv, permute to NHWC, LayerNorm, Linear 4x, GELU, Linear, layer scale, permute
 * back, residual add; global mean, LayerNorm, Linear head.
 */
export class ChannelsLastCase extends Module {
  stem: Conv2d;
  stemNorm: LayerNorm2d;
  b1: ConvNeXtBlock;
  b2: ConvNeXtBlock;
  norm: LayerNorm;
  head: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const c = o.width ?? 4;
    this.stem = this.module("stem", new Conv2d(o.inChannels ?? 3, c, 2, { stride: 2 }));
    this.stemNorm = this.module("stem_norm", new LayerNorm2d(c));
    this.b1 = this.module("b1", new ConvNeXtBlock(c));
    this.b2 = this.module("b2", new ConvNeXtBlock(c));
    this.norm = this.module("norm", new LayerNorm(c, { eps: 1e-6 }));
    this.head = this.module("head", new Linear(c, o.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    const h = this.b2.call(this.b1.call(this.stemNorm.call(this.stem.call(x))));
    return this.head.call(this.norm.call(mean(h, [-2, -1])));
  }
}

/**
 * Two inputs (an image and a feature vector), two named outputs: class logits from both, and a
 * box map from the image branch.
 */
export class MultiInputOutputCase extends Module<{ logits: Tensor; boxes: Tensor }> {
  conv: Conv2d;
  bn: BatchNorm2d;
  aux: Linear;
  mix: Linear;
  cls: Linear;
  box: Conv2d;
  constructor(o: ModelOptions & { auxFeatures?: number } = {}) {
    super();
    const c = o.width ?? 4;
    this.conv = this.module("conv", conv(o.inChannels ?? 3, c, 3));
    this.bn = this.module("bn", new BatchNorm2d(c));
    this.aux = this.module("aux", new Linear(o.auxFeatures ?? 5, 6));
    this.mix = this.module("mix", new Linear(c + 6, 8));
    this.cls = this.module("cls", new Linear(8, o.numClasses ?? 10));
    this.box = this.module("box", new Conv2d(c, 4, 1));
  }
  forward(img: Tensor, features: Tensor): { logits: Tensor; boxes: Tensor } {
    const a = relu(this.bn.call(this.conv.call(img)));
    const b = relu(this.aux.call(features));
    const z = relu(this.mix.call(concat([mean(a, [2, 3]), b], 1)));
    return { logits: this.cls.call(z), boxes: this.box.call(a) };
  }
}

/**
 * A two-scale detector (YOLO-style): strided backbone convs with SiLU, an SPPF block (three
 * chained 5x5/1 max pools concatenated), a top-down path (1x1 conv, nearest upsample, concat
 * with the finer map), and one detection head per scale returned as an array.
 */
export class TwoScaleDetectorCase extends Module<Tensor[]> {
  c1: Conv2d;
  b1: BatchNorm2d;
  c2: Conv2d;
  b2: BatchNorm2d;
  sppf: Conv2d;
  lat: Conv2d;
  fuse: Conv2d;
  headS: Conv2d;
  headL: Conv2d;
  constructor(o: ModelOptions & { outputs?: number } = {}) {
    super();
    const c = o.width ?? 4, no = o.outputs ?? 6;
    this.c1 = this.module("c1", conv(o.inChannels ?? 3, c, 3, { stride: 2 }));
    this.b1 = this.module("b1", new BatchNorm2d(c));
    this.c2 = this.module("c2", conv(c, 2 * c, 3, { stride: 2 }));
    this.b2 = this.module("b2", new BatchNorm2d(2 * c));
    this.sppf = this.module("sppf", new Conv2d(8 * c, 2 * c, 1));
    this.lat = this.module("lat", new Conv2d(2 * c, c, 1));
    this.fuse = this.module("fuse", conv(2 * c, c, 3));
    this.headS = this.module("head_s", new Conv2d(2 * c, no, 1));
    this.headL = this.module("head_l", new Conv2d(c, no, 1));
  }
  forward(x: Tensor): Tensor[] {
    const p3 = silu(this.b1.call(this.c1.call(x)));
    const p4 = silu(this.b2.call(this.c2.call(p3)));
    const m1 = pool5(p4), m2 = pool5(m1), m3 = pool5(m2);
    const q = silu(this.sppf.call(concat([p4, m1, m2, m3], 1)));
    const up = upsample(this.lat.call(q), { scaleFactor: 2, mode: "nearest" });
    const f = silu(this.fuse.call(concat([up, p3], 1)));
    return [this.headL.call(f), this.headS.call(q)];
  }
}

/** ShuffleNetV2's channel shuffle: [N, g·c, H, W] -> [N, g, c, H, W] -> swap -> merge. */
function channelShuffle(x: Tensor, groups: number): Tensor {
  const [n, c, h, w] = x.shape;
  const g = reshape(x, [n, groups, c / groups, h, w]);
  return reshape(permute(g, [0, 2, 1, 3, 4]), [n, c, h, w]);
}

/** conv-BN-ReLU (or without ReLU) as a list of modules applied in order. */
class ConvBn extends Module {
  conv: Conv2d;
  bn: BatchNorm2d;
  constructor(
    cin: number,
    cout: number,
    k: number,
    o: { stride?: number; groups?: number } = {},
    readonly act = true,
  ) {
    super();
    this.conv = this.module("conv", conv(cin, cout, k, o));
    this.bn = this.module("bn", new BatchNorm2d(cout));
  }
  forward(x: Tensor): Tensor {
    const y = this.bn.call(this.conv.call(x));
    return this.act ? relu(y) : y;
  }
}

/** ShuffleNetV2's branch: 1x1 conv-BN-ReLU, depthwise 3x3-BN, 1x1 conv-BN-ReLU. */
class ShuffleBranch extends Module {
  pw1: ConvBn;
  dw: ConvBn;
  pw2: ConvBn;
  constructor(cin: number, b: number, stride: number) {
    super();
    this.pw1 = this.module("pw1", new ConvBn(cin, b, 1));
    this.dw = this.module("dw", new ConvBn(b, b, 3, { stride, groups: b }, false));
    this.pw2 = this.module("pw2", new ConvBn(b, b, 1));
  }
  forward(x: Tensor): Tensor {
    return this.pw2.call(this.dw.call(this.pw1.call(x)));
  }
}

/**
 * ShuffleNetV2 (as torchvision): a stride-2 unit (depthwise + 1x1 branch and the conv branch,
 * concatenated, channel shuffle) and a stride-1 unit (split in halves, the branch on the second,
 * concatenated, channel shuffle); 1x1 conv, global mean, fc.
 */
export class ShuffleCase extends Module {
  stem: ConvBn;
  b1dw: ConvBn;
  b1pw: ConvBn;
  b2: ShuffleBranch;
  u2: ShuffleBranch;
  conv5: ConvBn;
  fc: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const c = o.width ?? 8, b = c;
    this.stem = this.module("stem", new ConvBn(o.inChannels ?? 3, c, 3));
    this.b1dw = this.module("b1dw", new ConvBn(c, c, 3, { stride: 2, groups: c }, false));
    this.b1pw = this.module("b1pw", new ConvBn(c, b, 1));
    this.b2 = this.module("b2", new ShuffleBranch(c, b, 2));
    this.u2 = this.module("u2", new ShuffleBranch(b, b, 1));
    this.conv5 = this.module("conv5", new ConvBn(2 * b, 2 * b, 1));
    this.fc = this.module("fc", new Linear(2 * b, o.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    const s = this.stem.call(x);
    let y = channelShuffle(concat([this.b1pw.call(this.b1dw.call(s)), this.b2.call(s)], 1), 2);
    const [p, q] = split(y, 2, 1);
    y = channelShuffle(concat([p, this.u2.call(q)], 1), 2);
    return this.fc.call(mean(this.conv5.call(y), [2, 3]));
  }
}

/**
 * A ViT-style block on patch tokens: 2x2/2 patch conv, flatten to [N, T, C], pre-norm
 * attention (LayerNorm, one Linear for q, k and v, split, softmax(q·kᵀ/√d)·v, projection,
 * residual add), pre-norm MLP (LayerNorm, Linear, GELU, Linear, residual), mean over the
 * tokens, LayerNorm, head. The attention's matmuls mix q, k and v (they stay); the token
 * stream and the MLP's hidden units prune.
 */
export class VitCase extends Module {
  patch: Conv2d;
  ln1: LayerNorm;
  qkv: Linear;
  proj: Linear;
  ln2: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  norm: LayerNorm;
  head: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const c = o.width ?? 8;
    this.patch = this.module("patch", new Conv2d(o.inChannels ?? 3, c, 2, { stride: 2 }));
    this.ln1 = this.module("ln1", new LayerNorm(c));
    this.qkv = this.module("qkv", new Linear(c, 3 * c));
    this.proj = this.module("proj", new Linear(c, c));
    this.ln2 = this.module("ln2", new LayerNorm(c));
    this.fc1 = this.module("fc1", new Linear(c, 2 * c));
    this.fc2 = this.module("fc2", new Linear(2 * c, c));
    this.norm = this.module("norm", new LayerNorm(c));
    this.head = this.module("head", new Linear(c, o.numClasses ?? 10));
  }
  forward(x: Tensor): Tensor {
    const p = this.patch.call(x);
    const [n, c, h, w] = p.shape;
    let t = permute(reshape(p, [n, c, h * w]), [0, 2, 1]); // [N, T, C]
    const [q, k, v] = split(this.qkv.call(this.ln1.call(t)), 3, 2);
    const att = softmax(mul(matmul(q, k, false, true), full([], 1 / Math.sqrt(c))), 2);
    t = add(t, this.proj.call(matmul(att, v)));
    t = add(t, this.fc2.call(gelu(this.fc1.call(this.ln2.call(t)))));
    return this.head.call(this.norm.call(mean(t, 1)));
  }
}

/** SPPF's 5x5 max pool with stride 1 and padding 2 (same size). */
const pool5 = (t: Tensor) => maxPool2d(t, { kernel: 5, stride: 1, padding: 2 });

/** Seeded builders. */
export const caseBnNoAffine = (o: ModelOptions = {}): BnNoAffineCase =>
  seeded(o.seed, () => new BnNoAffineCase(o));
export const caseCrop = (o: ModelOptions = {}): CropCase => seeded(o.seed, () => new CropCase(o));
export const caseChannelSplit = (o: ModelOptions = {}): ChannelSplitCase =>
  seeded(o.seed, () => new ChannelSplitCase(o));
export const caseMobile = (o: ModelOptions = {}): MobileCase =>
  seeded(o.seed, () => new MobileCase(o));
export const caseReductions = (o: ModelOptions = {}): ReductionCase =>
  seeded(o.seed, () => new ReductionCase(o));
export const caseSqueezeExcite = (o: ModelOptions = {}): SqueezeExciteCase =>
  seeded(o.seed, () => new SqueezeExciteCase(o));
export const caseCbam = (o: ModelOptions = {}): CbamCase => seeded(o.seed, () => new CbamCase(o));
export const caseChannelsLast = (o: ModelOptions = {}): ChannelsLastCase =>
  seeded(o.seed, () => new ChannelsLastCase(o));
export const caseMultiInputOutput = (o: ModelOptions = {}): MultiInputOutputCase =>
  seeded(o.seed, () => new MultiInputOutputCase(o));
export const caseShuffle = (o: ModelOptions = {}): ShuffleCase =>
  seeded(o.seed, () => new ShuffleCase(o));
export const caseVit = (o: ModelOptions = {}): VitCase => seeded(o.seed, () => new VitCase(o));
export const caseTwoScaleDetector = (o: ModelOptions = {}): TwoScaleDetectorCase =>
  seeded(o.seed, () => new TwoScaleDetectorCase(o));
