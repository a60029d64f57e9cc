/**
 * Architectures written after the issue-14 cases, by a reviewer, torchvision-style: each model's
 * prunable group count is derived by hand (an exact partition of the architecture), and the
 * compact model (a seeded half of every prunable ZIG zeroed) must give the same outputs at batch
 * 1, at batch 3 and in train mode. They cover what the cases did not: Inception branches with a
 * pooled branch, SqueezeNet fire modules, ResNeXt with a ResNet-D average-pool shortcut,
 * EfficientNet MBConv blocks (SE as a mean with keepDims and 1x1 convs), an FPN with two
 * outputs, Swin's patch merging (strided slices of NHWC, concat along the last axis), an L2
 * normalisation over the channels with clamps, GroupNorm blocks, a GeGLU MLP (a channels-last
 * split of the hidden layer into value and gate), ViT tokens with a class token and a positional
 * embedding, YOLOv5's Focus, CIFAR ResNet's option-A shortcut, SE through views, GhostNet,
 * Res2Net and SKNet.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { init } from "../mod.ts";
import { randomize, roundTrip } from "./zig_helpers.ts";
import { trace } from "../src/graph/trace.ts";
import { partition } from "../src/zig/partition.ts";
import { compress, zeroGroupsInPlace } from "../src/compress/compress.ts";

await init({ quiet: true, backend: "cpu" });
const { Conv2d, BatchNorm2d, Linear, LayerNorm, Module } = o;
type T = o.Tensor;

/** conv (no bias) + BatchNorm + ReLU, registered on `m` as `<name>c` and `<name>b`. */
function cbr(m: o.AnyModule, name: string, cin: number, cout: number, k: number, opt = {}) {
  const c = m.module(
    `${name}c`,
    new Conv2d(cin, cout, k, { padding: k >> 1, bias: false, ...opt }),
  );
  const b = m.module(`${name}b`, new BatchNorm2d(cout));
  return (x: T) => o.relu(b.call(c.call(x)));
}

/** Two GoogLeNet blocks: 1x1 | 1x1-3x3 | 1x1-5x5 | maxpool-1x1, concatenated. */
class Inception extends Module {
  stem = cbr(this, "stem", 3, 4, 3);
  blocks: ((x: T) => T)[] = [];
  fc = this.module("fc", new Linear(9, 5));
  constructor() {
    super();
    for (const [p, cin] of [["a", 4], ["b", 9]] as const) {
      const b1 = cbr(this, p + "1", cin, 2, 1);
      const b2a = cbr(this, p + "2a", cin, 2, 1), b2b = cbr(this, p + "2b", 2, 3, 3);
      const b3a = cbr(this, p + "3a", cin, 2, 1), b3b = cbr(this, p + "3b", 2, 2, 5);
      const b4 = cbr(this, p + "4", cin, 2, 1);
      const pool = (x: T) => o.maxPool2d(x, { kernel: 3, stride: 1, padding: 1 });
      this.blocks.push((x) => o.concat([b1(x), b2b(b2a(x)), b3b(b3a(x)), b4(pool(x))], 1));
    }
  }
  forward(x: T) {
    let h = this.stem(x);
    for (const f of this.blocks) h = f(h);
    return this.fc.call(o.flatten(o.adaptiveAvgPool2d(h, 1)));
  }
}

/** SqueezeNet: two fire modules (squeeze, expand 1x1 | 3x3), a conv classifier, global pool. */
class SqueezeNet extends Module {
  stem = this.module("stem", new Conv2d(3, 8, 3, { stride: 2 }));
  s1 = this.module("s1", new Conv2d(8, 2, 1));
  e11 = this.module("e11", new Conv2d(2, 4, 1));
  e13 = this.module("e13", new Conv2d(2, 4, 3, { padding: 1 }));
  s2 = this.module("s2", new Conv2d(8, 3, 1));
  e21 = this.module("e21", new Conv2d(3, 4, 1));
  e23 = this.module("e23", new Conv2d(3, 4, 3, { padding: 1 }));
  cls = this.module("cls", new Conv2d(8, 5, 1));
  fire(s: o.Conv2d, a: o.Conv2d, b: o.Conv2d, x: T) {
    const q = o.relu(s.call(x));
    return o.concat([o.relu(a.call(q)), o.relu(b.call(q))], 1);
  }
  forward(x: T) {
    const pool = (t: T) => o.maxPool2d(t, { kernel: 3, stride: 2, ceilMode: true });
    let h = pool(o.relu(this.stem.call(x)));
    h = pool(this.fire(this.s2, this.e21, this.e23, this.fire(this.s1, this.e11, this.e13, h)));
    return o.flatten(o.adaptiveAvgPool2d(o.relu(this.cls.call(h)), 1));
  }
}

