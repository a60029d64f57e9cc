/**
 * ZIG partition and compression on small models that exercise every tricky pattern: each case
 * is traced, partitioned, a seeded random half of every prunable ZIG is zeroed, the model is
 * compressed, and the compact model must give the same output (eval mode) with hand-computed
 * parameter and MAC counts.
 */
import assert from "node:assert/strict";
import {
  AdaptiveAvgPool2d,
  add,
  BatchNorm2d,
  concat,
  Conv2d,
  ConvTranspose2d,
  flatten,
  GroupNorm,
  init,
  InstanceNorm2d,
  LayerNorm2d,
  Linear,
  maxPool2d,
  Module,
  mul,
  pixelShuffle,
  pixelUnshuffle,
  PReLU,
  randn,
  relu,
  sigmoid,
  tanh,
  type Tensor,
} from "../mod.ts";
import { upload } from "../src/backend/webgpu.ts";
import { Rng } from "../src/random.ts";
import { withPatchedOp } from "../src/ops/registry.ts";
import { trace } from "../src/graph/trace.ts";
import { analyze, partition } from "../src/zig/partition.ts";
import { formatPartition, partitionJson } from "../src/zig/report.ts";
import type { Partition, Zig } from "../src/zig/types.ts";
import { compress, zeroRandomGroups } from "../src/compress/compress.ts";

await init({ quiet: true });

/** Overwrite every parameter and buffer with seeded random values, in place (keeps sharing). */
function randomize(m: Module, seed: number): void {
  const rng = new Rng(seed);
  const seen = new Set<Tensor>();
  for (const [name, t] of m.stateDict()) {
    if (seen.has(t)) continue;
    seen.add(t);
    const v = new Float32Array(t.size);
    const isVar = name.endsWith("running_var");
    for (let i = 0; i < v.length; i++) {
      v[i] = isVar ? 0.5 + rng.next() : 0.5 * rng.normal();
    }
    if (t.storage.host) t.hostData().set(v);
    else upload(t.storage.gpu!, v);
  }
}

interface Case {
  model: Module;
  input: number[];
  part: Partition;
  zeroed: Map<number, number[]>;
  report: Awaited<ReturnType<typeof compress>>["report"];
  compact: Module;
  diff: number;
  scale: number;
}

/** Trace, partition, zero half of each prunable ZIG, compress, compare outputs. */
async function roundTrip(model: Module, input: number[], seed = 1): Promise<Case> {
  randomize(model, seed);
  const part = partition(trace(model, input));
  const zeroed = await zeroRandomGroups(model.stateDict(), part, { seed, fraction: 0.5 });
  const r = await compress(model, undefined, part, { input });
  const x = randn([2, ...input.slice(1)], { seed: seed + 100 });
  model.eval();
  const full = await model.call(x).data();
  const small = await r.model.call(x).data();
  assert.equal(small.length, full.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < full.length; i++) {
    diff = Math.max(diff, Math.abs(full[i] - small[i]));
    scale = Math.max(scale, Math.abs(full[i]));
  }
  assert.ok(
    diff <= 1e-4 * Math.max(scale, 1e-6),
    `compact output differs: max |full - compact| = ${diff}, output scale ${scale}`,
  );
  return { model, input, part, zeroed, report: r.report, compact: r.model, diff, scale };
}

const prunable = (p: Partition) => p.zigs.filter((z) => z.prunable);
const zigWith = (p: Partition, param: string, axis = 0): Zig => {
  const z = p.zigs.find((z) => z.members.some((m) => m.param === param && m.axis === axis));
  assert.ok(z, `no ZIG has ${param} (axis ${axis}) as a member`);
  return z;
};
const memberNames = (z: Zig) => z.members.map((m) => `${m.param}@${m.axis}+${m.offset}x${m.block}`);
const kept = (c: Case, z: Zig) => c.report.zigs[z.id].kept;

// ---------------------------------------------------------------------------------------------

