import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { assertClose, forBackends, test } from "./helpers.ts";
import { setTracer } from "../src/ops/registry.ts";

const P0 = [0.5, -1.25, 2, 0.03, -0.7];
const C = [1, 0.5, -0.3, 2, 1.5];

/** Loss sum(c·p²)/2, so grad = c·p (computed by autograd). */
function lossOf(p: o.Tensor): o.Tensor {
  return o.scale(o.sum(o.mul(o.tensor(C, [5], { backend: p.backend }), o.square(p))), 0.5);
}

async function run(
  backend: o.BackendName,
  make: (ps: o.Tensor[]) => o.Optimizer<{ lr: number }>,
  steps = 3,
): Promise<number[][]> {
  const p = o.tensor(P0, [5], { backend }).keep();
  p.requiresGrad = true;
  const opt = make([p]);
  const traj: number[][] = [];
  for (let s = 0; s < steps; s++) {
    o.tidy(() => o.backward(lossOf(p)));
    opt.step();
    opt.zeroGrad();
    traj.push(Array.from(await p.data()));
  }
  opt.dispose();
  p.dispose();
  return traj;
}

/** PyTorch's SGD, written out for one scalar. */
function sgdRef(
  h: { lr: number; momentum?: number; dampening?: number; nesterov?: boolean; wd?: number },
  steps = 3,
): number[][] {
  const mu = h.momentum ?? 0, damp = h.dampening ?? 0, wd = h.wd ?? 0;
  const p = [...P0];
  const buf: (number | null)[] = P0.map(() => null);
  const out: number[][] = [];
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < p.length; i++) {
      let d = C[i] * p[i] + wd * p[i];
      if (mu !== 0) {
        buf[i] = buf[i] === null ? d : mu * buf[i]! + (1 - damp) * d;
        d = h.nesterov ? d + mu * buf[i]! : buf[i]!;
      }
      p[i] -= h.lr * d;
    }
    out.push([...p]);
  }
  return out;
}

/** PyTorch's Adam / AdamW, written out. */
function adamRef(
  h: { lr: number; b1?: number; b2?: number; eps?: number; wd?: number; decoupled: boolean },
  steps = 3,
): number[][] {
  const b1 = h.b1 ?? 0.9, b2 = h.b2 ?? 0.999, eps = h.eps ?? 1e-8, wd = h.wd ?? 0;
  const p = [...P0], m = P0.map(() => 0), v = P0.map(() => 0);
  const out: number[][] = [];
  for (let t = 1; t <= steps; t++) {
    for (let i = 0; i < p.length; i++) {
      let g = C[i] * p[i];
      if (h.decoupled) p[i] *= 1 - h.lr * wd;
      else g += wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const mhat = m[i] / (1 - b1 ** t);
      const vhat = v[i] / (1 - b2 ** t);
      p[i] -= h.lr * mhat / (Math.sqrt(vhat) + eps);
    }
    out.push([...p]);
  }
  return out;
}

function check(got: number[][], want: number[][], what: string) {
  assert.equal(got.length, want.length);
  got.forEach((g, s) => assertClose(g, want[s], `${what} step ${s + 1}`, 1e-6, 1e-5));
}

test("SGD: plain, momentum + dampening + weight decay, Nesterov follow PyTorch for 3 steps", async () => {
  await forBackends(async (be) => {
    check(
      await run(be, (ps) => new o.SGD(ps, { lr: 0.1 })),
      sgdRef({ lr: 0.1 }),
      `${be} sgd`,
    );
    check(
      await run(
        be,
        (ps) => new o.SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }),
      ),
      sgdRef({ lr: 0.05, momentum: 0.9, dampening: 0.1, wd: 0.01 }),
      `${be} sgd momentum`,
    );
    check(
      await run(be, (ps) => new o.SGD(ps, { lr: 0.05, momentum: 0.8, nesterov: true })),
      sgdRef({ lr: 0.05, momentum: 0.8, nesterov: true }),
      `${be} sgd nesterov`,
    );
    check(
      await run(be, (ps) => new o.SGD(ps, { lr: 0.1, weightDecay: 0.2 })),
      sgdRef({ lr: 0.1, wd: 0.2 }),
      `${be} sgd weight decay`,
    );
  });
});