/** ResNeXt bottleneck (grouped 3x3, stride 2) with a ResNet-D shortcut (avg pool, 1x1). */
class ResNeXtD extends Module {
  stem = cbr(this, "stem", 3, 8, 3);
  c1 = cbr(this, "c1", 8, 8, 1);
  c2 = cbr(this, "c2", 8, 8, 3, { groups: 2, stride: 2 });
  c3c = this.module("c3c", new Conv2d(8, 16, 1, { bias: false }));
  c3b = this.module("c3b", new BatchNorm2d(16));
  dc = this.module("dc", new Conv2d(8, 16, 1, { bias: false }));
  db = this.module("db", new BatchNorm2d(16));
  fc = this.module("fc", new Linear(16, 5));
  forward(x: T) {
    const h = this.stem(x);
    const y = this.c3b.call(this.c3c.call(this.c2(this.c1(h))));
    const pooled = o.avgPool2d(h, { kernel: 2, stride: 2, ceilMode: true, countIncludePad: false });
    const z = o.relu(o.add(y, this.db.call(this.dc.call(pooled))));
    return this.fc.call(o.flatten(o.adaptiveAvgPool2d(z, 1)));
  }
}

/** EfficientNet: MBConv (expand, SiLU, depthwise, SE, project), stride 2 then residual. */
class MBConv extends Module {
  stem = this.module("stem", new Conv2d(3, 4, 3, { padding: 1, bias: false }));
  sb = this.module("sb", new BatchNorm2d(4));
  blocks: ((x: T) => T)[] = [];
  head = this.module("head", new Conv2d(6, 8, 1));
  fc = this.module("fc", new Linear(8, 5));
  constructor() {
    super();
    const block = (p: string, cin: number, cout: number, stride: number) => {
      const e = 4 * cin;
      const ex = this.module(p + "ex", new Conv2d(cin, e, 1, { bias: false }));
      const eb = this.module(p + "eb", new BatchNorm2d(e));
      const dw = this.module(
        p + "dw",
        new Conv2d(e, e, 3, { padding: 1, stride, groups: e, bias: false }),
      );
      const db = this.module(p + "db", new BatchNorm2d(e));
      const r = this.module(p + "r", new Conv2d(e, 2, 1));
      const x2 = this.module(p + "x", new Conv2d(2, e, 1));
      const pj = this.module(p + "pj", new Conv2d(e, cout, 1, { bias: false }));
      const pb = this.module(p + "pb", new BatchNorm2d(cout));
      return (x: T) => {
        const h = o.silu(db.call(dw.call(o.silu(eb.call(ex.call(x))))));
        const s = o.sigmoid(x2.call(o.silu(r.call(o.mean(h, [2, 3], true)))));
        const y = pb.call(pj.call(o.mul(h, s)));
        return stride === 1 && cin === cout ? o.add(x, y) : y;
      };
    };
    this.blocks.push(block("a", 4, 6, 2), block("b", 6, 6, 1));
  }
  forward(x: T) {
    let h = o.silu(this.sb.call(this.stem.call(x)));
    for (const b of this.blocks) h = b(h);
    return this.fc.call(o.flatten(o.adaptiveAvgPool2d(o.silu(this.head.call(h)), 1)));
  }
}