class Chain extends Module {
  c1 = this.module("c1", new Conv2d(3, 8, 3, { padding: 1 }));
  b1 = this.module("b1", new BatchNorm2d(8));
  c2 = this.module("c2", new Conv2d(8, 6, 3, { padding: 1, bias: false }));
  b2 = this.module("b2", new BatchNorm2d(6));
  fc = this.module("fc", new Linear(6, 4));
  forward(x: Tensor): Tensor {
    const h = relu(this.b1.call(this.c1.call(x)));
    const h2 = relu(this.b2.call(this.c2.call(maxPool2d(h, { kernel: 2 }))));
    return this.fc.call(flatten(new AdaptiveAvgPool2d(1).call(h2)));
  }
}

Deno.test("conv-bn-relu chain: groups, widths, compression and counts", async () => {
  const c = await roundTrip(new Chain(), [1, 3, 8, 8]);
  const p = c.part;
  assert.equal(prunable(p).length, 2);
  const z1 = zigWith(p, "c1.weight"), z2 = zigWith(p, "c2.weight");
  assert.equal(z1.size, 8);
  assert.equal(z2.size, 6);
  assert.deepEqual(memberNames(z1), [
    "c1.weight@0+0x1",
    "c1.bias@0+0x1",
    "b1.weight@0+0x1",
    "b1.bias@0+0x1",
    "b1.running_mean@0+0x1",
    "b1.running_var@0+0x1",
  ]);
  assert.deepEqual(z1.consumers.map((s) => `${s.param}@${s.axis}`), ["c2.weight@1"]);
  assert.deepEqual(z2.consumers.map((s) => `${s.param}@${s.axis}`), ["fc.weight@1"]);
  const out = zigWith(p, "fc.weight");
  assert.equal(out.prunable, false);
  assert.match(out.reason!, /model output/);
  const inp = p.zigs.find((z) => z.reason?.includes("model input"));
  assert.ok(inp, "the input space is listed as unprunable");
  // Kept: c1 4 of 8, c2 3 of 6.
  assert.equal(kept(c, z1), 4);
  assert.equal(kept(c, z2), 3);
  const params = (4 * 27 + 4) + 2 * 4 + (3 * 4 * 9) + 2 * 3 + (4 * 3 + 4);
  assert.equal(c.report.paramsAfter, params);
  assert.equal(c.report.paramsBefore, (8 * 27 + 8) + 16 + 6 * 8 * 9 + 12 + 4 * 6 + 4);
  // MACs at 8x8 (batch 1): c1 4*27*64, c2 on 4x4: 3*36*16, fc 3*4.
  assert.equal(c.report.macsAfter, 4 * 27 * 64 + 3 * 36 * 16 + 3 * 4);
  assert.equal(c.report.macsBefore, 8 * 27 * 64 + 6 * 72 * 16 + 6 * 4);
});

// ---------------------------------------------------------------------------------------------

class Block extends Module {
  a: Conv2d;
  ba: BatchNorm2d;
  b: Conv2d;
  bb: BatchNorm2d;
  down?: Conv2d;
  constructor(cin: number, cout: number, mid: number) {
    super();
    this.a = this.module("a", new Conv2d(cin, mid, 3, { padding: 1, bias: false }));
    this.ba = this.module("ba", new BatchNorm2d(mid));
    this.b = this.module("b", new Conv2d(mid, cout, 3, { padding: 1, bias: false }));
    this.bb = this.module("bb", new BatchNorm2d(cout));
    if (cin !== cout) this.down = this.module("down", new Conv2d(cin, cout, 1, { bias: false }));
  }
  forward(x: Tensor): Tensor {
    const h = this.bb.call(this.b.call(relu(this.ba.call(this.a.call(x)))));
    return relu(add(h, this.down ? this.down.call(x) : x));
  }
}

class ResNetTiny extends Module {
  stem = this.module("stem", new Conv2d(3, 4, 3, { padding: 1, bias: false }));
  bn = this.module("bn", new BatchNorm2d(4));
  l1 = this.module("l1", new Block(4, 4, 3));
  l2 = this.module("l2", new Block(4, 4, 5));
  l3 = this.module("l3", new Block(4, 6, 3));
  fc = this.module("fc", new Linear(6, 3));
  forward(x: Tensor): Tensor {
    let h = relu(this.bn.call(this.stem.call(x)));
    h = this.l3.call(this.l2.call(this.l1.call(h)));
    return this.fc.call(flatten(new AdaptiveAvgPool2d(1).call(h)));
  }
}

