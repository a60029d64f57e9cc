/**
 * A model as a run ships it, loaded back from its files: an ONNX file (run in onnxruntime, the
 * runtime users deploy with) or a safetensors file (run by oto). Both carry the preprocessing
 * and class names in their metadata; a compressed safetensors file also carries its
 * architecture (zoo model, build options, kept channels per ZIG), from which oto rebuilds the
 * compact model before loading the weights.
 * @module
 */
import { join } from "node:path";
// Inline npm: specifiers: this module must load without the project's import map.
// deno-lint-ignore no-import-prefix
import onnxProto from "npm:onnx-proto@8.0.1";
import { fromHost, getDefaultBackend, tidy } from "../tensor.ts";
import { noGrad } from "../ops/registry.ts";
import type { Module } from "../nn/module.ts";
import { loadSafetensors, readSafetensorsMetadata } from "../io/safetensors.ts";
import { loadWeights } from "../io/weights.ts";
import { trace } from "../graph/trace.ts";
import { partition } from "../zig/partition.ts";
import { compress, zeroGroupsInPlace } from "../compress/compress.ts";
import { zoo } from "../zoo/index.ts";
import { init } from "../init.ts";
import { META_KEYS, type Preprocessing, readPreprocessing } from "./preprocessing.ts";

/** Metadata key of the architecture a safetensors file was saved from. */
export const ARCH_KEY = "architecture";

/** How to rebuild the model a safetensors file holds the weights of. */
export interface Architecture {
  /** Zoo model name. */
  model: string;
  /** Its build options (widths, classes, input channels). */
  options: Record<string, number>;
  /** Input shape it was traced with, batch 1. */
  input: number[];
  /** Kept channels per prunable ZIG (by ZIG id) of a compressed model; absent for a full one. */
  kept?: Record<string, number>;
}

/** A loaded model: scores for a batch of preprocessed inputs, and what it expects. */
export interface ShippedModel {
  /** The file it came from. */
  file: string;
  /** "onnx" (onnxruntime) or "oto" (safetensors, run by oto). */
  runtime: "onnx" | "oto";
  task: string;
  preprocessing: Preprocessing;
  classNames: string[] | null;
  /** Outputs for `n` inputs laid out as the preprocessing says (N×C×H×W float32). */
  run(x: Float32Array, n: number): Promise<Float32Array>;
  dispose(): void;
}

/** `DIR` (a run's output folder) or a file: the file to load. */
export async function resolveModelFile(path: string): Promise<string> {
  const st = await Deno.stat(path).catch(() => null);
  if (!st) throw new Error(`--model ${path} not found`);
  if (!st.isDirectory) return path;
  // The safetensors file when oto can rebuild its model (a zoo model's run; an imported ONNX
  // model's weights need its graph, so such a run is served by its ONNX file).
  const weights = join(path, "compressed.safetensors");
  const meta = await readSafetensorsMetadata(weights).catch(() => null);
  if (meta?.[ARCH_KEY]) return weights;
  const onnx = join(path, "compressed.onnx");
  if (await Deno.stat(onnx).catch(() => null)) return onnx;
  if (meta) return weights;
  throw new Error(
    `--model ${path}: a folder without compressed.safetensors or compressed.onnx (not a ` +
      `deno task train output folder?)`,
  );
}

/** What `--backend` accepts (the train CLI's choices). */
export const BACKEND_CHOICES = ["auto", "webgpu", "wasm", "cpu"] as const;
/** A `--backend` value. */
export type BackendChoice = typeof BACKEND_CHOICES[number];

/**
 * A `--backend` flag's problem for `file`, or null: an unknown name, or a backend asked for a
 * model that onnxruntime runs (only oto's `.safetensors` models run on oto's backends).
 */
export function backendFlagProblem(backend: string | null, file: string): string | null {
  if (backend === null) return null;
  if (!(BACKEND_CHOICES as readonly string[]).includes(backend)) {
    return `--backend must be one of ${BACKEND_CHOICES.join(", ")}, got "${backend}"`;
  }
  if (!file.endsWith(".safetensors")) {
    return `--backend applies to .safetensors models (run by oto); ${file} runs in onnxruntime`;
  }
  return null;
}

/** Start oto's backend when `file` is run by oto (`.safetensors`); returns its name or null. */
export async function initFor(file: string, backend: string | null): Promise<string | null> {
  if (!file.endsWith(".safetensors")) return null;
  return (await init({ quiet: true, backend: (backend ?? "auto") as BackendChoice })).backend;
}

/**
 * The classifier `--model` names (a file or a run folder), loaded on `--backend`, for a tool
 * that runs classifiers (`does` says what the tool does, for the error on another task's model).
 * A bad `--backend` is printed as one line `tool: problem` and answered with exit code 2.
 */
