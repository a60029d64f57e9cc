/** Every imported ONNX operator by op type (`oto.` types are the rewrites' fused nodes). */
import { MATH_OPS } from "./ops_math.ts";
import { NN_OPS } from "./ops_nn.ts";
import { SHAPE_OPS } from "./ops_shape.ts";
import type { OpImport } from "./types.ts";
import type { OnnxNode } from "../proto.ts";

const TABLE: Record<string, OpImport> = { ...MATH_OPS, ...SHAPE_OPS, ...NN_OPS };

/** The import of a node's operator, or undefined when oto cannot run it. */
export function opImport(n: OnnxNode): OpImport | undefined {
  if (n.domain === "oto") return TABLE[`oto.${n.opType.replace(/^oto\./, "")}`];
  if (n.domain && n.domain !== "ai.onnx") return undefined;
  return n.opType.startsWith("oto.") ? undefined : TABLE[n.opType];
}

/** The ONNX operators oto imports, sorted. */
export function supportedOps(): string[] {
  return Object.keys(TABLE).filter((k) => !k.startsWith("oto.")).sort();
}