Deno.test("residual add: a stage shares one space with the stem; block inner convs are their own", async () => {
  const c = await roundTrip(new ResNetTiny(), [1, 3, 6, 6]);
  const p = c.part;
  const stage = zigWith(p, "stem.weight");
  assert.ok(stage.prunable);
  assert.equal(stage.size, 4);
  const names = new Set(stage.members.map((m) => m.param));
  for (const n of ["stem.weight", "bn.weight", "l1.bb.weight", "l2.bb.weight", "l1.b.weight"]) {
    assert.ok(names.has(n), `${n} in the stage group`);
  }
  assert.equal(zigWith(p, "l1.a.weight").size, 3);
  assert.equal(zigWith(p, "l2.a.weight").size, 5);
  const s2 = zigWith(p, "l3.down.weight");
  assert.ok(names.size > 0 && s2 === zigWith(p, "l3.b.weight"));
  assert.equal(prunable(p).length, 5);
  // stem/stage 2 of 4, l1.a 2 of 3, l2.a 3 of 5, l3.a 2 of 3, stage 2: 3 of 6.
  const k = { s: 2, a1: 2, a2: 3, a3: 2, s2: 3 };
  const blockP = (cin: number, mid: number, cout: number, down: boolean) =>
    mid * cin * 9 + 2 * mid + cout * mid * 9 + 2 * cout + (down ? cout * cin : 0);
  const expect = k.s * 27 + 2 * k.s + blockP(k.s, k.a1, k.s, false) +
    blockP(k.s, k.a2, k.s, false) + blockP(k.s, k.a3, k.s2, true) + 3 * k.s2 + 3;
  assert.equal(c.report.paramsAfter, expect);
  const hw = 36;
  const blockM = (cin: number, mid: number, cout: number, down: boolean) =>
    hw * (mid * cin * 9 + cout * mid * 9 + (down ? cout * cin : 0));
  assert.equal(
    c.report.macsAfter,
    hw * k.s * 27 + blockM(k.s, k.a1, k.s, false) + blockM(k.s, k.a2, k.s, false) +
      blockM(k.s, k.a3, k.s2, true) + 3 * k.s2,
  );
});

// ---------------------------------------------------------------------------------------------

/** OTOv2 DemoNet (§3.6) at width w (64 in the tutorial). */
class DemoNet extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  conv3: Conv2d;
  bn2: BatchNorm2d;
  bn3: BatchNorm2d;
  bn4: BatchNorm2d;
  conv5: Conv2d;
  gemm1: Linear;
  gemm2: Linear;
  constructor(w: number, readonly shareConv2 = false) {
    super();
    this.conv1 = this.module("conv1", new Conv2d(3, w, 3, { padding: 1 }));
    this.bn1 = this.module("bn1", new BatchNorm2d(w));
    this.conv2 = this.module("conv2", new Conv2d(w, 2 * w, 3, { padding: 1 }));
    this.conv3 = this.module("conv3", new Conv2d(w, 2 * w, 3, { padding: 1 }));
    this.bn2 = this.module("bn2", new BatchNorm2d(2 * w));
    this.bn3 = this.module("bn3", new BatchNorm2d(2 * w));
    this.bn4 = this.module("bn4", new BatchNorm2d(3 * w));
    this.conv5 = this.module("conv5", new Conv2d(3 * w, 4 * w, 3, { padding: 1 }));
    this.gemm1 = this.module("gemm1", new Linear(4 * w, 2 * w));
    this.gemm2 = this.module("gemm2", new Linear(2 * w, 10));
  }
  forward(x: Tensor): Tensor {
    const x1 = relu(this.bn1.call(this.conv1.call(x)));
    const t = this.conv2.call(x1);
    // weight sharing variant: conv2 applied twice (OTO's weight_share_case1).
    const x3 = this.shareConv2 ? this.conv2.call(x1) : this.conv3.call(x1);
    const x2 = add(add(this.bn2.call(t), this.bn3.call(t)), x3);
    const x4 = concat([x1, x2], 1);
    const x5 = this.conv5.call(this.bn4.call(x4));
    return this.gemm2.call(this.gemm1.call(flatten(new AdaptiveAvgPool2d(1).call(x5))));
  }
}

