import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { F } from "../mod.ts";
import { assertClose, compareBackends, forBackends, gradCheck, hostRand, test } from "./helpers.ts";
import { checkOnnx } from "./onnx_check.ts";

const cpu = (h: { data: ArrayLike<number>; shape: readonly number[] }) =>
  o.fromHost(Float32Array.from(h.data), h.shape, "f32", "cpu");

/** Build a layer on `backend` with a fixed seed (parameters go to the default backend). */
function onBackend<T>(backend: o.BackendName, seed: number, make: () => T): T {
  const prev = o.getDefaultBackend();
  o.setDefaultBackend(backend);
  try {
    o.manualSeed(seed);
    return make();
  } finally {
    o.setDefaultBackend(prev);
  }
}

/**
 * Run `layer` (built per backend with the same seed) on the same input on cpu and webgpu,
 * compare the outputs, and check them against `reference` (cpu tensors of the cpu layer).
 */
async function checkLayer<M extends o.Module>(
  what: string,
  make: () => M,
  input: { data: ArrayLike<number>; shape: readonly number[] },
  reference: (m: M, x: o.Tensor) => ArrayLike<number>,
  tol = 1e-5,
): Promise<number[]> {
  const outs: number[][] = [];
  await forBackends(async (be) => {
    const m = onBackend(be, 5, make);
    const x = o.fromHost(Float32Array.from(input.data), input.shape, "f32", be);
    const y = o.tidy(() => m.call(x));
    outs.push(Array.from(await y.data()));
    if (be === "cpu") {
      assertClose(outs[0], reference(m, x), `${what}: layer vs reference`, tol, tol);
    }
    y.dispose();
    x.dispose();
    m.dispose();
  });
  if (outs.length === 2) assertClose(outs[1], outs[0], `${what}: webgpu vs cpu`, tol, 1e-4);
  return outs[0];
}

const host = (t: o.Tensor) => t.hostData() as Float32Array;

// ---------------------------------------------------------------------------------------------
// linear op

/** y = x·wᵀ + b, written out. */
function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  rows: number,
  inF: number,
  outF: number,
) {
  const y = new Float32Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < outF; q++) {
      let s = b ? b[q] : 0;
      for (let k = 0; k < inF; k++) s += x[r * inF + k] * w[q * inF + k];
      y[r * outF + q] = s;
    }
  }
  return y;
}

test("linear op: values, leading batch dims, no bias, both backends, gradients", async () => {
  const x = hostRand([5, 7], 1), w = hostRand([3, 7], 2), b = hostRand([3], 3);
  const [r] = await compareBackends("linear", (a, c, d) => o.linear(a, c, d), [x, w, b]);
  assert.deepEqual(r.shape, [5, 3]);
  assertClose(r.data, linearRef(x.data, w.data, b.data, 5, 7, 3), "linear values");
  const x3 = hostRand([2, 37, 33], 4), w3 = hostRand([35, 33], 5);
  const [r3] = await compareBackends("linear 3-D", (a, c) => o.linear(a, c), [x3, w3]);
  assert.deepEqual(r3.shape, [2, 37, 35]);
  assertClose(r3.data, linearRef(x3.data, w3.data, null, 74, 33, 35), "linear 3-D", 1e-4);
  // Aligned shapes take the vec4 matmul path on webgpu.
  const xa = hostRand([16, 64], 11), wa = hostRand([32, 64], 12), ba = hostRand([32], 13);
  const [ra] = await compareBackends("linear aligned", (a, c, d) => o.linear(a, c, d), [
    xa,
    wa,
    ba,
  ]);
  assertClose(ra.data, linearRef(xa.data, wa.data, ba.data, 16, 64, 32), "linear aligned", 1e-4);
  // [in, out] weights: the same kernels without the transpose flag.
  for (const [m, k, n] of [[5, 7, 3], [16, 64, 32]]) {
    const [xi, wi, bi] = [hostRand([m, k], 20), hostRand([k, n], 21), hostRand([n], 22)];
    const [ri] = await compareBackends(
      `linear [in, out] ${m}x${k}x${n}`,
      (a, c, d) => o.linear(a, c, d, { weightInOut: true }),
      [xi, wi, bi],
    );
    const wOutIn = new Float32Array(k * n);
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) wOutIn[j * k + i] = wi.data[i * n + j];
    assertClose(ri.data, linearRef(xi.data, wOutIn, bi.data, m, k, n), "linear [in, out]", 1e-4);
  }
  await gradCheck("linear", (a, c, d) => o.linear(a, c, d), [
    hostRand([2, 3, 4], 6),
    hostRand([5, 4], 7),
    hostRand([5], 8),
  ]);
  await gradCheck("linear no bias", (a, c) => o.linear(a, c), [
    hostRand([3, 4], 9),
    hostRand([2, 4], 10),
  ]);
  assert.throws(
    () => o.linear(o.zeros([2, 4], { backend: "cpu" }), o.zeros([3, 5], { backend: "cpu" })),
    /linear: input has 4 features, weight expects 5/,
  );
});

