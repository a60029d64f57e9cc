/**
 * The named-array types of safetensors files, in a leaf module (it imports nothing) so that
 * optimizer state (`src/optim/`) can use them without importing the io layer, which itself
 * imports the nn layer's types.
 */

/** Dtypes safetensors.ts can write, and the dtypes every loaded tensor is converted to. */
export type NamedArrayDtype = "F32" | "I32" | "U32";

/** Dtypes safetensors.ts can read from a file. */
export type SafetensorsDtype =
  | NamedArrayDtype
  | "F64"
  | "F16"
  | "BF16"
  | "I64"
  | "U64"
  | "I16"
  | "U16"
  | "I8"
  | "U8"
  | "BOOL";

/** A named tensor as stored in a safetensors file: dtype, row-major shape and flat data. */
export interface NamedArray {
  /** Element type; must match the `data` array type (F32↔Float32Array, I32↔Int32Array, ...). */
  dtype: NamedArrayDtype;
  /** Row-major shape; `[]` is a scalar (one element), a 0 dimension makes an empty tensor. */
  shape: number[];
  /** Flat row-major data; its length must equal the product of `shape`. */
  data: Float32Array | Int32Array | Uint32Array;
  /**
   * Set by the decoder only when the file stored this tensor in another dtype that was converted
   * on read (e.g. `"F16"` for a tensor returned as F32). Ignored by the encoder.
   */
  storedDtype?: SafetensorsDtype;
}
