/**
 * The conformance harness checks every op's declared channel rule on the cpu reference
 * (tests/conformance/channels.ts); these tests show that a wrong declaration fails it: a
 * non-zero-invariant op declared pass-through, a batch norm whose zero alternative ignores the
 * running mean, a joint that claims every constant keeps zeros, a map that mixes channels.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import type { ChannelRule, OpSample } from "../src/ops/spec.ts";
import type { OpSpec } from "../src/ops/registry.ts";
import { checkChannels } from "./conformance/channels.ts";
import { sampleInputs } from "./conformance/data.ts";
import { infoOf, runOn } from "./conformance/run.ts";
import type { SampleContext } from "./conformance/context.ts";

await o.init({ quiet: true, backend: "cpu" });

/** Problems of `name`'s sample `which` under a (wrong) channel rule. */
async function problems(name: string, which: string, channels: ChannelRule): Promise<string> {
  const real = o.getOp(name) as OpSpec<never>;
  const sample = (real.samples as readonly OpSample<unknown>[]).find((s) => s.name === which);
  assert.ok(sample, `${name} has a sample "${which}"`);
  const inputs = sampleInputs(name, sample);
  const info = infoOf(real, inputs, sample.attrs);
  const cpu = await runOn(real, inputs, sample.attrs, "cpu", { wrt: [] });
  const op = { ...real, channels } as unknown as OpSpec<never>;
  const c: SampleContext = { op, sample, inputs, info, wrt: [], cpu };
  return checkChannels(c).problems.join("\n");
}

Deno.test("the declared rules pass the check", async () => {
  assert.equal(
    await problems(
      "sigmoid",
      "multiple of 4 (vec4 path), NCHW",
      o.getOp("sigmoid").channels as ChannelRule,
    ),
    "",
  );
  assert.equal(
    await problems(
      "batchNorm",
      "eval, NCHW, odd plane",
      o.getOp("batchNorm").channels as ChannelRule,
    ),
    "",
  );
});

Deno.test("a wrong channel rule fails the conformance check", async () => {
  assert.match(
    await problems("sigmoid", "multiple of 4 (vec4 path), NCHW", { kind: "passthrough" }),
    /are not zero/,
  );
  assert.match(
    await problems("batchNorm", "eval, NCHW, odd plane", {
      kind: "accessory",
      perChannelInputs: [1, 2, 3, 4],
      zeroWhen: [[2]],
    }),
    /inputs \[2\]\): zeroed input channels, output 0 channels .* are not zero/,
  );
  assert.match(
    await problems("add", "scalar operand", { kind: "joint", zeroWith: () => true }),
    /zeroWith\(1\) is declared/,
  );
  assert.match(
    await problems("softmax", "middle axis (inner > 1)", { kind: "map", reason: "x" }),
    /perturbing input channels changes output 0 channels/,
  );
  assert.match(
    await problems("mean", "every axis", {
      kind: "reduce",
      axes: () => [2],
      keepDims: () => true,
    }),
    /zeroed input channels|perturbing/,
  );
});