Deno.test("DemoNet (concat into BatchNorm): partition matches the hand derivation of §3.6", async () => {
  const w = 4;
  const c = await roundTrip(new DemoNet(w), [1, 3, 8, 8]);
  const p = c.part;
  const shapes = new Map(trace(c.model, c.input).params.map((q) => [q.name, q.shape]));
  const A = zigWith(p, "conv1.weight"), B = zigWith(p, "conv2.weight");
  const D = zigWith(p, "conv5.weight"), E = zigWith(p, "gemm1.weight");
  const F = zigWith(p, "gemm2.weight");
  assert.deepEqual([A.size, B.size, D.size, E.size], [w, 2 * w, 4 * w, 2 * w]);
  assert.ok(A.prunable && B.prunable && D.prunable && E.prunable);
  assert.equal(F.prunable, false);
  assert.equal(B, zigWith(p, "conv3.weight"), "conv2 and conv3 are joined by the adds");
  // bn4 (after the concat) gives A its channels 0..w-1 and B its channels w..3w-1.
  assert.ok(memberNames(A).includes("bn4.weight@0+0x1"));
  assert.ok(memberNames(B).includes(`bn4.weight@0+${w}x1`));
  // conv5 consumes both spaces at their concat offsets.
  assert.ok(A.consumers.some((s) => s.param === "conv5.weight" && s.axis === 1 && s.offset === 0));
  assert.ok(B.consumers.some((s) => s.param === "conv5.weight" && s.offset === w));
  // Group widths (trainable scalars per group): A = 27+1+2+2, B = 2*(9w+1)+4+2, D = 27w+1,
  // E = 4w+1, as in §3.6 with w = 64 (32, 1160, 1729, 257).
  const { groupWidth } = await import("../src/zig/report.ts");
  assert.equal(groupWidth(A, shapes), 32);
  assert.equal(groupWidth(B, shapes), 2 * (9 * w + 1) + 4 + 2);
  assert.equal(groupWidth(D, shapes), 27 * w + 1);
  assert.equal(groupWidth(E, shapes), 4 * w + 1);
  const counts = partitionJson(p, { params: 0, macs: 0 });
  assert.equal(counts.prunableGroups, w + 2 * w + 4 * w + 2 * w);
  // Full size with w = 64 is the tutorial's 627,338 parameters.
  assert.equal(trace(new DemoNet(64), [1, 3, 32, 32]).numParameters(), 627_338);
  // Kept: A 2, B 4, D 8, E 4.
  const [a, b, d, e] = [2, 4, 8, 4];
  const params = (a * 27 + a + 2 * a) + 2 * (b * a * 9 + b) + 4 * b + 2 * (a + b) +
    (d * (a + b) * 9 + d) + (e * d + e) + (10 * e + 10);
  assert.equal(c.report.paramsAfter, params);
  assert.equal(
    c.report.macsAfter,
    64 * (a * 27 + 2 * b * a * 9 + d * (a + b) * 9) + e * d + 10 * e,
  );
});

Deno.test("weight sharing: conv2 applied twice joins its output spaces; a shared consumer joins its inputs", async () => {
  const c = await roundTrip(new DemoNet(4, true), [1, 3, 8, 8]);
  const B = zigWith(c.part, "conv2.weight");
  assert.ok(B.prunable);
  assert.equal(B.members.filter((m) => m.param === "conv2.weight").length, 1);

  class SharedConsumer extends Module {
    a = this.module("a", new Conv2d(3, 6, 1));
    b = this.module("b", new Conv2d(3, 6, 1));
    s = this.module("s", new Conv2d(6, 5, 3, { padding: 1 }));
    out = this.module("out", new Conv2d(10, 2, 1));
    forward(x: Tensor): Tensor {
      const y = concat([this.s.call(relu(this.a.call(x))), this.s.call(relu(this.b.call(x)))], 1);
      return this.out.call(y);
    }
  }
  const c2 = await roundTrip(new SharedConsumer(), [1, 3, 5, 5], 2);
  // s reads a's and b's channels through the same columns: a and b must prune together.
  assert.equal(zigWith(c2.part, "a.weight"), zigWith(c2.part, "b.weight"));
  // s's two outputs (concat segments 0 and 5) are one space with two consumer slices.
  const S = zigWith(c2.part, "s.weight");
  assert.deepEqual(
    S.consumers.map((s) => `${s.param}@${s.axis}+${s.offset}`),
    ["out.weight@1+0", "out.weight@1+5"],
  );
  assert.equal(c2.report.paramsAfter, 2 * (3 * 3 + 3) + (3 * 3 * 9 + 3) + (2 * 6 + 2));
});

