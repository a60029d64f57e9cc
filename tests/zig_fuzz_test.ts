/**
 * Random networks (tests/random_net.ts) partition, compress and keep their outputs: a handful
 * of seeds here; `deno task fuzz-zig` runs hundreds (ZIG_FUZZ_SEEDS, ZIG_FUZZ_FROM).
 */
import assert from "node:assert/strict";
import { init } from "../mod.ts";
import { RandomNet } from "./random_net.ts";
import { roundTrip } from "./zig_helpers.ts";

await init({ quiet: true, backend: "cpu" });

for (const seed of [1, 2, 3, 4, 5, 6]) {
  Deno.test(`random network seed ${seed}: partition, compress, equal outputs (batch 1, 3, train)`, async () => {
    const net = new RandomNet(seed);
    try {
      const r = await roundTrip(net, [1, 3, net.inputSize, net.inputSize], { seed });
      assert.ok(r.counts.zigs > 0);
    } catch (e) {
      throw new Error(`seed ${seed}: ${net.describe}\n${(e as Error).message}`);
    }
  });
}
