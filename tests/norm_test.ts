import assert from "node:assert/strict";
import * as o from "../mod.ts";
import {
  assertClose,
  compareBackends,
  gradCheck,
  type HostInput,
  hostRand,
  test,
} from "./helpers.ts";

type T = o.Tensor;

/**
 * Naive normalisation reference (independent of src/ops/norm.ts): elements with the same
 * `key(index)` share mean = Σx/div and var = Σx²/div - mean² (div = group size unless given);
 * y = (x - mean)/sqrt(var + eps)·gamma[param(index)] + beta[param(index)].
 */
function naive(
  x: HostInput,
  key: (ix: number[]) => number,
  param: (ix: number[]) => number,
  gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null,
  eps: number,
  div?: number,
): number[] {
  const shape = x.shape;
  const index = (i: number) => {
    const ix = new Array(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      (ix[d] = i % shape[d], i = Math.floor(i / shape[d]));
    }
    return ix;
  };
  const s = new Map<number, [number, number, number]>();
  for (let i = 0; i < x.data.length; i++) {
    const k = key(index(i));
    const a = s.get(k) ?? [0, 0, 0];
    s.set(k, [a[0] + x.data[i], a[1] + x.data[i] ** 2, a[2] + 1]);
  }
  return Array.from(x.data, (v, i) => {
    const ix = index(i);
    const [sum, sq, cnt] = s.get(key(ix))!;
    const m = sum / (div ?? cnt), vr = sq / (div ?? cnt) - m * m;
    const p = param(ix);
    return (v - m) / Math.sqrt(vr + eps) * (gamma ? gamma[p] : 1) + (beta ? beta[p] : 0);
  });
}

const spatial = (ix: number[]) => ix.slice(2).reduce((a, v) => a * 1000 + v, 0);

test("batchNorm: hand-computed [2,2,1,1], running stats over two steps, eval mode", async () => {
  const x1: HostInput = { data: [1, 2, 3, 6], shape: [2, 2, 1, 1] }; // ch0 {1,3}, ch1 {2,6}
  const x2: HostInput = { data: [0, 4, 2, 0], shape: [2, 2, 1, 1] }; // ch0 {0,2}, ch1 {4,0}
  const gamma: HostInput = { data: [2, 1], shape: [2] },
    beta: HostInput = { data: [0, 1], shape: [2] };
  const rm: HostInput = { data: [0, 0], shape: [2] }, rv: HostInput = { data: [1, 1], shape: [2] };
  const eps = 1e-5;
  const [y1, y2, m, v, ye] = await compareBackends(
    "batchNorm steps",
    (a: T, b: T, g: T, be: T, mean: T, vr: T) => {
      const s1 = o.batchNorm(a, g, be, mean, vr, { training: true });
      const s2 = o.batchNorm(b, g, be, mean, vr, { training: true });
      const ev = o.batchNorm(a, g, be, mean, vr, { training: false });
      return [s1, s2, mean, vr, ev];
    },
    [x1, x2, gamma, beta, rm, rv],
  );
  // Step 1: ch0 mean 2 var 1, ch1 mean 4 var 4 (biased) -> normalised ±1.
  const s = (vr: number) => 1 / Math.sqrt(vr + eps);
  assertClose(y1.data, [2 * -1 * s(1), 1 + -2 * s(4), 2 * 1 * s(1), 1 + 2 * s(4)], "step 1 y");
  // Step 2: ch0 mean 1 var 1, ch1 mean 2 var 4.
  assertClose(y2.data, [2 * -1 * s(1), 1 + 2 * s(4), 2 * 1 * s(1), 1 - 2 * s(4)], "step 2 y");
  // running_mean: 0.9·[0.2, 0.4] + 0.1·[1, 2]; running_var with unbiased variances [2, 8] twice.
  assertClose(m.data, [0.28, 0.56], "running mean after two steps");
  assertClose(v.data, [0.9 * 1.1 + 0.2, 0.9 * 1.7 + 0.8], "running var after two steps");
  const ev = [1, 2, 3, 6].map((xv, i) => {
    const c = i % 2;
    return (xv - m.data[c]) / Math.sqrt(v.data[c] + eps) * [2, 1][c] + [0, 1][c];
  });
  assertClose(ye.data, ev, "eval mode uses the running statistics");
});

