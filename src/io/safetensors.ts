/**
 * The [safetensors](https://github.com/huggingface/safetensors) format over plain typed arrays.
 *
 * Layout: an 8-byte little-endian unsigned header length `N`, `N` bytes of UTF-8 JSON (padded
 * with spaces; this writer pads to a multiple of 8), then the data buffer. The header maps each
 * tensor name to `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the start of
 * the data buffer) plus an optional `"__metadata__"` string→string map. All data is
 * little-endian. The data buffer must be covered exactly by the tensors: no overlaps, no holes,
 * no trailing bytes (as in the reference implementation).
 *
 * Writing supports F32, I32 and U32. Reading additionally converts, noting the original dtype in
 * {@link NamedArray.storedDtype}:
 * - F16, BF16 → F32 (exact); F64 → F32 (rounded; a finite value that overflows F32 is an error);
 * - BOOL, U8, I8, U16, I16 → I32 (exact); I64 → I32 and U64 → U32 (an error if a value is out
 *   of range).
 *
 * Other dtypes (F8_*, ...) are rejected with an error naming the tensor and dtype.
 *
 * @module
 */

import { writeFileAtomic } from "./atomic.ts";
import type { NamedArray, NamedArrayDtype, SafetensorsDtype } from "./named_array.ts";

export type { NamedArray, NamedArrayDtype, SafetensorsDtype };

/** A decoded safetensors file. */
export interface SafetensorsFile {
  /** Tensors in header order. */
  tensors: Record<string, NamedArray>;
  /** The `"__metadata__"` map, `{}` when absent. */
  metadata: Record<string, string>;
}

/** Error for malformed files, invalid tensors and model mismatches; names the source and tensor. */
export class SafetensorsError extends Error {
  /** The file path (or label such as `"<bytes>"`) the error refers to. */
  readonly source: string;
  /** The offending tensor, when the error concerns a single tensor. */
  readonly tensor?: string;

  constructor(source: string, message: string, tensor?: string) {
    super(`safetensors ${source}: ${message}`);
    this.name = "SafetensorsError";
    this.source = source;
    this.tensor = tensor;
  }
}

/** A tensor whose shape in the file differs from the model's. */
export interface ShapeMismatch {
  name: string;
  /** Shape in the file. */
  shape: number[];
  /** Shape the model expects. */
  expected: number[];
}

/** Thrown by {@link checkAgainst}; lists every problem, not just the first. */
export class SafetensorsMismatchError extends SafetensorsError {
  constructor(
    source: string,
    message: string,
    /** Tensors the model expects that the file lacks. */
    readonly missing: string[],
    /** Tensors in the file that the model does not have. */
    readonly unexpected: string[],
    /** Tensors present in both with different shapes. */
    readonly mismatched: ShapeMismatch[],
  ) {
    super(source, message);
    this.name = "SafetensorsMismatchError";
  }
}

/** Largest header accepted (same limit as the reference implementation). */
export const MAX_HEADER_BYTES = 100_000_000;

interface DtypeInfo {
  size: number;
  out: NamedArrayDtype;
}

const DTYPES: Record<SafetensorsDtype, DtypeInfo> = {
  F32: { size: 4, out: "F32" },
  I32: { size: 4, out: "I32" },
  U32: { size: 4, out: "U32" },
  F64: { size: 8, out: "F32" },
  F16: { size: 2, out: "F32" },
  BF16: { size: 2, out: "F32" },
  I64: { size: 8, out: "I32" },
  U64: { size: 8, out: "U32" },
  I16: { size: 2, out: "I32" },
  U16: { size: 2, out: "I32" },
  I8: { size: 1, out: "I32" },
  U8: { size: 1, out: "I32" },
  BOOL: { size: 1, out: "I32" },
};

/** Dtypes defined by the format that this module does not read (named as such in errors). */
const KNOWN_UNSUPPORTED = new Set(["F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4"]);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const METADATA_KEY = "__metadata__";

