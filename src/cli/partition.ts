/**
 * `deno task partition --model NAME | --onnx FILE [--input-shape C,H,W] [--json] [--verify]
 * [--dot FILE] [--seed N]`
 *
 * Traces a zoo model or an imported ONNX file (shape-only), prints its ZIG partition (parameters, MACs, every channel
 * space with its size, layers and whether or why not it can be pruned). `--json` prints one JSON
 * object instead. `--verify` zeroes a seeded random half of every prunable ZIG (never all of
 * it), compresses, runs the full and compact models on a seeded random input (eval mode) and
 * reports the largest difference. `--dot FILE` writes the graph coloured by ZIG (`.svg` is
 * rendered with Graphviz when `dot` is installed, else the `.dot` source is written beside it).
 */
import { parseArgs } from "node:util";
import { init } from "../init.ts";
import { randn } from "../ops/creation.ts";
import { scale as scaled } from "../ops/elementwise.ts";
import { tidy } from "../tensor.ts";
import { trace } from "../graph/trace.ts";
import { renderSvg, toDot } from "../zig/dot.ts";
import { analyze } from "../zig/partition.ts";
import { formatPartition, partitionJson } from "../zig/report.ts";
import { graphCost } from "../compress/flops.ts";
import { compress, formatCompression, zeroRandomGroups } from "../compress/compress.ts";
import { zoo } from "../zoo/index.ts";
import { importOnnx } from "../onnx/import.ts";
import type { AnyModule, ModuleOutput } from "../nn/module.ts";
import { flattenOutput } from "../graph/graph.ts";
import { runTool, userPath } from "./paths.ts";

const USAGE = "usage: deno task partition (--model NAME | --onnx FILE [--input-shape C,H,W]) " +
  "[--json] [--verify] [--dot FILE] [--seed N]";

class UsageError extends Error {}

/** Parse the command line; throws a UsageError with one clear line on bad flags. */
export function parseCli(args: string[]): {
  model: string;
  onnx?: string;
  inputShape?: number[];
  json: boolean;
  verify: boolean;
  dot?: string;
  seed: number;
  help: boolean;
} {
  let v;
  try {
    v = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: "string", short: "m" },
        onnx: { type: "string" },
        "input-shape": { type: "string" },
        json: { type: "boolean", default: false },
        verify: { type: "boolean", default: false },
        dot: { type: "string" },
        seed: { type: "string", default: "0" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (${USAGE})`);
  }
  if (v.help) return { model: "", json: false, verify: false, seed: 0, help: true };
  if (v.model && v.onnx) throw new UsageError("give --model or --onnx, not both");
  if (!v.model && !v.onnx) throw new UsageError(`missing --model NAME or --onnx FILE (${USAGE})`);
  if (v.onnx === "") throw new UsageError("--onnx needs a file name");
  let inputShape: number[] | undefined;
  if (v["input-shape"] !== undefined) {
    if (!v.onnx) throw new UsageError("--input-shape applies to --onnx models only");
    inputShape = v["input-shape"].split(",").map((d) => Number(d.trim()));
    if (!inputShape.length || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new UsageError(
        `--input-shape must be positive integers like 3,64,64, got "${v["input-shape"]}"`,
      );
    }
  }
  const seed = Number(v.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${v.seed}"`);
  if (v.dot !== undefined && !v.dot) throw new UsageError("--dot needs a file name");
  const name = v.onnx ? v.onnx.replace(/^.*[\\/]/, "") : v.model!;
  return {
    model: name,
    onnx: v.onnx === undefined ? undefined : userPath(v.onnx),
    inputShape,
    json: v.json!,
    verify: v.verify!,
    dot: v.dot === undefined ? undefined : userPath(v.dot),
    seed,
    help: false,
  };
}