test("batchNorm matches a naive reference on [N,C] and [N,C,H,W], with and without affine", async () => {
  for (const shape of [[5, 3], [3, 2, 4, 5], [8, 3, 16, 16]]) {
    const c = shape[1];
    const x = hostRand(shape, 1, -2, 3), g = hostRand([c], 2), b = hostRand([c], 3);
    const rm = hostRand([c], 4), rv = hostRand([c], 5, 0.5, 2);
    const [y, m, v] = await compareBackends(
      `batchNorm ${shape}`,
      (
        a: T,
        gg: T,
        bb: T,
        mm: T,
        vv: T,
      ) => [o.batchNorm(a, gg, bb, mm, vv, { training: true, momentum: 0.2 }), mm, vv],
      [x, g, b, rm, rv],
      { atol: 1e-4 },
    );
    assertClose(
      y.data,
      naive(x, (ix) => ix[1], (ix) => ix[1], g.data, b.data, 1e-5),
      `bn ${shape}`,
      1e-4,
    );
    // running stats: naive per-channel mean / unbiased var
    const cnt = x.data.length / c;
    for (let ch = 0; ch < c; ch++) {
      const vals = Array.from(x.data).filter((_, i) => Math.floor(i / (cnt / shape[0])) % c === ch);
      const mean = vals.reduce((p, q) => p + q, 0) / cnt;
      const uv = vals.reduce((p, q) => p + (q - mean) ** 2, 0) / (cnt - 1);
      assertClose([m.data[ch], v.data[ch]], [
        0.8 * rm.data[ch] + 0.2 * mean,
        0.8 * rv.data[ch] + 0.2 * uv,
      ], `running ${shape} ch${ch}`);
    }
    const [ye] = await compareBackends(
      `batchNorm eval no affine ${shape}`,
      (a: T, mm: T, vv: T) => o.batchNorm(a, null, null, mm, vv, { training: false, eps: 1e-3 }),
      [x, rm, rv],
    );
    const ref = Array.from(x.data, (xv, i) => {
      const ch = Math.floor(i / (cnt / shape[0])) % c;
      return (xv - rm.data[ch]) / Math.sqrt(rv.data[ch] + 1e-3);
    });
    assertClose(ye.data, ref, `bn eval ${shape}`);
  }
});

test("instanceNorm, groupNorm, layerNorm, layerNorm2d match naive references", async () => {
  const x = hostRand([2, 6, 3, 4], 7, -1, 2), g = hostRand([6], 8), b = hostRand([6], 9);
  const [i1] = await compareBackends(
    "instanceNorm",
    (a: T, gg: T, bb: T) => o.instanceNorm(a, gg, bb),
    [x, g, b],
  );
  assertClose(
    i1.data,
    naive(x, (ix) => ix[0] * 100 + ix[1], (ix) => ix[1], g.data, b.data, 1e-5),
    "instanceNorm",
    1e-4,
  );
  const [i2] = await compareBackends(
    "instanceNorm no affine",
    (a: T) => o.instanceNorm(a, null, null, { eps: 0.1 }),
    [x],
  );
  assertClose(
    i2.data,
    naive(x, (ix) => ix[0] * 100 + ix[1], () => 0, null, null, 0.1),
    "instanceNorm plain",
    1e-4,
  );
  const [gn] = await compareBackends(
    "groupNorm",
    (a: T, gg: T, bb: T) => o.groupNorm(a, gg, bb, { groups: 3 }),
    [x, g, b],
  );
  assertClose(
    gn.data,
    naive(x, (ix) => ix[0] * 100 + Math.floor(ix[1] / 2), (ix) => ix[1], g.data, b.data, 1e-5),
    "groupNorm",
    1e-4,
  );
  const [l2] = await compareBackends(
    "layerNorm2d",
    (a: T, gg: T, bb: T) => o.layerNorm2d(a, gg, bb),
    [x, g, b],
  );
  assertClose(
    l2.data,
    naive(x, (ix) => ix[0] * 1e6 + spatial(ix), (ix) => ix[1], g.data, b.data, 1e-6),
    "layerNorm2d",
    1e-4,
  );
  const [l2n] = await compareBackends(
    "layerNorm2d normCount",
    (a: T, gg: T, bb: T) => o.layerNorm2d(a, gg, bb, { normCount: 9 }),
    [x, g, b],
  );
  assertClose(
    l2n.data,
    naive(x, (ix) => ix[0] * 1e6 + spatial(ix), (ix) => ix[1], g.data, b.data, 1e-6, 9),
    "layerNorm2d normCount",
    1e-4,
  );
  // layerNorm over the trailing 1 and 2 dims, including rows longer than a workgroup.
  const y = hostRand([2, 3, 4], 10), g2 = hostRand([3, 4], 11), b2 = hostRand([3, 4], 12);
  const [ln2] = await compareBackends(
    "layerNorm [3,4]",
    (a: T, gg: T, bb: T) => o.layerNorm(a, gg, bb, { normalizedShape: [3, 4] }),
    [y, g2, b2],
  );
  assertClose(
    ln2.data,
    naive(y, (ix) => ix[0], (ix) => ix[1] * 4 + ix[2], g2.data, b2.data, 1e-5),
    "layerNorm 2 dims",
    1e-4,
  );
  const z = hostRand([3, 300], 13, 0, 4), g3 = hostRand([300], 14);
  const [ln1] = await compareBackends(
    "layerNorm [300]",
    (a: T, gg: T) => o.layerNorm(a, gg, null, { normalizedShape: [300] }),
    [z, g3],
  );
  assertClose(
    ln1.data,
    naive(z, (ix) => ix[0], (ix) => ix[1], g3.data, null, 1e-5),
    "layerNorm 300",
    1e-4,
  );
  const big = hostRand([2, 8, 20, 20], 15);
  await compareBackends(
    "groupNorm big",
    (a: T) => o.groupNorm(a, null, null, { groups: 2 }),
    [big],
    { atol: 1e-4 },
  );
  await compareBackends("layerNorm2d big", (a: T) => o.layerNorm2d(a, null, null), [big], {
    atol: 1e-4,
  });
});