// ---------------------------------------------------------------------------------------------

Deno.test("nested and reused concats (OTO concat_case2)", async () => {
  class Nested extends Module {
    c1 = this.module("c1", new Conv2d(3, 4, 1));
    c2 = this.module("c2", new Conv2d(3, 6, 1));
    c5 = this.module("c5", new Conv2d(10, 4, 3, { padding: 1 }));
    c6 = this.module("c6", new Conv2d(10, 8, 1));
    bn = this.module("bn", new BatchNorm2d(12));
    out = this.module("out", new Conv2d(12, 2, 1));
    forward(x: Tensor): Tensor {
      const x1 = relu(this.c1.call(x)), x2 = relu(this.c2.call(x));
      const x5 = this.c5.call(concat([x1, x2], 1));
      const x6 = this.c6.call(concat([x5, x2], 1));
      return this.out.call(relu(this.bn.call(concat([x6, x5], 1))));
    }
  }
  const c = await roundTrip(new Nested(), [1, 3, 6, 6]);
  const z5 = zigWith(c.part, "c5.weight"), z6 = zigWith(c.part, "c6.weight");
  assert.ok(memberNames(z5).includes("bn.weight@0+8x1"));
  assert.ok(memberNames(z6).includes("bn.weight@0+0x1"));
  const z2 = zigWith(c.part, "c2.weight");
  assert.deepEqual(
    z2.consumers.map((s) => `${s.param}@${s.axis}+${s.offset}`),
    ["c5.weight@1+4", "c6.weight@1+4"],
  );
  // kept: c1 2, c2 3, c5 2, c6 4.
  const [k1, k2, k5, k6] = [2, 3, 2, 4];
  assert.equal(
    c.report.paramsAfter,
    4 * k1 + 4 * k2 + (k5 * (k1 + k2) * 9 + k5) + (k6 * (k5 + k2) + k6) + 2 * (k6 + k5) +
      (2 * (k6 + k5) + 2),
  );
});

// ---------------------------------------------------------------------------------------------

Deno.test("depthwise and grouped convs tie output blocks to input blocks", async () => {
  class Mobile extends Module {
    pw1 = this.module("pw1", new Conv2d(3, 8, 1));
    bn1 = this.module("bn1", new BatchNorm2d(8));
    dw = this.module("dw", new Conv2d(8, 8, 3, { padding: 1, groups: 8 }));
    bn2 = this.module("bn2", new BatchNorm2d(8));
    dw2 = this.module("dw2", new Conv2d(8, 16, 3, { padding: 1, groups: 8 })); // multiplier 2
    g = this.module("g", new Conv2d(16, 8, 1, { groups: 2 }));
    pw2 = this.module("pw2", new Conv2d(8, 3, 1));
    forward(x: Tensor): Tensor {
      const h = relu(this.bn2.call(this.dw.call(relu(this.bn1.call(this.pw1.call(x))))));
      return this.pw2.call(relu(this.g.call(relu(this.dw2.call(h)))));
    }
  }
  const c = await roundTrip(new Mobile(), [1, 3, 6, 6]);
  const z = zigWith(c.part, "pw1.weight");
  assert.equal(z, zigWith(c.part, "dw.weight"), "depthwise rows join their input space");
  assert.equal(z, zigWith(c.part, "dw2.weight"));
  // The grouped conv (2 groups of 8 -> 4) coarsens the space to 2 groups of 4 channels.
  assert.equal(z.size, 2);
  assert.ok(memberNames(z).includes("pw1.weight@0+0x4"));
  assert.ok(memberNames(z).includes("dw2.weight@0+0x8"));
  const gz = zigWith(c.part, "g.weight");
  assert.equal(gz, z, "grouped conv rows are members of the same space");
  assert.ok(memberNames(z).includes("g.weight@0+0x4"));
  assert.deepEqual(z.consumers.map((s) => `${s.param}@${s.axis}x${s.block}`), ["pw2.weight@1x4"]);
  // One of two groups kept: 4 channels, 8 after dw2, 4 after g (groups 1).
  assert.equal(
    c.report.paramsAfter,
    (4 * 3 + 4) + 2 * 4 + (4 * 9 + 4) + 2 * 4 + (8 * 9 + 8) + (4 * 8 + 4) + (3 * 4 + 3),
  );
});

