/**
 * A seeded random network generator for the ZIG partition: a stream of blocks drawn from what
 * real CNNs use (plain, strided, dilated, grouped, depthwise and transposed convs; batch,
 * instance, group and layer norms with and without affine parameters; zero-invariant and other
 * activations; residual adds, products with gates, concatenated branches, channel splits,
 * crops of the input and of feature maps, pools, pixel shuffles, upsampling, channels-last
 * ConvNeXt blocks with permutes) ending in a flatten or reduction head, sometimes with a second
 * output. `tools/fuzz_zig.ts` runs hundreds of seeds; tests/zig_fuzz_test.ts a handful.
 */
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  GroupNorm,
  InstanceNorm2d,
  LayerNorm,
  LayerNorm2d,
  Linear,
  PReLU,
} from "../src/nn/index.ts";
import { Module } from "../src/nn/module.ts";
import * as o from "../src/ops/index.ts";
import type { Tensor } from "../src/tensor.ts";
import { Rng } from "../src/random.ts";

type Op = (x: Tensor) => Tensor;

/** The stream's shape while the network is drawn: channels and spatial size. */
interface State {
  c: number;
  h: number;
}

/** A random network: `describe` lists the blocks drawn (for reports of failing seeds). */
export class RandomNet extends Module<Tensor | Tensor[]> {
  readonly blocks: string[] = [];
  private readonly ops: Op[] = [];
  private head!: Op;
  private aux: Op | null = null;
  private readonly rng: Rng;
  private n = 0;

  constructor(readonly seed: number, readonly inputSize = 12) {
    super();
    this.rng = new Rng(seed * 7919 + 13);
    let s: State = { c: 3, h: inputSize };
    if (this.chance(0.25)) {
      s = this.cropInput(s);
      this.states.push(s);
    }
    const depth = 3 + this.rng.int(5);
    for (let i = 0; i < depth; i++) {
      s = this.block(s);
      while (this.states.length < this.ops.length) this.states.push(s);
    }
    this.finish(s);
  }

  get describe(): string {
    return this.blocks.join(" > ");
  }

  forward(x: Tensor): Tensor | Tensor[] {
    let h = x;
    let auxOut: Tensor | null = null;
    this.ops.forEach((f, i) => {
      h = f(h);
      if (this.aux && i === this.auxAt) auxOut = this.aux(h);
    });
    const y = this.head(h);
    return auxOut ? [y, auxOut] : y;
  }

  /** After which block the second output is taken (-1: none). */
  private auxAt = -1;
  /** The stream's channels after each block. */
  private readonly states: State[] = [];

  // -------------------------------------------------------------------------------------------

  private chance(p: number): boolean {
    return this.rng.next() < p;
  }
  private pick<T>(xs: readonly T[]): T {
    return xs[this.rng.int(xs.length)];
  }
  private fresh(kind: string): string {
    return `${kind}${this.n++}`;
  }
  private width(): number {
    return this.pick([2, 3, 4, 6, 8]);
  }
  private add(desc: string, f: Op): void {
    this.blocks.push(desc);
    this.ops.push(f);
  }

  private cropInput(s: State): State {
    this.add("crop-input", (x) => o.slice(x, [0, 0, 1, 1], [Infinity, Infinity, -1, -1]));
    return { c: s.c, h: s.h - 2 };
  }

