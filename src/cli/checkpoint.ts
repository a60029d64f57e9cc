/**
 * Training checkpoints: one safetensors file, written atomically, with everything a run needs
 * to continue bit-exactly where it stopped:
 * - the model's parameters and buffers (`model/<path>`; BatchNorm running statistics included);
 * - the optimizer state (`optim/...`): SGD momentum buffers and Adam moments per parameter, or
 *   DHSPG's flat moments, its G_p mask, step count and partition flag;
 * - in the `__metadata__` entry `oto.checkpoint`, a JSON object with the settings, the number of
 *   completed epochs and steps, the per-epoch history, and free-form run data;
 * - in `oto.sha256`, the SHA-256 of every tensor (name, dtype, shape, bytes, in name order),
 *   which {@link loadCheckpoint} verifies: a bit flip anywhere in the weights or the optimizer
 *   state is an error, not a silently different resumed run.
 *
 * Data order and augmentation need no saved state: the DataLoader derives batch `b` of epoch
 * `e` from (seed, e, b) only, and the trainer reseeds the global generator (dropout seeds) from
 * (seed, e) at the start of every epoch. A checkpoint taken inside an epoch also stores the
 * batch reached, the epoch's running loss/accuracy sums and the global generator's state. So a
 * resumed run replays exactly the batches, seeds, learning rates and updates of an
 * uninterrupted run.
 *
 * @example
 * ```ts
 * import { init, SGD } from "../../mod.ts";
 * import { zoo } from "../zoo/index.ts";
 * import { loadCheckpoint, restoreCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * await init();
 * const model = zoo["small-cnn"].build({ seed: 0 });
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * // ... train an epoch ...
 * await saveCheckpoint("checkpoint.safetensors", { model, optimizer: opt, meta: { epoch: 1, step: 63 } });
 * // later, in a new process, with a freshly built model and optimizer:
 * const ck = await loadCheckpoint("checkpoint.safetensors");
 * restoreCheckpoint(ck, { model, optimizer: opt });
 * console.log(`continuing after epoch ${ck.meta.epoch}`);
 * ```
 * @module
 */
import type { Module } from "../nn/module.ts";
import type { HostArray, Tensor } from "../tensor.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import type { OptimizerState } from "../optim/state.ts";
import {
  loadSafetensors,
  type NamedArray,
  readSafetensorsMetadata,
  SafetensorsError,
  saveSafetensors,
} from "../io/safetensors.ts";
import { writeInto } from "../io/weights.ts";

/** Checkpoint format version (bumped on incompatible changes). */
export const CHECKPOINT_VERSION = 1;
const META_KEY = "oto.checkpoint";
const SUM_KEY = "oto.sha256";
const DT = { f32: "F32", i32: "I32", u32: "U32" } as const;

export type { OptimizerState };

/** The JSON stored with a checkpoint. */
export interface CheckpointMeta {
  version: number;
  /** Completed epochs. */
  epoch: number;
  /** Completed optimizer steps. */
  step: number;
  /** Whatever the caller stores (settings, history, timings). */
  [key: string]: unknown;
}

/** A loaded checkpoint. */
export interface Checkpoint {
  path: string;
  meta: CheckpointMeta;
  model: Record<string, NamedArray>;
  optimizer: OptimizerState;
}

function named(t: Tensor, data: HostArray): NamedArray {
  return { dtype: DT[t.dtype], shape: [...t.shape], data };
}

/**
 * SHA-256 (hex) of a checkpoint: its metadata JSON, then each tensor's name, dtype, shape and
 * bytes, in name order.
 */
