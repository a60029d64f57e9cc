/**
 * The patterns of issue 14, one small model each (src/zoo/cases_zig.ts): the prunable group
 * count is pinned (derived by hand below, so a partition that loses pruning fails), and the
 * compressed model (a seeded half of every prunable ZIG zeroed) gives the same outputs at the
 * traced batch size 1, at batch 3 and in train mode.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { init } from "../mod.ts";
import { zoo } from "../src/zoo/index.ts";
import type { Zig } from "../src/zig/types.ts";
import { roundTrip } from "./zig_helpers.ts";
import { GPU } from "./helpers.ts";
import { getDefaultBackend, setDefaultBackend } from "../src/tensor.ts";

// The cases run on the cpu; the webgpu variants are ignored (not passed) without an adapter.
const gpu = GPU;
await init({ quiet: true, backend: "cpu" });

/** The ZIG that has `param` (axis 0 unless given) among its members. */
const zigOf = (zigs: readonly Zig[], param: string, axis = 0) => {
  const z = zigs.find((z) => z.members.some((m) => m.param === param && m.axis === axis));
  assert.ok(z, `no ZIG has ${param}@${axis} as a member`);
  return z;
};

// Prunable groups of each case (zoo default widths), derived by hand:
const COUNTS: [string, number, string][] = [
  // c1 (w = 8) read by c2, c2 (2w = 16) read by fc through the pool: 8 + 16.
  ["case-bn-no-affine", 24, "bn1/bn2 have no gamma/beta: their running means join the groups"],
  // enc (w = 4: read by dec and, cropped, by fuse), dec (4, read by fuse), fuse (4, read by fc
  // through the mean over H and W): 4 + 4 + 4.
  ["case-crop", 12, "crops keep channels"],
  // cv1's 2c = 8 channels split into two families of 4: the first half (read by cv2), the
  // second half joined with mb's 4 rows by the residual add (read by ma and twice by cv2);
  // ma's hidden 4; cv2's 8 (read by fc): 4 + 4 + 4 + 8.
  ["case-channel-split", 20, "split halves are their own families"],
  // stem c = 4 (min(relu, 6) keeps zeros; joined with p1 by the residual add); e1/d1 2c = 8
  // (ReLU6, depthwise); e2/d2 8 (hard swish, depthwise; the SE gate's se2 rows go along);
  // SE hidden se1 2; p2 c + 2 = 6; head 2c = 8 (SiLU, Mish, read by fc): 4+8+8+2+6+8.
  ["case-mobile", 36, "ReLU6, hard swish, SE with a hard sigmoid, SiLU, Mish"],
  // a (w = 4: mean and max over H, W and conv b), b (w + 2 = 6, global max pool): 4 + 6.
  ["case-reductions", 10, "reductions over H and W keep channels"],
  // the stream (stem and c2 joined by the add, c = 8; fc2's rows go with it), c1 8, fc1 2.
  ["case-squeeze-excite", 18, "the gated stream stays prunable"],
  // the stream (8) stays: the spatial attention's mean and max over channels read it; the
  // channel MLP's hidden units (c/2 = 4, one space for both applications), out conv 8: 4 + 8.
  ["case-cbam", 12, "channel mean/max block the stream, the MLP prunes"],
  // the stream (c = 4: stem, LayerNorm2d, depthwise convs, channels-last LayerNorms, pwconv2
  // rows and the layer scales, head LayerNorm) and each block's hidden 4c = 16: 4 + 16 + 16.
  ["case-channels-last", 36, "permute, LayerNorm and Linear over the last axis"],
  // conv (4, read by mix through the mean and by the box head), aux (6), mix (8): the inputs
  // and the two outputs stay.
  ["case-multi-io", 18, "two inputs, a record of two outputs"],
  // c1 4 (read by c2 and the fuse concat), c2 8 (SPPF: itself and three max pools), sppf 8
  // (lat and the small head), lat 4 (upsampled into fuse), fuse 4 (large head): 4+8+8+4+4.
  ["case-two-scale-detector", 28, "SPPF, upsample + concat, two heads"],
  // stem 8 (read by both branches of the first unit); branch width b = 8: the first unit's two
  // branch outputs tied pairwise by the shuffle (8 pairs; the first 4 also absorb the second
  // unit's branch outputs in pairs through the next shuffle, the last 4 feed its branch),
  // each unit's branch hidden conv 8 + 8; conv5 16 (read by fc): 8 + 8 + 16 + 16.
  ["case-shuffle", 48, "ShuffleNetV2: split, concat, channel shuffle"],
  // the token stream (patch conv, LayerNorms, attention projection and fc2 rows joined by the
  // residual adds; read by qkv, fc1 and the head) 8 and the MLP hidden 16; q, k and v (read
  // by the matmuls) and the attention output (read by proj) stay: 8 + 16.
  ["case-vit", 24, "attention and MLP over channels-last tokens"],
];