test("linear op: cost, channel rule and ONNX (Gemm for 2-D, MatMul for 3-D) match onnxruntime", async () => {
  const op = o.getOp("linear");
  const rule = op.channels as {
    kind: string;
    outAxis: (a: unknown) => number;
    inAxis: typeof rule.outAxis;
  };
  assert.equal(rule.kind, "stem");
  assert.deepEqual([rule.outAxis({}), rule.inAxis({})], [0, 1], "[out, in] weights");
  assert.deepEqual([rule.outAxis({ weightInOut: true }), rule.inAxis({ weightInOut: true })], [
    1,
    0,
  ]);
  assert.deepEqual(op.inputNames, ["x", "weight", "bias"]);
  const info = {
    ins: [{ shape: [4, 8], dtype: "f32" }, { shape: [3, 8], dtype: "f32" }],
    outs: [],
  };
  assert.equal(op.cost!(info as never, {} as never).macs, 4 * 8 * 3);
  for (
    const [what, ins] of [
      ["2-D", [cpu(hostRand([4, 6], 1)), cpu(hostRand([3, 6], 2)), cpu(hostRand([3], 3))]],
      ["3-D", [cpu(hostRand([2, 4, 6], 4)), cpu(hostRand([3, 6], 5)), cpu(hostRand([3], 6))]],
      ["no bias", [cpu(hostRand([4, 6], 7)), cpu(hostRand([3, 6], 8))]],
    ] as const
  ) {
    const names = await checkOnnx(
      `linear ONNX ${what}`,
      (...xs) => o.linear(xs[0], xs[1], xs[2] ?? null),
      [...ins],
    );
    assert.deepEqual(names, ["linear"]);
  }
  // [in, out] weights (ONNX MatMul/Gemm layout): y = x·w + b, written without a transpose.
  const w = hostRand([6, 3], 11);
  const wt = new Float32Array(18);
  for (let i = 0; i < 6; i++) for (let j = 0; j < 3; j++) wt[j * 6 + i] = w.data[i * 3 + j];
  for (const x of [hostRand([4, 6], 12), hostRand([2, 4, 6], 13)]) {
    const [xa, wa, wb, b] = [
      cpu(x),
      cpu(w),
      cpu({ data: wt, shape: [3, 6] }),
      cpu(hostRand([3], 14)),
    ];
    const inOut = o.linear(xa, wa, b, { weightInOut: true });
    assert.deepEqual([...inOut.shape], [...x.shape.slice(0, -1), 3]);
    assertClose(await inOut.data(), await o.linear(xa, wb, b).data(), "weightInOut", 1e-6, 1e-6);
    await checkOnnx(
      "linear ONNX [in, out]",
      (...xs) => o.linear(xs[0], xs[1], xs[2], { weightInOut: true }),
      [xa, wa, b],
    );
  }
  await gradCheck("linear [in, out]", (a, c, d) => o.linear(a, c, d, { weightInOut: true }), [
    hostRand([3, 4], 15),
    hostRand([4, 2], 16),
    hostRand([2], 17),
  ]);
});

// ---------------------------------------------------------------------------------------------
// Parameter shapes, counts, names, init