/**
 * Encode tensors (and optional string metadata) as safetensors bytes.
 *
 * Output is deterministic: tensors are laid out sorted by name (UTF-16 code-unit order), metadata
 * keys are sorted, `"__metadata__"` comes first in the header and is omitted when there is no
 * metadata, and the header is padded with spaces to a multiple of 8 bytes so every tensor starts
 * 4-byte aligned in the file.
 *
 * @throws {SafetensorsError} if a tensor's shape, dtype and data disagree, a name is
 *   `"__metadata__"`, or a metadata value is not a string.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(
 *   { "fc.weight": { dtype: "F32", shape: [2, 3], data: new Float32Array(6) } },
 *   { format: "oto" },
 * );
 * const { tensors, metadata } = decodeSafetensors(bytes);
 * console.log(tensors["fc.weight"].shape, metadata.format); // [2, 3] "oto"
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, NamedArray>,
  metadata?: Record<string, string>,
): Uint8Array {
  return encodeImpl(tensors, metadata, "<encode>");
}

function encodeImpl(
  tensors: Record<string, NamedArray>,
  metadata: Record<string, string> | undefined,
  source: string,
): Uint8Array {
  const fail = (msg: string, tensor?: string): never => {
    throw new SafetensorsError(source, msg, tensor);
  };
  const names = Object.keys(tensors).sort();
  const parts: string[] = [];

  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort();
    for (const k of keys) {
      if (typeof metadata[k] !== "string") {
        fail(`metadata value for ${JSON.stringify(k)} must be a string, got ${typeof metadata[k]}`);
      }
    }
    if (keys.length > 0) {
      const body = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`);
      parts.push(`${JSON.stringify(METADATA_KEY)}:{${body.join(",")}}`);
    }
  }

  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const q = JSON.stringify(name);
    if (name === METADATA_KEY) fail(`tensor name ${q} is reserved for metadata`, name);
    const info = t?.dtype === "F32" || t?.dtype === "I32" || t?.dtype === "U32"
      ? DTYPES[t.dtype]
      : fail(`tensor ${q} has dtype ${String(t?.dtype)}; can only write F32, I32, U32`, name);
    const ctor = t.dtype === "F32" ? Float32Array : t.dtype === "I32" ? Int32Array : Uint32Array;
    if (!(t.data instanceof ctor)) {
      fail(
        `tensor ${q} has dtype ${t.dtype} but its data is a ${
          t.data?.constructor?.name ?? typeof t.data
        }, expected ${ctor.name}`,
        name,
      );
    }
    const numel = elementCount(t.shape);
    if (numel === undefined) {
      fail(`tensor ${q} has invalid shape ${fmtShape(t.shape)}`, name);
    } else if (numel !== t.data.length) {
      fail(
        `tensor ${q} has shape ${
          fmtShape(t.shape)
        } (${numel} elements) but its data has ${t.data.length} elements`,
        name,
      );
    }
    const end = offset + numel! * info.size;
    parts.push(
      `${q}:{"dtype":"${t.dtype}","shape":${fmtShape(t.shape)},"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }

  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);

  let pos = 8 + headerLen;
  for (const name of names) {
    const data = tensors[name].data;
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    out.set(raw, pos);
    if (!LITTLE_ENDIAN) swapBytes(out.subarray(pos, pos + raw.length), 4);
    pos += raw.length;
  }
  return out;
}

/**
 * Decode and validate safetensors bytes. The returned arrays are fresh copies (they never alias
 * `bytes`); tensors stored as F64/F16/BF16/I64/... are converted as described in the module docs
 * and carry {@link NamedArray.storedDtype}.
 *
 * @param bytes The whole file.
 * @param source Name used in error messages, normally the file path.
 * @throws {SafetensorsError} naming `source` (and the tensor, where relevant) if the file is
 *   truncated, the header length or JSON is invalid, offsets are out of range, overlap, leave
 *   holes or do not match shape × dtype size, a dtype is unsupported, or a conversion overflows.
 *
 * @example
 * ```ts
 * import { decodeSafetensors } from "./safetensors.ts";
 * const bytes = await Deno.readFile("model.safetensors");
 * const { tensors } = decodeSafetensors(bytes, "model.safetensors");
 * for (const [name, t] of Object.entries(tensors)) console.log(name, t.dtype, t.shape);
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, source = "<bytes>"): SafetensorsFile {
  const fail = (msg: string, tensor?: string): never => {
    throw new SafetensorsError(source, msg, tensor);
  };
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes, too short for the 8-byte header length (truncated?)`);
  }
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) {
    fail(
      `header length ${n64} exceeds the ${
        bytes.length - 8
      } bytes after the length prefix (truncated, or not a safetensors file?)`,
    );
  }
  const headerLen = Number(n64);
  if (headerLen > MAX_HEADER_BYTES) {
    fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (headerLen < 2 || bytes[8] !== 0x7b) {
    fail(`header does not start with '{' (not a safetensors file?)`);
  }

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return fail("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(header)) return fail("header is not a JSON object");

  const metadata: Record<string, string> = {};
  const meta = header[METADATA_KEY];
  if (meta !== undefined) {
    if (!isPlainObject(meta)) fail(`"${METADATA_KEY}" is not an object of strings`);
    for (const [k, v] of Object.entries(meta as Record<string, unknown>)) {
      if (typeof v !== "string") {
        fail(`"${METADATA_KEY}" value for ${JSON.stringify(k)} is not a string`);
      }
      setOwn(metadata, k, v as string);
    }
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  interface Entry {
    name: string;
    dtype: SafetensorsDtype;
    shape: number[];
    numel: number;
    begin: number;
    end: number;
  }
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    const q = `tensor ${JSON.stringify(name)}`;
    if (!isPlainObject(value)) fail(`${q}: header entry is not an object`, name);
    const { dtype, shape, data_offsets: offs } = value as Record<string, unknown>;
    if (typeof dtype !== "string") fail(`${q}: missing or non-string "dtype"`, name);
    if (!Object.hasOwn(DTYPES, dtype as string)) {
      const why = KNOWN_UNSUPPORTED.has(dtype as string) ? "unsupported" : "unknown";
      fail(
        `${q} has ${why} dtype ${JSON.stringify(dtype)} (readable: ${
          Object.keys(DTYPES).join(", ")
        })`,
        name,
      );
    }
    const numel = Array.isArray(shape) ? elementCount(shape) : undefined;
    if (numel === undefined) {
      fail(`${q}: "shape" ${JSON.stringify(shape)} is not an array of non-negative integers`, name);
    }
    if (
      !Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt) || offs[0] > offs[1]
    ) {
      fail(
        `${q}: "data_offsets" ${JSON.stringify(offs)} is not [begin, end] with begin <= end`,
        name,
      );
    }
    const [begin, end] = offs as [number, number];
    if (end > dataLen) {
      fail(
        `${q} data_offsets [${begin},${end}] extend past the end of the ${dataLen}-byte data buffer (truncated?)`,
        name,
      );
    }
    const size = numel! * DTYPES[dtype as SafetensorsDtype].size;
    if (end - begin !== size) {
      fail(
        `${q} has shape ${
          fmtShape(shape as number[])
        } and dtype ${dtype} (${size} bytes) but data_offsets [${begin},${end}] span ${
          end - begin
        } bytes`,
        name,
      );
    }
    entries.push({
      name,
      dtype: dtype as SafetensorsDtype,
      shape: (shape as number[]).slice(),
      numel: numel!,
      begin,
      end,
    });
  }

  // The data buffer must be covered exactly: no overlaps, no holes, no trailing bytes.
  const byOffset = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev: Entry | undefined;
  for (const e of byOffset) {
    if (e.begin < covered) {
      fail(
        `tensors ${JSON.stringify(prev!.name)} [${prev!.begin},${prev!.end}] and ${
          JSON.stringify(e.name)
        } [${e.begin},${e.end}] have overlapping data_offsets`,
        e.name,
      );
    }
    if (e.begin > covered) {
      fail(
        `data bytes [${covered},${e.begin}) before tensor ${
          JSON.stringify(e.name)
        } are not covered by any tensor`,
        e.name,
      );
    }
    covered = e.end;
    prev = e;
  }
  if (covered !== dataLen) {
    fail(`${dataLen - covered} trailing bytes after the last tensor's data`);
  }

  const tensors: Record<string, NamedArray> = {};
  for (const e of entries) {
    // slice() copies into a fresh, aligned buffer that we own.
    const raw = bytes.slice(dataStart + e.begin, dataStart + e.end);
    const size = DTYPES[e.dtype].size;
    if (!LITTLE_ENDIAN && size > 1) swapBytes(raw, size);
    setOwn(tensors, e.name, convert(raw, e, (msg) => fail(msg, e.name)));
  }
  return { tensors, metadata };
}

function convert(
  raw: Uint8Array,
  e: { name: string; dtype: SafetensorsDtype; shape: number[]; numel: number },
  fail: (msg: string) => never,
): NamedArray {
  const { dtype, shape } = e;
  const buf = raw.buffer as ArrayBuffer;
  const q = `tensor ${JSON.stringify(e.name)}`;
  switch (dtype) {
    case "F32":
      return { dtype, shape, data: new Float32Array(buf) };
    case "I32":
      return { dtype, shape, data: new Int32Array(buf) };
    case "U32":
      return { dtype, shape, data: new Uint32Array(buf) };
    case "F64": {
      const src = new Float64Array(buf);
      const data = new Float32Array(src);
      for (let i = 0; i < src.length; i++) {
        if (!Number.isFinite(data[i]) && Number.isFinite(src[i])) {
          fail(`${q} (F64 converted to F32): element ${i} = ${src[i]} overflows F32`);
        }
      }
      return { dtype: "F32", shape, data, storedDtype: dtype };
    }
    case "F16": {
      const src = new Uint16Array(buf);
      const table = halfTable();
      const data = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) data[i] = table[src[i]];
      return { dtype: "F32", shape, data, storedDtype: dtype };
    }
    case "BF16": {
      const src = new Uint16Array(buf);
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return { dtype: "F32", shape, data: new Float32Array(bits.buffer), storedDtype: dtype };
    }
    case "I64":
    case "U64": {
      const src = dtype === "I64" ? new BigInt64Array(buf) : new BigUint64Array(buf);
      const [lo, hi, out] = dtype === "I64"
        ? [-(2n ** 31n), 2n ** 31n - 1n, "I32" as const]
        : [0n, 2n ** 32n - 1n, "U32" as const];
      const data = out === "I32" ? new Int32Array(src.length) : new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        if (v < lo || v > hi) {
          fail(`${q} (${dtype} converted to ${out}): element ${i} = ${v} is out of ${out} range`);
        }
        data[i] = Number(v);
      }
      return { dtype: out, shape, data, storedDtype: dtype };
    }
    case "I16":
      return {
        dtype: "I32",
        shape,
        data: Int32Array.from(new Int16Array(buf)),
        storedDtype: dtype,
      };
    case "U16":
      return {
        dtype: "I32",
        shape,
        data: Int32Array.from(new Uint16Array(buf)),
        storedDtype: dtype,
      };
    case "I8":
      return { dtype: "I32", shape, data: Int32Array.from(new Int8Array(buf)), storedDtype: dtype };
    case "U8":
    case "BOOL":
      return { dtype: "I32", shape, data: Int32Array.from(raw), storedDtype: dtype };
  }
}

/**
 * Encode `tensors` and atomically write them to `path` (see {@link encodeSafetensors} and
 * {@link writeFileAtomic}): a crash or error mid-write leaves any previous file intact.
 *
 * @example
 * ```ts
 * import { saveSafetensors } from "./safetensors.ts";
 * await saveSafetensors("model.safetensors", {
 *   "conv1.weight": { dtype: "F32", shape: [16, 3, 3, 3], data: new Float32Array(432) },
 *   "step": { dtype: "I32", shape: [], data: new Int32Array([1000]) },
 * }, { format: "oto" });
 * ```
 */
