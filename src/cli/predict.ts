/**
 * `deno task predict --model DIR|FILE [--top K] [--batch-size N] [--backend auto|webgpu|wasm|cpu]
 * [--json] IMAGE...`
 *
 * Classify PNG or JPEG files with a shipped model, preprocessed exactly as its own metadata
 * says: converted to the model's channels (grey ↔ RGB as PIL's `convert`), resized on the
 * shorter side and centre-cropped to the model's input size (torchvision's evaluation
 * transform, bilinear), scaled to [0, 1] and normalised with the stored mean and std. A `.onnx`
 * file runs in onnxruntime, a `.safetensors` file (or a run folder: its
 * `compressed.safetensors`) in oto. Prints the top classes of each image with their
 * probabilities (softmax of the model's outputs). `--backend` picks oto's backend for a
 * `.safetensors` model (default: as `init()` chooses).
 *
 * Exit codes: 0 done, 1 failed (an unreadable image or model: one line naming the file),
 * 2 bad flags.
 * @module
 */
import { parseArgs } from "node:util";
import { decodeImage, toFloatImage } from "../data/image.ts";
import { resizeCenterCrop } from "../data/resample.ts";
import { oneLine, runTool, userPath } from "./paths.ts";
import { openClassifier, type ShippedModel } from "./shipped.ts";
import { normalise } from "./evaluate.ts";

const USAGE = "usage: deno task predict --model DIR|FILE [--top K] [--batch-size N] " +
  "[--backend auto|webgpu|wasm|cpu] [--json] IMAGE...";

/** A bad command line: one line, exit code 2. */
class UsageError extends Error {}

/** One image's top classes. */
export interface Prediction {
  file: string;
  /** Best first: class index, name (when the model has names) and probability. */
  top: { index: number; name: string | null; probability: number }[];
}

/** An image file as the model's input: pixels in [0, 1], C×H×W at the model's size. */
export async function imageInput(file: string, model: ShippedModel): Promise<Float32Array> {
  const p = model.preprocessing;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    throw new Error(`${file}: ${oneLine(e)}`);
  }
  if (p.channels !== 1 && p.channels !== 3) {
    throw new Error(`${model.file}: takes ${p.channels}-channel images; predict reads 1 or 3`);
  }
  const img = toFloatImage(decodeImage(bytes, file), p.channels);
  return resizeCenterCrop(img.data, p.channels, img.height, img.width, p.height, p.width);
}

/** Softmax probabilities of one row of outputs, top `k`. */
export function topK(
  row: Float32Array,
  k: number,
  names: string[] | null,
): Prediction["top"] {
  const m = Math.max(...row);
  const e = Array.from(row, (v) => Math.exp(v - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v, index) => ({ index, name: names?.[index] ?? null, probability: v / sum }))
    .sort((a, b) => b.probability - a.probability).slice(0, k);
}

/** Classify `files` with `model`, `batch` images per run. */
export async function predict(
  model: ShippedModel,
  files: string[],
  k: number,
  batch: number,
): Promise<Prediction[]> {
  const p = model.preprocessing;
  const size = p.channels * p.height * p.width;
  const out: Prediction[] = [];
  for (let start = 0; start < files.length; start += batch) {
    const part = files.slice(start, start + batch);
    const pixels = new Float32Array(part.length * size);
    for (let i = 0; i < part.length; i++) pixels.set(await imageInput(part[i], model), i * size);
    const y = await model.run(normalise(pixels, part.length, p), part.length);
    const classes = y.length / part.length;
    part.forEach((file, i) => {
      out.push({
        file,
        top: topK(y.subarray(i * classes, (i + 1) * classes), k, model.classNames),
      });
    });
  }
  return out;
}

function parse(args: string[]) {
  let r;
  try {
    r = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        model: { type: "string" },
        top: { type: "string", default: "3" },
        "batch-size": { type: "string", default: "32" },
        backend: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    throw new UsageError(`${oneLine(e)} (${USAGE})`);
  }
  const v = r.values;
  if (v.help) return null;
  if (!v.model) throw new UsageError(`missing --model DIR|FILE (${USAGE})`);
  if (r.positionals.length === 0) throw new UsageError(`no images given (${USAGE})`);
  const int = (flag: string, s: string) => {
    const x = Number(s);
    if (!Number.isInteger(x) || x < 1) {
      throw new UsageError(`--${flag} must be a positive integer, got "${s}"`);
    }
    return x;
  };
  return {
    model: userPath(v.model),
    files: r.positionals.map(userPath),
    top: int("top", v.top!),
    batch: int("batch-size", v["batch-size"]!),
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
    console.error(`predict: ${e.message}`);
    return 2;
  }
  if (!o) {
    console.log(USAGE);
    return 0;
  }
  const opened = await openClassifier("predict", o.model, o.backend, "classifies images");
  if (opened === 2) return 2;
  const { model } = opened;
  try {
    const preds = await predict(model, o.files, o.top, o.batch);
    if (o.json) console.log(JSON.stringify(preds));
    else {
      for (const p of preds) {
        const label = (t: Prediction["top"][number]) =>
          `${t.name ?? `class ${t.index}`} ${(100 * t.probability).toFixed(1)}%`;
        const rest = p.top.slice(1).map(label).join(", ");
        console.log(`${p.file}: ${label(p.top[0])}${rest ? ` (${rest})` : ""}`);
      }
    }
    return 0;
  } finally {
    model.dispose();
  }
}

if (import.meta.main) await runTool("predict", main);