test("layers: parameter shapes and counts match PyTorch", () => {
  const shapes = (m: o.Module) =>
    Object.fromEntries([...m.stateDict()].map(([k, t]) => [k, [...t.shape]]));
  const c = new o.Conv2d(3, 64, 3);
  assert.equal(c.numParameters(), 1792);
  assert.deepEqual(shapes(c), { weight: [64, 3, 3, 3], bias: [64] });
  assert.equal(new o.Conv2d(3, 64, 3, { bias: false }).numParameters(), 1728);
  assert.deepEqual(shapes(new o.Conv2d(8, 16, [3, 5], { groups: 4 })), {
    weight: [16, 2, 3, 5],
    bias: [16],
  });
  assert.deepEqual(shapes(new o.ConvTranspose2d(16, 8, 2, { stride: 2, groups: 2 })), {
    weight: [16, 4, 2, 2],
    bias: [8],
  });
  assert.equal(new o.ConvTranspose2d(16, 8, 2, { stride: 2 }).numParameters(), 16 * 8 * 4 + 8);
  assert.equal(new o.Linear(1568, 10).numParameters(), 15690);
  assert.deepEqual(shapes(new o.Linear(4, 2, { bias: false })), { weight: [2, 4] });
  const bn = new o.BatchNorm2d(64);
  assert.equal(bn.numParameters(), 128);
  assert.deepEqual(shapes(bn), {
    weight: [64],
    bias: [64],
    running_mean: [64],
    running_var: [64],
  });
  assert.deepEqual(
    [...new o.BatchNorm2d(4, { numBatchesTracked: true, affine: false }).stateDict().keys()],
    ["running_mean", "running_var", "num_batches_tracked"],
  );
  assert.equal(new o.InstanceNorm2d(8).numParameters(), 0);
  assert.equal(new o.InstanceNorm2d(8, { affine: true }).numParameters(), 16);
  assert.deepEqual(shapes(new o.LayerNorm([4, 5])), { weight: [4, 5], bias: [4, 5] });
  assert.equal(new o.LayerNorm(8, { elementwiseAffine: false }).numParameters(), 0);
  assert.equal(new o.LayerNorm2d(8).numParameters(), 16);
  assert.equal(new o.GroupNorm(2, 8).numParameters(), 16);
  assert.deepEqual(shapes(new o.PReLU(8)), { weight: [8] });
  assert.equal(new o.PReLU().numParameters(), 1);
  for (const m of [new o.ReLU(), new o.MaxPool2d(2), new o.Flatten(), new o.Dropout(0.2)]) {
    assert.equal(m.numParameters(), 0);
  }
  assert.throws(() => new o.Conv2d(6, 8, 3, { groups: 4 }), /divisible by groups \(4\)/);
  assert.throws(() => new o.GroupNorm(3, 8), /divisible by numGroups/);
});

test("init: kaiming_uniform(a=√5) bounds and moments, norms ones/zeros, seeded", async () => {
  o.manualSeed(11);
  const conv = new o.Conv2d(16, 32, 3);
  const w = await conv.weight.array(), b = await conv.bias!.array();
  const bound = 1 / Math.sqrt(16 * 9);
  assert.ok(w.every((v) => Math.abs(v) <= bound), "weights within ±1/√fan_in");
  assert.ok(b.every((v) => Math.abs(v) <= bound), "bias within ±1/√fan_in");
  const mean = w.reduce((s, v) => s + v, 0) / w.length;
  const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
  assert.ok(Math.abs(mean) < 0.05 * bound, `mean ${mean} ~ 0`);
  assert.ok(Math.abs(std - bound / Math.sqrt(3)) < 0.03 * bound, `std ${std} ~ bound/√3`);
  assert.ok(Math.max(...w) > 0.95 * bound && Math.min(...w) < -0.95 * bound, "fills the range");
  // ConvTranspose2d's fan_in is weight.size(1)·kh·kw = out/groups·kh·kw, as PyTorch.
  const ct = await new o.ConvTranspose2d(4, 6, 3).weight.array();
  assert.ok(ct.every((v) => Math.abs(v) <= 1 / Math.sqrt(6 * 9)));
  assert.ok(Math.max(...ct.map(Math.abs)) > 0.9 / Math.sqrt(6 * 9));
  const fc = await new o.Linear(50, 3).weight.array();
  assert.ok(fc.every((v) => Math.abs(v) <= 1 / Math.sqrt(50)));
  const bn = new o.BatchNorm2d(3);
  assert.deepEqual(await bn.weight!.array(), [1, 1, 1]);
  assert.deepEqual(await bn.bias!.array(), [0, 0, 0]);
  assert.deepEqual(await bn.runningVar.array(), [1, 1, 1]);
  assert.deepEqual(await new o.PReLU(2).weight.array(), [0.25, 0.25]);
  // Same seed, same weights on every backend.
  const vals: number[][] = [];
  await forBackends(async (be) => {
    const l = onBackend(be, 3, () => new o.Linear(6, 4));
    assert.equal(l.weight.backend, be);
    vals.push([...await l.weight.array(), ...await l.bias!.array()]);
    assert.deepEqual(vals[vals.length - 1], vals[0], `${be} vs cpu`);
  });
  o.manualSeed(3);
  o.setDefaultBackend("cpu");
  assert.deepEqual(await new o.Linear(6, 4).weight.array(), vals[0].slice(0, 24));
});

