/**
 * Check ONNX files end to end (what `tools/onnx_fixtures.py --torchvision DIR` or `--bar DIR`
 * writes, or any export): import, outputs against onnxruntime at batch 1 and 2, the partition,
 * and the compressed model after zeroing a seeded half of every prunable ZIG. Prints one line
 * per file and exits non-zero when any check fails.
 *
 * Usage: `deno run -A tools/onnx_check.ts [--backend auto|wasm|webgpu|cpu] [--input-shape C,H,W]
 * FILE...` (default auto: what `init()` picks, wasm without a hardware GPU)
 *
 * Import + partition time is shape-only (no weights are computed with) and reported in CPU
 * seconds of this process, as the README's timing.
 * @module
 */
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import * as o from "../mod.ts";

const args = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { backend: { type: "string", default: "auto" }, "input-shape": { type: "string" } },
});
const files = args.positionals;
if (!files.length) {
  console.error(
    "usage: deno run -A tools/onnx_check.ts [--backend auto|wasm|webgpu|cpu] [--input-shape C,H,W] FILE...",
  );
  Deno.exit(2);
}
const { backend } = await o.init({
  backend: args.values.backend as "auto" | "wasm" | "webgpu" | "cpu",
  quiet: true,
});
console.log(`backend ${backend}`);
const inputShape = args.values["input-shape"]?.split(",").map(Number);

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]) || (a[i] === b[i] ? 0 : Infinity));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-12);
}

/**
 * onnxruntime's graph optimizations are off: its Pad + AveragePool fusion (1.20.1) drops the
 * padded zeros of count_include_pad=0 pools (torchvision Inception v3 differs from PyTorch).
 */
const UNOPTIMIZED = { graphOptimizationLevel: "disabled" } as const;

const cpuSeconds = () => {
  const u = Deno.cpuUsage?.() ?? { user: 0, system: 0 };
  return (u.user + u.system) / 1e6;
};

let failed = 0;
for (const file of files) {
  const name = file.replace(/^.*\//, "");
  try {
    const c0 = cpuSeconds(), t0 = performance.now();
    const model = await o.importOnnx(file, { inputShape });
    const graph = o.trace(model, model.inputShape);
    const part = o.partition(graph);
    const c1 = cpuSeconds(), t1 = performance.now();
    const counts = o.partitionCounts(part);

    const session = await ort.InferenceSession.create(file, UNOPTIMIZED);
    const diffs: number[] = [];
    const xs: o.Tensor[] = [];
    for (const b of [1, 2]) {
      const x = o.randn([b, ...model.inputShape.slice(1)], { seed: b });
      xs.push(x);
      const feeds = {
        [session.inputNames[0]]: new ort.Tensor(
          "float32",
          (await x.data()) as Float32Array,
          [...x.shape],
        ),
      };
      let ref: Float32Array;
      try {
        ref = (await session.run(feeds))[session.outputNames[0]].data as Float32Array;
      } catch {
        continue; // a file with a fixed batch
      }
      model.eval();
      const y = await o.tidy(() => model.call(x)).data();
      diffs.push(relDiff(y, ref));
    }
    await o.zeroRandomGroups(model.stateDict(), part, { seed: 0, fraction: 0.5 });
    const r = await o.compress(model, undefined, part, {
      input: model.inputShape,
      trainGraph: false,
    });
    model.eval();
    const x = xs[0];
    const full = await o.tidy(() => model.call(x)).data();
    const small = await o.tidy(() => r.model.call(x)).data();
    const v = relDiff(small, full);
    const ok = diffs.every((d) => d <= 1e-4) && v <= 1e-4;
    if (!ok) failed++;
    console.log(
      `${ok ? "ok  " : "FAIL"} ${name}: vs onnxruntime ${
        diffs.map((d) => d.toExponential(1)).join(" / ")
      }; ${counts.prunableGroups} prunable groups in ${counts.prunableZigs}/${counts.zigs} ` +
        `ZIGs; compressed ${r.report.paramsBefore} -> ${r.report.paramsAfter} params, rel diff ` +
        `${v.toExponential(1)}; import+partition ${(c1 - c0).toFixed(2)} CPU s ` +
        `(${((t1 - t0) / 1000).toFixed(2)} s wall)`,
    );
    for (const t of xs) t.dispose();
    r.model.dispose();
    model.dispose();
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${(e as Error).message.split("\n")[0].slice(0, 400)}`);
  }
}
Deno.exit(failed ? 1 : 0);
