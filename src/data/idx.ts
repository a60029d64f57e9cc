/**
 * IDX file reader and writer (the MNIST / Fashion-MNIST format), plus loaders for Fashion-MNIST
 * and for the small Fashion-MNIST sample embedded in this package (`src/data/sample/`).
 *
 * An IDX file is a big-endian header — magic `0x0000 TT DD` (TT = data type, DD = number of
 * dimensions), then DD uint32 sizes — followed by the data. Only data type 0x08 (unsigned byte) is
 * supported. Files may be gzip-compressed; gzip is detected by its 0x1f8b magic, not by name.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DataError, type ImageDataset } from "./dataset.ts";

/** Magic number of an IDX file of unsigned bytes with 3 dimensions (images). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of unsigned bytes with 1 dimension (labels). */
export const IDX_LABELS_MAGIC = 0x00000801;
/** IDX data type byte for unsigned bytes, the only type supported. */
export const IDX_UBYTE = 0x08;

/** Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Class names of Fashion-MNIST, in label order. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
]);

/** Class names of MNIST (the digits), in label order. */
export const MNIST_CLASSES: readonly string[] = Object.freeze(
  Array.from({ length: 10 }, (_, i) => String(i)),
);

/** A decoded IDX array of unsigned bytes. */
export interface IdxArray {
  /** Dimension sizes from the header, e.g. `[60000, 28, 28]`. */
  dims: number[];
  /** The data, row-major, `product(dims)` bytes. */
  data: Uint8Array;
}

/** Options for {@link readIdx} and {@link decodeIdx}. */
export interface ReadIdxOptions {
  /** If set, the magic number the file must have (e.g. {@link IDX_IMAGES_MAGIC}). */
  expectMagic?: number;
  /** Prefix for error messages, e.g. the data set name `"fashion-mnist"`. */
  context?: string;
}

/** Split of a train/test data set. */
export type Split = "train" | "test";

/** A local path or a `file:` (or `http(s):`) URL. */
export type PathLike = string | URL;

const hex32 = (v: number): string => "0x" + (v >>> 0).toString(16).padStart(8, "0");

function magicName(m: number): string {
  if (m === IDX_IMAGES_MAGIC) return "images";
  if (m === IDX_LABELS_MAGIC) return "labels";
  return `${m & 0xff}-d`;
}

/** Human-readable form of a path or URL (a plain path for `file:` URLs). */
export function displayPath(p: PathLike): string {
  if (typeof p === "string") return p;
  return p.protocol === "file:" ? fileURLToPath(p) : p.href;
}

/** `dir` joined with `name`; URLs stay URLs (a URL `dir` should end in `/`). */
function joinPath(dir: PathLike, name: string): PathLike {
  if (typeof dir === "string") return join(dir, name);
  const base = dir.href.endsWith("/") ? dir : new URL(dir.href + "/");
  return new URL(name, base);
}