class Small extends o.Module {
  features = this.module(
    "features",
    o.Sequential.fromEntries([
      ["conv", new o.Conv2d(1, 4, 3, { padding: 1 })],
      ["bn", new o.BatchNorm2d(4)],
      ["act", new o.ReLU()],
      ["pool", new o.MaxPool2d(2)],
    ]),
  );
  drop = this.module("drop", new o.Dropout(0.5));
  head = this.module("head", new o.Sequential(new o.Flatten(), new o.Linear(4 * 3 * 3, 3)));
  forward(x: o.Tensor): o.Tensor {
    return this.head.call(this.drop.call(this.features.call(x)));
  }
}

test("state dict names follow PyTorch; Sequential numbering and fromEntries", () => {
  const m = new Small();
  assert.deepEqual([...m.stateDict().keys()], [
    "features.conv.weight",
    "features.conv.bias",
    "features.bn.weight",
    "features.bn.bias",
    "head.1.weight",
    "head.1.bias",
    "features.bn.running_mean",
    "features.bn.running_var",
  ]);
  assert.equal(m.head.length, 2);
  assert.ok(m.head.at(-1) instanceof o.Linear);
  assert.deepEqual(m.namedModules().map(([n]) => n), [
    "",
    "features",
    "features.conv",
    "features.bn",
    "features.act",
    "features.pool",
    "drop",
    "head",
    "head.0",
    "head.1",
  ]);
  assert.throws(() => o.Sequential.fromEntries([["a.b", new o.ReLU()]]), /invalid child name/);
  m.dispose();
});

test("train/eval switching reaches every child: BatchNorm statistics, Dropout", async () => {
  await forBackends(async (be) => {
    const m = onBackend(be, 1, () => new Small());
    const x = o.fromHost(
      Float32Array.from(hostRand([4, 1, 6, 6], 2).data),
      [4, 1, 6, 6],
      "f32",
      be,
    );
    const rm0 = await m.features.at(1).getBuffer("running_mean")!.array();
    const y1 = o.tidy(() => m.call(x));
    const rm1 = await m.features.at(1).getBuffer("running_mean")!.array();
    assert.notDeepEqual(rm1, rm0, `${be}: training updates running_mean`);
    m.eval();
    assert.ok(m.namedModules().every(([, c]) => !c.training), "eval reaches every module");
    const e1 = await o.tidy(() => m.call(x)).array();
    const e2 = await o.tidy(() => m.call(x)).array();
    assert.deepEqual(e1, e2, `${be}: eval is deterministic (no dropout)`);
    assert.deepEqual(
      await m.features.at(1).getBuffer("running_mean")!.array(),
      rm1,
      `${be}: eval leaves running stats`,
    );
    assert.notDeepEqual(await y1.array(), e1);
    m.train();
    assert.ok(m.namedModules().every(([, c]) => c.training));
    m.dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// Every layer's forward against a written-out computation or the functional op

/** Direct convolution, written out (NCHW, OIHW). */
function convRef(
  x: Float32Array,
  xs: readonly number[],
  w: Float32Array,
  ws: readonly number[],
  b: Float32Array | null,
  s: number,
  p: number,
  d: number,
  g: number,
): Float32Array {
  const [N, C, H, W] = xs, [O, Cg, KH, KW] = ws;
  const OH = Math.floor((H + 2 * p - d * (KH - 1) - 1) / s) + 1;
  const OW = Math.floor((W + 2 * p - d * (KW - 1) - 1) / s) + 1;
  const y = new Float32Array(N * O * OH * OW);
  const og = O / g;
  for (let n = 0; n < N; n++) {
    for (let oc = 0; oc < O; oc++) {
      const gi = Math.floor(oc / og);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = b ? b[oc] : 0;
          for (let c = 0; c < Cg; c++) {
            for (let kh = 0; kh < KH; kh++) {
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * s - p + kh * d, iw = ow * s - p + kw * d;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += x[((n * C + gi * Cg + c) * H + ih) * W + iw] *
                  w[((oc * Cg + c) * KH + kh) * KW + kw];
              }
            }
          }
          y[((n * O + oc) * OH + oh) * OW + ow] = acc;
        }
      }
    }
  }
  return y;
}

test("Conv2d and ConvTranspose2d forward match a direct convolution", async () => {
  const x = hostRand([2, 4, 7, 6], 1);
  await checkLayer(
    "Conv2d",
    () => new o.Conv2d(4, 6, 3, { stride: 2, padding: 1, dilation: 1, groups: 2 }),
    x,
    (m, t) => convRef(host(t), t.shape, host(m.weight), m.weight.shape, host(m.bias!), 2, 1, 1, 2),
  );
  await checkLayer(
    "Conv2d dilated, no bias",
    () => new o.Conv2d(4, 3, 3, { padding: 2, dilation: 2, bias: false }),
    x,
    (m, t) => convRef(host(t), t.shape, host(m.weight), m.weight.shape, null, 1, 2, 2, 1),
  );
  // Transposed conv: y[n, o, ih*s - p + kh, ...] += x[n, i, ih, iw] * w[i, o, kh, kw].
  const xt = hostRand([1, 4, 3, 3], 2);
  await checkLayer(
    "ConvTranspose2d",
    () => new o.ConvTranspose2d(4, 2, 3, { stride: 2, padding: 1, outputPadding: 1 }),
    xt,
    (m, t) => {
      const X = host(t), Wt = host(m.weight), B = host(m.bias!);
      const OH = (3 - 1) * 2 - 2 + 3 + 1;
      const y = new Float32Array(2 * OH * OH);
      for (let oc = 0; oc < 2; oc++) y.fill(B[oc], oc * OH * OH, (oc + 1) * OH * OH);
      for (let i = 0; i < 4; i++) {
        for (let ih = 0; ih < 3; ih++) {
          for (let iw = 0; iw < 3; iw++) {
            for (let oc = 0; oc < 2; oc++) {
              for (let kh = 0; kh < 3; kh++) {
                for (let kw = 0; kw < 3; kw++) {
                  const oh = ih * 2 - 1 + kh, ow = iw * 2 - 1 + kw;
                  if (oh < 0 || oh >= OH || ow < 0 || ow >= OH) continue;
                  y[(oc * OH + oh) * OH + ow] += X[(i * 3 + ih) * 3 + iw] *
                    Wt[((i * 2 + oc) * 3 + kh) * 3 + kw];
                }
              }
            }
          }
        }
      }
      return y;
    },
  );
});

test("Linear forward matches x·wᵀ + b", async () => {
  await checkLayer(
    "Linear",
    () => new o.Linear(6, 4),
    hostRand([3, 6], 1),
    (m, t) => linearRef(host(t), host(m.weight), host(m.bias!), 3, 6, 4),
  );
});

/** Normalise groups of `size` consecutive values: (v - mean)/sqrt(var + eps). */
function normRef(v: Float32Array, size: number, eps: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let s = 0; s < v.length; s += size) {
    let mu = 0;
    for (let k = 0; k < size; k++) mu += v[s + k];
    mu /= size;
    let va = 0;
    for (let k = 0; k < size; k++) va += (v[s + k] - mu) ** 2;
    va /= size;
    for (let k = 0; k < size; k++) out[s + k] = (v[s + k] - mu) / Math.sqrt(va + eps);
  }
  return out;
}