test("norm gradients match finite differences (x, gamma, beta)", async () => {
  const x = hostRand([3, 2, 2, 2], 20, -1, 2),
    g = hostRand([2], 21, 0.5, 1.5),
    b = hostRand([2], 22);
  const rm = hostRand([2], 23), rv = hostRand([2], 24, 0.5, 1.5);
  await gradCheck(
    "batchNorm train",
    (a, gg, bb, mm, vv) => o.batchNorm(a, gg, bb, mm, vv, { training: true }),
    [x, g, b, rm, rv],
    { wrt: [0, 1, 2] },
  );
  await gradCheck(
    "batchNorm eval",
    (a, gg, bb, mm, vv) => o.batchNorm(a, gg, bb, mm, vv, { training: false }),
    [x, g, b, rm, rv],
    { wrt: [0, 1, 2] },
  );
  await gradCheck(
    "batchNorm [N,C] no affine",
    (a, mm, vv) => o.batchNorm(a, null, null, mm, vv, { training: true }),
    [hostRand([4, 3], 25), hostRand([3], 26), hostRand([3], 27, 0.5, 1)],
    { wrt: [0] },
  );
  await gradCheck("instanceNorm", (a, gg, bb) => o.instanceNorm(a, gg, bb), [
    hostRand([2, 2, 3], 28),
    g,
    b,
  ]);
  const g4 = hostRand([4], 29, 0.5, 1.5), b4 = hostRand([4], 30);
  const x4 = hostRand([2, 4, 2, 2], 31, -1, 2);
  await gradCheck("groupNorm", (a, gg, bb) => o.groupNorm(a, gg, bb, { groups: 2 }), [x4, g4, b4]);
  await gradCheck("layerNorm2d", (a, gg, bb) => o.layerNorm2d(a, gg, bb), [x4, g4, b4]);
  await gradCheck(
    "layerNorm2d normCount",
    (a, gg, bb) => o.layerNorm2d(a, gg, bb, { normCount: 6 }),
    [x4, g4, b4],
  );
  await gradCheck("layerNorm", (a, gg, bb) => o.layerNorm(a, gg, bb, { normalizedShape: [2, 3] }), [
    hostRand([2, 2, 3], 32),
    hostRand([2, 3], 33, 0.5, 1.5),
    hostRand([2, 3], 34),
  ]);
  await gradCheck("layerNorm x only", (a) => o.layerNorm(a, null, null, { normalizedShape: [5] }), [
    hostRand([3, 5], 35),
  ]);
});

