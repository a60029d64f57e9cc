/**
 * Memory-bound ops on the engine: an elementwise `add` (GB/s = 3 x 4 bytes per element: two
 * reads, one write) and a full `sum` reduction (GB/s = 4 bytes read per element), each at 1M
 * and 16M f32 elements. The small size shows the fixed cost of a submit + wait (~11 ms on
 * llvmpipe under Deno), the large one the bandwidth.
 *
 * `deno bench -A bench/elementwise.bench.ts`: prints one measured line per case at module load
 * (median and best of OTO_BENCH_ROUNDS runs, default 7, with the adapter), then runs the cases
 * under `Deno.bench`. Every timed call waits for the GPU (`sync()`).
 */
import { add, randn, sum, sync, type Tensor } from "../mod.ts";
import { alternate, type Contender, engineAdapter, envInt, stats, summary } from "./util.ts";

const SIZES = [1 << 20, 1 << 24];

const { webgpu, adapter } = await engineAdapter();
console.log(`elementwise bench: oto on ${adapter}`);
if (!webgpu) console.log("no WebGPU adapter: the cpu backend is measured instead");

interface Case extends Contender {
  bytes: number;
}

const cases: Case[] = [];
for (const n of SIZES) {
  const label = n >= 1 << 20 ? `${n >> 20}M` : `${n}`;
  const x = randn([n], { seed: 1 });
  const y = randn([n], { seed: 2 });
  const timed = (f: () => Tensor) => async () => {
    const out = f();
    await sync();
    out.dispose();
  };
  cases.push({ name: `add ${label}`, bytes: 12 * n, run: timed(() => add(x, y)) });
  cases.push({ name: `sum ${label}`, bytes: 4 * n, run: timed(() => sum(x)) });
}

const times = await alternate(cases, envInt("OTO_BENCH_ROUNDS", 7));
for (const c of cases) {
  console.log(summary(c.name, stats(times.get(c.name)!), { bytes: c.bytes }) + ` [${adapter}]`);
}

for (const c of cases) {
  Deno.bench({
    name: c.name,
    n: 20,
    warmup: 2,
    fn: async () => {
      await c.run();
    },
  });
}