export async function checkpointDigest(
  meta: string,
  tensors: Record<string, NamedArray>,
): Promise<string> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [enc.encode(meta + "\n")];
  for (const name of Object.keys(tensors).sort()) {
    const a = tensors[name];
    parts.push(enc.encode(`${JSON.stringify([name, a.dtype, a.shape])}\n`));
    parts.push(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) (all.set(p, off), off += p.length);
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------------------------------------
// Files.

/**
 * Write a checkpoint atomically: a crash mid-write leaves the previous checkpoint intact.
 */
export async function saveCheckpoint(
  path: string,
  what: {
    model: Module;
    optimizer: Optimizer<{ lr: number }>;
    meta: Omit<CheckpointMeta, "version">;
  },
): Promise<void> {
  const tensors: Record<string, NamedArray> = {};
  for (const [name, t] of what.model.stateDict()) {
    tensors[`model/${name}`] = named(t, await t.data());
  }
  const os = await what.optimizer.stateDict();
  for (const [k, a] of Object.entries(os.arrays)) tensors[`optim/${k}`] = a;
  const meta = {
    ...what.meta,
    version: CHECKPOINT_VERSION,
    optimizer: { kind: os.kind, scalars: os.scalars },
  };
  const json = JSON.stringify(meta);
  await saveSafetensors(path, tensors, {
    [META_KEY]: json,
    [SUM_KEY]: await checkpointDigest(json, tensors),
  });
}

/** Read a checkpoint written by {@link saveCheckpoint}; errors name the file and the problem. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let file;
  try {
    file = await loadSafetensors(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`checkpoint ${path} not found`);
    if (e instanceof SafetensorsError) {
      throw new Error(`checkpoint ${path} is damaged: ${e.message}`);
    }
    throw e;
  }
  const raw = file.metadata[META_KEY];
  if (!raw) throw new Error(`checkpoint ${path}: not an oto checkpoint (no ${META_KEY} metadata)`);
  const sum = file.metadata[SUM_KEY];
  if (sum !== undefined && sum !== await checkpointDigest(raw, file.tensors)) {
    throw new Error(
      `checkpoint ${path} is damaged: its contents do not match their SHA-256 (changed on ` +
        `disk or in transit)`,
    );
  }
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`checkpoint ${path} is damaged: its ${META_KEY} metadata is not JSON`);
  }
  const meta = parsed as CheckpointMeta & {
    optimizer: { kind: string; scalars: Record<string, unknown> };
  };
  if (meta.version !== CHECKPOINT_VERSION) {
    throw new Error(
      `checkpoint ${path}: format version ${meta.version}, this oto reads ${CHECKPOINT_VERSION}`,
    );
  }
  const model: Record<string, NamedArray> = {};
  const arrays: Record<string, NamedArray> = {};
  for (const [k, a] of Object.entries(file.tensors)) {
    if (k.startsWith("model/")) model[k.slice(6)] = a;
    else if (k.startsWith("optim/")) arrays[k.slice(6)] = a;
  }
  const { optimizer, ...rest } = meta;
  return { path, meta: rest, model, optimizer: { ...optimizer, arrays } };
}

/** Load a checkpoint's weights and optimizer state into a freshly built model and optimizer. */
export function restoreCheckpoint(
  ck: Checkpoint,
  into: { model: Module; optimizer: Optimizer<{ lr: number }> },
): void {
  const state = into.model.stateDict();
  const missing = [...state.keys()].filter((k) => !(k in ck.model));
  const extra = Object.keys(ck.model).filter((k) => !state.has(k));
  if (missing.length || extra.length) {
    throw new Error(
      `checkpoint ${ck.path} does not match the model (missing ${missing.length}: ` +
        `${missing.slice(0, 3).join(", ")}; unexpected ${extra.length}: ${
          extra.slice(0, 3).join(", ")
        })`,
    );
  }
  for (const [name, t] of state) {
    const a = ck.model[name];
    if (a.shape.length !== t.shape.length || a.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(
        `checkpoint ${ck.path}: "${name}" has shape [${a.shape}], the model has [${t.shape}]`,
      );
    }
  }
  for (const [name, t] of state) writeInto(t, ck.model[name].data, name);
  into.optimizer.loadStateDict(ck.optimizer);
}

/**
 * The metadata of a checkpoint without reading its tensors (the safetensors header only), or
 * null when there is no such file. Errors name the file.
 */
export async function readCheckpointMeta(path: string): Promise<CheckpointMeta | null> {
  let meta;
  try {
    meta = await readSafetensorsMetadata(path);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) {
      throw new Error(`checkpoint ${path}: ${(e as Error).message}`);
    }
    throw new Error(
      `checkpoint ${path} is damaged: ${e.message.replace(`safetensors ${path}: `, "")}`,
    );
  }
  if (meta === null) return null;
  const raw = meta[META_KEY];
  if (typeof raw !== "string") {
    throw new Error(`checkpoint ${path} is damaged: no ${META_KEY} metadata`);
  }
  try {
    return JSON.parse(raw) as CheckpointMeta;
  } catch (e) {
    throw new Error(`checkpoint ${path} is damaged: ${(e as Error).message}`);
  }
}