test("Adam (L2 decay) and AdamW (decoupled decay) follow PyTorch for 3 steps", async () => {
  await forBackends(async (be) => {
    check(
      await run(be, (ps) => new o.Adam(ps, { lr: 0.01 })),
      adamRef({ lr: 0.01, decoupled: false }),
      `${be} adam`,
    );
    check(
      await run(
        be,
        (ps) => new o.Adam(ps, { lr: 0.02, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }),
      ),
      adamRef({ lr: 0.02, b1: 0.8, b2: 0.99, eps: 1e-6, wd: 0.1, decoupled: false }),
      `${be} adam wd`,
    );
    check(
      await run(be, (ps) => new o.AdamW(ps, { lr: 0.01, weightDecay: 0.1 })),
      adamRef({ lr: 0.01, wd: 0.1, decoupled: true }),
      `${be} adamw`,
    );
  });
});

test("optimizer: param groups, lr setter, skipped params without grad, clear errors", async () => {
  const a = o.tensor([1, 2], [2], { backend: "cpu" }).keep();
  const b = o.tensor([3], [1], { backend: "cpu" }).keep();
  a.requiresGrad = b.requiresGrad = true;
  const opt = new o.SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
  assert.equal(opt.paramGroups[1].lr, 0.5);
  assert.equal(opt.lr, 0.1);
  a.grad = o.tensor([1, 1], [2], { backend: "cpu" }).keep();
  opt.step(); // b has no gradient: untouched
  assertClose(await a.array(), [0.9, 1.9], "group 0 stepped");
  assert.deepEqual(await b.array(), [3]);
  opt.lr = 1;
  assert.deepEqual(opt.paramGroups.map((g) => g.lr), [1, 1]);
  opt.zeroGrad();
  assert.equal(a.grad, null);
  assert.throws(() => new o.SGD([a, a], { lr: 0.1 }), /appears in two groups/);
  assert.throws(() => new o.SGD([a], { lr: 0.1, nesterov: true }), /Nesterov/);
  assert.throws(() => new o.Adam([a], { betas: [1, 0.9] }), /betas/);
  a.grad = o.tensor([1, 1, 1], [3], { backend: "cpu" }).keep();
  assert.throws(() => opt.step(), /gradient of .* has shape \[3\], parameter has \[2\]/);
  opt.zeroGrad();
  a.dispose();
  b.dispose();
});

test("optimizer step runs exactly one in-place update op per parameter", async () => {
  await forBackends(async (be) => {
    await oneUpdatePerParam(be);
  });
});

async function oneUpdatePerParam(be: o.BackendName): Promise<void> {
  const ps = [o.tensor([1, 2, 3], [3], { backend: be }), o.tensor([4], [1], { backend: be })]
    .map((p) => {
      p.keep().requiresGrad = true;
      p.grad = o.fill(p.shape, 1, be).keep();
      return p;
    });
  for (
    const [name, opt] of [
      ["sgdUpdate", new o.SGD(ps, { lr: 0.1 })],
      ["sgdMomentumUpdate", new o.SGD(ps, { lr: 0.1, momentum: 0.9 })],
      ["adamUpdate", new o.Adam(ps)],
    ] as const
  ) {
    opt.step(); // the first step allocates the state
    const seen: { op: string; outs: number; ins: o.Tensor[] }[] = [];
    const prev = setTracer({
      record: (op, ins, outs) => seen.push({ op: op.name, outs: outs.length, ins: [...ins] }),
    });
    try {
      opt.step();
    } finally {
      setTracer(prev);
    }
    assert.deepEqual(seen.map((r) => r.op), [name, name], `${name}: one op per parameter`);
    assert.ok(seen.every((r) => r.outs === 0), `${name}: updates in place, no outputs`);
    assert.deepEqual(seen.map((r) => r.ins[0]), ps, `${name}: updates the parameters themselves`);
    assert.ok(o.getOp(name).mutates?.includes(0), `${name} declares that it mutates the param`);
    opt.dispose();
  }
  for (const p of ps) await p.data(); // the recorded updates ran
  ps.forEach((p) => (p.grad?.dispose(), p.dispose()));
}

