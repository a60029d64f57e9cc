/**
 * `trainStep` against closed forms written out on the host: one SGD step of a linear layer
 * under cross entropy (grad = (softmax - onehot)·x / N) and under a custom loss (MSE:
 * grad = 2(out - target)·x / (N·K)); the observer sees that step's output and loss; gradients
 * are cleared and the step's temporaries freed.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { assertClose } from "./helpers.ts";

const W = [0.2, -0.5, 0.1, 0.7, 0.3, -0.4]; // [2, 3]
const B = [0.05, -0.1];
const X = [1, 2, -1, 0.5, -0.3, 0.8, -1.2, 0.4, 0.6, 0.9, -0.7, 0.1]; // [4, 3]
const LABELS = [0, 1, 1, 0];
const LR = 0.5;

function linearModel(): o.Linear {
  const m = new o.Linear(3, 2);
  m.param("weight", o.tensor(W, [2, 3]));
  m.param("bias", o.tensor(B, [2]));
  return m;
}

/** out = x Wᵀ + b on the host. */
function forwardHost(): number[][] {
  return Array.from(
    { length: 4 },
    (_, n) =>
      [0, 1].map((k) => B[k] + [0, 1, 2].reduce((s, i) => s + X[3 * n + i] * W[3 * k + i], 0)),
  );
}

/** One SGD step on the host given dLoss/dOut [4, 2]; returns [W', b']. */
function sgdHost(g: number[][]): [number[], number[]] {
  const w = W.map((v, j) => {
    const k = Math.floor(j / 3), i = j % 3;
    return v - LR * g.reduce((s, gn, n) => s + gn[k] * X[3 * n + i], 0);
  });
  const b = B.map((v, k) => v - LR * g.reduce((s, gn) => s + gn[k], 0));
  return [w, b];
}

Deno.test("trainStep: cross entropy step equals the closed form; observer and cleanup", async () => {
  await o.init({ quiet: true });
  const model = linearModel();
  const opt = new o.SGD(model.parameters(), { lr: LR });
  const x = o.tensor(X, [4, 3]).keep();
  const y = o.tensor(LABELS, [4], { dtype: "i32" }).keep();
  const memBefore = o.getDefaultBackend() === "webgpu" ? o.gpuMemory().liveBytes : 0;
  let seen: { out: o.Tensor; loss: o.Tensor } | null = null;
  o.trainStep(model, opt, { x, y }, {
    observe: (out, target, loss) => {
      assert.equal(target, y, "the observer gets the batch's targets");
      seen = { out: out.keep(), loss: loss.keep() };
    },
  });
  const logits = forwardHost();
  const probs = logits.map((r) => {
    const m = Math.max(...r), e = r.map((v) => Math.exp(v - m)), s = e[0] + e[1];
    return e.map((v) => v / s);
  });
  const lossRef = probs.reduce((s, p, n) => s - Math.log(p[LABELS[n]]), 0) / 4;
  const g = probs.map((p, n) => p.map((v, k) => (v - (k === LABELS[n] ? 1 : 0)) / 4));
  const [wRef, bRef] = sgdHost(g);
  assertClose(await model.weight.data(), wRef, "weight after one step", 1e-6, 1e-5);
  assertClose(await model.bias!.data(), bRef, "bias after one step", 1e-6, 1e-5);
  const s = seen as { out: o.Tensor; loss: o.Tensor } | null;
  assert.ok(s, "observe was called");
  assertClose(await s.out.data(), logits.flat(), "observed output (before the update)");
  assertClose([await s.loss.item()], [lossRef], "observed loss", 1e-6, 1e-5);
  s.out.dispose();
  s.loss.dispose();
  assert.equal(model.weight.grad, null, "gradients cleared");
  assert.equal(model.bias!.grad, null, "gradients cleared");
  if (o.getDefaultBackend() === "webgpu") {
    assert.equal(o.gpuMemory().liveBytes, memBefore, "the step's temporaries are freed");
  }
  x.dispose();
  y.dispose();
  opt.dispose();
  model.dispose();
});

Deno.test("trainStep: the loss option is the objective (MSE against target values)", async () => {
  await o.init({ quiet: true });
  const model = linearModel();
  const opt = new o.SGD(model.parameters(), { lr: LR });
  const T = [0.5, -0.5, 1, 0, -1, 2, 0.3, 0.3];
  const x = o.tensor(X, [4, 3]).keep();
  const t = o.tensor(T, [4, 2]).keep();
  o.trainStep(model, opt, { x, y: t }, { loss: (out, target) => o.mseLoss(out, target) });
  const out = forwardHost();
  const g = out.map((r, n) => r.map((v, k) => (2 * (v - T[2 * n + k])) / 8));
  const [wRef, bRef] = sgdHost(g);
  assertClose(await model.weight.data(), wRef, "weight after one MSE step", 1e-6, 1e-5);
  assertClose(await model.bias!.data(), bRef, "bias after one MSE step", 1e-6, 1e-5);
  x.dispose();
  t.dispose();
  opt.dispose();
  model.dispose();
});
