/**
 * CIFAR-10 and CIFAR-100 readers for the "binary version" files.
 *
 * - CIFAR-10 (`cifar-10-batches-bin/`): `data_batch_1.bin` .. `data_batch_5.bin` (train) and
 *   `test_batch.bin` (test); each record is 1 label byte + 3072 pixel bytes = 3073 bytes.
 * - CIFAR-100 (`cifar-100-binary/`): `train.bin` and `test.bin`; each record is 1 coarse label
 *   byte + 1 fine label byte + 3072 pixel bytes = 3074 bytes.
 *
 * Pixels are stored as a 1024-byte red plane, then green, then blue, each 32×32 row-major: that is
 * already C×H×W, so records map directly onto NCHW.
 *
 * @module
 */

import { join } from "node:path";
import { DataError, type ImageDataset } from "./dataset.ts";
import { bytesToUnit, displayPath, type PathLike, type Split } from "./idx.ts";

/** Pixel bytes per CIFAR image (3 × 32 × 32). */
export const CIFAR_PIXELS: number = 3 * 32 * 32;
/** Bytes per CIFAR-10 record (label + pixels). */
export const CIFAR10_RECORD: number = 1 + CIFAR_PIXELS;
/** Bytes per CIFAR-100 record (coarse label + fine label + pixels). */
export const CIFAR100_RECORD: number = 2 + CIFAR_PIXELS;

/** CIFAR-10 class names, in label order. */
export const CIFAR10_CLASSES: readonly string[] = Object.freeze([
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
]);

/** CIFAR-100 coarse (super-class) names, in label order. */
export const CIFAR100_COARSE_CLASSES: readonly string[] = Object.freeze(
  (
    "aquatic_mammals fish flowers food_containers fruit_and_vegetables " +
    "household_electrical_devices household_furniture insects large_carnivores " +
    "large_man-made_outdoor_things large_natural_outdoor_scenes large_omnivores_and_herbivores " +
    "medium_mammals non-insect_invertebrates people reptiles small_mammals trees vehicles_1 " +
    "vehicles_2"
  ).split(" "),
);

/** CIFAR-100 fine class names, in label order. */
export const CIFAR100_FINE_CLASSES: readonly string[] = Object.freeze(
  (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus " +
    "butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch " +
    "crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo " +
    "keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain " +
    "mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain " +
    "plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk " +
    "skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank " +
    "telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree " +
    "wolf woman worm"
  ).split(" "),
);

/** Which CIFAR variant a file holds. */
export type CifarVariant = "cifar10" | "cifar100";

/** Options for {@link decodeCifar}. */
export interface DecodeCifarOptions {
  /** `"cifar10"` (3073-byte records) or `"cifar100"` (3074-byte records). */
  variant: CifarVariant;
  /** For CIFAR-100: which label to return (default `"fine"`). */
  label?: "fine" | "coarse";
  /** Prefix for error messages, e.g. `"cifar-10"`. */
  context?: string;
}

/** Decoded CIFAR records. */
export interface CifarRecords {
  /** Number of records. */
  n: number;
  /** Pixel bytes, n × 3072, already in C×H×W order. */
  pixels: Uint8Array;
  /** Labels (fine or coarse for CIFAR-100). */
  labels: Int32Array;
}

/**
 * Decode the contents of one CIFAR binary file.
 *
 * @param bytes the whole file
 * @param file the file name used in error messages
 * @throws {DataError} naming the file if it is empty, its size is not a multiple of the record
 *   size, or a label is out of range
 */
export function decodeCifar(
  bytes: Uint8Array,
  file: string,
  opts: DecodeCifarOptions,
): CifarRecords {
  const is100 = opts.variant === "cifar100";
  const record = is100 ? CIFAR100_RECORD : CIFAR10_RECORD;
  const what = is100 ? "CIFAR-100" : "CIFAR-10";
  const layout = is100 ? "2 label bytes + 3072 pixel bytes" : "1 label byte + 3072 pixel bytes";
  const fail = (problem: string): never => {
    throw new DataError(file, problem, opts.context);
  };
  if (bytes.length === 0) fail(`empty file, expected ${what} records of ${record} bytes`);
  if (bytes.length % record !== 0) {
    const other = is100 ? CIFAR10_RECORD : CIFAR100_RECORD;
    const hint = bytes.length % other === 0
      ? ` (it is a multiple of ${other}: is this a ${is100 ? "CIFAR-10" : "CIFAR-100"} file?)`
      : "";
    fail(
      `size ${bytes.length} bytes is not a multiple of the ${what} record size ${record} ` +
        `(${layout})${hint}`,
    );
  }
  const n = bytes.length / record;
  const labelOffset = is100 && opts.label !== "coarse" ? 1 : 0;
  const numClasses = is100 ? (opts.label === "coarse" ? 20 : 100) : 10;
  const pixels = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * record;
    const l = bytes[base + labelOffset];
    if (l >= numClasses) {
      fail(
        `label ${l} in record ${i} out of range [0, ${numClasses}) ` +
          `(is this really a ${what} file?)`,
      );
    }
    if (is100 && bytes[base] >= 20) {
      fail(`coarse label ${bytes[base]} in record ${i} out of range [0, 20)`);
    }
    labels[i] = l;
    pixels.set(bytes.subarray(base + record - CIFAR_PIXELS, base + record), i * CIFAR_PIXELS);
  }
  return { n, pixels, labels };
}