test("layerNorm2d with normCount on the kept channels equals the unpruned norm", async () => {
  const shape = [2, 4, 3, 3], removed = [1, 3], kept = [0, 2];
  const x = hostRand(shape, 40, -1, 2);
  const data = Float32Array.from(x.data);
  for (let i = 0; i < data.length; i++) if (removed.includes(Math.floor(i / 9) % 4)) data[i] = 0;
  const full: HostInput = { data, shape };
  const g = hostRand([4], 41), b = hostRand([4], 42);
  const pick = (arr: ArrayLike<number>, chans: number, plane: number) =>
    Array.from(arr).filter((_, i) => kept.includes(Math.floor(i / plane) % chans));
  const small: HostInput = { data: pick(data, 4, 9), shape: [2, 2, 3, 3] };
  const gk: HostInput = { data: pick(g.data, 4, 1), shape: [2] },
    bk: HostInput = { data: pick(b.data, 4, 1), shape: [2] };
  const [ref] = await compareBackends(
    "layerNorm2d full",
    (a: T, gg: T, bb: T) => o.layerNorm2d(a, gg, bb),
    [full, g, b],
  );
  const [pr] = await compareBackends(
    "layerNorm2d pruned",
    (a: T, gg: T, bb: T) => o.layerNorm2d(a, gg, bb, { normCount: 4 }),
    [small, gk, bk],
  );
  assertClose(pr.data, pick(ref.data, 4, 9), "pruned with normCount = original C");
  const [plain] = await compareBackends(
    "layerNorm2d pruned plain",
    (a: T, gg: T, bb: T) => o.layerNorm2d(a, gg, bb),
    [small, gk, bk],
  );
  assert.throws(
    () => assertClose(plain.data, pick(ref.data, 4, 9), "x"),
    /element/,
    "without normCount the statistics differ",
  );
});

test("norm errors name the op and the shapes", () => {
  const cpu = { backend: "cpu" as const };
  const x = o.zeros([2, 2, 1, 1], cpu), c2 = o.ones([2], cpu), c3 = o.ones([3], cpu);
  assert.throws(
    () => o.batchNorm(x, c3, c2, c2, c2, { training: true }),
    /batchNorm: gamma has shape \[3\], expected \[2\] for input \[2,2,1,1\] \(shapes \[2,2,1,1\], \[3\]\)/,
  );
  assert.throws(
    () => o.batchNorm(o.zeros([1, 2], cpu), c2, c2, c2, c2, { training: true }),
    /batchNorm: training needs more than one value per channel.*\[1,2\]/,
  );
  assert.throws(
    () => o.batchNorm(x, c2, c2, c2, c3, { training: false }),
    /batchNorm: runningVar has shape \[3\]/,
  );
  assert.throws(
    () => o.groupNorm(o.zeros([1, 6, 2, 2], cpu), null, null, { groups: 4 }),
    /groupNorm: 6 channels do not split into 4 groups \(shapes \[1,6,2,2\]\)/,
  );
  assert.throws(
    () => o.layerNorm(x, null, null, { normalizedShape: [3] }),
    /layerNorm: normalizedShape \[3\] must equal the trailing dims.*\[2,2,1,1\]/,
  );
  assert.throws(
    () => o.layerNorm2d(x, null, null, { normCount: 1 }),
    /layerNorm2d: normCount 1 must be an integer >= the 2 input channels/,
  );
  assert.throws(
    () => o.layerNorm2d(x, null, null, { channels: 3 }),
    /layerNorm2d: input has 2 channels, expected 3/,
  );
  assert.throws(
    () => o.instanceNorm(o.zeros([2, 2], cpu), null, null),
    /instanceNorm: expects a \[N, C, ...spatial\] input \(rank >= 3\), got rank 2/,
  );
});

