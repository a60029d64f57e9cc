/**
 * `deno task evaluate --model DIR|FILE --dataset NAME [--data-dir DIR] [--limit N]
 * [--batch-size N] [--seed N] [--backend auto|webgpu|wasm|cpu] [--json]`
 *
 * Score a shipped model on a data set's test images exactly as a user would run it: the
 * preprocessing comes from the model file's own metadata (not from the data), the model runs
 * in onnxruntime (`.onnx`) or in oto (`.safetensors`, on `--backend`, default as `init()`
 * chooses; a run folder means its `compressed.safetensors`), and loss and accuracy are computed
 * on the host from the outputs.
 *
 * Exit codes: 0 done, 1 failed (file, data), 2 bad flags. Errors are one line.
 * @module
 */
import { parseArgs } from "node:util";
import { imageSize } from "../data/dataset.ts";
import { oneLine, runTool, userPath } from "./paths.ts";
import { openClassifier, type ShippedModel } from "./shipped.ts";
import { classification, loadClassificationSplit } from "./tasks/classification.ts";
import type { Preprocessing } from "./preprocessing.ts";

const USAGE = "usage: deno task evaluate --model DIR|FILE --dataset NAME [--data-dir DIR] " +
  "[--limit N] [--batch-size N] [--seed N] [--backend auto|webgpu|wasm|cpu] [--json]";

/** A bad command line: one line, exit code 2. */
class UsageError extends Error {}

/** Loss and accuracy of a classifier's outputs. */
export interface Score {
  images: number;
  accuracy: number;
  /** Mean cross entropy (natural log). */
  loss: number;
}

/** Mean cross entropy and accuracy of `logits` [n, k] against `labels`, in float64. */
export function scoreLogits(logits: Float32Array, labels: ArrayLike<number>, k: number) {
  let loss = 0, correct = 0;
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * k, (i + 1) * k);
    let m = -Infinity, arg = 0;
    for (let j = 0; j < k; j++) if (row[j] > m) (m = row[j], arg = j);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(row[j] - m);
    loss += Math.log(s) + m - row[labels[i]];
    if (arg === labels[i]) correct++;
  }
  return { loss: loss / Math.max(n, 1), correct };
}

/** Normalise pixels in [0, 1] (C×H×W planes of `n` images) as the preprocessing says. */
export function normalise(pixels: Float32Array, n: number, p: Preprocessing): Float32Array {
  const plane = p.height * p.width, out = new Float32Array(n * p.channels * plane);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < p.channels; c++) {
      const off = (i * p.channels + c) * plane, m = p.mean[c], inv = 1 / p.std[c];
      for (let q = 0; q < plane; q++) out[off + q] = (pixels[off + q] - m) * inv;
    }
  }
  return out;
}

/** Score `model` on pixels in [0, 1] with labels, `batch` images at a time. */
export async function scoreModel(
  model: ShippedModel,
  images: Float32Array,
  labels: Int32Array,
  batch: number,
): Promise<Score> {
  const p = model.preprocessing;
  const size = p.channels * p.height * p.width, n = labels.length;
  let loss = 0, correct = 0, k = 0;
  for (let start = 0; start < n; start += batch) {
    const m = Math.min(batch, n - start);
    const x = normalise(images.subarray(start * size, (start + m) * size), m, p);
    const out = await model.run(x, m);
    k = out.length / m;
    if (!Number.isInteger(k)) {
      throw new Error(`${model.file}: ${out.length} outputs for ${m} images`);
    }
    const r = scoreLogits(out, labels.subarray(start, start + m), k);
    loss += r.loss * m;
    correct += r.correct;
  }
  return { images: n, accuracy: correct / Math.max(n, 1), loss: loss / Math.max(n, 1) };
}

function parse(args: string[]) {
  let v;
  try {
    v = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: "string" },
        dataset: { type: "string" },
        "data-dir": { type: "string" },
        limit: { type: "string" },
        "batch-size": { type: "string", default: "100" },
        seed: { type: "string", default: "0" },
        backend: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    throw new UsageError(`${oneLine(e)} (${USAGE})`);
  }
  if (v.help) return null;
  if (!v.model) throw new UsageError(`missing --model DIR|FILE (${USAGE})`);
  const datasets = classification.datasets.filter((d) => d !== "folder");
  if (!v.dataset || !datasets.includes(v.dataset)) {
    throw new UsageError(
      `${v.dataset ? `unknown --dataset "${v.dataset}"` : "missing --dataset"}; choose one of ` +
        datasets.join(", "),
    );
  }
  if (v["data-dir"] !== undefined && !["fashion-mnist", "cifar10"].includes(v.dataset)) {
    throw new UsageError(`--data-dir does not apply to --dataset ${v.dataset} (it has no files)`);
  }
  const int = (flag: string, s: string, min: number) => {
    const x = Number(s);
    if (!Number.isInteger(x) || x < min) {
      throw new UsageError(`--${flag} must be an integer >= ${min}, got "${s}"`);
    }
    return x;
  };
  return {
    model: userPath(v.model),
    dataset: v.dataset,
    dataDir: v["data-dir"] === undefined ? null : userPath(v["data-dir"]),
    limit: v.limit === undefined ? null : int("limit", v.limit, 1),
    batch: int("batch-size", v["batch-size"]!, 1),
    seed: int("seed", v.seed!, 0),
    backend: v.backend ?? null,
    json: v.json!,
  };
}

/** Run the CLI; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let o;
  try {
    o = parse(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`evaluate: ${e.message}`);
    return 2;
  }
  if (!o) {
    console.log(USAGE);
    return 0;
  }
  const opened = await openClassifier("evaluate", o.model, o.backend, "scores classifiers");
  if (opened === 2) return 2;
  const { file, backend, model } = opened;
  try {
    const ds = await loadClassificationSplit(o.dataset, "test", {
      dataDir: o.dataDir,
      seed: o.seed,
    });
    const p = model.preprocessing;
    if (ds.channels !== p.channels || ds.height !== p.height || ds.width !== p.width) {
      throw new Error(
        `${file} takes [${p.channels}, ${p.height}, ${p.width}] images, --dataset ${o.dataset} ` +
          `has [${ds.channels}, ${ds.height}, ${ds.width}]`,
      );
    }
    const n = Math.min(o.limit ?? ds.n, ds.n);
    const score = await scoreModel(
      model,
      ds.images.subarray(0, n * imageSize(ds)),
      ds.labels.subarray(0, n),
      o.batch,
    );
    const runtime = model.runtime === "onnx" ? "onnxruntime" : `oto on ${backend}`;
    if (o.json) {
      console.log(JSON.stringify({ file, runtime, backend, dataset: ds.name, ...score }));
    } else {
      console.log(
        `evaluate: ${file} (${runtime}) on ${ds.name}, ${score.images} images: accuracy ` +
          `${(100 * score.accuracy).toFixed(2)}%, loss ${score.loss.toFixed(4)}`,
      );
    }
    return 0;
  } finally {
    model.dispose();
  }
}

if (import.meta.main) await runTool("evaluate", main);