/** Whether `p` exists (for `http(s):` URLs, always assumed true). */
async function exists(p: PathLike): Promise<"file" | "dir" | null> {
  if (typeof p !== "string" && p.protocol !== "file:") return "file";
  try {
    const st = await Deno.stat(p);
    return st.isDirectory ? "dir" : "file";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Read all bytes of a local file or URL, wrapping failures in a {@link DataError}. */
export async function readBytes(p: PathLike, context?: string): Promise<Uint8Array> {
  const shown = displayPath(p);
  try {
    if (typeof p !== "string" && p.protocol !== "file:") {
      const res = await fetch(p);
      if (!res.ok) {
        await res.body?.cancel();
        throw new DataError(shown, `HTTP ${res.status} ${res.statusText}`, context);
      }
      return new Uint8Array(await res.arrayBuffer());
    }
    return await Deno.readFile(p);
  } catch (e) {
    if (e instanceof DataError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new DataError(shown, "not found", context, { cause: e });
    }
    const msg = e instanceof Error ? e.message : String(e);
    throw new DataError(shown, `cannot read: ${msg}`, context, { cause: e });
  }
}

async function pipeThrough(
  bytes: Uint8Array,
  transform: CompressionStream | DecompressionStream,
): Promise<Uint8Array> {
  const src = new ReadableStream<BufferSource>({
    start(c) {
      c.enqueue(bytes as Uint8Array<ArrayBuffer>);
      c.close();
    },
  });
  const out = await new Response(src.pipeThrough(transform)).arrayBuffer();
  return new Uint8Array(out);
}

/** Whether `bytes` start with the gzip magic `0x1f 0x8b`. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gzip-compress bytes with `CompressionStream("gzip")`. */
export function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  return pipeThrough(bytes, new CompressionStream("gzip"));
}

/**
 * Decompress gzip bytes with `DecompressionStream("gzip")`.
 *
 * @param file the file name used in error messages
 * @param context optional prefix for error messages
 * @throws {DataError} `"<file>: corrupt gzip data (...)"` if the stream is invalid or truncated
 */
export async function gunzip(
  bytes: Uint8Array,
  file = "<memory>",
  context?: string,
): Promise<Uint8Array> {
  try {
    return await pipeThrough(bytes, new DecompressionStream("gzip"));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new DataError(file, `corrupt gzip data (${msg})`, context, { cause: e });
  }
}

/**
 * Decode an (uncompressed) IDX byte buffer.
 *
 * @param bytes the whole file contents
 * @param file the file name used in error messages
 * @throws {DataError} on a bad magic number, an unsupported data type, a truncated header or
 *   data, or trailing bytes after the data the header implies
 */
export function decodeIdx(
  bytes: Uint8Array,
  file = "<memory>",
  opts: ReadIdxOptions = {},
): IdxArray {
  const fail = (problem: string): never => {
    throw new DataError(file, problem, opts.context);
  };
  if (bytes.length < 4) {
    fail(`truncated: ${bytes.length} bytes, shorter than the 4-byte IDX magic number`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`bad magic number ${hex32(magic)}: not an IDX file (expected 0x000008NN)`);
  }
  if (opts.expectMagic !== undefined && magic !== opts.expectMagic) {
    fail(
      `bad magic number ${hex32(magic)}, expected ${hex32(opts.expectMagic)} ` +
        `(${magicName(opts.expectMagic)})`,
    );
  }
  if (bytes[2] !== IDX_UBYTE) {
    fail(
      `unsupported IDX data type 0x${bytes[2].toString(16).padStart(2, "0")} in magic ` +
        `${hex32(magic)} (only 0x08 unsigned byte is supported)`,
    );
  }
  const ndims = bytes[3];
  if (ndims === 0) fail(`bad magic number ${hex32(magic)}: zero dimensions`);
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) {
    fail(`truncated header: ${bytes.length} bytes, ${ndims} dimensions need ${headerLen}`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = headerLen + count;
  if (bytes.length < expected) {
    fail(
      `truncated: header dims [${dims.join(", ")}] imply ${expected} bytes, ` +
        `file has only ${bytes.length}`,
    );
  }
  if (bytes.length > expected) {
    fail(
      `${bytes.length - expected} unexpected trailing bytes after the ${expected} bytes ` +
        `implied by header dims [${dims.join(", ")}]`,
    );
  }
  return { dims, data: bytes.subarray(headerLen, expected) };
}

/**
 * Encode an IDX file of unsigned bytes (uncompressed).
 *
 * @param dims dimension sizes; `data.length` must equal their product
 * @param data the row-major data
 */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length < 1 || dims.length > 255) throw new RangeError("IDX needs 1..255 dimensions");
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`IDX dims [${dims.join(", ")}] need ${count} bytes, got ${data.length}`);
  }
  const headerLen = 4 + 4 * dims.length;
  const out = new Uint8Array(headerLen + count);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x00000800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, headerLen);
  return out;
}

/**
 * Write an IDX file; gzip-compressed when `opts.gzip` is true (default: when the name ends in
 * `.gz`).
 */
export async function writeIdx(
  path: PathLike,
  dims: readonly number[],
  data: Uint8Array,
  opts: { gzip?: boolean } = {},
): Promise<void> {
  const raw = encodeIdx(dims, data);
  const compress = opts.gzip ?? displayPath(path).endsWith(".gz");
  await Deno.writeFile(path, compress ? await gzip(raw) : raw);
}

/**
 * Read an IDX file, gzip-compressed (detected by the 0x1f8b magic) or raw.
 *
 * @param path a local path or a `file:` URL
 * @returns the header dimensions and the data bytes
 * @throws {DataError} naming the file: not found, corrupt gzip, bad magic number, unsupported
 *   data type, truncated, trailing bytes
 */
export async function readIdx(path: PathLike, opts: ReadIdxOptions = {}): Promise<IdxArray> {
  const file = displayPath(path);
  let bytes = await readBytes(path, opts.context);
  if (isGzip(bytes)) {
    bytes = await gunzip(bytes, file, opts.context);
  } else if (file.endsWith(".gz") && bytes.length >= 2) {
    throw new DataError(
      file,
      `not gzip data (starts with 0x${bytes[0].toString(16).padStart(2, "0")}` +
        `${bytes[1].toString(16).padStart(2, "0")}, expected 0x1f8b)`,
      opts.context,
    );
  }
  return decodeIdx(bytes, file, opts);
}

/** Options for {@link loadIdxDataset}. */
export interface IdxDatasetOptions {
  /** Data set name used in `ImageDataset.name` and error messages (default `"fashion-mnist"`). */
  name?: string;
  /** Class names (default {@link FASHION_MNIST_CLASSES}); also fixes `numClasses`. */
  classNames?: readonly string[];
  /** Hint appended to "not found" errors (default: the apt package / `--data-dir` hint). */
  installHint?: string;
  /** Keep only the first `limit` images. */
  limit?: number;
}

const DEFAULT_HINT = "install with `apt-get install dataset-fashion-mnist` or pass --data-dir";

