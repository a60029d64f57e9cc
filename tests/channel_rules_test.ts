/**
 * Every registered op whose channel rule claims something (zero-invariance, pass-through,
 * positions moving) has a sample here, and the claim is checked on the cpu reference
 * (tests/channel_rule_check.ts): a wrong declaration fails.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { withPatchedOp } from "../src/ops/registry.ts";
import { checkChannelRule, type RuleSample } from "./channel_rule_check.ts";

await o.init({ quiet: true, backend: "cpu" });

const X = [2, 3, 4, 4];
const u = (f: (x: o.Tensor) => unknown, shape = X, range?: [number, number]): RuleSample => ({
  inputs: [shape],
  call: f,
  range,
});
const grad = (f: (x: o.Tensor) => o.Tensor, shape = X): RuleSample => ({
  inputs: [shape],
  call: (x) => o.backward(o.sum(o.mul(f(x), o.randn(f(x).shape, { seed: 9, backend: "cpu" })))),
});
const idx = (v: number[]) => o.tensor(v, [v.length], { dtype: "i32", backend: "cpu" });

const SAMPLES: Record<string, RuleSample[]> = {
  abs: [u(o.abs)],
  neg: [u(o.neg)],
  sign: [u(o.sign)],
  sqrt: [u(o.sqrt, X, [0, 2])],
  square: [u(o.square)],
  relu: [u(o.relu)],
  step: [u(o.step)],
  leakyRelu: [u((x) => o.leakyRelu(x, 0.2))],
  tanh: [u(o.tanh)],
  silu: [u(o.silu)],
  gelu: [u(o.gelu)],
  sin: [u(o.sin)],
  mish: [u(o.mish)],
  hardSwish: [u(o.hardSwish)],
  clamp: [u(o.relu6), u((x) => o.clamp(x, -1, 1)), u((x) => o.clamp(x, 0.5, 2))],
  exp: [u(o.exp)],
  log: [u(o.log, X, [0.5, 2])],
  reciprocal: [u(o.reciprocal, X, [0.5, 2])],
  sigmoid: [u(o.sigmoid)],
  hardSigmoid: [u((x) => o.hardSigmoid(x))],
  cos: [u(o.cos)],
  affine: [u((x) => o.affine(x, 2, 0.5))],
  geluGrad: [grad(o.gelu)],
  clampGrad: [grad(o.relu6)],
  hardSwishGrad: [grad(o.hardSwish)],
  hardSigmoidGrad: [grad((x) => o.hardSigmoid(x))],
  mishGrad: [grad(o.mish)],
  softmax: [u((x) => o.softmax(x, 2))],
  logSoftmax: [u((x) => o.logSoftmax(x, 3))],
  cast: [u((x) => o.cast(x, "f32"))],
  dropout: [u((x) => o.dropout(x, { p: 0.3, training: true, seed: 3 }))],
  expand: [u((x) => o.expand(x, [2, 3, 4, 4]), [2, 3, 1, 4])],
  maxPool2d: [u((x) => o.maxPool2d(x, { kernel: 3, stride: 1, padding: 1 }))],
  avgPool2d: [u((x) => o.avgPool2d(x, { kernel: 2 }))],
  adaptiveAvgPool2d: [u((x) => o.adaptiveAvgPool2d(x, 1)), u((x) => o.adaptiveAvgPool2d(x, 3))],
  globalMaxPool2d: [u(o.globalMaxPool2d)],
  upsample: [u((x) => o.upsample(x, { scaleFactor: 2, mode: "bilinear" }))],
  upsampleBackward: [grad((x) => o.upsample(x, { scaleFactor: 2, mode: "bilinear" }))],
  pad: [
    u((x) => o.pad(x, [[0, 0], [0, 0], [1, 2], [0, 1]])),
    u((x) => o.pad(x, [[0, 0], [0, 0], [1, 1], [1, 1]], 0.5)),
  ],
  gather: [u((x) => o.indexSelect(x, 2, idx([3, 0, 0])))],
  gatherGrad: [grad((x) => o.indexSelect(x, 3, idx([1, 1, 2])))],
  add: [
    { inputs: [X, X], call: (a, b) => o.add(a, b) },
    { inputs: [X], call: (a) => o.add(a, o.full([], 0, { backend: "cpu" })) },
  ],
  sub: [{ inputs: [X, [3, 1, 1]], call: (a, b) => o.sub(a, o.expand(b, [3, 4, 4])) }],
  mul: [
    { inputs: [X, X], call: (a, b) => o.mul(a, b) },
    { inputs: [X], call: (a) => o.mul(a, o.full([], -3, { backend: "cpu" })) },
  ],
  div: [{ inputs: [X], call: (a) => o.div(a, o.full([], 4, { backend: "cpu" })) }],
  maximum: [
    { inputs: [X, X], call: (a, b) => o.maximum(a, b) },
    { inputs: [X], call: (a) => o.maximum(a, o.full([], -1, { backend: "cpu" })) },
  ],
  minimum: [{ inputs: [X], call: (a) => o.minimum(a, o.full([], 6, { backend: "cpu" })) }],
  batchNorm: [false, true].map((training) => ({
    inputs: [X, [3], [3], [3], [3]],
    range: [0.5, 2] as [number, number],
    call: (x: o.Tensor, g: o.Tensor, b: o.Tensor, m: o.Tensor, v: o.Tensor) =>
      o.batchNorm(x, g, b, m, v, { training }),
  })),
  instanceNorm: [{ inputs: [X, [3], [3]], call: (x, g, b) => o.instanceNorm(x, g, b) }],
  groupNorm: [{
    inputs: [[2, 4, 3, 3], [4], [4]],
    call: (x, g, b) => o.groupNorm(x, g, b, { groups: 2 }),
  }],
  layerNorm2d: [{
    inputs: [X, [3], [3]],
    call: (x, g, b) => o.layerNorm2d(x, g, b, { normCount: 5 }),
  }],
  layerNorm: [{
    inputs: [[2, 4, 4, 3], [3], [3]],
    call: (x, g, b) => o.layerNorm(x, g, b, { normalizedShape: [3] }),
  }],
  prelu: [{ inputs: [X, [3]], call: (x, s) => o.prelu(x, s) }],
  conv2d: [
    { inputs: [X, [5, 3, 3, 3], [5]], call: (x, w, b) => o.conv2d(x, w, b, { padding: 1 }) },
    { inputs: [X, [6, 1, 3, 3]], call: (x, w) => o.conv2d(x, w, null, { groups: 3 }) },
  ],
  convTranspose2d: [{
    inputs: [X, [3, 4, 2, 2], [4]],
    call: (x, w, b) => o.convTranspose2d(x, w, b, { stride: 2 }),
  }],
  linear: [{ inputs: [[2, 3], [5, 3], [5]], call: (x, w, b) => o.linear(x, w, b) }],
  concat: [{ inputs: [X, [2, 2, 4, 4]], call: (a, b) => o.concat([a, b], 1) }],
  split: [u((x) => o.split(x, [1, 2], 1))],
  slice: [u((x) => o.slice(x, [0, 1, 1], [Infinity, 3, 3]))],
  permute: [u((x) => o.permute(x, [0, 2, 3, 1]))],
  reshape: [u((x) => o.flatten(x))],
  sum: [u((x) => o.sum(x, [2, 3])), u((x) => o.sum(x, 1, true))],
  mean: [u((x) => o.mean(x, [2, 3], true))],
  max: [u((x) => o.max(x, [-1]))],
  min: [u((x) => o.min(x, [2, 3]))],
  pixelShuffle: [u((x) => o.pixelShuffle(x, 2), [1, 8, 2, 2])],
  pixelUnshuffle: [u((x) => o.pixelUnshuffle(x, 2))],
};

Deno.test("every op whose channel rule claims something has a sample, and every claim holds", () => {
  const missing: string[] = [];
  const problems: string[] = [];
  for (const [name, spec] of o.allOps()) {
    const samples = SAMPLES[name];
    if (!samples) {
      if (spec.channels.kind !== "block") missing.push(name);
      continue;
    }
    for (const s of samples) problems.push(...checkChannelRule(name, s));
  }
  assert.deepEqual(missing, [], "add a sample for these ops");
  assert.deepEqual(problems, []);
  const stale = Object.keys(SAMPLES).filter((n) => !o.allOps().has(n));
  assert.deepEqual(stale, []);
});

Deno.test("a wrong declaration fails the check", () => {
  // sigmoid declared zero-invariant, exp passed off as a pass-through, batch norm without the
  // running-mean alternative, mul with a constant claimed for add.
  withPatchedOp("sigmoid", { channels: { kind: "passthrough" } }, () => {
    assert.match(checkChannelRule("sigmoid", SAMPLES.sigmoid[0]).join(), /not zero after it/);
  });
  withPatchedOp("batchNorm", {
    channels: { kind: "accessory", perChannelInputs: [1, 2, 3, 4], zeroWhen: [[2]] },
  }, () => {
    assert.match(checkChannelRule("batchNorm", SAMPLES.batchNorm[0]).join(), /not zero/);
  });
  withPatchedOp("add", { channels: { kind: "joint", zeroWith: () => true } }, () => {
    assert.match(checkChannelRule("add", SAMPLES.add[1]).join(), /zeroWith\(1\)/);
  });
  withPatchedOp("softmax", { channels: { kind: "map", reason: "x" } }, () => {
    const s = u((x) => o.softmax(x, 1));
    assert.match(checkChannelRule("softmax", s).join(), /depends on input channel/);
  });
});
