/**
 * Reading ONNX files: the protobuf (via `npm:onnx-proto`) decoded into plain records the
 * importer works with: nodes with typed attributes, initializers as host values, graph inputs
 * and outputs with their declared shapes (a string or missing dimension is dynamic).
 */
// Inline npm: specifier: mod.ts must load without the project's import map (see writer.ts).
// deno-lint-ignore no-import-prefix
import onnxProto from "npm:onnx-proto@8.0.1";
import { type HostValue, hostValue } from "./values.ts";

const { onnx } = onnxProto;

type Long = { toNumber(): number };
type Int = number | Long | null | undefined;

/** A protobuf int64 as a number (clamped to ±2^63 as a float: only ever used as an index). */
export function int(v: Int): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "number" ? v : v.toNumber();
}

/** One attribute with its ONNX type. */
export type OnnxAttribute =
  | { type: "int"; value: number }
  | { type: "float"; value: number }
  | { type: "string"; value: string }
  | { type: "ints"; value: number[] }
  | { type: "floats"; value: number[] }
  | { type: "strings"; value: string[] }
  | { type: "tensor"; value: HostValue }
  | { type: "graph" }
  | { type: "other"; code: number };

/** One ONNX node. */
export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  /** Input value names ("" for an omitted optional input). */
  inputs: string[];
  outputs: string[];
  attrs: Map<string, OnnxAttribute>;
}

/** A graph input or output: name, element type code and declared dims (null = dynamic). */
export interface OnnxValueInfo {
  name: string;
  elemType: number;
  dims: (number | null)[] | null;
}

/** The decoded model. */
export interface OnnxModel {
  /** Version of the default ("" / "ai.onnx") operator set. */
  opset: number;
  irVersion: number;
  producer: string;
  graphName: string;
  nodes: OnnxNode[];
  initializers: Map<string, HostValue>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

const ELEM_NAMES: Record<number, string> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
  14: "complex64",
  15: "complex128",
  16: "bfloat16",
};

/** Name of an ONNX element type code ("float32", "int64", ...). */
export function elemName(code: number): string {
  return ELEM_NAMES[code] ?? `type ${code}`;
}

function half(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1, e = (bits >> 10) & 0x1f, f = bits & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Decode a TensorProto into a host value (floats become float32, integers and bools ints). */
export function decodeTensor(t: InstanceType<typeof onnx.TensorProto>, where: string): HostValue {
  const name = t.name || where;
  const dims = (t.dims ?? []).map((d) => int(d as Int));
  const code = t.dataType ?? 0;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || t.externalData?.length) {
    throw new Error(
      `importOnnx: tensor "${name}" keeps its data in an external file, which is not ` +
        `supported; save the model with all tensors inside (onnx.save(model, path, ` +
        `save_as_external_data=False))`,
    );
  }
  const n = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const read = (size: number, get: (off: number) => number, fallback: ArrayLike<number>) => {
    const out = new Array<number>(n);
    if (view) {
      if (raw!.byteLength !== n * size) {
        throw new Error(
          `importOnnx: tensor "${name}" [${dims}] has ${raw!.byteLength} bytes, expected ` +
            `${n * size}`,
        );
      }
      for (let i = 0; i < n; i++) out[i] = get(i * size);
    } else {
      if (fallback.length !== n && !(n === 0 && fallback.length === 0)) {
        throw new Error(
          `importOnnx: tensor "${name}" [${dims}] has ${fallback.length} values, expected ${n}`,
        );
      }
      for (let i = 0; i < n; i++) out[i] = fallback[i];
    }
    return out;
  };
  switch (code) {
    case 1: {
      if (view) {
        if (raw!.byteLength !== n * 4) {
          throw new Error(`importOnnx: tensor "${name}" [${dims}] has the wrong byte length`);
        }
        // Copy into an aligned buffer (raw data may start at any offset of the file).
        const f = new Float32Array(n);
        new Uint8Array(f.buffer).set(raw!);
        return hostValue("float", dims, f);
      }
      return hostValue("float", dims, Float32Array.from(read(4, () => 0, t.floatData ?? [])));
    }
    case 11:
      return hostValue(
        "float",
        dims,
        Float32Array.from(read(8, (o) => view!.getFloat64(o, true), t.doubleData ?? [])),
      );
    case 10:
      return hostValue(
        "float",
        dims,
        Float32Array.from(read(2, (o) => half(view!.getUint16(o, true)), t.int32Data ?? []), (
          v,
        ) => view ? v : half(v)),
      );
    case 7:
      return hostValue(
        "int",
        dims,
        read(
          8,
          (o) => Number(view!.getBigInt64(o, true)),
          (t.int64Data ?? []).map((v) => int(v as Int)),
        ),
      );
    case 13:
      return hostValue(
        "int",
        dims,
        read(
          8,
          (o) => Number(view!.getBigUint64(o, true)),
          (t.uint64Data ?? []).map((v) => int(v as Int)),
        ),
      );
    case 6:
      return hostValue("int", dims, read(4, (o) => view!.getInt32(o, true), t.int32Data ?? []));
    case 12:
      return hostValue(
        "int",
        dims,
        read(4, (o) => view!.getUint32(o, true), (t.uint64Data ?? []).map((v) => int(v as Int))),
      );
    case 5:
      return hostValue("int", dims, read(2, (o) => view!.getInt16(o, true), t.int32Data ?? []));
    case 4:
      return hostValue("int", dims, read(2, (o) => view!.getUint16(o, true), t.int32Data ?? []));
    case 3:
      return hostValue("int", dims, read(1, (o) => view!.getInt8(o), t.int32Data ?? []));
    case 2:
      return hostValue("int", dims, read(1, (o) => view!.getUint8(o), t.int32Data ?? []));
    case 9:
      return hostValue(
        "bool",
        dims,
        read(1, (o) => (view!.getUint8(o) ? 1 : 0), t.int32Data ?? []),
      );
    default:
      throw new Error(
        `importOnnx: tensor "${name}" has element type ${elemName(code)}, which oto cannot ` +
          `read (supported: float32/16/64, int8-64, uint8-64, bool)`,
      );
  }
}

