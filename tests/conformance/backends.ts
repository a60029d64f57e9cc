/**
 * The backends the conformance harness checks against the cpu oracle, one row each: a new
 * backend joins the harness with one row here.
 */
import type { BackendName } from "../../mod.ts";
import { dispatchCount } from "../../src/backend/webgpu.ts";
import { GPU } from "../helpers.ts";

/** One backend under test. */
export interface BackendRow {
  name: BackendName;
  /** Whether this machine runs it (when not, its checks are reported as ignored). */
  available: () => Promise<boolean>;
  /** A counter every kernel launch advances: a kernel op must advance it (a facet that ran). */
  dispatches?: () => number;
}

export const BACKENDS: readonly BackendRow[] = [
  { name: "webgpu", available: () => Promise.resolve(GPU), dispatches: dispatchCount },
  // Runs everywhere (embedded kernels, no device). No launch counter: an op without a wasm
  // kernel runs its cpu reference on the same memory by design.
  { name: "wasm", available: () => Promise.resolve(true) },
];
