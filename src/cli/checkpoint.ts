/**
 * Training checkpoints: one safetensors file, written atomically, with everything a run needs
 * to continue bit-exactly where it stopped:
 * - the model's parameters and buffers (`model/<path>`; BatchNorm running statistics included);
 * - the optimizer state (`optim/...`): SGD momentum buffers and Adam moments per parameter, or
 *   DHSPG's flat moments, its G_p mask, step count and partition flag;
 * - in the `__metadata__` entry `oto.checkpoint`, a JSON object with the settings, the number of
 *   completed epochs and steps, the per-epoch history, and free-form run data.
 *
 * Data order and augmentation need no saved state: the DataLoader derives epoch `e`'s batches
 * from (seed, e) only, and the trainer reseeds the global generator (dropout seeds) from
 * (seed, e) at the start of every epoch. So a run resumed after epoch `e` replays exactly the
 * batches, seeds, learning rates and updates of an uninterrupted run.
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
import { fromHost, type HostArray, type Tensor } from "../tensor.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { DHSPG } from "../optim/dhspg.ts";
import { readBuffer, upload } from "../backend/webgpu.ts";
import {
  loadSafetensors,
  type NamedArray,
  SafetensorsError,
  saveSafetensors,
} from "../io/safetensors.ts";
import { writeInto } from "../io/weights.ts";

/** Checkpoint format version (bumped on incompatible changes). */
export const CHECKPOINT_VERSION = 1;
const META_KEY = "oto.checkpoint";
const DT = { f32: "F32", i32: "I32", u32: "U32" } as const;

/** Scalars and tensors of an optimizer's state. */
export interface OptimizerState {
  /** Which optimizer wrote it ("SGD", "Adam", "AdamW", "DHSPG"). */
  kind: string;
  /** JSON-safe scalars (step counts, flags, learning rates). */
  scalars: Record<string, unknown>;
  /** Named arrays (momentum buffers, moments, masks). */
  arrays: Record<string, NamedArray>;
}

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

// ---------------------------------------------------------------------------------------------
// Optimizer state. The optimizers keep their state in protected/private fields; this module
// reads and writes those fields by name (`opt["state"]`), and fails loudly if they change.

type EngineBuffers = { m: unknown; v: unknown; mask: unknown };
interface DhspgInternals {
  engine: EngineBuffers & { L: { n: number; ng: number } };
  hadGrad: boolean[];
  partitioned_: boolean;
}

function dhspgInternals(opt: DHSPG): DhspgInternals {
  const o = opt as unknown as DhspgInternals;
  const e = o.engine;
  if (
    !e || !("m" in e) || !("v" in e) || !("mask" in e) || !Array.isArray(o.hadGrad) ||
    typeof o.partitioned_ !== "boolean"
  ) {
    throw new Error(
      "checkpoint: DHSPG's internal state (engine m/v/mask, hadGrad, partitioned_) changed; " +
        "update src/cli/checkpoint.ts",
    );
  }
  return o;
}

async function readEngine(buf: unknown, words: number, u32 = false): Promise<HostArray> {
  if (buf instanceof Float32Array || buf instanceof Uint32Array) return buf.slice(0, words);
  const bytes = await readBuffer(buf as GPUBuffer, Math.max(words, 1) * 4);
  return u32 ? new Uint32Array(bytes, 0, words) : new Float32Array(bytes, 0, words);
}

function writeEngine(buf: unknown, data: HostArray): void {
  if (buf instanceof Float32Array || buf instanceof Uint32Array) buf.set(data);
  else if (data.length) upload(buf as GPUBuffer, data);
}