/** Options for the CIFAR loaders. */
export interface CifarOptions {
  /** Keep only the first `limit` images (after concatenating the batches). */
  limit?: number;
}

/** Options for {@link loadCifar100}. */
export interface Cifar100Options extends CifarOptions {
  /** Which label to use: the 100 fine classes (default) or the 20 coarse super-classes. */
  label?: "fine" | "coarse";
}

async function statKind(p: string): Promise<"file" | "dir" | null> {
  try {
    return (await Deno.stat(p)).isDirectory ? "dir" : "file";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

function toPath(p: PathLike): string {
  if (typeof p === "string") return p;
  if (p.protocol !== "file:") throw new TypeError(`CIFAR readers need a local path, got ${p.href}`);
  return displayPath(p);
}

/** Resolve `dir` (or its extracted-archive subdirectory `sub`) holding `probe`. */
async function resolveDir(
  dir: PathLike,
  sub: string,
  probe: string,
  context: string,
  hint: string,
): Promise<string> {
  const d = toPath(dir);
  const kind = await statKind(d);
  if (kind === null) throw new DataError(d, `directory not found; ${hint}`, context);
  if (kind !== "dir") throw new DataError(d, `not a directory; ${hint}`, context);
  if (await statKind(join(d, probe)) === null && await statKind(join(d, sub)) === "dir") {
    return join(d, sub);
  }
  return d;
}

async function readCifarFiles(
  dir: string,
  names: string[],
  opts: DecodeCifarOptions,
  hint: string,
): Promise<CifarRecords> {
  const parts: CifarRecords[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new DataError(file, `not found; ${hint}`, opts.context, { cause: e });
      }
      const msg = e instanceof Error ? e.message : String(e);
      throw new DataError(file, `cannot read: ${msg}`, opts.context, { cause: e });
    }
    parts.push(decodeCifar(bytes, file, opts));
  }
  if (parts.length === 1) return parts[0];
  const n = parts.reduce((s, p) => s + p.n, 0);
  const pixels = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Int32Array(n);
  let off = 0;
  for (const p of parts) {
    pixels.set(p.pixels, off * CIFAR_PIXELS);
    labels.set(p.labels, off);
    off += p.n;
  }
  return { n, pixels, labels };
}

function toDataset(
  rec: CifarRecords,
  name: string,
  classNames: readonly string[],
  limit?: number,
): ImageDataset {
  const n = limit === undefined ? rec.n : Math.max(0, Math.min(rec.n, limit));
  return {
    name,
    images: bytesToUnit(rec.pixels.subarray(0, n * CIFAR_PIXELS)),
    labels: rec.labels.slice(0, n),
    n,
    channels: 3,
    height: 32,
    width: 32,
    numClasses: classNames.length,
    classNames: [...classNames],
  };
}

/** File names of a CIFAR-10 split. */
export function cifar10FileNames(split: Split): string[] {
  return split === "train" ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ["test_batch.bin"];
}

/**
 * Load CIFAR-10 (binary version): 50000 train / 10000 test RGB images of 32×32, 10 classes.
 *
 * @param dir directory with `data_batch_{1..5}.bin` and `test_batch.bin`, or its parent holding
 *   `cifar-10-batches-bin/`
 * @param split `"train"` (the five data batches, concatenated in order) or `"test"`
 * @returns an {@link ImageDataset} of shape N×3×32×32 with pixels scaled to [0, 1]
 * @throws {DataError} naming the directory or file: missing, size not a multiple of 3073 bytes,
 *   label out of range
 */
export async function loadCifar10(
  dir: PathLike,
  split: Split,
  opts: CifarOptions = {},
): Promise<ImageDataset> {
  const context = "cifar-10";
  const hint = "put the CIFAR-10 binary version (cifar-10-batches-bin) there or pass --data-dir";
  const d = await resolveDir(dir, "cifar-10-batches-bin", "test_batch.bin", context, hint);
  const rec = await readCifarFiles(
    d,
    cifar10FileNames(split),
    { variant: "cifar10", context },
    hint,
  );
  return toDataset(rec, `${context}/${split}`, CIFAR10_CLASSES, opts.limit);
}

/**
 * Load CIFAR-100 (binary version): 50000 train / 10000 test RGB images of 32×32, with 100 fine
 * or 20 coarse classes.
 *
 * @param dir directory with `train.bin` and `test.bin`, or its parent holding `cifar-100-binary/`
 * @param split `"train"` or `"test"`
 * @returns an {@link ImageDataset} of shape N×3×32×32 with pixels scaled to [0, 1]
 * @throws {DataError} naming the directory or file: missing, size not a multiple of 3074 bytes,
 *   label out of range
 */
export async function loadCifar100(
  dir: PathLike,
  split: Split,
  opts: Cifar100Options = {},
): Promise<ImageDataset> {
  const context = "cifar-100";
  const hint = "put the CIFAR-100 binary version (cifar-100-binary) there or pass --data-dir";
  const label = opts.label ?? "fine";
  const d = await resolveDir(dir, "cifar-100-binary", "test.bin", context, hint);
  const rec = await readCifarFiles(
    d,
    [split === "train" ? "train.bin" : "test.bin"],
    { variant: "cifar100", label, context },
    hint,
  );
  const names = label === "coarse" ? CIFAR100_COARSE_CLASSES : CIFAR100_FINE_CLASSES;
  const suffix = label === "coarse" ? "-coarse" : "";
  return toDataset(rec, `${context}${suffix}/${split}`, names, opts.limit);
}
