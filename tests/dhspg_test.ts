/**
 * DHSPG tests: (a) before pruning starts DHSPG is plain SGD / Adam / AdamW step for step;
 * (b) on a group-sparse least-squares problem it zeroes exactly the irrelevant groups and
 * reaches the restricted optimum; (c) a small CNN on the embedded Fashion-MNIST sample reaches
 * the target group sparsity and zero groups stay zero; (d) one step on random data matches a
 * row-form host reference of §4 (adaptive lambda, midpoint, projection, cap, fixed zeros) on
 * both engines. The references at the bottom are written from the formulas, not from
 * src/optim.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import type { ParamSlice, Partition } from "../src/zig/types.ts";
import { loadSample } from "../src/data/idx.ts";
import { trace } from "../src/graph/trace.ts";
import { partition } from "../src/zig/partition.ts";
import { smallCnn } from "../src/zoo/index.ts";
import { assertClose, forBackends, hostRand, test, useDefaultBackend } from "./helpers.ts";
import { buildLayout, NONE } from "../src/optim/dhspg_layout.ts";
import { zigShare } from "../src/optim/dhspg_plan.ts";

const sl = (
  param: string,
  axis = 0,
  offset = 0,
  block = 1,
  trainable = true,
  role = "weight",
): ParamSlice => ({ param, axis, offset, block, role, trainable });

/**
 * Every slice form a ZIG member can take: conv rows + bias + concat-BatchNorm slices (offset),
 * a transposed conv (axis 1), a Flatten->Linear style block along axis 1, an offset/block slice
 * that leaves part of a parameter ungrouped, a buffer member, a non-prunable ZIG.
 */
const SHAPES: Record<string, number[]> = {
  "c1.weight": [8, 2, 3, 3],
  "c1.bias": [8],
  "ct.weight": [3, 2, 2, 2],
  "ct.bias": [2],
  "bn.weight": [10],
  "bn.bias": [10],
  "bn.runningMean": [10],
  "a.weight": [3, 4],
  "lin.weight": [5, 6],
  "p.weight": [8],
  "fc.weight": [2, 5],
  "fc.bias": [2],
};
const PARTITION: Partition = {
  zigs: [
    {
      id: 0,
      size: 8,
      prunable: true,
      members: [
        sl("c1.weight"),
        sl("c1.bias"),
        sl("bn.weight"),
        sl("bn.bias"),
        sl("bn.runningMean", 0, 0, 1, false),
      ],
      consumers: [],
      layers: ["c1", "bn"],
    },
    {
      id: 1,
      size: 2,
      prunable: true,
      members: [
        sl("ct.weight", 1),
        sl("ct.bias"),
        sl("bn.weight", 0, 8),
        sl("bn.bias", 0, 8),
        sl("bn.runningMean", 0, 8, 1, false),
      ],
      consumers: [],
      layers: ["ct", "bn"],
    },
    {
      id: 2,
      size: 3,
      prunable: true,
      members: [sl("a.weight"), sl("lin.weight", 1, 0, 2)],
      consumers: [],
      layers: ["a", "lin"],
    },
    {
      id: 3,
      size: 3,
      prunable: true,
      members: [sl("p.weight", 0, 2, 2)],
      consumers: [],
      layers: ["p"],
    },
    {
      id: 4,
      size: 2,
      prunable: false,
      reason: "feeds the model output",
      members: [sl("fc.weight"), sl("fc.bias")],
      consumers: [],
      layers: ["fc"],
    },
  ],
  otherParams: ["fc.weight", "fc.bias"],
};
const TRAINABLE = Object.keys(SHAPES).filter((n) => n !== "bn.runningMean");

function initialValues(seed: number): Map<string, Float64Array> {
  const m = new Map<string, Float64Array>();
  Object.entries(SHAPES).forEach(([n, s], i) => {
    m.set(n, Float64Array.from(hostRand(s, seed + i).data));
  });
  return m;
}

function makeParams(values: Map<string, ArrayLike<number>>, be: o.BackendName) {
  const ps = new Map<string, o.Tensor>();
  for (const [n, v] of values) {
    const t = o.fromHost(Float32Array.from(v), SHAPES[n], "f32", be).keep();
    t.requiresGrad = n !== "bn.runningMean";
    ps.set(n, t);
  }
  return ps;
}

function setGrads(ps: Map<string, o.Tensor>, grads: Map<string, ArrayLike<number> | null>) {
  for (const [n, t] of ps) {
    t.grad?.dispose();
    const g = grads.get(n);
    t.grad = g ? o.fromHost(Float32Array.from(g), t.shape, "f32", t.backend).keep() : null;
  }
}

async function read(ps: Map<string, o.Tensor>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [n, t] of ps) out.set(n, (await t.data()) as Float32Array);
  return out;
}

function disposeAll(ps: Map<string, o.Tensor>) {
  for (const t of ps.values()) (t.grad?.dispose(), t.dispose());
}

// ---------------------------------------------------------------------------------------------
// (a) before pruning starts: plain SGD / Adam / AdamW step for step.

/** A gradient that depends on the current values, so a wrong step changes later gradients. */
function gradAt(name: string, x: ArrayLike<number>, step: number): Float64Array {
  const noise = hostRand([x.length], 1000 * step + name.length * 7 + name.charCodeAt(0)).data;
  return Float64Array.from(x, (v, i) => 0.5 * v + noise[i]);
}