test("BatchNorm2d: batch statistics, running averages (unbiased var), eval, [N, C] input", async () => {
  const N = 3, C = 2, HW = 4;
  const x = hostRand([N, C, 2, 2], 1, -2, 3);
  // Per channel: gather, normalise, scatter.
  const perChannel = (v: ArrayLike<number>) => {
    const out = new Float32Array(v.length);
    const stats: { mean: number; varU: number }[] = [];
    for (let c = 0; c < C; c++) {
      const vals = new Float32Array(N * HW);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < HW; k++) vals[n * HW + k] = v[(n * C + c) * HW + k];
      }
      const nv = normRef(vals, N * HW, 1e-5);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < HW; k++) out[(n * C + c) * HW + k] = nv[n * HW + k];
      }
      const mean = vals.reduce((s, q) => s + q, 0) / vals.length;
      const varU = vals.reduce((s, q) => s + (q - mean) ** 2, 0) / (vals.length - 1);
      stats.push({ mean, varU });
    }
    return { out, stats };
  };
  const ref = perChannel(x.data);
  await forBackends(async (be) => {
    const bn = onBackend(be, 0, () => new o.BatchNorm2d(C, { momentum: 0.3 }));
    const xt = o.fromHost(Float32Array.from(x.data), x.shape, "f32", be);
    assertClose(await o.tidy(() => bn.call(xt)).array(), ref.out, `${be}: train output`, 1e-4);
    assertClose(
      await bn.runningMean.array(),
      ref.stats.map((s) => 0.3 * s.mean),
      `${be}: running_mean`,
    );
    assertClose(
      await bn.runningVar.array(),
      ref.stats.map((s) => 0.7 + 0.3 * s.varU),
      `${be}: running_var (unbiased)`,
    );
    bn.eval();
    const rm = await bn.runningMean.array(), rv = await bn.runningVar.array();
    const ev = Float32Array.from(x.data, (v, i) => {
      const c = Math.floor(i / HW) % C;
      return (v - rm[c]) / Math.sqrt(rv[c] + 1e-5);
    });
    assertClose(await o.tidy(() => bn.call(xt)).array(), ev, `${be}: eval output`, 1e-4);
    // [N, C] input (BatchNorm1d usage).
    bn.train();
    const x2 = o.fromHost(Float32Array.from(hostRand([5, C], 3).data), [5, C], "f32", be);
    assert.deepEqual(o.tidy(() => bn.call(x2)).shape, [5, C]);
    bn.dispose();
  });
  // num_batches_tracked counts training batches.
  const bnt = new o.BatchNorm2d(C, { numBatchesTracked: true });
  const xt = o.fromHost(Float32Array.from(x.data), x.shape, "f32", o.getDefaultBackend());
  o.tidy(() => bnt.call(xt));
  o.tidy(() => bnt.call(xt));
  assert.deepEqual(await bnt.getBuffer("num_batches_tracked")!.array(), [2]);
});