/** Base file names of the IDX image and label files of a split. */
export function idxFileNames(split: Split): { images: string; labels: string } {
  const p = split === "train" ? "train" : "t10k";
  return { images: `${p}-images-idx3-ubyte`, labels: `${p}-labels-idx1-ubyte` };
}

/** Find `<base>.gz` or `<base>` in `dir`; error names the `.gz` path. */
async function findIdx(
  dir: PathLike,
  base: string,
  name: string,
  hint: string,
): Promise<PathLike> {
  const gz = joinPath(dir, base + ".gz");
  if (await exists(gz)) return gz;
  const raw = joinPath(dir, base);
  if (await exists(raw)) return raw;
  throw new DataError(
    displayPath(gz),
    `not found (nor ${displayPath(raw)}); ${hint}`,
    name,
  );
}

/**
 * Load an MNIST-style IDX data set from a directory holding `train-images-idx3-ubyte(.gz)`,
 * `train-labels-idx1-ubyte(.gz)`, `t10k-images-idx3-ubyte(.gz)`, `t10k-labels-idx1-ubyte(.gz)`.
 *
 * @param dir the directory (path or `file:` URL)
 * @param split `"train"` or `"test"` (the `t10k-*` files)
 * @returns an {@link ImageDataset} of shape N×1×H×W with pixels scaled to [0, 1]
 * @throws {DataError} naming the directory or file: missing, unreadable, malformed, label count
 *   not equal to image count, label out of range
 */
export async function loadIdxDataset(
  dir: PathLike,
  split: Split,
  opts: IdxDatasetOptions = {},
): Promise<ImageDataset> {
  const name = opts.name ?? "fashion-mnist";
  const hint = opts.installHint ?? DEFAULT_HINT;
  const classNames = [...(opts.classNames ?? FASHION_MNIST_CLASSES)];
  if (split !== "train" && split !== "test") {
    throw new DataError(
      displayPath(dir),
      `unknown split "${split}" (expected train or test)`,
      name,
    );
  }
  const kind = await exists(dir);
  if (kind === null) throw new DataError(displayPath(dir), `directory not found; ${hint}`, name);
  if (kind !== "dir") throw new DataError(displayPath(dir), `not a directory; ${hint}`, name);

  const files = idxFileNames(split);
  const imgPath = await findIdx(dir, files.images, name, hint);
  const lblPath = await findIdx(dir, files.labels, name, hint);
  const [img, lbl] = await Promise.all([
    readIdx(imgPath, { expectMagic: IDX_IMAGES_MAGIC, context: name }),
    readIdx(lblPath, { expectMagic: IDX_LABELS_MAGIC, context: name }),
  ]);
  const [count, height, width] = img.dims;
  if (lbl.dims[0] !== count) {
    throw new DataError(
      displayPath(lblPath),
      `label count mismatch: ${lbl.dims[0]} labels but ${displayPath(imgPath)} has ${count} images`,
      name,
    );
  }
  const n = opts.limit === undefined ? count : Math.max(0, Math.min(count, opts.limit));
  const numClasses = classNames.length;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = lbl.data[i];
    if (l >= numClasses) {
      throw new DataError(
        displayPath(lblPath),
        `label ${l} at index ${i} out of range [0, ${numClasses})`,
        name,
      );
    }
    labels[i] = l;
  }
  return {
    name: `${name}/${split}`,
    images: bytesToUnit(img.data.subarray(0, n * height * width)),
    labels,
    n,
    channels: 1,
    height,
    width,
    numClasses,
    classNames,
  };
}

const UNIT_LUT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/** Convert bytes to floats in [0, 1] (`b / 255`). */
export function bytesToUnit(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = UNIT_LUT[bytes[i]];
  return out;
}

/**
 * Load the full Fashion-MNIST (60000 train / 10000 test images of 28×28, 10 classes).
 *
 * @param split `"train"` or `"test"`
 * @param dataDir directory with the four gzip IDX files (default {@link FASHION_MNIST_DIR})
 */
export function loadFashionMnist(
  split: Split,
  dataDir: PathLike = FASHION_MNIST_DIR,
  opts: Omit<IdxDatasetOptions, "name" | "classNames"> = {},
): Promise<ImageDataset> {
  return loadIdxDataset(dataDir, split, { ...opts, name: "fashion-mnist" });
}

/** URL of the embedded Fashion-MNIST sample directory (`src/data/sample/`). */
export const SAMPLE_DIR: URL = new URL("./sample/", import.meta.url);

/**
 * Load the Fashion-MNIST sample embedded in this package: a stratified deterministic sample of
 * 4000 training images (400 per class) and 1000 test images (100 per class). Works from any
 * working directory (resolved relative to this module).
 *
 * @param split `"train"` (4000 images) or `"test"` (1000 images)
 */
export function loadSample(
  split: Split,
  opts: Pick<IdxDatasetOptions, "limit"> = {},
): Promise<ImageDataset> {
  return loadIdxDataset(SAMPLE_DIR, split, {
    ...opts,
    name: "fashion-mnist-sample",
    installHint:
      "the embedded sample is missing; regenerate it with `deno run -A tools/make_sample.ts`",
  });
}
