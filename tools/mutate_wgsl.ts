/**
 * A generated sweep of single-line kernel mutations, to find kernel paths the conformance
 * samples do not reach: for each WGSL file, every line with index arithmetic gets mechanical
 * changes (an h/w field swapped for its twin, a comparison made strict or loose, a `± 1u`
 * dropped); each mutant runs the backend checks of the ops that use the kernel.
 *
 * Usage: `deno run -A tools/mutate_wgsl.ts [--files conv,pool] [--max-per-file 12]`
 * Prints the mutants no test caught (each a line to check by hand: some are equivalent, e.g.
 * a bound that can never be reached).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";
import { applyMutation, type Mutation, restoreAll, runTests } from "./mutate.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The ops whose samples run each kernel directory (conformance harness, backend checks). */
const OPS: Record<string, string[]> = {
  conv: [
    "conv2d",
    "convTranspose2d",
    "conv2dBackwardInput",
    "conv2dBackwardWeight",
    "convTranspose2dBackwardInput",
  ],
  pool: ["maxPool2d", "avgPool2d", "adaptiveAvgPool2d", "pool2dBackward", "globalMaxPool2d"],
  movement: [
    "slice",
    "sliceGrad",
    "pad",
    "concat",
    "split",
    "gather",
    "gatherGrad",
    "oneHot",
    "permute",
    "expand",
    "pixelShuffle",
    "pixelUnshuffle",
  ],
  norm: ["batchNorm", "instanceNorm", "groupNorm", "layerNorm", "layerNorm2d", "normBackward"],
  reduce: ["sum", "mean", "max", "min", "argmax", "crossEntropy"],
  softmax: ["softmax", "logSoftmax", "crossEntropy", "crossEntropyGrad"],
  resize: ["upsample", "upsampleBackward"],
  matmul: ["matmul", "linear"],
  misc: ["dropout", "prelu"],
  elementwise: ["add", "mul", "maximum", "neg", "relu", "fill", "cast", "linear"],
  lib: [], // filled per file below
};
const LIB: Record<string, string> = {
  "conv_index.wgsl": "conv",
  "conv_params.wgsl": "conv",
  "norm_elem.wgsl": "norm",
  "pool_params.wgsl": "pool",
  "workgroup_reduce.wgsl": "softmax",
};

const TWINS: [string, string][] = [
  ["h", "w"],
  ["oh", "ow"],
  ["sh", "sw"],
  ["ph", "pw"],
  ["kh", "kw"],
  ["dh", "dw"],
];

/** Mechanical single-line mutants of one line. */
function mutantsOf(line: string): string[] {
  const out = new Set<string>();
  for (const [a, b] of TWINS) {
    for (const [x, y] of [[a, b], [b, a]]) {
      const re = new RegExp(`\\bp\\.${x}\\b`);
      if (re.test(line)) out.add(line.replace(re, `p.${y}`));
    }
  }
  for (const [x, y] of [[" < ", " <= "], [" <= ", " < "], [" >= ", " > "], [" > ", " >= "]]) {
    if (line.includes(x)) out.add(line.replace(x, y));
  }
  for (const x of [" + 1u", " - 1u"]) if (line.includes(x)) out.add(line.replace(x, ""));
  out.delete(line);
  return [...out];
}

async function kernelFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await kernelFiles(p));
    else if (e.name.endsWith(".wgsl")) out.push(p);
  }
  return out.sort();
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { files: { type: "string" }, "max-per-file": { type: "string", default: "12" } },
  });
  const want = values.files?.split(",");
  const cap = Number(values["max-per-file"]);
  const stop = () => (restoreAll(), Deno.exit(130));
  Deno.addSignalListener("SIGINT", stop);
  const missed: string[] = [];
  let run = 0;
  for (const path of await kernelFiles(join(root, "kernels"))) {
    const file = relative(root, path);
    const dir = file.split("/")[1];
    const group = dir === "lib" ? LIB[file.split("/")[2]] : dir;
    const ops = OPS[group ?? ""];
    if (!ops?.length || (want && !want.some((w) => file.includes(w)))) continue;
    const text = await Deno.readTextFile(path);
    const cands: Mutation[] = [];
    text.split("\n").forEach((line, i) => {
      if (/^\s*\/\//.test(line)) return;
      for (const to of mutantsOf(line)) {
        // Unique occurrence: the line itself must be unique in the file.
        if (text.indexOf(line) !== text.lastIndexOf(line)) continue;
        cands.push({
          id: `${file}:${i + 1}`,
          category: "kernel",
          file,
          from: line,
          to,
          tests: ["conformance_test.ts"],
          ops,
        });
      }
    });
    // An even spread over the file when there are more candidates than the cap.
    const step = Math.max(1, cands.length / cap);
    const chosen = cands.filter((_, k) => Math.floor(k % step) === 0).slice(0, cap);
    for (const m of chosen) {
      applyMutation(m);
      const r = await runTests(m.tests, m.ops, { OTO_CONFORM_FACETS: "backends" });
      restoreAll();
      run++;
      const tag = r.failed ? "caught " : "MISSED ";
      console.log(`${tag} ${m.id}  ${m.to.trim()}`);
      if (!r.failed) missed.push(`${m.id}: ${m.from.trim()}  ->  ${m.to.trim()}`);
    }
  }
  restoreAll();
  console.log(`\n${run - missed.length} / ${run} caught; missed:\n${missed.join("\n")}`);
}
