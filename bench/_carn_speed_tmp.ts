import * as o from "../mod.ts";
import { carn } from "../src/zoo/carn.ts";
import process from "node:process";
await o.init();
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
for (const [width, bs, p] of [[16, 32, 24], [16, 16, 32], [12, 16, 24], [8, 16, 24]]) {
  const model = carn({ width, seed: 0 });
  const opt = new o.Adam(model.parameters(), { lr: 1e-3 });
  const x = o.randn([bs, 3, p, p], { seed: 1 }).keep(), y = o.randn([bs, 3, 2 * p, 2 * p], { seed: 2 }).keep();
  const step = () => { o.tidy(() => o.backward(o.l1Loss(model.call(x), y))); opt.step(); opt.zeroGrad(); };
  step(); await o.sync();
  const t0 = performance.now(), c0 = cpu();
  for (let i = 0; i < 5; i++) step();
  await o.sync();
  const params = model.parameters().reduce((a, p) => a + p.size, 0);
  console.log(`width ${width} batch ${bs} patch ${p}: ${params} params, ${((performance.now() - t0) / 5).toFixed(0)} ms/step wall, ${((cpu() - c0) / 5).toFixed(2)} cpu-s/step`);
}