// ---------------------------------------------------------------------------------------------

Deno.test("transposed conv is a stem; instance norm (affine or not) and PReLU are accessories", async () => {
  class Decoder extends Module {
    c1 = this.module("c1", new Conv2d(3, 6, 3, { padding: 1 }));
    in1 = this.module("in1", new InstanceNorm2d(6, { affine: true }));
    act = this.module("act", new PReLU(6));
    up = this.module("up", new ConvTranspose2d(6, 5, 2, { stride: 2 }));
    in2 = this.module("in2", new InstanceNorm2d(5));
    act2 = this.module("act2", new PReLU(1));
    out = this.module("out", new Conv2d(5, 2, 3, { padding: 1 }));
    forward(x: Tensor): Tensor {
      const h = this.act.call(this.in1.call(this.c1.call(x)));
      return this.out.call(this.act2.call(this.in2.call(this.up.call(h))));
    }
  }
  const c = await roundTrip(new Decoder(), [1, 3, 4, 4]);
  const z1 = zigWith(c.part, "c1.weight");
  assert.ok(memberNames(z1).includes("act.weight@0+0x1"));
  assert.ok(memberNames(z1).includes("in1.weight@0+0x1"));
  assert.deepEqual(z1.consumers.map((s) => `${s.param}@${s.axis}`), ["up.weight@0"]);
  const zu = zigWith(c.part, "up.weight", 1);
  assert.ok(zu.prunable, zu.reason);
  assert.equal(zu.size, 5);
  // kept: c1 3 of 6, up 3 of 5.
  assert.equal(
    c.report.paramsAfter,
    (3 * 27 + 3) + 2 * 3 + 3 + (3 * 3 * 4 + 3) + 1 + (2 * 3 * 9 + 2),
  );
  assert.equal(c.report.macsAfter, 16 * 3 * 27 + 16 * 3 * 3 * 4 + 64 * 2 * 3 * 9);
});

Deno.test("group norm prunes whole groups; layerNorm2d keeps its statistics count", async () => {
  class Norms extends Module {
    c1 = this.module("c1", new Conv2d(3, 8, 3, { padding: 1 }));
    gn = this.module("gn", new GroupNorm(4, 8));
    c2 = this.module("c2", new Conv2d(8, 6, 1));
    ln = this.module("ln", new LayerNorm2d(6));
    out = this.module("out", new Conv2d(6, 2, 1));
    forward(x: Tensor): Tensor {
      return this.out.call(this.ln.call(this.c2.call(relu(this.gn.call(this.c1.call(x))))));
    }
  }
  const c = await roundTrip(new Norms(), [1, 3, 4, 4]);
  const z1 = zigWith(c.part, "c1.weight");
  assert.equal(z1.size, 4, "8 channels in GroupNorm blocks of 2");
  assert.ok(memberNames(z1).includes("gn.weight@0+0x2"));
  const z2 = zigWith(c.part, "c2.weight");
  assert.ok(z2.prunable && memberNames(z2).includes("ln.weight@0+0x1"));
  // kept: 2 of 4 GN groups (4 channels), c2 3 of 6.
  assert.equal(c.report.paramsAfter, (4 * 27 + 4) + 8 + (3 * 4 + 3) + 6 + (2 * 3 + 2));
});

// ---------------------------------------------------------------------------------------------

Deno.test("Flatten -> Linear with spatial size > 1: each channel owns H*W columns", async () => {
  class Head extends Module {
    c = this.module("c", new Conv2d(3, 6, 3, { padding: 1 }));
    bn = this.module("bn", new BatchNorm2d(6));
    fc1 = this.module("fc1", new Linear(6 * 4, 5));
    fc2 = this.module("fc2", new Linear(5, 2));
    forward(x: Tensor): Tensor {
      const h = relu(this.bn.call(this.c.call(x)));
      return this.fc2.call(relu(this.fc1.call(flatten(maxPool2d(h, { kernel: 2 })))));
    }
  }
  const c = await roundTrip(new Head(), [1, 3, 4, 4]);
  const z = zigWith(c.part, "c.weight");
  assert.deepEqual(z.consumers.map((s) => `${s.param}@${s.axis}x${s.block}`), ["fc1.weight@1x4"]);
  assert.equal(c.report.paramsAfter, (3 * 27 + 3) + 6 + (3 * 3 * 4 + 3) + (2 * 3 + 2));
});