async function main(args: string[]): Promise<number> {
  let o;
  try {
    o = parseCli(args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`partition: ${e.message}`);
      return 2;
    }
    throw e;
  }
  if (o.help) {
    console.log(USAGE);
    console.log(`models: ${Object.keys(zoo).join(", ")}`);
    return 0;
  }
  // Shape-only tracing needs no GPU; verification runs both models on the best backend.
  if (o.verify) await init({ quiet: o.json });
  let model: AnyModule, inputs: number[][];
  if (o.onnx) {
    try {
      const m = await importOnnx<ModuleOutput>(o.onnx, { inputShape: o.inputShape });
      (model = m), (inputs = m.inputShapes);
    } catch (e) {
      console.error(`partition: ${(e as Error).message}`);
      return 1;
    }
  } else {
    const entry = zoo[o.model];
    if (!entry) {
      console.error(
        `partition: unknown model "${o.model}"; available: ${Object.keys(zoo).join(", ")}`,
      );
      return 1;
    }
    model = entry.build({ seed: o.seed });
    inputs = entry.inputShapes ?? [entry.inputShape];
  }
  const graph = trace(model, inputs);
  const an = analyze(graph);
  const part = an.partition;
  const cost = graphCost(graph);
  const totals = { model: o.model, params: cost.params, macs: cost.macs, flops: cost.flops };

  if (o.dot) {
    const dot = toDot(graph, an);
    if (o.dot.endsWith(".svg")) {
      const svg = await renderSvg(dot);
      if (svg !== null) await Deno.writeTextFile(o.dot, svg);
      else {
        const file = o.dot.replace(/\.svg$/, ".dot");
        await Deno.writeTextFile(file, dot);
        console.error(`partition: Graphviz "dot" is not installed; wrote ${file} instead`);
      }
    } else await Deno.writeTextFile(o.dot, dot);
  }

  let verify: Record<string, number> | undefined;
  let summary = "";
  if (o.verify) {
    // A zero-initialised layer (carn-small's exit conv) would make the output independent of
    // every group before it and the comparison vacuous: give such parameters seeded values.
    for (const [i, [name, p]] of model.namedParameters().entries()) {
      if ((await p.data()).every((v) => v === 0)) {
        model.setTensor(name, scaled(randn(p.shape, { seed: o.seed + 1000 + i }), 0.1));
      }
    }
    const state = model.stateDict();
    await zeroRandomGroups(state, part, { seed: o.seed, fraction: 0.5 });
    const r = await compress(model, state, part, { input: inputs, trainGraph: false });
    const xs = inputs.map((s, i) => randn(s, { seed: o.seed + 1 + i }));
    model.eval();
    // Every output of the model (an array or a record of them too).
    const outs = async (m: AnyModule) => {
      const ts = tidy(() => flattenOutput(m.call(...xs)).tensors);
      return await Promise.all(ts.map((t) => t.data()));
    };
    const full = await outs(model), small = await outs(r.model);
    let diff = small.length === full.length ? 0 : Infinity, scale = 0;
    full.forEach((f, k) => {
      if (small[k]?.length !== f.length) diff = Infinity;
      for (let i = 0; i < f.length; i++) {
        diff = Math.max(diff, Math.abs(f[i] - small[k]?.[i]));
        scale = Math.max(scale, Math.abs(f[i]));
      }
    });
    summary = formatCompression(r.report);
    verify = {
      maxAbsDiff: diff,
      outputScale: scale,
      paramsAfter: r.report.paramsAfter,
      macsAfter: r.report.macsAfter,
    };
  }

  if (o.json) {
    const obj = partitionJson(part, totals);
    if (verify) obj.verify = verify;
    console.log(JSON.stringify(obj));
  } else {
    const shapes = new Map(graph.params.map((p) => [p.name, p.shape] as const));
    console.log(formatPartition(part, totals, shapes));
    if (verify) {
      console.log(
        `verify: max |full - compact| = ${verify.maxAbsDiff.toExponential(2)} ` +
          `(output scale ${verify.outputScale.toExponential(2)})`,
      );
      console.log(summary);
    }
  }
  return verify && !(verify.maxAbsDiff <= 1e-4 * Math.max(verify.outputScale, 1e-6)) ? 1 : 0;
}

// A failure (a --dot file that cannot be written, ...) is one line naming it; OTO_DEBUG=1 for the
// stack.
if (import.meta.main) await runTool("partition", main);