  /** A conv-norm-activation unit from `c` to `out` channels (returned with its new size). */
  private unit(
    c: number,
    out: number,
    h: number,
    exact = false,
  ): { f: Op; h: number; c: number; desc: string } {
    const kinds = ["plain", "plain", "strided", "dilated", "grouped", "depthwise", "transposed"];
    let kind = this.pick(kinds);
    if (kind === "strided" && h < 6) kind = "plain";
    if (kind === "transposed" && h > 10) kind = "plain";
    if (kind === "depthwise") {
      if (!exact) out = c * this.pick([1, 2]);
      else if (out % c !== 0) kind = "plain";
    }
    let g = 1;
    if (kind === "grouped") {
      g = [2, 3].find((d) => c % d === 0 && out % d === 0) ?? 1;
      if (g === 1) kind = "plain";
    }
    const bias = this.chance(0.5);
    let conv: Module;
    let nh = h;
    if (kind === "transposed") {
      conv = new ConvTranspose2d(c, out, 2, { stride: 2, bias });
      nh = 2 * h;
    } else {
      const k = this.pick([1, 3]);
      const stride = kind === "strided" ? 2 : 1;
      const dilation = kind === "dilated" ? 2 : 1;
      const pad = kind === "dilated" ? 2 : Math.floor(k / 2);
      const groups = kind === "depthwise" ? c : g;
      conv = new Conv2d(c, out, kind === "dilated" ? 3 : k, {
        stride,
        padding: pad,
        dilation,
        groups,
        bias,
      });
      nh = Math.floor((h + 2 * pad - dilation * ((kind === "dilated" ? 3 : k) - 1) - 1) / stride) +
        1;
    }
    const cm = this.module(this.fresh(kind), conv);
    const norm = this.norm(out);
    const act = this.activation(out);
    return {
      f: (x) => act.f(norm.f(cm.call(x))),
      h: nh,
      c: out,
      desc: `${kind}(${c}->${out})${norm.desc}${act.desc}`,
    };
  }

  private norm(c: number): { f: Op; desc: string } {
    const k = this.pick(["none", "bn", "bn", "bn-noaffine", "in", "in-affine", "gn", "ln2d"]);
    if (k === "none") return { f: (x) => x, desc: "" };
    let m: Module;
    if (k === "bn" || k === "bn-noaffine") m = new BatchNorm2d(c, { affine: k === "bn" });
    else if (k === "in" || k === "in-affine") {
      m = new InstanceNorm2d(c, { affine: k === "in-affine" });
    } else if (k === "gn") {
      const g = [2, 3].find((d) => c % d === 0 && c > d) ?? 1;
      m = new GroupNorm(g, c);
    } else m = new LayerNorm2d(c);
    const mm = this.module(this.fresh(k), m);
    return { f: (x) => mm.call(x), desc: `+${k}` };
  }

  private activation(c: number): { f: Op; desc: string } {
    const acts: [string, Op][] = [
      ["relu", o.relu],
      ["relu6", o.relu6],
      ["hswish", o.hardSwish],
      ["silu", o.silu],
      ["mish", o.mish],
      ["gelu", o.gelu],
      ["leaky", (x) => o.leakyRelu(x, 0.1)],
      ["min6", (x) => o.minimum(o.relu(x), o.full([], 6))],
      ["tanh", o.tanh],
      ["sigmoid", o.sigmoid],
      ["hsigmoid", (x) => o.hardSigmoid(x)],
      ["clamp+", (x) => o.clamp(x, 0.2, 3)],
      ["plus1", (x) => o.add(x, o.full([], 1))],
    ];
    if (this.chance(0.15)) {
      const p = this.module(this.fresh("prelu"), new PReLU(this.chance(0.5) ? c : 1));
      return { f: (x) => p.call(x), desc: "+prelu" };
    }
    const [d, f] = this.pick(acts);
    return { f, desc: `+${d}` };
  }

