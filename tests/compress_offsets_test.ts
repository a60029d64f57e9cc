/**
 * Compression where a space's channels are not the plain rows 0..C-1 of a parameter: a batch
 * norm after a channel concat holds both operands' channels, the second at offset C1; a channel
 * shuffle spreads each group over two rows and two columns; strided slices (every other channel,
 * a hand-built partition); a batch norm without affine parameters outputs -mean/sd for a zero
 * input, so its running mean decides whether a channel is zero. Zero detection, zeroing and
 * slicing must read each space where it is; a mistake removes a channel whose output is not zero
 * (the compressed model then computes something else).
 */
import assert from "node:assert/strict";
import {
  BatchNorm2d,
  concat,
  Conv2d,
  init,
  Module,
  permute,
  randn,
  relu,
  reshape,
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

/** ShuffleNet's channel shuffle between two convs: channel c of the shuffle reads c/2 + (c%2)·2. */
class Shuffled extends Module {
  a = this.module("a", new Conv2d(2, 4, 3, { padding: 1 }));
  c = this.module("c", new Conv2d(4, 3, 1));
  forward(x: Tensor): Tensor {
    const h = relu(this.a.call(x));
    const [n, , hh, ww] = h.shape;
    const s = reshape(permute(reshape(h, [n, 2, 2, hh, ww]), [0, 2, 1, 3, 4]), [n, 4, hh, ww]);
    return this.c.call(s);
  }
}

Deno.test("a channel shuffle: the next conv's columns of each removed channel go", async () => {
  const m = new Shuffled();
  const p = partition(trace(m, INPUT));
  const za = spaceOf(p, "a");
  assert.ok(za.prunable, "a's channels are prunable through the shuffle");
  // Group j is a's channels j and j + 2, which the shuffle puts at c's columns 2j and 2j + 1.
  assert.equal(za.size, 2);
  await zeroGroupsInPlace(m.stateDict(), za, [1]);
  const w = await m.stateDict().get("a.weight")!.data();
  const zeroRows = [0, 1, 2, 3].filter((o) => w.slice(o * 18, o * 18 + 18).every((v) => v === 0));
  assert.deepEqual(zeroRows, [1, 3]);
  const r = await compress(m, undefined, p, { input: INPUT });
  assert.deepEqual(r.kept.get(za.id), [0]);
  assert.deepEqual(r.model.stateDict().get("c.weight")!.shape, [3, 2, 1, 1]);
  assert.ok((await outputsMatch(m, r.model)) < 1e-5);
});

class NoAffine extends Module {
  a = this.module("a", new Conv2d(2, 4, 3, { padding: 1 }));
  bn = this.module("bn", new BatchNorm2d(4, { affine: false }));
  c = this.module("c", new Conv2d(4, 3, 1));
  forward(x: Tensor): Tensor {
    return this.c.call(relu(this.bn.call(this.a.call(x))));
  }
}

Deno.test("batch norm without affine: a zero conv channel with a negative running mean is kept", async () => {
  const m = new NoAffine();
  const p = partition(trace(m, INPUT));
  const za = spaceOf(p, "a");
  await zeroGroupsInPlace(m.stateDict(), za, [1, 2]);
  // Channel 1 reads zero and outputs relu(-mean/sd) = relu(0.4/1) > 0 in eval mode; channel 2's
  // running mean is zero too (zeroed with the group), so only it is removed.
  await setEntries(m, "bn.running_mean", { 1: -0.4 });
  const r = await compress(m, undefined, p, { input: INPUT });
  assert.deepEqual(r.kept.get(za.id), [0, 1, 3]);
  assert.ok((await outputsMatch(m, r.model)) < 1e-5);
});

class Pair extends Module {
  a = this.module("a", new Conv2d(2, 4, 3, { padding: 1 }));
  c = this.module("c", new Conv2d(4, 3, 1));
  forward(x: Tensor): Tensor {
    return this.c.call(relu(this.a.call(x)));
  }
}

Deno.test("strided slices: group j of a space every other channel is channel offset + 2j", async () => {
  const m = new Pair();
  const g = trace(m, INPUT);
  const p = partition(g);
  // The same channels as two spaces of every other channel (as after a channel shuffle).
  const za = spaceOf(p, "a");
  const strided = (offset: number, id: number): Zig => ({
    ...za,
    id,
    size: 2,
    members: za.members.map((s) => ({ ...s, offset, stride: 2 })),
    consumers: za.consumers.map((s) => ({ ...s, offset, stride: 2 })),
  });
  const evens = strided(0, za.id), odds = strided(1, p.zigs.length);
  const part: Partition = { ...p, zigs: [...p.zigs.filter((z) => z !== za), evens, odds] };
  await zeroGroupsInPlace(m.stateDict(), evens, [1]); // channel 2
  await zeroGroupsInPlace(m.stateDict(), odds, [0]); // channel 1
  const bias = await m.stateDict().get("a.bias")!.data();
  assert.deepEqual(Array.from(bias, (v) => v === 0), [false, true, true, false]);
  const r = await compress(g, m.stateDict(), part);
  assert.deepEqual([r.kept.get(evens.id), r.kept.get(odds.id)], [[0], [1]]);
  // a keeps channels 0 and 3; c reads them.
  const w = await m.stateDict().get("c.weight")!.data();
  const small = await r.model.stateDict().get("c.weight")!.data();
  assert.deepEqual(Array.from(small), [0, 3, 4, 7, 8, 11].map((i) => w[i]));
  assert.ok((await outputsMatch(m, r.model)) < 1e-5);
});