test("InstanceNorm2d, LayerNorm, LayerNorm2d, GroupNorm forward match written-out statistics", async () => {
  const x = hostRand([2, 4, 3, 3], 2, -2, 2);
  const X = Float32Array.from(x.data);
  await checkLayer(
    "InstanceNorm2d",
    () => new o.InstanceNorm2d(4),
    x,
    () => normRef(X, 9, 1e-5),
    1e-4,
  );
  await checkLayer(
    "GroupNorm",
    () => new o.GroupNorm(2, 4, { eps: 1e-3 }),
    x,
    () => normRef(X, 18, 1e-3),
    1e-4,
  );
  await checkLayer(
    "LayerNorm",
    () => new o.LayerNorm([4, 3, 3]),
    x,
    () => normRef(X, 36, 1e-5),
    1e-4,
  );
  await checkLayer(
    "LayerNorm last dim",
    () => new o.LayerNorm(3),
    x,
    () => normRef(X, 3, 1e-5),
    1e-4,
  );
  // LayerNorm2d: across channels at each pixel.
  const ln2 = new Float32Array(X.length);
  for (let n = 0; n < 2; n++) {
    for (let k = 0; k < 9; k++) {
      const v = Float32Array.from({ length: 4 }, (_, c) => X[(n * 4 + c) * 9 + k]);
      normRef(v, 4, 1e-6).forEach((q, c) => (ln2[(n * 4 + c) * 9 + k] = q));
    }
  }
  await checkLayer("LayerNorm2d", () => new o.LayerNorm2d(4), x, () => ln2, 1e-4);
});

test("activation layers match their ops; PReLU uses per-channel slopes", async () => {
  const x = hostRand([2, 3, 2, 2], 3, -2, 2);
  const X = Float32Array.from(x.data);
  const cases: [string, () => o.Module, (v: number, i: number) => number][] = [
    ["ReLU", () => new o.ReLU(), (v) => Math.max(v, 0)],
    ["LeakyReLU", () => new o.LeakyReLU(0.2), (v) => (v > 0 ? v : 0.2 * v)],
    ["Sigmoid", () => new o.Sigmoid(), (v) => 1 / (1 + Math.exp(-v))],
    ["Tanh", () => new o.Tanh(), Math.tanh],
    ["SiLU", () => new o.SiLU(), (v) => v / (1 + Math.exp(-v))],
    ["PReLU", () => new o.PReLU(), (v) => (v > 0 ? v : 0.25 * v)],
  ];
  for (const [name, make, f] of cases) {
    await checkLayer(name, make, x, () => X.map(f), 1e-5);
  }
  await checkLayer("GELU", () => new o.GELU(), x, (_m, t) => host(o.gelu(t)));
  const slopes = [0.1, 0.2, 0.3];
  await checkLayer(
    "PReLU per channel",
    () => {
      const p = new o.PReLU(3);
      p.param("weight", o.tensor(slopes));
      return p;
    },
    x,
    () => X.map((v, i) => (v > 0 ? v : slopes[Math.floor(i / 4) % 3] * v)),
  );
});

