/**
 * Builds ONNX models with `npm:onnx-proto`: the emitter handed to every op's `onnx` facet,
 * plus graph inputs, outputs and initializers. Opset 17 (LayerNormalization is native).
 */
// An inline npm: specifier, not the import map's bare name: mod.ts must load from any folder
// (and from a URL) without the project's deno.json.
// deno-lint-ignore no-import-prefix
import onnxProto from "npm:onnx-proto@8.0.1";
import type { OnnxAttr, OnnxEmitter } from "./rules.ts";

const { onnx } = onnxProto;

/** The opset the writer targets. */
export const OPSET = 17;

const ELEM = { f32: 1, i32: 6, i64: 7, u32: 12 } as const;

/** Element types of tensors the writer declares. */
export type OnnxDtype = keyof typeof ELEM;

type Attr = InstanceType<typeof onnx.AttributeProto>;

function attribute(name: string, v: OnnxAttr): Attr {
  const A = onnx.AttributeProto;
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new Error(`onnx: attribute ${name}=${v} must be an integer`);
    return A.create({ name, type: A.AttributeType.INT, i: v });
  }
  if (typeof v === "string") {
    return A.create({ name, type: A.AttributeType.STRING, s: new TextEncoder().encode(v) });
  }
  if (Array.isArray(v)) return A.create({ name, type: A.AttributeType.INTS, ints: v });
  if ("float" in v) return A.create({ name, type: A.AttributeType.FLOAT, f: v.float });
  return A.create({ name, type: A.AttributeType.FLOATS, floats: v.floats });
}

function rawBytes(values: ArrayLike<number>, dtype: OnnxDtype): Uint8Array {
  if (dtype === "i64") {
    const a = new BigInt64Array(values.length);
    for (let i = 0; i < values.length; i++) a[i] = BigInt(Math.trunc(values[i]));
    return new Uint8Array(a.buffer);
  }
  const a = dtype === "f32"
    ? Float32Array.from(values)
    : dtype === "u32"
    ? Uint32Array.from(values)
    : Int32Array.from(values);
  return new Uint8Array(a.buffer);
}

/** A dimension of a declared input/output: a size, or a symbolic name (a dynamic axis). */
export type OnnxDim = number | string;

function valueInfo(name: string, shape: readonly OnnxDim[], dtype: OnnxDtype) {
  const dim = shape.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d }));
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: ELEM[dtype], shape: { dim } } },
  });
}

/** Accumulates one ONNX graph. */
export class OnnxBuilder implements OnnxEmitter {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly inits: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: ReturnType<typeof valueInfo>[] = [];
  private readonly outputs: ReturnType<typeof valueInfo>[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, OnnxAttr> = {}) {
    this.nodes.push(onnx.NodeProto.create({
      name: `${opType}_${this.nodes.length}`,
      opType,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    }));
  }

  fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`; while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  constant(values: number[], shape: number[], dtype: OnnxDtype = "f32"): string {
    const name = this.fresh("const");
    this.initializer(name, values, shape, dtype);
    return name;
  }

  /** Add a named initializer (weights). */
  initializer(
    name: string,
    values: ArrayLike<number>,
    shape: readonly number[],
    dtype: OnnxDtype = "f32",
  ): void {
    this.names.add(name);
    this.inits.push(onnx.TensorProto.create({
      name,
      dims: [...shape],
      dataType: ELEM[dtype],
      rawData: rawBytes(values, dtype),
    }));
  }

  /** Declare a graph input. */
  input(name: string, shape: readonly OnnxDim[], dtype: OnnxDtype = "f32"): void {
    this.names.add(name);
    this.inputs.push(valueInfo(name, shape, dtype));
  }

  /** Declare a graph output. */
  output(name: string, shape: readonly OnnxDim[], dtype: OnnxDtype = "f32"): void {
    this.outputs.push(valueInfo(name, shape, dtype));
  }

  /** Serialise the model, with `metadata` as its `metadata_props` (key/value strings). */
  encode(graphName = "oto", metadata: Readonly<Record<string, string>> = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: "", version: OPSET }],
      producerName: "oto",
      producerVersion: "0.1.0",
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: onnx.GraphProto.create({
        name: graphName,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
