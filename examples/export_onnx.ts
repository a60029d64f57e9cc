/**
 * Export a zoo model, full and compressed, as ONNX (opset 17, weights as initializers named by
 * their state-dict path) and check both files in onnxruntime against oto's outputs.
 *
 * ```sh
 * deno run -A examples/export_onnx.ts                        # small-cnn, into out/onnx
 * deno run -A examples/export_onnx.ts --model carn --width 8 --out out/carn
 * deno run -A examples/export_onnx.ts --weights out/small-cnn-sample/full.safetensors
 * ```
 *
 * Without `--weights` the model keeps its seeded initial weights and half of every prunable
 * channel space is zeroed at random (as DHSPG would) so that compression has something to
 * remove. `deno task train` writes `full.onnx` and `compressed.onnx` the same way.
 * @module
 */
import { FlagError, flags, numberFlag, runMain } from "./cli.ts";
import * as ort from "onnxruntime-node";
import {
  exportOnnx,
  init,
  loadWeights,
  noGrad,
  OTO,
  randn,
  tidy,
  zeroRandomGroups,
} from "../mod.ts";
import { zoo } from "../src/zoo/index.ts";

async function main(): Promise<void> {
  const a = flags(Deno.args, {
    model: { type: "string", default: "small-cnn" },
    width: { type: "string" },
    weights: { type: "string" },
    out: { type: "string", default: "out/onnx" },
  });
  const entry = zoo[a.model!];
  if (!entry) {
    throw new FlagError(`unknown --model "${a.model}"; one of ${Object.keys(zoo).join(", ")}`);
  }
  const width = a.width === undefined
    ? undefined
    : numberFlag("width", a.width, "a positive integer", (x) => Number.isInteger(x) && x > 0);
  await init();
  const model = entry.build({ seed: 0, ...(width ? { width } : {}) });
  const shape = entry.inputShape;
  const oto = await OTO.create(model, shape, { name: a.model });
  if (a.weights) await loadWeights(model, a.weights);
  else await zeroRandomGroups(model.stateDict(), oto.partition, { seed: 1, fraction: 0.5 });
  const { model: small, report } = await oto.compress();
  console.log(`${a.model}: params ${report.paramsBefore} -> ${report.paramsAfter}`);

  await Deno.mkdir(a.out!, { recursive: true });
  const x = randn(shape, { seed: 2 });
  const input = new ort.Tensor("float32", (await x.data()) as Float32Array, shape);
  model.eval();
  for (const [name, m] of [["full", model], ["compressed", small]] as const) {
    const path = `${a.out}/${name}.onnx`;
    const info = await exportOnnx(m, path, shape);
    const session = await ort.InferenceSession.create(path);
    const got = (await session.run({ input })).output.data as Float32Array;
    const want = await noGrad(() => tidy(() => m.call(x))).data();
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
    console.log(
      `${path}: ${info.nodes} nodes, ${info.initializers} initializers, ${info.bytes} bytes, ` +
        `output [${info.outputShape}]; max |onnxruntime - oto| = ${diff.toExponential(2)}`,
    );
  }
}

if (import.meta.main) await runMain("export_onnx", main);
