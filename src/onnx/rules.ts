/**
 * ONNX facet of an op: how one recorded op is written as ONNX nodes. The types live in the op
 * spec leaf (`src/ops/spec.ts`) beside the other facets.
 */
export type { OnnxAttr, OnnxEmitter, OnnxRule } from "../ops/spec.ts";
