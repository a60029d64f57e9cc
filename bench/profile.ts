/**
 * Where a training step spends its time, per kernel (webgpu: WebGPU timestamp queries) or per
 * op (wasm: wall time of each op's facet, which runs synchronously on the worker threads):
 * `deno task profile [--model resnet-small] [--width W] [--batch 64] [--steps 5]
 * [--backend webgpu|wasm]` (default: the backend `init()` picks).
 *
 * Trains any zoo classifier for a few warm-up steps on random data (SGD with momentum, the CLI's
 * step), then times `--steps` more and prints one line per kernel or op: milliseconds per step,
 * share, calls per step. On webgpu every dispatch runs in its own compute pass while profiling,
 * so the total is a little above an unprofiled step. On wasm, ops without a wasm kernel (their
 * cpu reference runs instead) are marked "cpu"; the remainder of the step (autograd, JS) is
 * printed as "outside ops".
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { backward, crossEntropyLoss, init, randn, SGD, sync, tensor, tidy, zoo } from "../mod.ts";
import { profileKernels } from "../src/backend/profile.ts";
import { allOps, type OpPatch, withPatchedOps } from "../src/ops/registry.ts";

const USAGE = "usage: deno task profile [--model resnet-small] [--width W] [--batch 64] " +
  "[--steps 5] [--backend webgpu|wasm] [--threads N]";
let values;
try {
  values = parseArgs({
    options: {
      model: { type: "string", default: "resnet-small" },
      width: { type: "string" },
      batch: { type: "string", default: "64" },
      steps: { type: "string", default: "5" },
      backend: { type: "string" },
      threads: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
} catch (e) {
  console.error(`profile: ${(e as Error).message}\n${USAGE}`);
  Deno.exit(2);
}
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const name = values.model!;
const entry = (zoo as Record<string, (typeof zoo)[keyof typeof zoo] | undefined>)[name];
const batch = Number(values.batch), steps = Number(values.steps);
const width = values.width === undefined ? undefined : Number(values.width);
if (
  !entry || !(Number.isInteger(batch) && batch >= 1) || !(Number.isInteger(steps) && steps >= 1) ||
  !(width === undefined || (Number.isInteger(width) && width >= 1))
) {
  console.error(
    `profile: --model must be one of ${Object.keys(zoo).join(", ")}; --batch, --steps and ` +
      `--width positive integers\n${USAGE}`,
  );
  Deno.exit(2);
}
if (values.backend !== undefined && !["webgpu", "wasm"].includes(values.backend)) {
  console.error(`profile: --backend must be webgpu or wasm\n${USAGE}`);
  Deno.exit(2);
}
const { backend, adapter } = await init({
  quiet: true,
  backend: values.backend as "webgpu" | "wasm" | undefined,
  threads: values.threads === undefined ? undefined : Number(values.threads),
});
if (backend !== "webgpu" && backend !== "wasm") {
  console.error(`profile: profiles the webgpu or wasm backend, not ${backend}`);
  Deno.exit(1);
}
const model = entry.build({ seed: 0, width });
const shape = [batch, ...entry.inputShape.slice(1)];
const x = randn(shape, { seed: 1 }).keep();
const out = tidy(() => model.call(randn([1, ...entry.inputShape.slice(1)], { seed: 2 })).shape);
if (out.length !== 2) {
  console.error(`profile: ${name} returns [${out}], not class scores; choose a classifier`);
  Deno.exit(2);
}
const classes = out[1];
const y = tensor(Int32Array.from({ length: batch }, (_, i) => i % classes), [batch], {
  dtype: "i32",
}).keep();
const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
const step = () =>
  tidy(() => {
    backward(crossEntropyLoss(model.call(x), y));
    opt.step();
    opt.zeroGrad();
  });
for (let i = 0; i < 2; i++) step();
await sync();
const label = `${name}${width ? ` (width ${width})` : ""}, batch ${batch}, ${adapter}`;
const row = (what: string, ms: number, total: number, calls: number) =>
  `  ${what.padEnd(34)} ${(ms / steps).toFixed(2).padStart(9)} ms ` +
  `${((100 * ms) / total).toFixed(1).padStart(5)}%  ${calls / steps} per step`;

if (backend === "wasm") {
  // Wrap the facet that runs each op on wasm (its own, or the cpu reference) with a timer:
  // wall time, and CPU time of all threads (on a busy machine the wall time includes waits for
  // a core; with --threads 1 the CPU time is the op's own cost).
  const spent = new Map<string, { ms: number; cpu: number; calls: number }>();
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const timed = <F extends (...a: never[]) => unknown>(key: string, f: F): F =>
    ((...args: Parameters<F>) => {
      const t0 = performance.now(), c0 = cpuMs();
      const r = f(...args);
      const e = spent.get(key) ?? { ms: 0, cpu: 0, calls: 0 };
      e.ms += performance.now() - t0;
      e.cpu += cpuMs() - c0;
      e.calls++;
      spent.set(key, e);
      return r;
    }) as F;
  const patches: Record<string, OpPatch> = {};
  for (const [op, spec] of allOps()) {
    if (spec.alias) continue;
    patches[op] = spec.wasm
      ? { wasm: timed(op, spec.wasm.bind(spec)) }
      : { cpu: timed(`${op} (cpu)`, spec.cpu.bind(spec)) };
  }
  const t0 = performance.now(), c0 = cpuMs();
  withPatchedOps(patches, () => {
    for (let i = 0; i < steps; i++) step();
  });
  const wall = performance.now() - t0, cpu = cpuMs() - c0;
  const rows = [...spent].sort((p, q) => q[1].cpu - p[1].cpu);
  const inOps = rows.reduce((a, [, e]) => a + e.ms, 0);
  const inCpu = rows.reduce((a, [, e]) => a + e.cpu, 0);
  const cpuCol = (ms: number) => `${(ms / steps).toFixed(2).padStart(9)} CPU-ms`;
  console.log(
    `${label}: ${(wall / steps).toFixed(1)} ms per step (${
      ((1000 * batch * steps) / wall).toFixed(0)
    } images/s), ${(cpu / steps).toFixed(1)} CPU-ms per step; load ${Deno.loadavg()[0]}`,
  );
  for (const [op, e] of rows) console.log(`${row(op, e.ms, wall, e.calls)} ${cpuCol(e.cpu)}`);
  console.log(
    `${row("outside ops (autograd, JS)", wall - inOps, wall, steps)} ${cpuCol(cpu - inCpu)}`,
  );
  Deno.exit(0);
}

const times = await profileKernels(() => {
  for (let i = 0; i < steps; i++) step();
});
const total = times.reduce((a, t) => a + t.ms, 0);
console.log(
  `${label}: ${(total / steps).toFixed(1)} ms GPU per step ` +
    `(${((1000 * batch * steps) / total).toFixed(0)} images/s of kernel time)`,
);
for (const t of times) console.log(row(t.kernel, t.ms, total, t.calls));