export async function saveSafetensors(
  path: string | URL,
  tensors: Record<string, NamedArray>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeImpl(tensors, metadata, String(path)));
}

/**
 * Read and decode a safetensors file; errors name `path`. See {@link decodeSafetensors}.
 *
 * @example
 * ```ts
 * import { checkAgainst, loadSafetensors } from "./safetensors.ts";
 * const { tensors, metadata } = await loadSafetensors("model.safetensors");
 * checkAgainst({ "conv1.weight": [16, 3, 3, 3] }, tensors, "model.safetensors");
 * ```
 */
export async function loadSafetensors(path: string | URL): Promise<SafetensorsFile> {
  return decodeSafetensors(await Deno.readFile(path), String(path));
}

/**
 * The `__metadata__` of a safetensors file, reading only its header (not the tensors), or null
 * when there is no such file. A file too short, or with an implausible or unreadable header,
 * throws a {@link SafetensorsError} naming it; other failures to open it throw as they came.
 */
export async function readSafetensorsMetadata(
  path: string,
): Promise<Record<string, string> | null> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    const head = new Uint8Array(8);
    if ((await f.read(head)) !== 8) throw new Error("shorter than a safetensors header");
    const n = Number(new DataView(head.buffer).getBigUint64(0, true));
    if (!(n > 0 && n <= MAX_HEADER_BYTES)) throw new Error(`header length ${n} is not plausible`);
    const buf = new Uint8Array(n);
    for (let got = 0; got < n;) {
      const r = await f.read(buf.subarray(got));
      if (r === null) throw new Error("the header is truncated");
      got += r;
    }
    const meta = JSON.parse(new TextDecoder().decode(buf))?.__metadata__ ?? {};
    if (typeof meta !== "object" || Array.isArray(meta)) throw new Error("bad __metadata__");
    return meta as Record<string, string>;
  } catch (e) {
    throw new SafetensorsError(path, (e as Error).message);
  } finally {
    f.close();
  }
}