Deno.test("pixel shuffle: output channel c owns input channels c*r²..c*r²+r²-1", async () => {
  class Up extends Module {
    c = this.module("c", new Conv2d(3, 12, 3, { padding: 1 }));
    out = this.module("out", new Conv2d(3, 2, 3, { padding: 1 }));
    forward(x: Tensor): Tensor {
      return this.out.call(relu(pixelShuffle(this.c.call(x), 2)));
    }
  }
  const c = await roundTrip(new Up(), [1, 3, 4, 4]);
  const z = zigWith(c.part, "c.weight");
  assert.equal(z.size, 3);
  assert.ok(memberNames(z).includes("c.weight@0+0x4"));
  assert.deepEqual(z.consumers.map((s) => `${s.param}@${s.axis}x${s.block}`), ["out.weight@1x1"]);
  // kept 2 of 3 shuffled channels = 8 conv rows.
  assert.equal(c.report.paramsAfter, (8 * 27 + 8) + (2 * 2 * 9 + 2));
});

Deno.test("pixel unshuffle: input channel c becomes output channels c*r²..c*r²+r²-1", async () => {
  class Down extends Module {
    c = this.module("c", new Conv2d(3, 3, 3, { padding: 1 }));
    out = this.module("out", new Conv2d(12, 2, 1));
    forward(x: Tensor): Tensor {
      return this.out.call(relu(pixelUnshuffle(this.c.call(x), 2)));
    }
  }
  const c = await roundTrip(new Down(), [1, 3, 4, 4]);
  const z = zigWith(c.part, "c.weight");
  assert.ok(z.prunable, z.reason);
  assert.equal(z.size, 3);
  assert.deepEqual(z.consumers.map((s) => `${s.param}@${s.axis}x${s.block}`), ["out.weight@1x4"]);
  // kept 2 of 3 conv channels = 8 unshuffled channels read by out.
  assert.equal(c.report.paramsAfter, (2 * 27 + 2) + (2 * 8 + 2));
});

// ---------------------------------------------------------------------------------------------

Deno.test("model outputs, non-zero-invariant ops and the input are unprunable with reasons", async () => {
  class Outs extends Module {
    a = this.module("a", new Conv2d(3, 4, 1));
    b = this.module("b", new Conv2d(3, 4, 1));
    g = this.module("g", new Conv2d(4, 4, 1));
    s = this.module("s", new Conv2d(3, 4, 1));
    q = this.module("q", new Conv2d(4, 4, 1));
    h = this.module("h", new Conv2d(8, 3, 1));
    forward(x: Tensor): Tensor {
      const gate = sigmoid(this.g.call(relu(this.a.call(x))));
      const y = mul(relu(this.b.call(x)), gate);
      const z = this.q.call(sigmoid(this.s.call(x))); // q reads sigmoid(0) = 0.5, not zero
      return concat([this.h.call(concat([y, z], 1)), x], 1);
    }
  }
  const m = new Outs();
  const p = partition(trace(m, [1, 3, 4, 4]));
  // b * gate: a zero channel of b stays zero whatever the gate, so b prunes; the gate's conv
  // rows go with b's channels (consumers) without having to be zero.
  const zb = zigWith(p, "b.weight");
  assert.ok(zb.prunable, zb.reason);
  assert.ok(zb.consumers.some((c) => c.param === "g.weight" && c.axis === 0));
  assert.ok(zigWith(p, "a.weight").prunable);
  const zs = zigWith(p, "s.weight");
  assert.match(zs.reason!, /sigmoid .*sigmoid\(0\) != 0/);
  assert.deepEqual(zs.blockedBy?.map((b) => b.op), ["sigmoid"]);
  assert.match(zigWith(p, "h.weight").reason!, /model output/);
  const text = formatPartition(p, { params: 1, macs: 2 });
  assert.match(text, /NOT prunable: .*sigmoid/);
  assert.match(text, /NOT prunable: .*model input/);
  await roundTrip(m, [1, 3, 4, 4]);
});