test("pooling, Flatten, Identity, Dropout layers", async () => {
  const x = hostRand([1, 2, 4, 4], 4, -1, 1);
  const X = Float32Array.from(x.data);
  const pool = (f: (vals: number[]) => number) => {
    const y = new Float32Array(8);
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 2; j++) {
          const v = [0, 1].flatMap((a) =>
            [0, 1].map((b) => X[c * 16 + (2 * i + a) * 4 + 2 * j + b])
          );
          y[c * 4 + i * 2 + j] = f(v);
        }
      }
    }
    return y;
  };
  await checkLayer("MaxPool2d", () => new o.MaxPool2d(2), x, () => pool((v) => Math.max(...v)));
  await checkLayer(
    "AvgPool2d",
    () => new o.AvgPool2d(2),
    x,
    () => pool((v) => v.reduce((s, q) => s + q) / 4),
  );
  await checkLayer(
    "AdaptiveAvgPool2d",
    () => new o.AdaptiveAvgPool2d(2),
    x,
    () => pool((v) => v.reduce((s, q) => s + q) / 4),
  );
  await checkLayer(
    "MaxPool2d stride/padding/ceil",
    () => new o.MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
    x,
    (_m, t) => host(o.maxPool2d(t, { kernel: 3, stride: 2, padding: 1, ceilMode: true })),
  );
  await checkLayer(
    "AvgPool2d countIncludePad false",
    () => new o.AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }),
    x,
    (_m, t) => host(o.avgPool2d(t, { kernel: 3, stride: 2, padding: 1, countIncludePad: false })),
  );
  const flat = new o.Flatten();
  assert.deepEqual(flat.call(o.zeros([2, 3, 4, 5], { backend: "cpu" })).shape, [2, 60]);
  assert.deepEqual(new o.Flatten(2).call(o.zeros([2, 3, 4, 5], { backend: "cpu" })).shape, [
    2,
    3,
    20,
  ]);
  const id = cpu(x);
  assert.equal(new o.Identity().call(id), id);
  // Dropout: identity in eval; in training zeros about p of the values and scales the rest.
  const d = new o.Dropout(0.25);
  const ones = o.ones([4000], { backend: "cpu" });
  const y = await d.call(ones).array();
  const zeros = y.filter((v) => v === 0).length;
  assert.ok(zeros > 850 && zeros < 1150, `about 25% dropped (${zeros})`);
  assert.ok(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6), "survivors scaled by 1/(1-p)");
  d.eval();
  assert.equal(d.call(ones), ones);
});

test("Upsample (nearest, bilinear) and PixelShuffle layers", async () => {
  const x = hostRand([1, 4, 2, 3], 5);
  const X = Float32Array.from(x.data);
  const near = new Float32Array(4 * 4 * 6);
  for (let c = 0; c < 4; c++) {
    for (let r = 0; r < 4; r++) {
      for (let q = 0; q < 6; q++) near[(c * 4 + r) * 6 + q] = X[(c * 2 + (r >> 1)) * 3 + (q >> 1)];
    }
  }
  await checkLayer("Upsample nearest", () => new o.Upsample({ scaleFactor: 2 }), x, () => near);
  await checkLayer(
    "Upsample bilinear",
    () => new o.Upsample({ scaleFactor: 2, mode: "bilinear", alignCorners: true }),
    x,
    (_m, t) => host(o.upsample(t, { scaleFactor: 2, mode: "bilinear", alignCorners: true })),
  );
  // PixelShuffle(2): out[c, 2h+i, 2w+j] = in[4c + 2i + j, h, w].
  const ps = new Float32Array(4 * 6);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 2; j++) {
      for (let h = 0; h < 2; h++) {
        for (let w = 0; w < 3; w++) {
          ps[(2 * h + i) * 6 + 2 * w + j] = X[((2 * i + j) * 2 + h) * 3 + w];
        }
      }
    }
  }
  await checkLayer("PixelShuffle", () => new o.PixelShuffle(2), x, () => ps);
});