const PLAIN = [
  {
    name: "sgd (momentum 0.9, dampening 0.1, wd 1e-3)",
    opts: { variant: "sgd", firstMomentum: 0.9, dampening: 0.1, weightDecay: 1e-3 },
  },
  { name: "sgd (no momentum)", opts: { variant: "sgd", weightDecay: 1e-2 } },
  { name: "adam (wd 1e-3)", opts: { variant: "adam", weightDecay: 1e-3 } },
  { name: "adamw (default wd 1e-2)", opts: { variant: "adamw" } },
  { name: "adam (table defaults)", opts: { variant: "adam" } },
] as const;

for (const c of PLAIN) {
  test(`DHSPG before pruning equals plain ${c.name}, step for step`, async () => {
    await forBackends(async (be) => {
      const init = initialValues(1);
      const ps = makeParams(init, be);
      const opts: o.DHSPGOptions = { ...c.opts, lr: 0.05, startPruningStep: 1e9 };
      const opt = new o.DHSPG(ps, PARTITION, opts);
      const ref = new Map([...init].map(([n, v]) => [n, Float64Array.from(v)]));
      const state = new Map<string, Record<string, unknown>>();
      const { wd, b1, b2, damp } = refOpts(opts);
      // The schedules of src/optim/schedules.ts drive DHSPG's lr like SGD's.
      const sched = new o.StepLR(opt, { stepSize: 3, gamma: 0.4 });
      for (let step = 1; step <= 6; step++) {
        const lr = 0.05 * 0.4 ** Math.floor((step - 1) / 3);
        assert.ok(Math.abs(opt.lr - lr) < 1e-12, `lr at step ${step}: ${opt.lr} vs ${lr}`);
        const cur = await read(ps);
        const grads = new Map<string, Float64Array | null>();
        // SGD skips a parameter without a gradient (Adam too, but its bias correction uses
        // DHSPG's global step count, documented in DHSPG.step).
        const skip = (n: string) => c.opts.variant === "sgd" && step === 2 && n === "fc.bias";
        for (const n of Object.keys(SHAPES)) {
          grads.set(n, skip(n) ? null : gradAt(n, cur.get(n)!, step));
        }
        setGrads(ps, grads);
        opt.step();
        sched.step();
        for (const n of TRAINABLE) {
          if (skip(n)) continue;
          const g = gradAt(n, ref.get(n)!, step);
          const st = state.get(n) ?? {};
          state.set(n, st);
          if (c.opts.variant === "sgd") {
            sgdStep(ref.get(n)!, g, st, { lr, momentum: b1, dampening: damp, wd });
          } else {
            adamStep(ref.get(n)!, g, st, {
              lr,
              b1,
              b2,
              wd,
              decoupled: c.opts.variant === "adamw",
            });
          }
        }
        const got = await read(ps);
        for (const n of TRAINABLE) {
          assertClose(got.get(n)!, ref.get(n)!, `${be} ${c.name} step ${step} ${n}`, 1e-5, 0);
        }
        assert.deepEqual(got.get("bn.runningMean"), Float32Array.from(init.get("bn.runningMean")!));
      }
      const s = await opt.stats();
      assert.equal(s.partitioned, false);
      assert.equal(s.totalGroups, 16);
      assert.equal(s.zeroGroups, 0);
      assert.equal(s.step, 6);
      opt.dispose();
      disposeAll(ps);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// (b) group-sparse least squares with known support.

/** Solve the normal equations restricted to `cols` (float64 Gaussian elimination). */
function restrictedLoss(A: Float64Array, y: Float64Array, m: number, n: number, cols: number[]) {
  const k = cols.length;
  const M = Array.from({ length: k }, () => new Float64Array(k + 1));
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let s = 0;
      for (let r = 0; r < m; r++) s += A[r * n + cols[a]] * A[r * n + cols[b]];
      M[a][b] = s;
    }
    let s = 0;
    for (let r = 0; r < m; r++) s += A[r * n + cols[a]] * y[r];
    M[a][k] = s;
  }
  for (let c = 0; c < k; c++) {
    let piv = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let q = c; q <= k; q++) M[r][q] -= f * M[c][q];
    }
  }
  const x = new Float64Array(n);
  cols.forEach((col, a) => (x[col] = M[a][k] / M[a][a]));
  return lsLoss(A, y, m, n, x);
}

function lsLoss(A: Float64Array, y: Float64Array, m: number, n: number, x: ArrayLike<number>) {
  let s = 0;
  for (let r = 0; r < m; r++) {
    let v = -y[r];
    for (let c = 0; c < n; c++) v += A[r * n + c] * x[c];
    s += v * v;
  }
  return 0.5 * s / m;
}

test("DHSPG zeroes exactly the irrelevant groups of a group-sparse least-squares problem", async () => {
  await forBackends(leastSquares);
});

/** A group-sparse least-squares problem (3 of 8 groups relevant) and DHSPG on it. */
function lsProblem(be: o.BackendName) {
  const G = 8, d = 4, m = 256, n = G * d;
  const support = [1, 4, 6];
  const A = Float64Array.from(hostRand([m, n], 11).data, (v) => v * Math.sqrt(3));
  const xStar = new Float64Array(n);
  const w = hostRand([n], 12, 0.5, 2).data;
  for (const g of support) {
    for (let k = 0; k < d; k++) xStar[g * d + k] = (k % 2 ? -1 : 1) * w[g * d + k];
  }
  const noise = hostRand([m], 13, -0.1, 0.1).data;
  const y = Float64Array.from({ length: m }, (_, r) => {
    let s = noise[r];
    for (let c = 0; c < n; c++) s += A[r * n + c] * xStar[c];
    return s;
  });
  const partition: Partition = {
    zigs: [{ id: 0, size: G, prunable: true, members: [sl("x")], consumers: [], layers: ["x"] }],
    otherParams: [],
  };
  const At = o.fromHost(Float32Array.from(A), [m, n], "f32", be).keep();
  const yt = o.fromHost(Float32Array.from(y), [m, 1], "f32", At.backend).keep();
  const x = o.fromHost(Float32Array.from(hostRand([G, d], 14).data), [G, d], "f32", At.backend)
    .keep();
  x.requiresGrad = true;
  const dhspg = () =>
    new o.DHSPG([["x", x]], partition, {
      variant: "sgd",
      lr: 0.5,
      lambda: 0.02,
      epsilon: 0.5,
      targetGroupSparsity: (G - support.length) / G,
      tolerance: 0,
      startPruningStep: 5,
    });
  const opt = dhspg();
  const step = (opt: o.DHSPG) => {
    o.tidy(() => {
      const r = o.sub(o.matmul(At, o.reshape(x, [n, 1])), yt);
      o.backward(o.scale(o.mean(o.square(r)), 0.5));
    });
    opt.step();
    opt.zeroGrad();
  };
  const dispose = () => {
    opt.dispose();
    for (const t of [At, yt, x]) (t.grad?.dispose(), t.dispose());
  };
  return { G, d, m, n, A, y, support, x, opt, dhspg, step, dispose };
}

async function leastSquares(be: o.BackendName) {
  const { G, d, m, n, A, y, support, x, opt, step, dispose } = lsProblem(be);
  for (let k = 0; k < 100; k++) step(opt);
  const s = await opt.stats();
  const zero = await opt.zeroGroups();
  const want = Array.from({ length: G }, (_, g) => !support.includes(g));
  assert.deepEqual(zero, want, `${be}: zero groups ${zero} (stats ${JSON.stringify(s)})`);
  assert.equal(s.groupSparsity, 5 / 8);
  assert.ok(s.reachedTarget);
  const xf = await x.data();
  const cols = support.flatMap((g) => Array.from({ length: d }, (_, k) => g * d + k));
  const best = restrictedLoss(A, y, m, n, cols);
  const got = lsLoss(A, y, m, n, xf);
  assert.ok(got <= 1.01 * best, `${be}: loss ${got} vs restricted optimum ${best}`);
  dispose();
}

test("DHSPG reports the step the target was first met, however often stats are read, and keeps it in its state", async () => {
  await forBackends(async (be) => {
    // Observed: the zero groups read back after every step.
    const a = lsProblem(be);
    let observed = -1;
    for (let k = 1; k <= 100 && observed < 0; k++) {
      a.step(a.opt);
      const zeros = (await a.opt.zeroGroups()).filter((z) => z).length;
      if (zeros / a.G >= a.opt.targetGroupSparsity) observed = k;
      if (observed < 0) assert.equal((await a.opt.stats()).reachedStep, null, `${be} step ${k}`);
    }
    a.dispose();
    assert.ok(observed > 5 && observed < 100, `${be}: reached at step ${observed}`);
    // Not read until the end, with a checkpoint-style state round trip after the target was met.
    const b = lsProblem(be);
    for (let k = 0; k < observed + 3; k++) b.step(b.opt);
    const state = await b.opt.stateDict();
    assert.equal(state.scalars.reachedStep, observed, be);
    const again = b.dhspg();
    again.loadStateDict(state);
    for (let k = 0; k < 3; k++) b.step(again);
    const s = await again.stats();
    assert.equal(s.reachedStep, observed, `${be}: restored ${JSON.stringify(s)}`);
    assert.equal(s.step, observed + 6);
    again.dispose();
    b.dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// (c) a small CNN on the embedded Fashion-MNIST sample, partitioned by the ZIG partitioner.

test("DHSPG on a small CNN (Fashion-MNIST sample) reaches the target; zero groups stay zero", async () => {
  await useDefaultBackend();
  const train = await loadSample("train");
  const model = smallCnn({ width: 4, seed: 1 });
  const part = partition(trace(model, [1, 1, 28, 28]));
  const opt = new o.DHSPG(model.namedParameters(), part, {
    variant: "sgd",
    lr: 0.05,
    firstMomentum: 0.9,
    lambda: 1,
    epsilon: 0.95,
    targetGroupSparsity: 0.5,
    startPruningStep: 10,
  });
  // conv1+bn1 (4 channels) and conv2+bn2 (8 channels, flattened into fc) are prunable; fc feeds
  // the output. BatchNorm running statistics are partition members but never optimised.
  assert.equal(opt.numGroups, 12);
  assert.ok(!opt.paramNames.some((n) => n.includes("running")));
  const loader = new o.DataLoader(train, {
    batchSize: 16,
    shuffle: true,
    seed: 1,
    mean: [0.286],
    std: [0.353],
  });
  const steps = 40;
  let step = 0, reachedAt = -1, wasZero: boolean[] = [];
  const losses: number[] = [];
  for await (const { x, y } of loader) {
    if (step++ === steps) break;
    const loss = o.tidy(() => {
      const l = o.crossEntropyLoss(model.call(x), y);
      o.backward(l);
      return l;
    });
    opt.step();
    opt.zeroGrad();
    const zero = await opt.zeroGroups();
    wasZero.forEach((z, g) => assert.ok(!z || zero[g], `step ${step}: group ${g} left zero`));
    wasZero = zero;
    const sparsity = zero.filter((z) => z).length / zero.length;
    if (reachedAt < 0 && sparsity >= 0.5) reachedAt = step;
    if (step <= 10) assert.equal(sparsity, 0, `no group is zero before pruning starts (${step})`);
    losses.push(await loss.item());
    loss.dispose();
  }
  const s = await opt.stats();
  assert.ok(reachedAt > 10 && reachedAt <= steps, `target reached at step ${reachedAt}`);
  assert.equal(s.reachedStep, reachedAt);
  assert.ok(s.reachedTarget && s.groupSparsity >= 0.5, JSON.stringify(s));
  assert.ok(s.partitioned && s.numGp === 6, `G_p ${s.numGp}`);
  assert.ok(losses.every(Number.isFinite), "finite losses");
  const avg = (a: number[]) => a.reduce((q, v) => q + v, 0) / a.length;
  assert.ok(avg(losses.slice(-10)) < avg(losses.slice(0, 5)), `loss falls: ${losses}`);
  opt.dispose();
  model.dispose();
});

test("DHSPG rejects partitions that do not match the parameters, naming the problem", () => {
  const ps = makeParams(initialValues(1), "cpu");
  const without = new Map([...ps].filter(([n]) => n !== "ct.bias"));
  assert.throws(() => new o.DHSPG(without, PARTITION), /ZIG 1 .*needs parameter "ct.bias"/);
  const twice: Partition = {
    zigs: [...PARTITION.zigs, {
      ...PARTITION.zigs[3],
      id: 9,
      size: 1,
      members: [sl("p.weight", 0, 4, 2)],
    }],
    otherParams: [],
  };
  assert.throws(
    () => new o.DHSPG(ps, twice),
    /"p.weight" belongs to two groups \(ZIG 3 and ZIG 9\)/,
  );
  const tooWide: Partition = {
    zigs: [{ ...PARTITION.zigs[3], members: [sl("p.weight", 0, 4, 2)] }],
    otherParams: [],
  };
  assert.throws(() => new o.DHSPG(ps, tooWide), /3 channels x block 2 from offset 4 exceed/);
  assert.throws(() => new o.DHSPG(ps, PARTITION, { epsilon: 1 }), /epsilon must be in \[0, 1\)/);
  disposeAll(ps);
});

// ---------------------------------------------------------------------------------------------
// (d) GPU / cpu step vs the row-form reference, every branch.

/** Rows of a group get g = s_j x + noise: s_j < 0 pulls away from 0 (adaptive lambda). */
const ROW_SCALE = [-3, 4, -0.05, 0.5, -1.5, 6, -0.8, 0.2, -2, 3, 1, -0.3];

function branchGrads(ref: RefDHSPG, step: number): Map<string, Float64Array> {
  const grads = new Map<string, Float64Array>();
  for (const [n, x] of ref.x) {
    const noise = hostRand([x.length], 77 * step + n.length).data;
    grads.set(n, Float64Array.from(x, (_, i) => 0.3 * noise[i]));
  }
  let gid = 0;
  for (const z of ref.zigs) {
    for (const row of z.rows) {
      const s = ROW_SCALE[gid++ % ROW_SCALE.length] * (step % 2 ? 1 : -0.5);
      for (const [p, e] of row) grads.get(p)![e] += s * ref.x.get(p)![e];
    }
  }
  return grads;
}

const BRANCH = [
  {
    name: "sgd momentum, l2",
    opts: {
      variant: "sgd",
      firstMomentum: 0.9,
      weightDecay: 1e-3,
      lambda: 0.5,
      epsilon: 0.3,
      targetGroupSparsity: 0.6,
      tolerance: 0.2,
    },
    cover: ["adaptive", "clipped", "midpoint", "plain", "projected", "fixed"],
  },
  {
    name: "sgd, warm-up 2 steps, projection from step 2, zero groups not fixed",
    opts: {
      variant: "sgd",
      lambda: 0.5,
      epsilon: 0.3,
      targetGroupSparsity: 0.6,
      tolerance: 0.2,
      warmUpSteps: 2,
      halfSpaceStep: 2,
      fixedZeroGroups: false,
    },
    cover: ["warm", "adaptive", "plain", "projected"],
  },
  {
    name: "adamw, l1_norm, projection cap 0.5, groupDivisible 2",
    opts: {
      variant: "adamw",
      weightDecayType: "l1_norm",
      weightDecay: 0.05,
      lambda: 0.5,
      epsilon: 0.5,
      targetGroupSparsity: 0.8,
      tolerance: 0.15,
      upperGroupSparsity: 0.5,
      groupDivisible: 2,
    },
    cover: ["adaptive", "midpoint", "plain", "projected", "fixed", "capped"],
  },
  {
    name: "sgd, per-ZIG partition scope",
    opts: {
      variant: "sgd",
      lambda: 0.5,
      epsilon: 0.3,
      targetGroupSparsity: 0.5,
      tolerance: 0.1,
      partitionScope: "zig",
    },
    cover: ["adaptive", "plain", "projected", "fixed"],
  },
  {
    name: "sgd, OTOv2 table defaults (lambda 1e-3, amplify 2, hat 10)",
    opts: { variant: "sgd", epsilon: 0.3, targetGroupSparsity: 0.6, tolerance: 0.2 },
    cover: ["adaptive", "ceiling", "plain", "projected", "fixed"],
  },
  {
    name: "adam, OTOv2 table defaults (lambda 1e-2, amplify 20, hat 1e3)",
    opts: { variant: "adam", epsilon: 0.3, targetGroupSparsity: 0.6, tolerance: 0.2 },
    cover: ["adaptive", "amplified", "ceiling", "midpoint", "plain", "projected", "fixed"],
  },
] as const;

for (const c of BRANCH) {
  test(`DHSPG step matches the row-form reference on random data: ${c.name}`, async () => {
    await forBackends(async (be) => {
      const init = initialValues(5);
      // Group 2 of ZIG 0 starts at exactly zero (conv row, bias and its BatchNorm entries).
      init.get("c1.weight")!.fill(0, 2 * 18, 3 * 18);
      for (const n of ["c1.bias", "bn.weight", "bn.bias"]) init.get(n)![2] = 0;
      const ps = makeParams(init, be);
      const opts: o.DHSPGOptions = { ...c.opts, lr: 0.3, startPruningStep: 0 };
      const opt = new o.DHSPG(ps, PARTITION, opts);
      const ref = new RefDHSPG(
        new Map(
          [...init].filter(([n]) => n !== "bn.runningMean").map((
            [n, v],
          ) => [n, { data: v, shape: SHAPES[n] }]),
        ),
        PARTITION,
        refOpts(opts),
      );
      const seen = new Set<string>();
      for (let step = 1; step <= 3; step++) {
        const grads = branchGrads(ref, step);
        setGrads(ps, grads);
        opt.step();
        ref.step(grads);
        for (const [k, v] of Object.entries(ref.branches)) if (v > 0) seen.add(k);
        const got = await read(ps);
        for (const n of TRAINABLE) {
          assertClose(got.get(n)!, ref.x.get(n)!, `${be} ${c.name} step ${step} ${n}`, 2e-5, 1e-4);
        }
        const gp = await opt.penalized();
        const want = ref.zigs.flatMap((z) => ref.gp.get(z.id)!);
        assert.deepEqual(gp, want, `${be} ${c.name}: G_p partition`);
        const dec = await opt.lastDecisions();
        let g = 0;
        for (const z of ref.zigs) {
          for (let j = 0; j < z.size; j++, g++) {
            const lam = ref.lastLambdaStep.get(`${z.id}:${j}`) ?? 0;
            assertClose(
              [dec.lambda[g]],
              [lam],
              `${be} step ${step} lambda of group ${g}`,
              1e-6,
              1e-4,
            );
          }
        }
      }
      for (const k of c.cover) assert.ok(seen.has(k), `${c.name}: branch "${k}" was not exercised`);
      const s = await opt.stats();
      assert.ok(s.partitioned && s.numGp > 0 && s.numGp + s.numGnp === 16);
      const zeros = ref.zigs.flatMap((z) =>
        z.rows.map((r) => r.every(([p, e]) => ref.x.get(p)![e] === 0))
      );
      assert.deepEqual(await opt.zeroGroups(), zeros, `${be}: zero groups`);
      assert.equal(s.zeroGroups, zeros.filter((v) => v).length);
      opt.dispose();
      disposeAll(ps);
    });
  });
}

/**
 * OTOv2's DHSPG defaults, copied literally from the OTOv2 algorithm brief
 * (shared/design/otov2-algorithm.md, §4.2 "Hyper-parameters and defaults": the `OTO.dhspg(...)`
 * argument defaults and the per-variant table). The references below take every unset
 * hyper-parameter from here, never from the optimizer under test.
 */
const OTOV2_API_DEFAULTS = {
  lr: 0.1,
  targetGroupSparsity: 0.5,
  tolerance: 0.05,
  epsilon: 0.0,
  startPruningStep: 0,
  warmUpSteps: 0,
  groupDivisible: 1,
  fixedZeroGroups: true,
  weightDecayType: "l2_norm",
  upperGroupSparsity: 1.0,
} as const;
const OTOV2_VARIANT_TABLE = {
  // variant: first_momentum, second_momentum, dampening, weight_decay, lmbda, lmbda_amplify,
  // hat_lmbda_coeff
  sgd: { b1: 0.0, b2: 0.0, damp: 0.0, wd: 0.0, lambda: 1e-3, amp: 2, hat: 10 },
  adam: { b1: 0.9, b2: 0.999, damp: 0.0, wd: 0.0, lambda: 1e-2, amp: 20, hat: 1e3 },
  adamw: { b1: 0.9, b2: 0.999, damp: 0.0, wd: 1e-2, lambda: 1e-2, amp: 20, hat: 1e3 },
} as const;

/** The reference's hyper-parameters for `opts` as passed to DHSPG: unset ones from OTOv2's table. */
function refOpts(opts: o.DHSPGOptions): RefOpts {
  const d = OTOV2_API_DEFAULTS;
  const variant = opts.variant ?? "sgd";
  const t = OTOV2_VARIANT_TABLE[variant];
  const start = opts.startPruningStep ?? d.startPruningStep;
  return {
    variant,
    lr: opts.lr ?? d.lr,
    wd: opts.weightDecay ?? t.wd,
    b1: opts.firstMomentum ?? t.b1,
    b2: opts.secondMomentum ?? t.b2,
    damp: opts.dampening ?? t.damp,
    lambda: opts.lambda ?? t.lambda,
    amp: opts.lambdaAmplify ?? t.amp,
    hat: opts.hatLambdaCoeff ?? t.hat,
    eps: opts.epsilon ?? d.epsilon,
    target: opts.targetGroupSparsity ?? d.targetGroupSparsity,
    tol: opts.tolerance ?? d.tolerance,
    // If either is unset, OTOv2 sets both to start_pruning_steps; the port defaults each one
    // on its own (module comment of src/optim/dhspg.ts), which agrees when both are unset.
    partitionStep: opts.partitionStep ?? start,
    halfSpaceStep: opts.halfSpaceStep ?? start,
    warm: opts.warmUpSteps ?? d.warmUpSteps,
    q: opts.groupDivisible ?? d.groupDivisible,
    fixedZero: opts.fixedZeroGroups ?? d.fixedZeroGroups,
    l1: (opts.weightDecayType ?? d.weightDecayType) === "l1_norm",
    upper: opts.upperGroupSparsity ?? d.upperGroupSparsity,
    perZig: opts.partitionScope === "zig",
  };
}

test("DHSPG defaults are OTOv2's per-variant table and API defaults (brief §4.2)", () => {
  const ps = makeParams(initialValues(1), "cpu");
  for (const variant of ["sgd", "adam", "adamw"] as const) {
    const opt = new o.DHSPG(ps, PARTITION, { variant });
    const t = OTOV2_VARIANT_TABLE[variant], d = OTOV2_API_DEFAULTS;
    const got = {
      b1: opt.firstMomentum,
      b2: opt.secondMomentum,
      damp: opt.dampening,
      wd: opt.weightDecay,
      lambda: opt.lambda,
      amp: opt.lambdaAmplify,
      hat: opt.hatLambdaCoeff,
    };
    assert.deepEqual(got, { ...t }, `${variant}: per-variant defaults`);
    assert.deepEqual(
      {
        lr: opt.lr,
        targetGroupSparsity: opt.targetGroupSparsity,
        tolerance: opt.tolerance,
        epsilon: opt.epsilon,
        startPruningStep: opt.startPruningStep,
        warmUpSteps: opt.warmUpSteps,
        groupDivisible: opt.groupDivisible,
        fixedZeroGroups: opt.fixedZeroGroups,
        weightDecayType: opt.weightDecayType,
        upperGroupSparsity: opt.upperGroupSparsity,
      },
      { ...d },
      `${variant}: API defaults`,
    );
    assert.equal(opt.partitionStep, d.startPruningStep);
    assert.equal(opt.halfSpaceStep, d.startPruningStep);
    opt.dispose();
  }
  disposeAll(ps);
});

// ---------------------------------------------------------------------------------------------
// Host references (§4, row form, float64).

interface RefOpts {
  variant: "sgd" | "adam" | "adamw";
  lr: number;
  wd: number;
  b1: number;
  b2: number;
  damp: number;
  lambda: number;
  amp: number;
  hat: number;
  eps: number;
  target: number;
  tol: number;
  partitionStep: number;
  halfSpaceStep: number;
  warm: number;
  q: number;
  fixedZero: boolean;
  l1: boolean;
  upper: number;
  perZig: boolean;
}

/** Plain PyTorch SGD (momentum, dampening, coupled L2) for one tensor. */
function sgdStep(
  x: Float64Array,
  g: ArrayLike<number>,
  st: { buf?: Float64Array },
  o: { lr: number; momentum: number; dampening: number; wd: number },
): void {
  for (let i = 0; i < x.length; i++) {
    let d = g[i] + o.wd * x[i];
    if (o.momentum > 0) {
      st.buf ??= new Float64Array(x.length).fill(NaN);
      d = Number.isNaN(st.buf[i]) ? d : o.momentum * st.buf[i] + (1 - o.dampening) * d;
      st.buf[i] = d;
    }
    x[i] -= o.lr * d;
  }
}

/** Plain PyTorch Adam / AdamW for one tensor (zero-initialised moments, bias correction). */
function adamStep(
  x: Float64Array,
  g: ArrayLike<number>,
  st: { m?: Float64Array; v?: Float64Array; t?: number },
  o: { lr: number; b1: number; b2: number; wd: number; decoupled: boolean },
): void {
  st.m ??= new Float64Array(x.length);
  st.v ??= new Float64Array(x.length);
  st.t = (st.t ?? 0) + 1;
  const bc1 = 1 - o.b1 ** st.t, bc2 = 1 - o.b2 ** st.t;
  for (let i = 0; i < x.length; i++) {
    let gi = g[i];
    if (o.decoupled) x[i] *= 1 - o.lr * o.wd;
    else gi += o.wd * x[i];
    st.m[i] = o.b1 * st.m[i] + (1 - o.b1) * gi;
    st.v[i] = o.b2 * st.v[i] + (1 - o.b2) * gi * gi;
    x[i] -= o.lr * (st.m[i] / bc1) / (Math.sqrt(st.v[i] / bc2) + 1e-8);
  }
}

function pyRound(v: number): number {
  const f = Math.floor(v), r = v - f;
  if (r > 0.5) return f + 1;
  if (r < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

interface RefZig {
  id: number;
  size: number;
  /** For each row j, the (param, index) pairs of its elements. */
  rows: [string, number][][];
}

function elements(s: ParamSlice, shape: readonly number[], j: number): number[] {
  let outer = 1, inner = 1;
  for (let a = 0; a < s.axis; a++) outer *= shape[a];
  for (let a = s.axis + 1; a < shape.length; a++) inner *= shape[a];
  const dim = shape[s.axis];
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let c = s.offset + j * s.block; c < s.offset + (j + 1) * s.block; c++) {
      for (let i = 0; i < inner; i++) out.push((o * dim + c) * inner + i);
    }
  }
  return out;
}

const NO_BRANCHES = {
  warm: 0,
  adaptive: 0,
  clipped: 0,
  // Which side of clip(amplify * lo, lambda, lambda * hat) decided a lambda: the floor, the
  // amplified lower bound, or the hat ceiling (so each table value is exercised).
  floor: 0,
  amplified: 0,
  ceiling: 0,
  midpoint: 0,
  plain: 0,
  projected: 0,
  fixed: 0,
  capped: 0,
};

/** Row-form DHSPG reference. */
class RefDHSPG {
  t = 0;
  partitioned = false;
  readonly x = new Map<string, Float64Array>();
  readonly m = new Map<string, Float64Array>();
  readonly v = new Map<string, Float64Array>();
  readonly zigs: RefZig[] = [];
  /** G_p flags per ZIG id. */
  readonly gp = new Map<number, boolean[]>();
  readonly inGroup = new Map<string, Uint8Array>();
  /** Branch counters of the last step (for coverage assertions). */
  branches = { ...NO_BRANCHES };
  /** lambda_j applied in the last step, by "zigId:j". */
  lastLambdaStep = new Map<string, number>();

  constructor(
    params: Map<string, { data: ArrayLike<number>; shape: readonly number[] }>,
    partition: Partition,
    readonly o: RefOpts,
  ) {
    for (const [n, p] of params) {
      this.x.set(n, Float64Array.from(p.data));
      this.inGroup.set(n, new Uint8Array(p.data.length));
    }
    for (const z of [...partition.zigs].sort((a, b) => a.id - b.id)) {
      if (!z.prunable) continue;
      const mem = z.members.filter((s) => s.trainable);
      if (!mem.length) continue;
      const rows: [string, number][][] = [];
      for (let j = 0; j < z.size; j++) {
        const row: [string, number][] = [];
        for (const s of mem) {
          for (const e of elements(s, params.get(s.param)!.shape, j)) {
            row.push([s.param, e]);
            this.inGroup.get(s.param)![e] = 1;
          }
        }
        rows.push(row);
      }
      this.zigs.push({ id: z.id, size: z.size, rows });
    }
  }

  step(grads: Map<string, ArrayLike<number> | null>): void {
    const o = this.o;
    const t = ++this.t;
    this.branches = { ...NO_BRANCHES };
    this.lastLambdaStep.clear();
    // (2) gradient variants; plain update of elements outside prunable groups.
    const dv = new Map<string, Float64Array>();
    for (const [name, x] of this.x) {
      const g = grads.get(name);
      const d = new Float64Array(x.length);
      dv.set(name, d);
      if (!g) continue;
      const ing = this.inGroup.get(name)!;
      if (!this.m.has(name)) {
        this.m.set(name, new Float64Array(x.length).fill(o.variant === "sgd" ? NaN : 0));
        this.v.set(name, new Float64Array(x.length));
      }
      const m = this.m.get(name)!, v = this.v.get(name)!;
      for (let i = 0; i < x.length; i++) {
        let gi = g[i];
        if (o.variant !== "adamw" && !(o.l1 && ing[i])) gi += o.wd * x[i];
        let di = gi;
        if (o.variant === "sgd") {
          if (o.b1 > 0) {
            di = Number.isNaN(m[i]) ? gi : o.b1 * m[i] + (1 - o.damp) * gi;
            m[i] = di;
          }
        } else {
          m[i] = o.b1 * m[i] + (1 - o.b1) * gi;
          v[i] = o.b2 * v[i] + (1 - o.b2) * gi * gi;
          di = (m[i] / (1 - o.b1 ** t)) / (Math.sqrt(v[i] / (1 - o.b2 ** t)) + 1e-8);
        }
        d[i] = di;
        if (!ing[i]) {
          if (o.variant === "adamw") x[i] -= o.lr * o.wd * x[i];
          x[i] -= o.lr * di;
        }
      }
    }
    // Row matrices.
    const X = this.zigs.map((z) => z.rows.map((r) => r.map(([p, e]) => this.x.get(p)![e])));
    const G = this.zigs.map((z) => z.rows.map((r) => r.map(([p, e]) => dv.get(p)![e])));
    const dot = (a: number[], b: number[]) => a.reduce((s, ai, i) => s + ai * b[i], 0);
    const norm = (a: number[]) => Math.sqrt(dot(a, a));
    let zeros = 0, total = 0;
    X.forEach((rows) => rows.forEach((r) => (total++, zeros += norm(r) === 0 ? 1 : 0)));
    const reached = zeros / total >= o.target;
    // (3) partition.
    if (!this.partitioned && t - 1 === o.partitionStep) {
      this.partitioned = true;
      const cos: number[] = [], r: number[] = [], owner: [number, number][] = [];
      this.zigs.forEach((z, zi) => {
        for (let j = 0; j < z.size; j++) {
          const xr = X[zi][j], gr = G[zi][j];
          const n = norm(xr);
          cos.push(dot(xr, gr) / (Math.max(n, 1e-8) * Math.max(norm(gr), 1e-8)));
          r.push(1 / (n / xr.length + 1e-6));
          owner.push([zi, j]);
        }
      });
      const nc = Math.max(norm(cos), 1e-12), nr = Math.max(norm(r), 1e-12);
      const score = cos.map((c, i) => 0.5 * c / nc + 0.5 * r[i] / nr);
      const order = score.map((_, i) => i).sort((a, b) => score[b] - score[a] || a - b);
      const frac = Math.min(o.target + o.tol, 0.999);
      let top = new Set(order.slice(0, Math.floor(score.length * frac)));
      if (o.perZig) {
        // Each ZIG's own top ceil(G·frac - 1e-3) (f32 product, as the engines).
        top = new Set();
        this.zigs.forEach((z, zi) => {
          const mine = order.filter((i) => owner[i][0] === zi);
          const k = Math.min(z.size, Math.ceil(Math.fround(z.size * Math.fround(frac)) - 1e-3));
          for (const i of mine.slice(0, k)) top.add(i);
        });
      }
      let gi = 0;
      this.zigs.forEach((z) => {
        const ids = Array.from({ length: z.size }, (_, j) => gi + j);
        gi += z.size;
        const flags = new Array(z.size).fill(true);
        if (z.size <= o.q) flags.fill(false);
        else {
          const n = ids.filter((i) => !top.has(i)).length;
          const keep = Math.min(Math.max(pyRound(n / o.q), 1) * o.q, z.size);
          const asc = [...ids].sort((a, b) => score[a] - score[b] || b - a);
          for (const i of asc.slice(0, keep)) flags[i - ids[0]] = false;
        }
        this.gp.set(z.id, flags);
      });
    }
    // (4) stem updates.
    this.zigs.forEach((z, zi) => {
      const gp = this.gp.get(z.id) ?? new Array(z.size).fill(false);
      const hat: number[][] = [];
      const ns: number[] = [];
      for (let j = 0; j < z.size; j++) {
        const xr = X[zi][j], gr = G[zi][j];
        const n = norm(xr);
        ns.push(n);
        const xh = xr.map((xi, k) => xi - o.lr * gr[k]);
        if (o.l1) xh.forEach((_, k) => (xh[k] -= o.lr * o.wd * xr[k] / (n + 1e-8)));
        else if (o.variant === "adamw") xh.forEach((_, k) => (xh[k] -= o.lr * o.wd * xr[k]));
        if (this.partitioned && gp[j] && !reached) {
          let lam = o.lambda;
          const xg = dot(xr, gr);
          if (t < o.warm) this.branches.warm++;
          else if (xg < 0) {
            const lo = -xg / n, hi = -dot(gr, gr) * n / xg;
            lam = Math.min(Math.max(o.amp * lo, o.lambda), o.lambda * o.hat);
            this.branches.adaptive++;
            if (o.amp * lo <= o.lambda) this.branches.floor++;
            else if (o.amp * lo >= o.lambda * o.hat) this.branches.ceiling++;
            else this.branches.amplified++;
            if (lam >= hi) (lam = (lo + hi) / 2, this.branches.midpoint++);
            else this.branches.clipped++;
          } else this.branches.plain++;
          this.lastLambdaStep.set(`${z.id}:${j}`, lam);
          if (n > 0) xh.forEach((_, k) => (xh[k] -= o.lr * lam * xr[k] / (n + 1e-8)));
        }
        hat.push(xh);
      }
      // Half-space projection on the G_p rows.
      if (this.partitioned && !reached && t >= o.warm && t >= o.halfSpaceStep) {
        const rows = [...gp.keys()].filter((j) => gp[j]);
        const M = rows.length;
        const b = rows.filter((j) => ns[j] === 0).length;
        if (M > 0 && b < o.upper * M) {
          const P = rows.filter((j) => ns[j] > 0 && dot(hat[j], X[zi][j]) < o.eps * ns[j] ** 2);
          let chosen = P;
          if (b + P.length > o.upper * M) {
            chosen = P.slice(0, Math.max(0, Math.floor(o.upper * M + 1e-5) - b));
            this.branches.capped += P.length - chosen.length;
          }
          for (const j of chosen) (hat[j].fill(0), this.branches.projected++);
        }
      }
      if (o.fixedZero || t > o.halfSpaceStep) {
        for (let j = 0; j < z.size; j++) {
          if (ns[j] === 0) (hat[j].fill(0), this.branches.fixed++);
        }
      }
      z.rows.forEach((row, j) => row.forEach(([p, e], k) => (this.x.get(p)![e] = hat[j][k])));
    });
  }
}

Deno.test("DHSPG layout: a slice with a stride puts every stride-th row in its group", () => {
  // Group j of a 3-group ZIG: rows 1 + 2j of p.weight (rows 1, 3, 5) and entry j of p.bias.
  const w = o.fromHost(new Float32Array(12), [6, 2], "f32", "cpu");
  const b = o.fromHost(new Float32Array(3), [3], "f32", "cpu");
  const slice = (param: string, offset: number, stride?: number): ParamSlice => ({
    param,
    axis: 0,
    offset,
    block: 1,
    ...(stride ? { stride } : {}),
    role: "weight",
    trainable: true,
  });
  const part: Partition = {
    zigs: [{
      id: 0,
      size: 3,
      prunable: true,
      members: [slice("p.weight", 1, 2), slice("p.bias", 0)],
      consumers: [],
      layers: ["p"],
    }],
    otherParams: [],
  };
  const L = buildLayout([["p.weight", w], ["p.bias", b]], part);
  const groupOf = (param: number, i: number) => L.gid[L.params[param].offset + i];
  // Weight rows 1, 3, 5 (elements 2-3, 6-7, 10-11) are groups 0, 1, 2; rows 0, 2, 4 are free.
  assert.deepEqual([0, 1, 2, 3, 6, 7, 10, 11].map((i) => groupOf(0, i)), [
    NONE,
    NONE,
    0,
    0,
    1,
    1,
    2,
    2,
  ]);
  assert.deepEqual([0, 1, 2].map((i) => groupOf(1, i)), [0, 1, 2]);
  assert.throws(
    () =>
      buildLayout([["p.weight", w], ["p.bias", b]], {
        ...part,
        zigs: [{ ...part.zigs[0], members: [slice("p.weight", 1, 3)] }],
      }),
    /3 channels x block 1 from offset 1 \(stride 3\) exceed dimension 6/,
  );
});

Deno.test("DHSPG zig scope: each ZIG's share rounds up, so a small ZIG keeps a spare penalised group", () => {
  const f = Math.fround;
  assert.equal(zigShare(16, f(0.5 + 0.05)), 9); // floor gave 8 = the target itself
  assert.equal(zigShare(96, f(0.7 + 0.05)), 72); // whole products stay whole
  assert.equal(zigShare(20, f(0.5 + 0.05)), 11); // a whole f32 product is not pushed up
  assert.equal(zigShare(64, f(0.6)), 39);
  assert.equal(zigShare(5, f(0.999)), 5);
  assert.equal(zigShare(3, 0), 0);
});