test("norm facets: channel rules, mutates, ONNX", () => {
  const bn = o.getOp("batchNorm");
  assert.deepEqual(bn.mutates, [3, 4]);
  // Batch norm: a zero channel outputs beta in train mode and gamma·(0 - mean)/sd + beta in
  // eval mode, so (gamma, beta) = 0 or (beta, runningMean) = 0 keeps it zero.
  assert.deepEqual(bn.channels, {
    kind: "accessory",
    perChannelInputs: [1, 2, 3, 4],
    zeroWhen: [[1, 2], [2, 3]],
  });
  assert.deepEqual(o.getOp("instanceNorm").channels, {
    kind: "accessory",
    perChannelInputs: [1, 2],
    zeroWhen: [[2]],
  });
  const ln2 = o.getOp("layerNorm2d").channels as {
    kind: string;
    normCount: { get: (a: unknown) => number; set: (a: unknown, n: number) => unknown };
  };
  assert.equal(ln2.kind, "accessory");
  assert.equal(ln2.normCount.get({ eps: 1e-6, normCount: 96 }), 96);
  assert.deepEqual(ln2.normCount.set({ eps: 1e-6, normCount: 64 }, 96), {
    eps: 1e-6,
    normCount: 96,
  });
  assert.equal(o.getOp("layerNorm").channels?.kind, "byAttrs");
  const gn = o.getOp("groupNorm").channels as {
    kind: string;
    blockSize: (a: unknown, i: unknown) => number;
  };
  assert.equal(gn.blockSize({ groups: 4 }, { ins: [{ shape: [1, 12, 2, 2] }], outs: [] }), 3);
  const nodes: { type: string; attrs?: Record<string, unknown> }[] = [];
  const e = {
    node: (type: string, _i: string[], _o: string[], attrs?: Record<string, unknown>) =>
      void nodes.push({ type, attrs }),
    constant: () => "c",
    fresh: (h: string) => h,
  };
  const info = { ins: [{ shape: [1, 4, 2, 2], dtype: "f32" }], outs: [] };
  const emit = (name: string, attrs: unknown) =>
    (o.getOp(name).onnx as unknown as (e: unknown, io: unknown) => void)(e, {
      inputs: ["x", "g", "b", "m", "v"],
      outputs: ["y"],
      attrs,
      info,
    });
  emit("batchNorm", { training: false, momentum: 0.1, eps: 1e-5 });
  assert.equal(nodes[0].type, "BatchNormalization");
  assertClose(
    [(nodes[0].attrs!.momentum as { float: number }).float],
    [0.9],
    "ONNX momentum is 1 - m",
  );
  emit("layerNorm", { normalizedShape: [2, 2], eps: 1e-5 });
  assert.deepEqual(nodes[1].attrs!.axis, -2);
  nodes.length = 0;
  emit("groupNorm", { groups: 2, eps: 1e-5 });
  assert.deepEqual(nodes.map((n) => n.type), [
    "Reshape",
    "InstanceNormalization",
    "Reshape",
    "Reshape",
    "Mul",
    "Reshape",
    "Add",
  ]);
});

// ---------------------------------------------------------------------------------------------
// PReLU and dropout (per-channel / elementwise layers of the same issue item)

/** Values away from 0 so finite differences never cross PReLU's kink. */
function offZero(shape: number[], seed: number): HostInput {
  const r = hostRand(shape, seed);
  return { data: Array.from(r.data, (v) => Math.sign(v || 1) * (0.2 + Math.abs(v))), shape };
}

test("prelu: per-channel and shared slopes, gradients", async () => {
  const [r] = await compareBackends("prelu hand", o.prelu, [
    { data: [-1, 2, -3, 4], shape: [1, 2, 2] },
    { data: [0.1, 0.5], shape: [2] },
  ]);
  assertClose(r.data, [-0.1, 2, -1.5, 4], "prelu values");
  const [s] = await compareBackends("prelu shared", o.prelu, [
    { data: [-1, 2, -3, 4], shape: [2, 2] },
    { data: [0.25], shape: [1] },
  ]);
  assertClose(s.data, [-0.25, 2, -0.75, 4], "shared slope values");
  await compareBackends("prelu NCHW", o.prelu, [hostRand([2, 3, 5, 7], 50), hostRand([3], 51)]);
  await gradCheck("prelu per-channel", o.prelu, [offZero([2, 3, 2, 2], 52), hostRand([3], 53)]);
  await gradCheck("prelu shared", o.prelu, [offZero([2, 3, 4], 54), { data: [0.3], shape: [1] }]);
  assert.deepEqual(o.getOp("prelu").channels, {
    kind: "accessory",
    perChannelInputs: [1],
    zeroWhen: [[]],
  });
  const x = o.zeros([2, 2, 3], { backend: "cpu" });
  assert.throws(
    () => o.prelu(x, o.ones([3], { backend: "cpu" })),
    /prelu: slope must have shape \[1\] or \[2\] \(one per channel of axis 1\) \(shapes \[2,2,3\], \[3\]\)/,
  );
});