for (const [name, groups, what] of COUNTS) {
  Deno.test(`${name}: ${groups} prunable groups (${what}); compact outputs equal at batch 1, 3 and in train mode`, async () => {
    const e = zoo[name];
    const r = await roundTrip(e.build({ seed: 1 }), e.inputShapes ?? e.inputShape);
    assert.equal(r.counts.prunableGroups, groups, `${name}: prunable groups`);
    assert.ok(r.report.paramsAfter < r.report.paramsBefore, `${name}: nothing was removed`);
  });
}

Deno.test("every issue-14 case has a pinned count", () => {
  const pinned = new Set(COUNTS.map((c) => c[0]));
  const cases = [
    "case-bn-no-affine",
    "case-crop",
    "case-channel-split",
    "case-mobile",
    "case-reductions",
    "case-squeeze-excite",
    "case-cbam",
    "case-channels-last",
    "case-multi-io",
    "case-two-scale-detector",
    "case-shuffle",
    "case-vit",
  ];
  for (const c of cases) assert.ok(c in zoo && pinned.has(c), c);
});

Deno.test("batch norm without affine: its running mean is part of the zero test", async () => {
  const e = zoo["case-bn-no-affine"];
  const r = await roundTrip(e.build({ seed: 2 }), e.inputShape);
  const z = zigOf(r.part.zigs, "c1.weight");
  const rm = z.members.find((m) => m.param === "b1.running_mean");
  assert.ok(rm?.required, "b1.running_mean is required to be zero");
  assert.ok(!z.members.find((m) => m.param === "b1.running_var")?.required);
});

Deno.test("gates: SE's fc2 rows and CBAM's MLP rows go with the gated channels", async () => {
  const se = await roundTrip(zoo["case-squeeze-excite"].build({ seed: 3 }), [1, 3, 8, 8]);
  const stream = zigOf(se.part.zigs, "c2.weight");
  assert.ok(stream.prunable);
  assert.ok(stream.consumers.some((c) => c.param === "fc2.weight" && c.axis === 0));
  assert.ok(stream.consumers.some((c) => c.param === "fc1.weight" && c.axis === 1));
  const cb = await roundTrip(zoo["case-cbam"].build({ seed: 3 }), [1, 3, 8, 8]);
  const s = zigOf(cb.part.zigs, "stem.weight");
  assert.ok(!s.prunable);
  assert.deepEqual([...new Set(s.blockedBy!.map((b) => b.op))].sort(), ["max", "mean"]);
  assert.ok(zigOf(cb.part.zigs, "mlp1.weight").prunable);
});

Deno.test("channels-last blocks: the stream keeps its LayerNorms' statistics count", async () => {
  const r = await roundTrip(zoo["case-channels-last"].build({ seed: 4 }), [1, 3, 8, 8]);
  const stream = zigOf(r.part.zigs, "stem.weight");
  const names = stream.members.map((m) => m.param);
  for (const p of ["b1.norm.weight", "b1.pwconv2.weight", "b1.gamma", "norm.bias"]) {
    assert.ok(names.includes(p), `${p} is in the stream's groups`);
  }
  assert.ok(zigOf(r.part.zigs, "b1.pwconv1.weight").prunable);
});

for (const backend of ["cpu", "webgpu"] as const) {
  Deno.test({
    name: `DHSPG (${backend}) zeroes a BatchNorm(affine false) running mean with its group`,
    ignore: backend === "webgpu" && !gpu,
    fn: () => withBackend(backend, () => dhspgCompress("case-bn-no-affine", true)),
  });
  Deno.test({
    name: `DHSPG (${backend}) trains groups tied across channel shuffles and compresses them`,
    ignore: backend === "webgpu" && !gpu,
    fn: () => withBackend(backend, () => dhspgCompress("case-shuffle", false)),
  });
}