/** FPN: lateral 1x1 convs, a nearest upsample added top-down, one 3x3 head per level. */
class FPN extends Module<T[]> {
  c1 = cbr(this, "c1", 3, 4, 3);
  c2 = cbr(this, "c2", 4, 8, 3, { stride: 2 });
  l1 = this.module("l1", new Conv2d(4, 6, 1));
  l2 = this.module("l2", new Conv2d(8, 6, 1));
  o1 = this.module("o1", new Conv2d(6, 3, 3, { padding: 1 }));
  o2 = this.module("o2", new Conv2d(6, 3, 3, { padding: 1 }));
  forward(x: T): T[] {
    const a = this.c1(x), b = this.c2(a);
    const p2 = this.l2.call(b);
    const p1 = o.add(this.l1.call(a), o.upsample(p2, { scaleFactor: 2 }));
    return [this.o1.call(p1), this.o2.call(p2)];
  }
}

/** Swin's patch merging: NHWC, four strided slices concatenated on C, LayerNorm, Linear. */
class PatchMerge extends Module {
  stem = this.module("stem", new Conv2d(3, 4, 2, { stride: 2 }));
  ln0 = this.module("ln0", new LayerNorm(4));
  ln = this.module("ln", new LayerNorm(16));
  red = this.module("red", new Linear(16, 8, { bias: false }));
  fc1 = this.module("fc1", new Linear(8, 12));
  fc2 = this.module("fc2", new Linear(12, 8));
  head = this.module("head", new Linear(8, 5));
  forward(x: T) {
    const h = this.ln0.call(o.permute(this.stem.call(x), [0, 2, 3, 1]));
    const s = (a: number, b: number) =>
      o.slice(h, [0, a, b, 0], [Infinity, Infinity, Infinity, Infinity], [1, 2, 2, 1]);
    let m = this.red.call(this.ln.call(o.concat([s(0, 0), s(1, 0), s(0, 1), s(1, 1)], 3)));
    m = o.add(m, this.fc2.call(o.gelu(this.fc1.call(m))));
    return this.head.call(o.mean(m, [1, 2]));
  }
}

/** x / ||x|| over the channels, a clamp that keeps 0, one that does not. */
class L2Clamp extends Module {
  a = cbr(this, "a", 3, 6, 3);
  b = this.module("b", new Conv2d(6, 6, 3, { padding: 1 }));
  c = this.module("c", new Conv2d(6, 4, 1));
  fc = this.module("fc", new Linear(4, 5));
  forward(x: T) {
    const h = this.a(x);
    const norm = o.sqrt(o.add(o.sum(o.square(h), 1, true), o.full([1], 1e-6)));
    const v = o.clamp(this.b.call(o.div(h, norm)), -1, 1);
    return this.fc.call(o.mean(o.clamp(this.c.call(v), 0.1, 6), [2, 3]));
  }
}

/** conv + GroupNorm(2 groups) + SiLU twice (ResNet-GN / diffusion U-Net blocks). */
class GroupNormNet extends Module {
  c1 = this.module("c1", new Conv2d(3, 8, 3, { padding: 1 }));
  g1 = this.module("g1", new o.GroupNorm(2, 8));
  c2 = this.module("c2", new Conv2d(8, 6, 3, { padding: 1 }));
  g2 = this.module("g2", new o.GroupNorm(3, 6));
  fc = this.module("fc", new Linear(6, 5));
  forward(x: T) {
    const h = o.silu(this.g1.call(this.c1.call(x)));
    return this.fc.call(o.mean(o.silu(this.g2.call(this.c2.call(h))), [2, 3]));
  }
}

/** A GeGLU MLP over channels-last tokens: fc1 to 2H, split on the last axis, a * gelu(b). */
class GeGLU extends Module {
  patch = this.module("patch", new Conv2d(3, 6, 2, { stride: 2 }));
  fc1 = this.module("fc1", new Linear(6, 16));
  fc2 = this.module("fc2", new Linear(8, 6));
  head = this.module("head", new Linear(6, 5));
  forward(x: T) {
    const t = o.permute(this.patch.call(x), [0, 2, 3, 1]);
    const [a, g] = o.split(this.fc1.call(t), 2, 3);
    const y = o.add(t, this.fc2.call(o.mul(a, o.gelu(g))));
    return this.head.call(o.mean(y, [1, 2]));
  }
}