  private block(s: State): State {
    const kinds = [
      "unit",
      "unit",
      "residual",
      "gate",
      "concat",
      "split",
      "crop",
      "pool",
      "nhwc",
      "scalar",
      "channel-shuffle",
    ];
    if (s.h >= 6) kinds.push("shuffle", "upsample-concat");
    const kind = this.pick(kinds);
    const { c, h } = s;
    switch (kind) {
      case "residual": {
        const a = this.unit(c, this.width(), h);
        if (a.h !== h) return this.unit2(s);
        const b = this.unit(a.c, c, h, true);
        if (b.h !== h) return this.unit2(s);
        this.add(`res[${a.desc}, ${b.desc}]`, (x) => o.add(x, b.f(a.f(x))));
        return s;
      }
      case "gate": {
        // Squeeze-excitation with a sigmoid or hard-sigmoid gate, or a spatial gate.
        const r = Math.max(1, Math.floor(c / 2));
        const f1 = this.module(this.fresh("se_fc1"), new Conv2d(c, r, 1));
        const f2 = this.module(this.fresh("se_fc2"), new Conv2d(r, c, 1));
        const hard = this.chance(0.5);
        const spatial = this.chance(0.3);
        const sp = spatial ? this.module(this.fresh("sp"), new Conv2d(c, 1, 1)) : null;
        this.add(spatial ? "spatial-gate" : `se(${hard ? "hsigmoid" : "sigmoid"})`, (x) => {
          if (sp) return o.mul(x, o.sigmoid(sp.call(x)));
          const g = f2.call(o.relu(f1.call(o.mean(x, [2, 3], true))));
          return o.mul(x, hard ? o.hardSigmoid(g) : o.sigmoid(g));
        });
        return s;
      }
      case "concat": {
        const n = 2 + this.rng.int(2);
        const branches = Array.from({ length: n }, () => this.unit(c, this.width(), h));
        if (branches.some((b) => b.h !== branches[0].h)) return this.unit2(s);
        const withInput = branches[0].h === h && this.chance(0.4);
        this.add(
          `cat[${branches.map((b) => b.desc).join(", ")}${withInput ? ", x" : ""}]`,
          (x) => o.concat([...branches.map((b) => b.f(x)), ...(withInput ? [x] : [])], 1),
        );
        const outC = branches.reduce((t, b) => t + b.c, 0);
        return { c: outC + (withInput ? c : 0), h: branches[0].h };
      }
      case "split": {
        if (c < 2) return this.unit2(s);
        const k = 1 + this.rng.int(c - 1);
        const b = this.unit(c - k, c - k, h, true);
        if (b.h !== h) return this.unit2(s);
        const slices = this.chance(0.5);
        this.add(`${slices ? "slices" : "split"}(${k}|${c - k})[${b.desc}]`, (x) => {
          const [p, q] = slices
            ? [o.slice(x, [0, 0], [Infinity, k]), o.slice(x, [0, k], [Infinity, c])]
            : o.split(x, [k, c - k], 1);
          return o.concat([p, o.add(q, b.f(q))], 1);
        });
        return s;
      }
      case "crop": {
        if (h < 5) return this.unit2(s);
        this.add("crop", (x) => o.slice(x, [0, 0, 1, 1], [Infinity, Infinity, -1, -1]));
        return { c, h: h - 2 };
      }
      case "pool": {
        if (h < 4) return this.unit2(s);
        const k = this.pick(["max", "avg", "max3"]);
        this.add(
          `pool-${k}`,
          (x) =>
            k === "max"
              ? o.maxPool2d(x, { kernel: 2 })
              : k === "avg"
              ? o.avgPool2d(x, { kernel: 2 })
              : o.maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }),
        );
        return { c, h: k === "max3" ? Math.floor((h - 1) / 2) + 1 : Math.floor(h / 2) };
      }
      case "nhwc": {
        // ConvNeXt block: depthwise conv, permute, LayerNorm, Linear, GELU, Linear, scale.
        const dw = this.module(this.fresh("dw"), new Conv2d(c, c, 3, { padding: 1, groups: c }));
        const ln = this.module(this.fresh("ln"), new LayerNorm(c));
        const l1 = this.module(this.fresh("pw1"), new Linear(c, 2 * c));
        const l2 = this.module(this.fresh("pw2"), new Linear(2 * c, c));
        const name = this.fresh("scale");
        this.param(name, o.full([c], 0.7));
        this.add("nhwc-block", (x) => {
          let y = o.permute(dw.call(x), [0, 2, 3, 1]);
          y = o.mul(this.getParam(name)!, l2.call(o.gelu(l1.call(ln.call(y)))));
          return o.add(x, o.permute(y, [0, 3, 1, 2]));
        });
        return s;
      }
      case "shuffle": {
        const out = 4 * this.pick([1, 2]);
        const u = this.unit(c, out, h, true);
        if (u.h !== h) return this.unit2(s);
        this.add(`pixelshuffle[${u.desc}]`, (x) => o.pixelShuffle(u.f(x), 2));
        return { c: out / 4, h: 2 * h };
      }
      case "upsample-concat": {
        const d = this.unit(c, this.width(), h);
        if (d.h !== h) return this.unit2(s);
        const pool = (x: Tensor) => o.maxPool2d(x, { kernel: 2 });
        const w = d.c;
        this.add(`unet[${d.desc}]`, (x) => {
          const up = o.upsample(d.f(pool(x)), { scaleFactor: 2, mode: "nearest" });
          const cropped = o.slice(x, [0, 0, 0, 0], [Infinity, Infinity, up.shape[2], up.shape[3]]);
          return o.concat([cropped, up], 1);
        });
        return { c: c + w, h: 2 * Math.floor(h / 2) };
      }
      case "scalar": {
        // Elementwise with constants: keeps zeros (x·0.5, max(x, 0), x / 2) or not (x - 1).
        const k = this.pick(["mul", "max", "div", "sub"]);
        const f: Op = (x) =>
          k === "mul"
            ? o.mul(x, o.full([], 0.5))
            : k === "max"
            ? o.maximum(x, o.full([], 0))
            : k === "div"
            ? o.div(x, o.full([], 2))
            : o.sub(x, o.full([], 1));
        this.add(`scalar-${k}`, f);
        return s;
      }
      case "channel-shuffle": {
        // ShuffleNetV2 unit: split in halves, a branch on one, concat, shuffle two groups.
        if (c % 2 !== 0) return this.unit2(s);
        const b = this.unit(c / 2, c / 2, h, true);
        if (b.h !== h) return this.unit2(s);
        this.add(`shufflenet[${b.desc}]`, (x) => {
          const [p, q] = o.split(x, 2, 1);
          const y = o.concat([p, b.f(q)], 1);
          const [n, cc, hh, ww] = y.shape;
          const g = o.reshape(y, [n, 2, cc / 2, hh, ww]);
          return o.reshape(o.permute(g, [0, 2, 1, 3, 4]), [n, cc, hh, ww]);
        });
        return s;
      }
      default:
        return this.unit2(s);
    }
  }

  private unit2(s: State): State {
    const u = this.unit(s.c, this.width(), s.h);
    if (u.h < 2) return s;
    this.add(u.desc, u.f);
    return { c: u.c, h: u.h };
  }

  private finish(s: State): void {
    const classes = 5;
    if (this.chance(0.3) && this.ops.length > 1) {
      // A second output from the middle of the stream (a detector's other scale).
      const at = this.rng.int(this.ops.length - 1);
      const head = this.module(this.fresh("aux_head"), new Conv2d(this.states[at].c, 2, 1));
      this.auxAt = at;
      this.aux = (x) => head.call(x);
      this.blocks.push(`aux-output@${at}`);
    }
    const kind = this.pick(["flatten", "mean", "max", "gmp"]);
    const hidden = this.chance(0.5) ? this.width() + 2 : 0;
    const inF = kind === "flatten" ? s.c * s.h * s.h : s.c;
    const fc1 = this.module(this.fresh("fc"), new Linear(inF, hidden || classes));
    const fc2 = hidden ? this.module(this.fresh("fc"), new Linear(hidden, classes)) : null;
    this.blocks.push(`head-${kind}${hidden ? `-${hidden}` : ""}`);
    this.head = (x) => {
      const v = kind === "flatten"
        ? o.flatten(x)
        : kind === "mean"
        ? o.mean(x, [2, 3])
        : kind === "max"
        ? o.max(x, [2, 3])
        : o.flatten(o.globalMaxPool2d(x));
      const y = fc1.call(v);
      return fc2 ? fc2.call(o.relu(y)) : y;
    };
  }
}