export async function openClassifier(
  tool: string,
  modelFlag: string,
  backendFlag: string | null,
  does: string,
): Promise<{ file: string; backend: string | null; model: ShippedModel } | 2> {
  const file = await resolveModelFile(modelFlag);
  const bad = backendFlagProblem(backendFlag, file);
  if (bad) {
    console.error(`${tool}: ${bad}`);
    return 2;
  }
  const backend = await initFor(file, backendFlag);
  const model = await loadShipped(file);
  if (model.task !== "classification") {
    model.dispose();
    throw new Error(`${file}: a ${model.task} model; ${tool} ${does}`);
  }
  return { file, backend, model };
}

/** Load a model file (`.onnx` or `.safetensors`); errors name the file and the problem. */
export async function loadShipped(file: string): Promise<ShippedModel> {
  if (file.endsWith(".onnx")) return await loadOnnx(file);
  if (file.endsWith(".safetensors")) return await loadOto(file);
  throw new Error(`--model ${file}: expected a .onnx or .safetensors file or a run folder`);
}

async function loadOnnx(file: string): Promise<ShippedModel> {
  // Loaded on demand: onnxruntime is a native add-on (--allow-ffi) only this path needs.
  // deno-lint-ignore no-import-prefix
  const ort = await import("npm:onnxruntime-node@1.20.1");
  let session;
  try {
    session = await ort.InferenceSession.create(file);
  } catch (e) {
    throw new Error(`${file}: onnxruntime cannot load it: ${(e as Error).message.split("\n")[0]}`);
  }
  const props = onnxMetadata(await Deno.readFile(file), file);
  const { preprocessing: p, classNames } = readPreprocessing(props, file);
  const [input] = session.inputNames, [output] = session.outputNames;
  return {
    file,
    runtime: "onnx",
    task: props[META_KEYS.task] ?? "classification",
    preprocessing: p,
    classNames,
    async run(x, n) {
      const t = new ort.Tensor("float32", x, [n, p.channels, p.height, p.width]);
      const out = await session.run({ [input]: t });
      return Float32Array.from(out[output].data as Float32Array);
    },
    dispose: () => void session.release(),
  };
}

/** The model's `metadata_props` (onnxruntime-node does not expose them). */
function onnxMetadata(bytes: Uint8Array, file: string): Record<string, string> {
  try {
    const m = onnxProto.onnx.ModelProto.decode(bytes);
    return Object.fromEntries(m.metadataProps.map((e) => [e.key ?? "", e.value ?? ""]));
  } catch (e) {
    throw new Error(`${file}: not an ONNX model (${(e as Error).message.split("\n")[0]})`);
  }
}

async function loadOto(file: string): Promise<ShippedModel> {
  const { metadata } = await loadSafetensors(file);
  const { preprocessing: p, classNames } = readPreprocessing(metadata, file);
  const raw = metadata[ARCH_KEY];
  if (!raw) {
    throw new Error(
      `${file}: no "${ARCH_KEY}" metadata, so oto cannot rebuild its model; use the ONNX file`,
    );
  }
  const model = await rebuild(JSON.parse(raw) as Architecture, file);
  await loadWeights(model, file);
  model.eval();
  return {
    file,
    runtime: "oto",
    task: metadata[META_KEYS.task] ?? "classification",
    preprocessing: p,
    classNames,
    async run(x, n) {
      const xt = fromHost(x, [n, p.channels, p.height, p.width], "f32", getDefaultBackend());
      const y = noGrad(() => tidy(() => model.call(xt)));
      const v = Float32Array.from(await y.data());
      y.dispose();
      xt.dispose();
      return v;
    },
    dispose: () => model.dispose(),
  };
}

/**
 * The model an architecture describes, with placeholder weights: the zoo model, compressed to
 * the kept channel counts when the file holds a compressed one (which channels were kept does
 * not matter: the file's weights replace them all).
 */
async function rebuild(arch: Architecture, file: string): Promise<Module> {
  const entry = zoo[arch.model];
  if (!entry) throw new Error(`${file}: model "${arch.model}" is not in oto's zoo; use ONNX`);
  const full = entry.build({ ...arch.options, seed: 0 });
  if (!arch.kept) return full;
  const part = partition(trace(full, arch.input));
  const state = full.stateDict();
  for (const z of part.zigs) {
    const k = arch.kept[z.id];
    if (!z.prunable || k === undefined || k >= z.size) continue;
    await zeroGroupsInPlace(state, z, Array.from({ length: z.size - k }, (_, i) => k + i));
  }
  const { model } = await compress(full, state, part, { input: arch.input, trainGraph: false });
  full.dispose();
  return model;
}
