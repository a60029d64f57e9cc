/**
 * `deno task fuzz-zig`: random networks (tests/random_net.ts) must partition, compress and keep
 * their outputs at batch 1, batch 3 and in train mode. Runs seeds ZIG_FUZZ_FROM (default 1) ..
 * ZIG_FUZZ_FROM + ZIG_FUZZ_SEEDS - 1 (default 200) on the cpu backend; prints one line per
 * failure and a summary; exits 1 if any seed fails.
 */
import { init } from "../mod.ts";
import { RandomNet } from "../tests/random_net.ts";
import { roundTrip } from "../tests/zig_helpers.ts";

await init({ quiet: true, backend: "cpu" });
const from = Number(Deno.env.get("ZIG_FUZZ_FROM") ?? 1);
const count = Number(Deno.env.get("ZIG_FUZZ_SEEDS") ?? 200);
let failed = 0, groups = 0, prunable = 0, removed = 0, total = 0;
const t0 = performance.now();
for (let seed = from; seed < from + count; seed++) {
  const net = new RandomNet(seed);
  try {
    const r = await roundTrip(net, [1, 3, net.inputSize, net.inputSize], { seed });
    groups += r.counts.prunableGroups;
    if (r.counts.prunableGroups > 0) prunable++;
    removed += r.report.paramsBefore - r.report.paramsAfter;
    total += r.report.paramsBefore;
  } catch (e) {
    failed++;
    console.log(`seed ${seed} FAILED: ${net.describe}\n  ${(e as Error).message.split("\n")[0]}`);
  }
}
const s = ((performance.now() - t0) / 1000).toFixed(1);
console.log(
  `${count - failed}/${count} seeds passed (${from}..${from + count - 1}) in ${s} s; ` +
    `${prunable} had prunable groups (${groups} in all); compression removed ` +
    `${(100 * removed / Math.max(total, 1)).toFixed(1)}% of the parameters`,
);
if (failed) Deno.exit(1);