/**
 * ViT tokens as torchvision writes them: a class token [1, 1, C] expanded over the batch and
 * put before the patch tokens, a positional embedding [1, T, C] added, a pre-norm MLP block,
 * the class token's features to the head.
 */
class VitTokens extends Module {
  patch = this.module("patch", new Conv2d(3, 6, 2, { stride: 2 }));
  cls = this.param("cls", o.randn([1, 1, 6], { seed: 1 }));
  pos = this.param("pos", o.randn([1, 17, 6], { seed: 2 }));
  ln = this.module("ln", new LayerNorm(6));
  fc1 = this.module("fc1", new Linear(6, 12));
  fc2 = this.module("fc2", new Linear(12, 6));
  head = this.module("head", new Linear(6, 5));
  forward(x: T) {
    const p = this.patch.call(x);
    const [n, c] = p.shape;
    let t = o.transpose(o.reshape(p, [n, c, -1]), 1, 2);
    t = o.add(o.concat([o.expand(this.cls, [n, 1, c]), t], 1), this.pos);
    t = o.add(t, this.fc2.call(o.gelu(this.fc1.call(this.ln.call(t)))));
    return this.head.call(o.reshape(o.slice(t, [0, 0], [Infinity, 1]), [n, c]));
  }
}

/** YOLOv5's Focus: four strided slices of the input concatenated on the channels. */
class Focus extends Module {
  c = cbr(this, "c", 12, 8, 3);
  d = cbr(this, "d", 8, 6, 3);
  fc = this.module("fc", new Linear(6, 5));
  forward(x: T) {
    const s = (a: number, b: number) =>
      o.slice(x, [0, 0, a, b], [Infinity, Infinity, Infinity, Infinity], [1, 1, 2, 2]);
    const h = this.d(this.c(o.concat([s(0, 0), s(1, 0), s(0, 1), s(1, 1)], 1)));
    return this.fc.call(o.mean(h, [2, 3]));
  }
}
/** CIFAR ResNet's option-A shortcut: a strided slice zero-padded on the channels. */
class OptionA extends Module {
  a = cbr(this, "a", 3, 4, 3);
  b1 = cbr(this, "b1", 4, 8, 3, { stride: 2 });
  b2c = this.module("b2c", new Conv2d(8, 8, 3, { padding: 1, bias: false }));
  b2b = this.module("b2b", new BatchNorm2d(8));
  fc = this.module("fc", new Linear(8, 5));
  forward(x: T) {
    const h = this.a(x);
    const y = this.b2b.call(this.b2c.call(this.b1(h)));
    const sc = o.pad(
      o.slice(h, [0, 0, 0, 0], [Infinity, Infinity, Infinity, Infinity], [1, 1, 2, 2]),
      [[0, 0], [2, 2], [0, 0], [0, 0]],
    );
    return this.fc.call(o.mean(o.relu(o.add(y, sc)), [2, 3]));
  }
}
/** Channel reversals (`x[:, ::-1]`, `x[:, 4:1:-1]`) and a stream added to its own reversal. */
class Flip extends Module {
  a = cbr(this, "a", 3, 6, 3);
  b = cbr(this, "b", 6, 4, 3);
  c = cbr(this, "c", 3, 4, 1);
  fc = this.module("fc", new Linear(8, 5));
  forward(x: T) {
    const h = this.a(x);
    const rev = (t: T) => o.slice(t, [0, -1], [Infinity, -Infinity], [1, -1]);
    const y = o.concat([this.b(rev(h)), this.c(o.slice(h, [0, 4], [Infinity, 1], [1, -1]))], 1);
    return this.fc.call(o.mean(o.add(y, rev(y)), [2, 3]));
  }
}

/** Zero channels padded around a stream, read by a conv. */
class PadConv extends Module {
  a = cbr(this, "a", 3, 4, 3);
  b = cbr(this, "b", 7, 5, 3);
  fc = this.module("fc", new Linear(5, 5));
  forward(x: T) {
    const h = o.pad(this.a(x), [[0, 0], [1, 2], [1, 1], [0, 0]]);
    return this.fc.call(o.mean(this.b(h), [2, 3]));
  }
}