Deno.test("determinism: the same model traces and partitions identically", () => {
  const a = JSON.stringify(partition(trace(new DemoNet(4), [1, 3, 8, 8])));
  const b = JSON.stringify(partition(trace(new DemoNet(4), [1, 3, 8, 8])));
  assert.equal(a, b);
  const an = analyze(trace(new ResNetTiny(), [1, 3, 6, 6]));
  assert.ok(an.tensorZigs.size > 0);
});

Deno.test("broadcast over channels: a product keeps zero channels zero, a sum does not", async () => {
  class Attention extends Module {
    a = this.module("a", new Conv2d(3, 6, 3, { padding: 1 }));
    att = this.module("att", new Conv2d(6, 1, 1));
    b = this.module("b", new Conv2d(3, 4, 1));
    att2 = this.module("att2", new Conv2d(4, 1, 1));
    out = this.module("out", new Conv2d(10, 2, 1));
    forward(x: Tensor): Tensor {
      const h = relu(this.a.call(x));
      const gated = mul(h, sigmoid(this.att.call(h))); // [N,6,H,W] * [N,1,H,W]
      const k = relu(this.b.call(x));
      const shifted = add(k, sigmoid(this.att2.call(k))); // k + [N,1,H,W]: not zero-invariant
      return this.out.call(concat([gated, shifted], 1));
    }
  }
  const c = await roundTrip(new Attention(), [1, 3, 4, 4]);
  const za = zigWith(c.part, "a.weight");
  assert.ok(za.prunable, za.reason);
  assert.deepEqual(za.consumers.map((s) => s.param), ["att.weight", "out.weight"]);
  assert.match(zigWith(c.part, "b.weight").reason!, /add.*broadcast over channels/);
  // kept: a 3 of 6; b, att, att2 whole.
  assert.equal(
    c.report.paramsAfter,
    (3 * 27 + 3) + (3 + 1) + (4 * 3 + 4) + (4 + 1) + (2 * 7 + 2),
  );
});

Deno.test("deno task partition: --json --verify prints one JSON object; bad input exits non-zero", async () => {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "src/cli/partition.ts", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  const ok = await run("--model", "case-concat-bn", "--json", "--verify");
  assert.equal(ok.code, 0, ok.stderr);
  const j = JSON.parse(ok.stdout);
  assert.deepEqual(Object.keys(j), [
    "model",
    "params",
    "macs",
    "zigs",
    "prunableZigs",
    "prunableGroups",
    "verify",
  ]);
  assert.equal(j.model, "case-concat-bn");
  assert.ok(j.zigs.every((z: { prunable: boolean; reason?: string }) => z.prunable || z.reason));
  assert.ok(j.verify.maxAbsDiff <= 1e-4 * j.verify.outputScale);
  assert.ok(j.verify.paramsAfter < j.params && j.verify.macsAfter < j.macs);
  const unknown = await run("--model", "nope");
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /unknown model "nope"; available: .*resnet50/);
  const bad = await run("--model", "small-cnn", "--frobnicate");
  assert.notEqual(bad.code, 0);
  assert.equal(bad.stderr.trim().split("\n").length, 1);
});

Deno.test("an op without a channel rule blocks every space it touches, naming the op", () => {
  class T extends Module {
    a = this.module("a", new Conv2d(3, 4, 1));
    b = this.module("b", new Conv2d(4, 4, 1));
    out = this.module("out", new Conv2d(4, 2, 1));
    forward(x: Tensor): Tensor {
      return this.out.call(this.b.call(tanh(this.a.call(x))));
    }
  }
  // The type requires a channel rule; an op built outside it (plain JS) may still lack one.
  withPatchedOp("tanh", { channels: undefined }, () => {
    const p = partition(trace(new T(), [1, 3, 2, 2]));
    assert.match(zigWith(p, "a.weight").reason!, /tanh .*has no channel rule/);
    assert.ok(zigWith(p, "b.weight").prunable, "spaces after the op are fresh");
  });
});