test("schedules: StepLR, CosineAnnealing, LinearWarmup then cosine (per step)", () => {
  const p = o.tensor([1], [1], { backend: "cpu" }).keep();
  p.requiresGrad = true;
  const lrs = (opt: o.Optimizer<{ lr: number }>, s: o.LRScheduler, n: number) => {
    const out = [opt.lr];
    for (let i = 0; i < n; i++) (s.step(), out.push(opt.lr));
    return out;
  };
  let opt = new o.SGD([p], { lr: 0.1 });
  assertClose(
    lrs(opt, new o.StepLR(opt, { stepSize: 2, gamma: 0.5 }), 5),
    [0.1, 0.1, 0.05, 0.05, 0.025, 0.025],
    "StepLR",
    1e-12,
    1e-9,
  );
  opt = new o.SGD([p], { lr: 0.1 });
  assertClose(
    lrs(opt, new o.CosineAnnealing(opt, { tMax: 4, etaMin: 0.01 }), 4),
    [0, 1, 2, 3, 4].map((t) => 0.01 + 0.09 * (1 + Math.cos(Math.PI * t / 4)) / 2),
    "CosineAnnealing",
    1e-12,
    1e-9,
  );
  opt = new o.SGD([{ params: [p], lr: 0.2 }], { lr: 0.1 });
  const s = new o.LinearWarmup(opt, {
    warmupSteps: 3,
    startFactor: 0.25,
    then: new o.CosineAnnealing(null, { tMax: 4 }),
  });
  const want = [
    0.05,
    0.05 + 0.15 / 3,
    0.05 + 0.3 / 3,
    ...[0, 1, 2, 3, 4].map((t) => 0.2 * (1 + Math.cos(Math.PI * t / 4)) / 2),
  ];
  assertClose(lrs(opt, s, 7), want, "warmup + cosine", 1e-12, 1e-9);
  assert.equal(s.lastStep, 7);
  assert.throws(() => new o.StepLR(opt, { stepSize: 0 }), /stepSize must be a positive integer/);
  p.dispose();
});

test("optimizer stateDict/loadStateDict: a restored optimizer continues bit-exactly", async () => {
  const makers: [string, (ps: o.Tensor[]) => o.Optimizer<{ lr: number }>][] = [
    ["SGD", (ps) => new o.SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 1e-2 })],
    ["Adam", (ps) => new o.Adam(ps, { lr: 0.05 })],
    ["AdamW", (ps) => new o.AdamW(ps, { lr: 0.05 })],
  ];
  await forBackends(async (backend) => {
    for (const [name, make] of makers) {
      const param = (vals: ArrayLike<number>) => {
        const p = o.tensor(Float32Array.from(vals), [5], { backend }).keep();
        p.requiresGrad = true;
        return p;
      };
      const step = (p: o.Tensor, opt: o.Optimizer<{ lr: number }>) => {
        o.tidy(() => o.backward(lossOf(p)));
        opt.step();
        opt.zeroGrad();
      };
      const a = param(P0), optA = make([a]);
      step(a, optA);
      step(a, optA);
      const saved = await optA.stateDict();
      assert.equal(saved.kind, name);
      assert.equal(saved.scalars.stepCount, 2);
      // A fresh optimizer over a copy of the parameters, given the saved state.
      const b = param(await a.data()), optB = make([b]);
      optB.loadStateDict(saved);
      step(a, optA);
      step(b, optB);
      assert.deepEqual(
        Array.from(await b.data()),
        Array.from(await a.data()),
        `${name} ${backend}`,
      );
      assert.equal(optB.stepCount, 3);
      // A state from another optimizer or another model is refused with a clear message.
      const other = name === "SGD" ? new o.Adam([param(P0)]) : new o.SGD([param(P0)], { lr: 1 });
      assert.throws(
        () => other.loadStateDict(saved),
        new RegExp(`saved optimizer state is from ${name}`),
      );
      const two = make([param(P0), param(P0)]);
      assert.throws(
        () => two.loadStateDict(saved),
        /saved state has 1 parameters, the optimizer 2/,
      );
      for (const x of [optA, optB, other, two]) x.dispose();
    }
  });
});