function decodeAttribute(
  a: InstanceType<typeof onnx.AttributeProto>,
  where: string,
): OnnxAttribute {
  const T = onnx.AttributeProto.AttributeType;
  const text = (b: Uint8Array | null | undefined) =>
    new TextDecoder().decode(b ?? new Uint8Array());
  switch (a.type) {
    case T.INT:
      return { type: "int", value: int(a.i as Int) };
    case T.FLOAT:
      return { type: "float", value: a.f ?? 0 };
    case T.STRING:
      return { type: "string", value: text(a.s) };
    case T.INTS:
      return { type: "ints", value: (a.ints ?? []).map((v) => int(v as Int)) };
    case T.FLOATS:
      return { type: "floats", value: [...(a.floats ?? [])] };
    case T.STRINGS:
      return { type: "strings", value: (a.strings ?? []).map(text) };
    case T.TENSOR:
      return {
        type: "tensor",
        value: decodeTensor(a.t as InstanceType<typeof onnx.TensorProto>, `${where}.${a.name}`),
      };
    case T.GRAPH:
    case T.GRAPHS:
      return { type: "graph" };
    default:
      return { type: "other", code: a.type ?? 0 };
  }
}

function valueInfo(v: InstanceType<typeof onnx.ValueInfoProto>): OnnxValueInfo {
  const tt = v.type?.tensorType;
  const dims = tt?.shape
    ? (tt.shape.dim ?? []).map((d) =>
      d.dimValue !== null && d.dimValue !== undefined && int(d.dimValue as Int) > 0 &&
        !d.dimParam
        ? int(d.dimValue as Int)
        : null
    )
    : null;
  return { name: v.name ?? "", elemType: tt?.elemType ?? 0, dims };
}

/**
 * Decode ONNX bytes. Throws one line naming the problem for files that are not ONNX models or
 * use what the importer cannot read (external data, an operator set other than the default).
 */
export function decodeModel(bytes: Uint8Array, file = "<bytes>"): OnnxModel {
  let m: InstanceType<typeof onnx.ModelProto>;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`importOnnx: ${file} is not an ONNX model (${(e as Error).message})`);
  }
  const g = m.graph;
  if (!g || !(g.node?.length)) {
    throw new Error(`importOnnx: ${file} has no graph nodes; is it an ONNX model?`);
  }
  let opset = 0;
  for (const o of m.opsetImport ?? []) {
    if (!o.domain || o.domain === "ai.onnx") opset = int(o.version as Int);
  }
  if (!opset) throw new Error(`importOnnx: ${file} imports no default (ai.onnx) operator set`);
  const initializers = new Map<string, HostValue>();
  for (const t of g.initializer ?? []) {
    initializers.set(
      t.name ?? "",
      decodeTensor(t as InstanceType<typeof onnx.TensorProto>, "initializer"),
    );
  }
  if (g.sparseInitializer?.length) {
    throw new Error(`importOnnx: ${file} has sparse initializers, which are not supported`);
  }
  const nodes: OnnxNode[] = (g.node ?? []).map((n, i) => {
    const name = n.name || `${n.opType}_${i}`;
    const attrs = new Map<string, OnnxAttribute>();
    for (const a of n.attribute ?? []) {
      attrs.set(
        a.name ?? "",
        decodeAttribute(a as InstanceType<typeof onnx.AttributeProto>, `node ${name}`),
      );
    }
    return {
      name,
      opType: n.opType ?? "",
      domain: n.domain ?? "",
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs,
    };
  });
  return {
    opset,
    irVersion: int(m.irVersion as Int),
    producer: `${m.producerName ?? ""} ${m.producerVersion ?? ""}`.trim(),
    graphName: g.name ?? "",
    nodes,
    initializers,
    // Older exporters also list initializers as graph inputs: those are not real inputs.
    inputs: (g.input ?? []).map((v) => valueInfo(v as InstanceType<typeof onnx.ValueInfoProto>))
      .filter((v) => !initializers.has(v.name)),
    outputs: (g.output ?? []).map((v) => valueInfo(v as InstanceType<typeof onnx.ValueInfoProto>)),
  };
}
