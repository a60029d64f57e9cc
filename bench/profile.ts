/**
 * Where a training step spends its GPU time, per kernel (WebGPU timestamp queries):
 * `deno task profile [--model resnet-small] [--width W] [--batch 64] [--steps 5]`.
 *
 * Trains any zoo classifier for a few warm-up steps on random data (SGD with momentum, the CLI's
 * step), then times `--steps` more with {@link profileKernels} and prints one line per kernel:
 * milliseconds per step, share, dispatches per step. Every dispatch runs in its own compute pass
 * while profiling, so the total is a little above an unprofiled step; compare kernels with each
 * other, and whole steps with `deno bench` or the CLI's images/s.
 */
import { parseArgs } from "node:util";
import { backward, crossEntropyLoss, init, randn, SGD, sync, tensor, tidy, zoo } from "../mod.ts";
import { profileKernels } from "../src/backend/profile.ts";

const USAGE =
  "usage: deno task profile [--model resnet-small] [--width W] [--batch 64] [--steps 5]";
let values;
try {
  values = parseArgs({
    options: {
      model: { type: "string", default: "resnet-small" },
      width: { type: "string" },
      batch: { type: "string", default: "64" },
      steps: { type: "string", default: "5" },
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
const { backend, adapter } = await init({ quiet: true });
if (backend !== "webgpu") {
  console.error("profile: needs a WebGPU adapter (kernel timestamps)");
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
const times = await profileKernels(() => {
  for (let i = 0; i < steps; i++) step();
});
const total = times.reduce((a, t) => a + t.ms, 0);
console.log(
  `${name}${width ? ` (width ${width})` : ""}, batch ${batch}, ${adapter}: ${
    (total / steps).toFixed(1)
  } ms GPU per step ` +
    `(${((1000 * batch * steps) / total).toFixed(0)} images/s of kernel time)`,
);
for (const t of times) {
  console.log(
    `  ${t.kernel.padEnd(28)} ${(t.ms / steps).toFixed(2).padStart(9)} ms ` +
      `${((100 * t.ms) / total).toFixed(1).padStart(5)}%  ${t.calls / steps} per step`,
  );
}