/** Read an optimizer's state to the host. */
export async function optimizerState(opt: Optimizer<{ lr: number }>): Promise<OptimizerState> {
  if (opt instanceof DHSPG) {
    const o = dhspgInternals(opt);
    const { n, ng } = o.engine.L;
    const needs = { m: opt.variant !== "sgd" || opt.firstMomentum > 0, v: opt.variant !== "sgd" };
    const arrays: Record<string, NamedArray> = {};
    if (needs.m) arrays.m = { dtype: "F32", shape: [n], data: await readEngine(o.engine.m, n) };
    if (needs.v) arrays.v = { dtype: "F32", shape: [n], data: await readEngine(o.engine.v, n) };
    arrays.mask = { dtype: "U32", shape: [ng], data: await readEngine(o.engine.mask, ng, true) };
    return {
      kind: "DHSPG",
      scalars: {
        stepCount: opt.stepCount,
        lr: opt.lr,
        partitioned: o.partitioned_,
        hadGrad: [...o.hadGrad],
        params: opt.paramNames,
      },
      arrays,
    };
  }
  const state = (opt as unknown as { state: Map<Tensor, Record<string, Tensor | number>> }).state;
  if (!(state instanceof Map)) {
    throw new Error("checkpoint: the optimizer's state map changed; update src/cli/checkpoint.ts");
  }
  const arrays: Record<string, NamedArray> = {};
  const perParam: Record<string, number>[] = [];
  const params = opt.params();
  for (let i = 0; i < params.length; i++) {
    const st = state.get(params[i]) ?? {};
    const nums: Record<string, number> = {};
    for (const [k, v] of Object.entries(st)) {
      if (typeof v === "number") nums[k] = v;
      else arrays[`${i}.${k}`] = named(v, await v.data());
    }
    perParam.push(nums);
  }
  return {
    kind: opt.constructor.name,
    scalars: { stepCount: opt.stepCount, lrs: opt.paramGroups.map((g) => g.lr), perParam },
    arrays,
  };
}

/** Write a state read by {@link optimizerState} back into an optimizer of the same kind. */
export function loadOptimizerState(opt: Optimizer<{ lr: number }>, s: OptimizerState): void {
  const kind = opt instanceof DHSPG ? "DHSPG" : opt.constructor.name;
  if (s.kind !== kind) {
    throw new Error(`checkpoint: the optimizer state is from ${s.kind}, the run uses ${kind}`);
  }
  const sc = s.scalars;
  if (opt instanceof DHSPG) {
    const o = dhspgInternals(opt);
    const names = sc.params as string[];
    if (JSON.stringify(names) !== JSON.stringify(opt.paramNames)) {
      throw new Error("checkpoint: DHSPG parameters differ from the checkpoint's");
    }
    const { n, ng } = o.engine.L;
    for (const [k, len] of [["m", n], ["v", n], ["mask", ng]] as const) {
      const a = s.arrays[k];
      if (!a) continue;
      if (a.data.length !== len) {
        throw new Error(`checkpoint: DHSPG ${k} has ${a.data.length} values, expected ${len}`);
      }
      writeEngine(o.engine[k], a.data);
    }
    opt.stepCount = sc.stepCount as number;
    opt.lr = sc.lr as number;
    o.partitioned_ = sc.partitioned as boolean;
    (sc.hadGrad as boolean[]).forEach((v, i) => (o.hadGrad[i] = v));
    return;
  }
  const state = (opt as unknown as { state: Map<Tensor, Record<string, Tensor | number>> }).state;
  for (const st of state.values()) {
    for (const v of Object.values(st)) if (typeof v !== "number") v.dispose();
  }
  state.clear();
  const params = opt.params();
  const perParam = sc.perParam as Record<string, number>[];
  if (perParam.length !== params.length) {
    throw new Error(
      `checkpoint: the optimizer state has ${perParam.length} parameters, the model ${params.length}`,
    );
  }
  params.forEach((p, i) => {
    const st: Record<string, Tensor | number> = { ...perParam[i] };
    for (const [key, a] of Object.entries(s.arrays)) {
      const dot = key.indexOf(".");
      if (Number(key.slice(0, dot)) !== i) continue;
      if (a.data.length !== p.size) {
        throw new Error(
          `checkpoint: optimizer ${key} has ${a.data.length} values, expected ${p.size}`,
        );
      }
      st[key.slice(dot + 1)] = fromHost(a.data, p.shape, p.dtype, p.backend).keep();
    }
    if (Object.keys(st).length) state.set(p, st);
  });
  opt.stepCount = sc.stepCount as number;
  (sc.lrs as number[]).forEach((lr, i) => (opt.paramGroups[i].lr = lr));
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
  const os = await optimizerState(what.optimizer);
  for (const [k, a] of Object.entries(os.arrays)) tensors[`optim/${k}`] = a;
  const meta = {
    ...what.meta,
    version: CHECKPOINT_VERSION,
    optimizer: { kind: os.kind, scalars: os.scalars },
  };
  await saveSafetensors(path, tensors, { [META_KEY]: JSON.stringify(meta) });
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
  const meta = JSON.parse(raw) as CheckpointMeta & {
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
  loadOptimizerState(into.optimizer, ck.optimizer);
}