/** Most names listed per problem category in a {@link checkAgainst} error. */
const MAX_LISTED = 20;

/**
 * Check loaded tensors against the shapes a model expects. Throws one
 * {@link SafetensorsMismatchError} listing every missing tensor, unexpected tensor and
 * mis-shaped tensor (up to 20 of each in the message; all of them in the error's fields). A single
 * problem gives a one-line message such as
 * `safetensors model.safetensors: tensor "conv1.weight" has shape [8,3,3,3], model expects [16,3,3,3]`.
 *
 * @param expected Tensor name → shape the model expects.
 * @param loaded Tensors from the file (only `shape` is used).
 * @param source Name used in the error message, normally the file path.
 *
 * @example
 * ```ts
 * import { checkAgainst, loadSafetensors } from "./safetensors.ts";
 * const { tensors } = await loadSafetensors("model.safetensors");
 * checkAgainst({ "fc.weight": [10, 64], "fc.bias": [10] }, tensors, "model.safetensors");
 * ```
 */
export function checkAgainst(
  expected: Record<string, readonly number[]>,
  loaded: Record<string, { shape: readonly number[] }>,
  source = "<bytes>",
): void {
  const missing: string[] = [];
  const mismatched: ShapeMismatch[] = [];
  for (const [name, shape] of Object.entries(expected)) {
    if (!Object.hasOwn(loaded, name)) {
      missing.push(name);
    } else if (!sameShape(loaded[name].shape, shape)) {
      mismatched.push({ name, shape: [...loaded[name].shape], expected: [...shape] });
    }
  }
  const unexpected = Object.keys(loaded).filter((name) => !Object.hasOwn(expected, name));

  const lines: string[] = [];
  const list = <T>(items: T[], line: (x: T) => string) => {
    for (const x of items.slice(0, MAX_LISTED)) lines.push(line(x));
    if (items.length > MAX_LISTED) lines.push(`... and ${items.length - MAX_LISTED} more`);
  };
  list(
    missing,
    (n) => `missing tensor ${JSON.stringify(n)} (model expects ${fmtShape(expected[n])})`,
  );
  list(
    unexpected,
    (n) => `unexpected tensor ${JSON.stringify(n)} ${fmtShape(loaded[n].shape)} not in the model`,
  );
  list(
    mismatched,
    (m) =>
      `tensor ${JSON.stringify(m.name)} has shape ${fmtShape(m.shape)}, model expects ${
        fmtShape(m.expected)
      }`,
  );

  const count = missing.length + unexpected.length + mismatched.length;
  if (count === 0) return;
  const message = count === 1
    ? lines[0]
    : `${count} problems matching the model (${missing.length} missing, ${unexpected.length} unexpected, ${mismatched.length} mis-shaped):\n  ${
      lines.join("\n  ")
    }`;
  throw new SafetensorsMismatchError(source, message, missing, unexpected, mismatched);
}

// ---------------------------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Product of dims, or undefined if a dim is not a non-negative safe integer or it overflows. */
function elementCount(shape: unknown): number | undefined {
  if (!Array.isArray(shape)) return undefined;
  let n = 1;
  for (const d of shape) {
    if (!isNonNegInt(d)) return undefined;
    n *= d;
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

function fmtShape(shape: unknown): string {
  return Array.isArray(shape) ? `[${shape.join(",")}]` : String(shape);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Assign an own enumerable property, safe for names like "__proto__". */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Reverse the byte order of each `size`-byte element in place (big-endian hosts only). */
function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i + size <= b.length; i += size) b.subarray(i, i + size).reverse();
}

let HALF_TABLE: Float32Array | undefined;

/** IEEE 754 binary16 bit pattern → float32 value, for all 65536 patterns. */
function halfTable(): Float32Array {
  if (HALF_TABLE) return HALF_TABLE;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const man = h & 0x3ff;
    t[h] = exp === 0
      ? sign * man * 2 ** -24
      : exp === 31
      ? (man ? NaN : sign * Infinity)
      : sign * (1 + man / 1024) * 2 ** (exp - 15);
  }
  return (HALF_TABLE = t);
}
