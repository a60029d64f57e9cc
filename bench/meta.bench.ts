/**
 * Shape-only tracing speed: the 50-op chain of tests/meta_test.ts (matmul of [4096, 8192] by
 * [8192, 4096] and ~50 ops through every family) on the meta backend, where no op computes a
 * value. On the cpu backend the same chain would take minutes; here it should take milliseconds.
 * (The test checks that no kernel runs and no storage is made; the time is measured here.)
 *
 * `deno bench -A bench/meta.bench.ts`
 */
import * as o from "../mod.ts";
import { chain } from "../tests/meta_chain.ts";
import { envInt, stats } from "./util.ts";

const meta = { backend: "meta" } as const;
const x = o.randn([4096, 8192], meta), w = o.randn([8192, 4096], meta);
const labels = o.zeros([4096], { ...meta, dtype: "i32" });
chain(x, w, labels); // warm-up (JIT)

const times: number[] = [];
for (let i = 0; i < envInt("OTO_BENCH_ROUNDS", 7); i++) {
  const t0 = performance.now();
  chain(x, w, labels);
  times.push((performance.now() - t0) / 1000);
}
const s = stats(times);
console.log(
  `meta chain (${chain(x, w, labels).length} ops): median ${(s.median * 1e3).toFixed(2)} ms, ` +
    `best ${(s.min * 1e3).toFixed(2)} ms over ${s.runs} runs`,
);

Deno.bench({
  name: "meta: 50-op chain on huge shapes",
  n: 50,
  warmup: 5,
  fn: () => {
    chain(x, w, labels);
  },
});