/** SE and global pooling written with views: `x.view(n, c, -1).mean(-1)`. */
class SEView extends Module {
  a = cbr(this, "a", 3, 8, 3);
  f1 = this.module("f1", new Linear(8, 2));
  f2 = this.module("f2", new Linear(2, 8));
  fc = this.module("fc", new Linear(8, 5));
  forward(x: T) {
    const h = this.a(x);
    const [n, c] = h.shape;
    const s = o.sigmoid(this.f2.call(o.relu(this.f1.call(o.mean(o.reshape(h, [n, c, -1]), -1)))));
    const g = o.mul(h, o.reshape(s, [n, c, 1, 1]));
    return this.fc.call(o.mean(o.reshape(g, [n, c, -1]), -1));
  }
}
/** GhostNet: a primary conv, a cheap depthwise conv (2 per channel), concat, the first 8. */
class Ghost extends Module {
  p = cbr(this, "p", 3, 3, 1);
  q = cbr(this, "q", 3, 6, 3, { groups: 3 });
  n = cbr(this, "n", 8, 6, 3);
  fc = this.module("fc", new Linear(6, 5));
  forward(x: T) {
    const a = this.p(x);
    const g = o.slice(o.concat([a, this.q(a)], 1), [0, 0], [Infinity, 8]);
    return this.fc.call(o.mean(this.n(g), [2, 3]));
  }
}
/** Res2Net: four chunks, hierarchical 3x3 convs with adds, concatenated. */
class Res2 extends Module {
  a = cbr(this, "a", 3, 8, 1);
  k1 = cbr(this, "k1", 2, 2, 3);
  k2 = cbr(this, "k2", 2, 2, 3);
  k3 = cbr(this, "k3", 2, 2, 3);
  z = cbr(this, "z", 8, 6, 1);
  fc = this.module("fc", new Linear(6, 5));
  forward(x: T) {
    const [s0, s1, s2, s3] = o.split(this.a(x), 4, 1);
    const y1 = this.k1(s1);
    const y2 = this.k2(o.add(s2, y1));
    const y3 = this.k3(o.add(s3, y2));
    return this.fc.call(o.mean(this.z(o.concat([s0, y1, y2, y3], 1)), [2, 3]));
  }
}
/** SKNet: two branches, a gate from their sum, softmax over the branches, weighted sum. */
class SK extends Module {
  b1 = cbr(this, "b1", 3, 6, 3);
  b2 = cbr(this, "b2", 3, 6, 3, { dilation: 2, padding: 2 });
  z = this.module("z", new Linear(6, 3));
  a1 = this.module("a1", new Linear(3, 6));
  a2 = this.module("a2", new Linear(3, 6));
  fc = this.module("fc", new Linear(6, 5));
  forward(x: T) {
    const u1 = this.b1(x), u2 = this.b2(x);
    const [n, c] = u1.shape;
    const s = o.relu(this.z.call(o.mean(o.add(u1, u2), [2, 3])));
    const att = o.softmax(
      o.concat([o.reshape(this.a1.call(s), [n, 1, c]), o.reshape(this.a2.call(s), [n, 1, c])], 1),
      1,
    );
    const w1 = o.reshape(o.slice(att, [0, 0], [Infinity, 1]), [n, c, 1, 1]);
    const w2 = o.reshape(o.slice(att, [0, 1], [Infinity, 2]), [n, c, 1, 1]);
    return this.fc.call(o.mean(o.add(o.mul(u1, w1), o.mul(u2, w2)), [2, 3]));
  }
}
const CASES: [string, () => o.AnyModule, number[], number][] = [
  // stem 4; per block 2 + 2 + 3 + 2 + 2 + 2 = 13 (every branch conv; the concat only orders
  // them): 4 + 13 + 13.
  ["inception", () => new Inception(), [1, 3, 8, 8], 30],
  // stem 8, s1 2, e11 4, e13 4, s2 3, e21 4, e23 4; cls feeds the output.
  ["squeezenet", () => new SqueezeNet(), [1, 3, 23, 23], 29],
  // stem 8 (read by c1 and the shortcut), c1 with the 2-group c2 in whole conv groups of 4:
  // 2, the stream (c3 and the shortcut joined by the add) 16.
  ["resnext-d", () => new ResNeXtD(), [1, 3, 7, 7], 26],
  // stem 4; a: expand 16 (the depthwise conv with it), SE hidden 2, the stream 6 (a's and b's
  // projections joined by b's residual add); b: expand 24, SE hidden 2; head 8.
  ["mbconv", () => new MBConv(), [1, 3, 8, 8], 62],
  // c1 4, c2 8, the pyramid's 6 (l1 and l2 joined by the add); o1 and o2 feed the outputs.
  ["fpn", () => new FPN(), [1, 3, 8, 8], 18],
  // stem 4 (each channel four times in the merged 16, with ln0's and ln's entries), the
  // stream after red 8 (red, fc2), fc1 12.
  ["patch merging", () => new PatchMerge(), [1, 3, 8, 8], 24],
  // a 6 (the sum over channels reads zeros as nothing, the division keeps them), b 6 (clamp
  // to [-1, 1] keeps 0); c stays: clamp to [0.1, 6] maps 0 to 0.1.
  ["l2 norm and clamps", () => new L2Clamp(), [1, 3, 6, 6], 12],
  // c1 in blocks of 4 (2 groups), c2 in blocks of 2 (3 groups).
  ["group norm", () => new GroupNormNet(), [1, 3, 6, 6], 5],
  // patch 6 (the stream, fc2's rows), the GeGLU hidden 8 (row j and row 8 + j of fc1 together).
  // 5x5 tokens: no other axis is as long as a compact half, so split sizes taken on the wrong
  // axis fail.
  ["geglu", () => new GeGLU(), [1, 3, 10, 10], 14],
  // the token stream 6 (patch, the class token's and the positional embedding's slices along
  // C, the LayerNorm, fc2's rows), the MLP hidden 12.
  ["vit tokens", () => new VitTokens(), [1, 3, 8, 8], 18],
  // c 8, d 6 (the input's slices stay with the input).
  ["focus", () => new Focus(), [1, 3, 8, 8], 14],
  // a's 4 with b2's middle 4 (the shortcut's channels), b2's outer 4 (added to the padded
  // zeros: removed with them, the padding shrinks), b1 8.
  ["resnet option-A shortcut", () => new OptionA(), [1, 3, 8, 8], 16],
  // a 6; b's channel j with c's channel 3 - j (the reversed sum): 4.
  ["channel reversal", () => new Flip(), [1, 3, 6, 6], 10],
  // a 4, b 5; the padded zero channels b reads stay (nothing produces them).
  ["channel padding into a conv", () => new PadConv(), [1, 3, 8, 8], 9],
  // a 8 (its views into the gate and the pooled features), f1 2.
  ["SE through views", () => new SEView(), [1, 3, 6, 6], 10],
  // p's 3 channels each with its 2 cheap ones (the third family: its second cheap channel is
  // sliced off), n 6.
  ["ghost module", () => new Ghost(), [1, 3, 6, 6], 9],
  // a's chunks 2 + 2 + 2 (with k1) + 2 (with k2), k3 2, z 6.
  ["res2net", () => new Res2(), [1, 3, 6, 6], 16],
  // the fused stream 6 (b1 and b2; a1's and a2's rows go along), z 3.
  ["selective kernel", () => new SK(), [1, 3, 8, 8], 9],
];