test("dropout: seeded mask identical on both backends, scaled, reproducible", async () => {
  const n = 20000;
  const ones: HostInput = { data: new Float32Array(n).fill(1), shape: [n] };
  const drop = (seed: number, p = 0.3) => (t: T) => o.dropout(t, { p, training: true, seed });
  const [a] = await compareBackends("dropout", drop(7), [ones], { atol: 0, rtol: 0 });
  const zeros = a.data.filter((v) => v === 0).length;
  assert.ok(Math.abs(zeros / n - 0.3) < 0.015, `dropped fraction ${zeros / n}, expected about 0.3`);
  const kept = Math.fround(1 / 0.7);
  assert.ok(a.data.every((v) => v === 0 || v === kept), "kept values are scaled by 1/(1-p)");
  const [again] = await compareBackends("dropout again", drop(7), [ones]);
  assert.deepEqual(again.data, a.data, "same seed, same mask");
  const [other] = await compareBackends("dropout other seed", drop(8), [ones]);
  const same = other.data.filter((v, i) => v === a.data[i]).length;
  assert.ok(same < 0.7 * n, `a different seed gives a different mask (${same} of ${n} agree)`);
  // Neighbouring elements are not correlated: P(both dropped) is about p².
  let both = 0;
  for (let i = 0; i + 1 < n; i++) if (a.data[i] === 0 && a.data[i + 1] === 0) both++;
  assert.ok(Math.abs(both / (n - 1) - 0.09) < 0.015, `pair drop rate ${both / (n - 1)}`);
  const [all] = await compareBackends("dropout p=1", drop(1, 1), [hostRand([50], 1)]);
  assert.ok(all.data.every((v) => v === 0), "p = 1 drops everything");
  await gradCheck("dropout", drop(3, 0.5), [hostRand([4, 6], 60)]);

  const x = o.ones([3], { backend: "cpu" });
  assert.equal(o.dropout(x, { p: 0.5, training: false }), x, "eval mode is the identity");
  assert.equal(o.dropout(x, { p: 0, training: true }), x, "p = 0 is the identity");
  assert.throws(
    () => o.dropout(x, { p: 1.5, training: true }),
    /dropout: probability p must be in \[0, 1\], got 1.5 \(shapes \[3\]\)/,
  );
  assert.equal(o.getOp("dropout").channels?.kind, "passthrough");
});

/** x, gamma and beta gradients of sum(fn(x, gamma, beta) · w), for compareBackends. */
function grads(fn: (x: T, g: T, b: T) => T) {
  return (x: T, g: T, b: T, w: T): T[] => {
    for (const t of [x, g, b]) t.requiresGrad = true;
    o.backward(o.sum(o.mul(fn(x, g, b), w)));
    const out = [x.grad!, g.grad!, b.grad!];
    for (const t of [x, g, b]) t.grad = null;
    return out;
  };
}

test("many small groups (one thread per group) and large groups: forward and gradients on both backends", async () => {
  const cases: [string, number[], number[], (x: T, g: T, b: T) => T][] = [
    ["layerNorm2d", [2, 8, 20, 20], [8], (x, g, b) => o.layerNorm2d(x, g, b, { normCount: 10 })],
    ["instanceNorm", [4, 160, 3, 3], [160], (x, g, b) => o.instanceNorm(x, g, b)],
    ["layerNorm", [600, 5], [5], (x, g, b) => o.layerNorm(x, g, b, { normalizedShape: [5] })],
    ["groupNorm", [2, 8, 12, 12], [8], (x, g, b) => o.groupNorm(x, g, b, { groups: 4 })],
    [
      "batchNorm",
      [8, 3, 16, 16],
      [3],
      (x, g, b) =>
        o.batchNorm(
          x,
          g,
          b,
          o.zeros([3], { backend: x.backend }),
          o.ones([3], { backend: x.backend }),
          {
            training: true,
          },
        ),
    ],
  ];
  for (const [name, shape, ps, fn] of cases) {
    const ins = [hostRand(shape, 70, -1, 3), hostRand(ps, 71, 0.5, 1.5), hostRand(ps, 72)];
    await compareBackends(`${name} ${shape}`, fn, ins, { atol: 1e-4 });
    await compareBackends(`${name} ${shape} grads`, grads(fn), [...ins, hostRand(shape, 73)], {
      atol: 2e-4,
      rtol: 2e-3,
    });
  }
});
