/**
 * The serialisable state of an optimizer ({@link Optimizer.stateDict}): what a checkpoint stores
 * so training continues exactly where it stopped.
 * @module
 */
import type { NamedArray } from "../io/named_array.ts";

/** Scalars and arrays of an optimizer's state. */
export interface OptimizerState {
  /** Which optimizer wrote it ("SGD", "Adam", "AdamW", "DHSPG"). */
  kind: string;
  /** JSON-safe scalars (step counts, flags, learning rates). */
  scalars: Record<string, unknown>;
  /** Named arrays (momentum buffers, moments, masks). */
  arrays: Record<string, NamedArray>;
}