for (const [name, build, shape, groups] of CASES) {
  Deno.test(`held-back ${name}: ${groups} prunable groups; compact outputs equal at batch 1, 3 and in train mode`, async () => {
    for (const seed of [1, 2]) {
      const r = await roundTrip(build(), shape, { seed });
      assert.equal(r.counts.prunableGroups, groups, `${name}: prunable groups`);
      // (The round trip zeroes part of each ZIG: ZIGs of one group are checked further down.)
      if (r.part.zigs.some((z) => z.prunable && z.size > 1)) {
        assert.ok(r.report.paramsAfter < r.report.paramsBefore, `${name}: nothing was removed`);
      }
    }
  });
}

Deno.test("vit tokens: the class token and the positional embedding are sliced with the stream; DHSPG zeroes them with it", async () => {
  const model = new VitTokens();
  const oto = await o.OTO.create(model, [1, 3, 8, 8]);
  const stream = oto.partition.zigs.find((z) => z.members.some((m) => m.param === "patch.weight"))!;
  assert.ok(stream.prunable);
  for (const p of ["cls", "pos"]) {
    assert.ok(stream.members.some((m) => m.param === p && m.axis === 2), `${p} along its axis 2`);
  }
  const opt = oto.dhspg({ lr: 0.05, lambda: 10, epsilon: 0.95, targetGroupSparsity: 0.5 });
  const x = o.randn([8, 3, 8, 8], { seed: 6 });
  const y = o.tensor(Array.from({ length: 8 }, (_, i) => i % 5), [8], { dtype: "i32" });
  model.train();
  for (let step = 0; step < 30; step++) {
    o.tidy(() => o.backward(o.crossEntropyLoss(model.call(x), y)));
    opt.step();
    opt.zeroGrad();
  }
  const st = await opt.stats();
  assert.ok(st.zeroGroups > 0, `DHSPG zeroed groups: ${JSON.stringify(st)}`);
  const { model: small, report } = await oto.compress();
  const kept = report.zigs.filter((z) => z.prunable).reduce((s, z) => s + z.kept, 0);
  assert.equal(kept, st.totalGroups - st.zeroGroups, "every zeroed group is removed");
  model.eval();
  const a = await o.tidy(() => model.call(x)).data();
  const b = await o.tidy(() => small.call(x)).data();
  const scale = Math.max(...Array.from(a, Math.abs));
  a.forEach((v, i) =>
    assert.ok(Math.abs(v - b[i]) <= 1e-4 * scale, `output ${i}: ${b[i]} vs ${v}`)
  );
  opt.dispose();
});

