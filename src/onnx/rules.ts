/**
 * ONNX facet of an op: how one recorded op is written as ONNX nodes.
 */
import type { OpInfo } from "../ops/registry.ts";

/** Attribute values the ONNX writer understands. */
export type OnnxAttr = number | number[] | string | { float: number } | { floats: number[] };

/** What an op's ONNX rule can do while the graph is written. */
export interface OnnxEmitter {
  /** Add a node; returns nothing. Attribute numbers are written as INT unless `{float}`. */
  node(opType: string, inputs: string[], outputs: string[], attrs?: Record<string, OnnxAttr>): void;
  /** Add a constant initializer and return its name. */
  constant(values: number[], shape: number[], dtype?: "f32" | "i64" | "i32"): string;
  /** A fresh tensor name for intermediate values. */
  fresh(hint: string): string;
}

/** Write one op: `inputs`/`outputs` are the ONNX names of the op's tensors. */
export type OnnxRule<A = unknown> = (
  e: OnnxEmitter,
  io: { inputs: string[]; outputs: string[]; attrs: A; info: OpInfo },
) => void;
