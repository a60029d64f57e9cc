/**
 * Compression with channel spaces that sit at an offset inside a parameter: a batch norm after
 * a channel concat holds both operands' channels, the second at offset C1. Zero detection,
 * zeroing and slicing must read each space at its own offset; a wrong offset removes a channel
 * whose output is not zero (the compressed model then computes something else).
 */
import assert from "node:assert/strict";
import {
  BatchNorm2d,
  concat,
  Conv2d,
  init,
  Module,
  randn,
  relu,
  type Tensor,
  tidy,
} from "../mod.ts";
import { trace } from "../src/graph/trace.ts";
import { partition } from "../src/zig/partition.ts";
import { compress, zeroGroupsInPlace } from "../src/compress/compress.ts";
import { writeInto } from "../src/io/weights.ts";
import type { Partition, Zig } from "../src/zig/types.ts";

await init({ backend: "cpu" });

class Cat extends Module {
  a = this.module("a", new Conv2d(2, 3, 3, { padding: 1 }));
  b = this.module("b", new Conv2d(2, 4, 3, { padding: 1 }));
  bn = this.module("bn", new BatchNorm2d(7));
  c = this.module("c", new Conv2d(7, 2, 1));
  forward(x: Tensor): Tensor {
    return this.c.call(relu(this.bn.call(concat([this.a.call(x), this.b.call(x)], 1))));
  }
}

const INPUT = [1, 2, 5, 5];
const spaceOf = (p: Partition, conv: string): Zig =>
  p.zigs.find((z) => z.members.some((m) => m.param === `${conv}.weight` && m.axis === 0))!;

/** Set entries of a parameter (host round trip). */
async function setEntries(m: Module, name: string, at: Record<number, number>) {
  const t = m.stateDict().get(name)!;
  const v = Float32Array.from(await t.data());
  for (const [i, x] of Object.entries(at)) v[Number(i)] = x;
  writeInto(t, v);
}

async function outputsMatch(m: Module, small: Module): Promise<number> {
  const x = randn([2, 2, 5, 5], { seed: 4, backend: "cpu" });
  m.eval();
  small.eval();
  const [a, b] = tidy(() => [m.call(x), small.call(x)]);
  const [u, v] = [await a.data(), await b.data()];
  assert.equal(u.length, v.length);
  let d = 0;
  for (let i = 0; i < u.length; i++) d = Math.max(d, Math.abs(u[i] - v[i]));
  return d;
}

Deno.test("a zero conv channel behind a concat offset with a nonzero BN shift is kept", async () => {
  const m = new Cat();
  const p = partition(trace(m, INPUT));
  const zb = spaceOf(p, "b");
  assert.ok(zb.prunable, "b's output channels are prunable");
  assert.ok(
    zb.members.some((s) => s.param === "bn.bias" && s.offset === 3),
    `bn.bias is attached at offset 3: ${JSON.stringify(zb.members)}`,
  );
  // b's channel 0 (bn channel 3) has zero weights and bias, but bn shifts it by 0.5.
  await zeroGroupsInPlace(m.stateDict(), zb, [0]);
  await setEntries(m, "bn.bias", { 3: 0.5 });
  const r = await compress(m, undefined, p, { input: INPUT });
  assert.deepEqual(r.kept.get(zb.id), [0, 1, 2, 3], "the shifted channel is not zero");
  assert.ok((await outputsMatch(m, r.model)) < 1e-5);
});

Deno.test("zero groups of both concat operands are removed at their own offsets", async () => {
  const m = new Cat();
  const p = partition(trace(m, INPUT));
  const [za, zb] = [spaceOf(p, "a"), spaceOf(p, "b")];
  await zeroGroupsInPlace(m.stateDict(), za, [2]);
  await zeroGroupsInPlace(m.stateDict(), zb, [1, 3]);
  // The zeroing reached bn at the right offsets (channel 2 and channels 3 + 1, 3 + 3).
  const gamma = await m.stateDict().get("bn.weight")!.data();
  assert.deepEqual(Array.from(gamma, (v) => v === 0), [
    false,
    false,
    true,
    false,
    true,
    false,
    true,
  ]);
  const r = await compress(m, undefined, p, { input: INPUT });
  assert.deepEqual(r.kept.get(za.id), [0, 1]);
  assert.deepEqual(r.kept.get(zb.id), [0, 2]);
  assert.deepEqual(r.model.stateDict().get("bn.weight")!.shape, [4]);
  assert.deepEqual(r.model.stateDict().get("c.weight")!.shape, [2, 4, 1, 1]);
  assert.ok((await outputsMatch(m, r.model)) < 1e-5);
});