/** Rows of a parameter in the compact model. */
const rows = (m: o.AnyModule, name: string) => m.stateDict().get(name)!.shape[0];

Deno.test("ZIGs that are parts of one space (one group each) are removed when zero; a space keeps one channel", async () => {
  for (
    const [build, param, size] of [[() => new OptionA(), "b2c.weight", 8], [
      () => new Flip(),
      "bc.weight",
      4,
    ]] as const
  ) {
    const m = build();
    randomize(m, 5);
    const p = partition(trace(m, [1, 3, 8, 8]));
    const parts = p.zigs.filter((z) => z.prunable && z.members.some((s) => s.param === param));
    const single = parts.filter((z) => z.size === 1);
    assert.ok(single.length >= 2, `${param}: ZIGs of one group`);
    await zeroGroupsInPlace(m.stateDict(), single[0], [0]);
    await zeroGroupsInPlace(m.stateDict(), single[1], [0]);
    const x = o.randn([3, 3, 8, 8], { seed: 9 });
    const r1 = await compress(m, undefined, p, { input: [1, 3, 8, 8] });
    assert.equal(rows(r1.model, param), size - 2, `${param}: two zero groups removed`);
    m.eval();
    assert.ok(maxDiff(await m.call(x).data(), await r1.model.call(x).data()) < 1e-4);
    for (const z of parts) await zeroGroupsInPlace(m.stateDict(), z, [...Array(z.size).keys()]);
    const r2 = await compress(m, undefined, p, { input: [1, 3, 8, 8] });
    assert.equal(rows(r2.model, param), 1, `${param}: an all-zero space keeps one channel`);
    assert.ok(maxDiff(await m.call(x).data(), await r2.model.call(x).data()) < 1e-4);
  }
});

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    (d = Math.max(d, Math.abs(a[i] - b[i])), s = Math.max(s, Math.abs(a[i])));
  }
  return d / Math.max(s, 1e-6);
}
