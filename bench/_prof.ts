import { backward, crossEntropyLoss, init, randn, SGD, sync, tensor, tidy } from "../mod.ts";
import { vggSmall } from "../src/zoo/index.ts";
await init();
const BATCH = 64;
const model = vggSmall({ seed: 0 });
const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
const x = randn([BATCH, 1, 28, 28], { seed: 42 }).keep();
const y = tensor(Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % 10), [BATCH], {
  dtype: "i32",
}).keep();
function threads() {
  const out: Record<string, number> = {};
  for (const t of Deno.readDirSync("/proc/self/task")) {
    const st = Deno.readTextFileSync(`/proc/self/task/${t.name}/stat`);
    const parts = st.slice(st.lastIndexOf(")") + 2).split(" ");
    out[t.name] = Number(parts[11]) + Number(parts[12]);
  }
  return out;
}
const step = () => {
  tidy(() => {
    backward(crossEntropyLoss(model.call(x), y));
  });
  opt.step();
  opt.zeroGrad();
};
for (let i = 0; i < 3; i++) step();
await sync();
const t0 = threads();
const w0 = performance.now();
let js = 0;
const N = 10;
for (let i = 0; i < N; i++) {
  const a = performance.now();
  step();
  js += performance.now() - a;
}
await sync();
const t1 = threads();
const w1 = performance.now();
console.log("wall ms/step", ((w1 - w0) / N).toFixed(1), "js enqueue ms/step", (js / N).toFixed(1));
for (const k of Object.keys(t1)) {
  const d = t1[k] - (t0[k] ?? 0);
  if (d > 0) console.log(k, (d * 10 / N).toFixed(1), "ms cpu/step");
}
