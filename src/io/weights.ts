/**
 * Save and load a model's parameters and buffers as safetensors (PyTorch state-dict names:
 * "features.0.weight", "bn1.running_mean", ...). Writes are atomic; loading checks every name
 * and shape first and reports all problems at once, then writes the values into the model's
 * existing tensors in place (so optimizers holding them keep working).
 */
import type { Module } from "../nn/module.ts";
import { upload } from "../backend/webgpu.ts";
import type { Tensor } from "../tensor.ts";
import {
  checkAgainst,
  loadSafetensors,
  type NamedArray,
  SafetensorsError,
  saveSafetensors,
} from "./safetensors.ts";

const DTYPE = { f32: "F32", i32: "I32", u32: "U32" } as const;

/** The model's state dict read back to the host, as safetensors records. */
export async function stateDictArrays(model: Module): Promise<Record<string, NamedArray>> {
  const out: Record<string, NamedArray> = {};
  for (const [name, t] of model.stateDict()) {
    if (t.backend === "meta") {
      throw new Error(`saveWeights: tensor "${name}" is shape-only (meta) and has no values`);
    }
    const data = await t.data();
    out[name] = { dtype: DTYPE[t.dtype], shape: [...t.shape], data };
  }
  return out;
}

/**
 * Write every parameter and buffer of `model` to `path` (safetensors, atomic: a crash leaves
 * any previous file intact). `metadata` is stored in the header's `__metadata__`.
 *
 * @example
 * ```ts
 * import { init, saveWeights, zoo } from "../../mod.ts";
 * await init();
 * const model = zoo["small-cnn"].build();
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" }); // e.g. "cnn.safetensors"
 * await saveWeights(model, path, { epochs: "3" });
 * ```
 */
export async function saveWeights(
  model: Module,
  path: string | URL,
  metadata?: Record<string, string>,
): Promise<void> {
  await saveSafetensors(path, await stateDictArrays(model), metadata);
}

/** Options of {@link loadWeights}. */
export interface LoadWeightsOptions {
  /**
   * Names in the file the model may lack without an error (default: PyTorch's
   * `*.num_batches_tracked` counters, which BatchNorm2d keeps only on request).
   */
  ignoreUnexpected?: (name: string) => boolean;
}

const defaultIgnore = (name: string) => name.endsWith(".num_batches_tracked");

/**
 * Read `path` into `model`'s parameters and buffers, in place. Throws one error listing every
 * missing, unexpected and mis-shaped tensor before changing anything. Returns the metadata.
 *
 * @example
 * ```ts
 * import { init, loadWeights, saveWeights, zoo } from "../../mod.ts";
 * await init();
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" }); // e.g. "cnn.safetensors"
 * await saveWeights(zoo["small-cnn"].build({ seed: 1 }), path, { epochs: "3" });
 * const model = zoo["small-cnn"].build();
 * const meta = await loadWeights(model, path); // { epochs: "3" }; weights now those of seed 1
 * ```
 */
export async function loadWeights(
  model: Module,
  path: string | URL,
  opts: LoadWeightsOptions = {},
): Promise<Record<string, string>> {
  const source = String(path);
  const { tensors, metadata } = await loadSafetensors(path);
  const state = model.stateDict();
  const ignore = opts.ignoreUnexpected ?? defaultIgnore;
  const expected: Record<string, readonly number[]> = {};
  for (const [name, t] of state) expected[name] = t.shape;
  const loaded: Record<string, NamedArray> = {};
  for (const [name, a] of Object.entries(tensors)) {
    if (state.has(name) || !ignore(name)) loaded[name] = a;
  }
  checkAgainst(expected, loaded, source);
  for (const [name, t] of state) {
    const a = loaded[name];
    if (DTYPE[t.dtype] !== a.dtype) {
      throw new SafetensorsError(
        source,
        `tensor "${name}" is ${a.dtype}${a.storedDtype ? ` (stored ${a.storedDtype})` : ""}, ` +
          `model expects ${DTYPE[t.dtype]}`,
        name,
      );
    }
  }
  for (const [name, t] of state) writeInto(t, loaded[name].data, name);
  return metadata;
}

/** Overwrite a tensor's values in place (any backend). */
export function writeInto(t: Tensor, data: Float32Array | Int32Array | Uint32Array, name = "") {
  t.assertAlive(`loadWeights ${name}`);
  if (data.length !== t.size) {
    throw new Error(`loadWeights: "${name}" has ${data.length} values, expected ${t.size}`);
  }
  if (t.backend === "cpu" || t.backend === "wasm") t.hostData().set(data);
  else if (t.backend === "webgpu") {
    if (t.size > 0) upload(t.storage.gpu!, data);
  } else throw new Error(`loadWeights: "${name}" is shape-only (meta); cannot hold values`);
}