async function withBackend(be: "cpu" | "webgpu", fn: () => Promise<void>): Promise<void> {
  const prev = getDefaultBackend();
  setDefaultBackend(be);
  try {
    await fn();
  } finally {
    setDefaultBackend(prev);
  }
}

/** DHSPG on a case; every group it zeroes is removed and the outputs stay. */
async function dhspgCompress(name: string, bnNoAffine: boolean): Promise<void> {
  const model = zoo[name].build({ seed: 5 }) as o.Module;
  const oto = await o.OTO.create(model, [1, 3, 8, 8]);
  const opt = oto.dhspg({
    lr: 0.05,
    lambda: 10,
    epsilon: 0.95,
    targetGroupSparsity: 0.5,
    startPruningStep: 3,
  });
  const x = o.randn([16, 3, 8, 8], { seed: 6 });
  const y = o.tensor(Array.from({ length: 16 }, (_, i) => i % 10), [16], { dtype: "i32" });
  model.train();
  for (let step = 0; step < 40; step++) {
    o.tidy(() => o.backward(o.crossEntropyLoss(model.call(x), y)));
    opt.step();
    opt.zeroGrad();
  }
  const st = await opt.stats();
  assert.ok(st.zeroGroups > 0, `DHSPG zeroed groups: ${JSON.stringify(st)}`);
  const { model: small, report } = await oto.compress();
  const kept = report.zigs.filter((z) => z.prunable).reduce((s, z) => s + z.kept, 0);
  // Every group DHSPG zeroed is removed: its running mean was zeroed with it.
  assert.equal(kept, st.totalGroups - st.zeroGroups, "kept = non-zero groups");
  model.eval();
  const a = await o.tidy(() => model.call(x)).data();
  const b = await o.tidy(() => small.call(x)).data();
  const scale = Math.max(...Array.from(a, Math.abs));
  assert.ok(Array.from(a, Number).every((v, i) => Math.abs(v - b[i]) <= 1e-4 * scale), "differ");
  opt.dispose();
  if (!bnNoAffine) return;
  // Without the buffers DHSPG cannot keep such a group removable: it says what to pass.
  assert.throws(
    () => new o.DHSPG(model.namedParameters(), oto.partition),
    /needs buffer "b1.running_mean".*namedBuffers/,
  );
}

Deno.test("constants made from the traced batch follow another batch size", async () => {
  // ShuffleNet-style zero padding of the channels with a constant shaped like the input:
  // zeros([N, 2, H, W]) concatenated to x, traced at batch 1, run at batch 3.
  class ZeroPad extends o.Module {
    a = this.module("a", new o.Conv2d(3, 4, 3, { padding: 1 }));
    b = this.module("b", new o.Conv2d(6, 5, 1));
    fc = this.module("fc", new o.Linear(5, 3));
    forward(x: o.Tensor) {
      const h = o.relu(this.a.call(x));
      const [n, , hh, ww] = h.shape;
      const y = o.relu(this.b.call(o.concat([h, o.zeros([n, 2, hh, ww])], 1)));
      return this.fc.call(o.mean(y, [2, 3]));
    }
  }
  const r = await roundTrip(new ZeroPad(), [1, 3, 6, 6]);
  // a (4) and b (5) prune; the constant's two channels stay.
  assert.equal(r.counts.prunableGroups, 9);
});

Deno.test("slices of the channel axis (chunk as two slices): compaction moves their starts", async () => {
  class Halves extends o.Module {
    a = this.module("a", new o.Conv2d(3, 8, 1));
    b = this.module("b", new o.Conv2d(4, 4, 3, { padding: 1 }));
    c = this.module("c", new o.Conv2d(8, 3, 1));
    forward(x: o.Tensor) {
      const y = o.relu(this.a.call(x));
      const lo = o.slice(y, [0, 0], [Infinity, 4]), hi = o.slice(y, [0, 4], [Infinity, 8]);
      return this.c.call(o.concat([o.relu(this.b.call(hi)), lo], 1));
    }
  }
  // a's 8 channels (both halves read by b and c), b's 4: 12.
  const r = await roundTrip(new Halves(), [1, 3, 5, 5], { seed: 3 });
  assert.equal(r.counts.prunableGroups, 12);
});