test("Sequential runs its children in order; F namespace and losses", async () => {
  const x = hostRand([2, 6], 6);
  await checkLayer(
    "Sequential",
    () => new o.Sequential(new o.Linear(6, 5), new o.ReLU(), new o.Linear(5, 3)),
    x,
    (m, t) =>
      host(
        F.linear(
          F.relu(F.linear(t, m.at(0).getParam("weight")!, m.at(0).getParam("bias")!)),
          m.at(2).getParam("weight")!,
          m.at(2).getParam("bias")!,
        ),
      ),
  );
  const a = cpu({ data: [1, -2, 3, 0.5], shape: [2, 2] });
  const b = cpu({ data: [0, 1, 1, 0.5], shape: [2, 2] });
  assertClose(await o.mseLoss(a, b).array(), [(1 + 9 + 4 + 0) / 4], "mse mean");
  assertClose(await o.mseLoss(a, b, { reduction: "sum" }).array(), [14], "mse sum");
  assertClose(await o.l1Loss(a, b).array(), [(1 + 3 + 2 + 0) / 4], "l1 mean");
  assertClose(await o.l1Loss(a, b, { reduction: "none" }).array(), [1, 3, 2, 0], "l1 none");
  assert.throws(() => o.mseLoss(a, cpu({ data: [1, 2], shape: [2] })), /same shape/);
  // Cross entropy with label smoothing s over K classes: -Σ ((1-s)·onehot + s/K) · log softmax.
  const logits = [[2, 0, -1], [0.5, 0.5, 3]], labels = [0, 2], s = 0.1;
  const ref = logits.map((row, i) => {
    const lse = Math.log(row.reduce((acc, v) => acc + Math.exp(v), 0));
    return -row.reduce((acc, v, k) => acc + ((k === labels[i] ? 1 - s : 0) + s / 3) * (v - lse), 0);
  });
  const lt = o.tensor(logits, undefined, { backend: "cpu" });
  const yt = o.tensor(labels, [2], { backend: "cpu", dtype: "i32" });
  assertClose(await o.crossEntropyLoss(lt, yt, { labelSmoothing: s }).array(), [
    (ref[0] + ref[1]) / 2,
  ], "CE mean");
  assertClose(await F.crossEntropy(lt, yt, { labelSmoothing: s, reduction: "sum" }).array(), [
    ref[0] + ref[1],
  ], "CE sum");
  await gradCheck("mseLoss", (p, q) => o.mseLoss(p, q), [hostRand([3, 2], 1), hostRand([3, 2], 2)]);
});

test("ClassificationMeter and evaluate: mean loss and accuracy over batches, one readback", async () => {
  await forBackends(async (backend) => {
    // Two batches of logits over 3 classes; 4 of 5 arg-maxes match the labels.
    const batches = [
      { logits: [[2, 0, 0], [0, 1, 3], [0, 5, 1]], labels: [0, 2, 0] },
      { logits: [[1, 2, 3], [4, 0, 0]], labels: [2, 0] },
    ];
    const want = (() => {
      let loss = 0, n = 0, right = 0;
      for (const b of batches) {
        b.logits.forEach((row, i) => {
          const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
          loss += lse - row[b.labels[i]];
          right += row.indexOf(Math.max(...row)) === b.labels[i] ? 1 : 0;
          n++;
        });
      }
      return { loss: loss / n, accuracy: right / n };
    })();
    const data = batches.map((b) => ({
      x: o.tensor(b.logits.flat(), [b.labels.length, 3], { backend }).keep(),
      y: o.tensor(Int32Array.from(b.labels), [b.labels.length], { backend, dtype: "i32" }).keep(),
    }));
    const meter = new o.ClassificationMeter();
    for (const { x, y } of data) o.tidy(() => meter.add(x, y, o.crossEntropyLoss(x, y)));
    const got = await meter.read();
    assert.equal(got.images, 5);
    assert.ok(
      Math.abs(got.loss - want.loss) < 1e-5,
      `${backend}: loss ${got.loss} vs ${want.loss}`,
    );
    assert.equal(got.accuracy, 0.8);
    // A meter restored from the sums after the first batch ends with the same sums.
    const first = new o.ClassificationMeter();
    o.tidy(() => first.add(data[0].x, data[0].y, o.crossEntropyLoss(data[0].x, data[0].y)));
    const saved = JSON.parse(JSON.stringify(await first.state()));
    first.dispose();
    const resumed = new o.ClassificationMeter();
    resumed.restore(saved, backend);
    o.tidy(() => resumed.add(data[1].x, data[1].y, o.crossEntropyLoss(data[1].x, data[1].y)));
    assert.deepEqual(await resumed.state(), await meter.state(), `${backend}: restored sums`);
    resumed.dispose();
    assert.throws(() => resumed.restore({ lossSum: NaN, correct: 0, images: 1 }), /not a meter/);
    meter.dispose();
    // evaluate() runs the model in eval mode and restores its training flag.
    class Identity extends o.Module {
      seen: boolean[] = [];
      forward(x: o.Tensor): o.Tensor {
        this.seen.push(this.training);
        return x;
      }
    }
    const id = new Identity();
    const ev = await o.evaluate(id, data);
    assert.deepEqual([ev.images, ev.accuracy], [5, 0.8]);
    assert.ok(Math.abs(ev.loss - want.loss) < 1e-5);
    assert.deepEqual([id.seen, id.training], [[false, false], true]);
    assert.throws(
      () => meter.add(data[0].x, data[1].y, o.crossEntropyLoss(data[0].x, data[0].y)),
      /ClassificationMeter: logits \[3,3\] and labels \[2\]/,
    );
    for (const { x, y } of data) (x.dispose(), y.dispose());
  });
});
