/**
 * How one ONNX operator is imported: the roles its initializer inputs play (which decides what
 * becomes a trainable parameter, a buffer or a constant) and how it runs on oto's ops. Values
 * are oto Tensors (computed from the data) or host values (shape arithmetic and constants).
 */
import type { Tensor } from "../../tensor.ts";
import type { OnnxAttribute, OnnxNode } from "../proto.ts";
import type { HostValue } from "../values.ts";

/** A value while an imported graph runs. */
export type Val = Tensor | HostValue;

/**
 * What an initializer input is to its operator. weight/bias/gamma/beta make it a trainable
 * parameter, runningMean/runningVar a buffer; `operand` (arithmetic with data) a parameter when
 * it holds more than one float (a layer scale, a learned embedding), else a constant; `view`
 * passes the role of the view's own consumers through (Reshape, Unsqueeze, Transpose, ...).
 */
export type Role =
  | "weight"
  | "bias"
  | "gamma"
  | "beta"
  | "runningMean"
  | "runningVar"
  | "operand"
  | "view";

/** Input and output shapes of one node in the import's reference run (null: a host value). */
export interface NodeShapes {
  ins: (readonly number[] | null)[];
  outs: (readonly number[] | null)[];
}

/** What a node's implementation sees while it runs. */
export interface RunContext {
  node: OnnxNode;
  /** Default-domain operator set version of the file. */
  opset: number;
  /** Train mode (batch statistics, dropout) or eval mode. */
  training: boolean;
  /** The node's shapes in the reference run at import, when recorded. */
  ref?: NodeShapes;
  /** A Tensor for a value: host values become constants on the data's backend. */
  tensor(v: Val): Tensor;
  /** Whether a value is one of the model's parameters or buffers (an initializer). */
  isParam(v: Val | undefined): boolean;
}

/** One ONNX operator's import. */
export interface OpImport {
  /** Roles of inputs (by index) that may be initializers; `dynamic[i]`: input i is data. */
  roles?: (n: OnnxNode, dynamic: readonly boolean[]) => (Role | undefined)[];
  /** Outputs that are host values even from data inputs (Shape, Size). */
  hostOutputs?: boolean;
  /** Run the node: inputs in order (undefined where omitted), outputs in order. */
  run(ctx: RunContext, ins: readonly (Val | undefined)[]): (Val | undefined)[];
}

/** An error about one node's attribute or input (the runner adds node, op and opset). */
export class NodeError extends Error {}

function attr(n: OnnxNode, name: string): OnnxAttribute | undefined {
  return n.attrs.get(name);
}

function wrongType(name: string, want: string, a: OnnxAttribute): NodeError {
  return new NodeError(`attribute ${name} should be ${want}, got ${a.type}`);
}

/** An INT attribute (or `def`). */
export function attrInt(n: OnnxNode, name: string, def: number): number {
  const a = attr(n, name);
  if (!a) return def;
  if (a.type !== "int") throw wrongType(name, "an int", a);
  return a.value;
}

/** A FLOAT attribute (or `def`). */
export function attrFloat(n: OnnxNode, name: string, def: number): number {
  const a = attr(n, name);
  if (!a) return def;
  if (a.type === "int") return a.value;
  if (a.type !== "float") throw wrongType(name, "a float", a);
  return a.value;
}

/** An INTS attribute (or `def`). */
export function attrInts(n: OnnxNode, name: string, def: number[] | null): number[] | null {
  const a = attr(n, name);
  if (!a) return def;
  if (a.type !== "ints") throw wrongType(name, "a list of ints", a);
  return a.value;
}

/** A STRING attribute (or `def`). */
export function attrString(n: OnnxNode, name: string, def: string): string {
  const a = attr(n, name);
  if (!a) return def;
  if (a.type !== "string") throw wrongType(name, "a string", a);
  return a.value;
}

/** The error for an attribute value oto cannot run. */
export function unsupported(name: string, value: unknown, supported: string): NodeError {
  const v = Array.isArray(value) ? `[${value}]` : String(value);
  return new NodeError(`attribute ${name}=${v} is not supported (${supported})`);
}
