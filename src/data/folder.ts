/**
 * Image classification data from your own files: a folder in torchvision's `ImageFolder`
 * layout (`root/<class>/**.png|jpg`) or a CSV of `path,label`. Images are decoded once
 * (src/data/image.ts), resized on the shorter side and centre-cropped to the model's input
 * (torchvision's `Resize` + `CenterCrop`), and held in memory as an {@link ImageDataset}; the
 * {@link DataLoader} adds the training augmentation (random crop with padding, flips).
 *
 * Splits: a root with `train/` and `test/` (or `val/`) subfolders is split by them; otherwise a
 * seeded, stratified `valSplit` fraction of every class is held out. A CSV may give the split in
 * a third column (`train`, `test` or `val`).
 *
 * Unreadable or corrupt images stop the load with one line naming the file, or with
 * `skipBadImages` are left out and listed in the result.
 *
 * @module
 */
import { dirname, extname, join, resolve } from "node:path";
import { DataError, type ImageDataset } from "./dataset.ts";
import { decodeImage, toFloatImage } from "./image.ts";
import { resizeCenterCrop } from "./resample.ts";
import { mulberry32, shuffleInPlace } from "./synthetic.ts";

/** File extensions read as images (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = [".png", ".jpg", ".jpeg"];

/** Options of {@link loadImageFolder} and {@link loadImageCsv}. */
export interface ImageFolderOptions {
  /** The model's input size: `[height, width]`, or one number for a square. */
  size: number | readonly [number, number];
  /** 3 (RGB, default) or 1 (grey, ITU-R 601-2 luma). */
  channels?: 1 | 3;
  /**
   * Fraction of every class held out for testing when the data does not name its split
   * (default 0.2). An error when the split is given by folders or by the CSV.
   */
  valSplit?: number;
  /** Seed of the `valSplit` draw (default 0). */
  seed?: number;
  /** Leave out images that cannot be read or decoded, and list them (default false: throw). */
  skipBadImages?: boolean;
  /** Called after each image with the count done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** An image left out by `skipBadImages`. */
export interface BadImage {
  /** The image file. */
  file: string;
  /** Why it could not be used. */
  problem: string;
}

/** What {@link loadImageFolder} and {@link loadImageCsv} return. */
export interface ImageFolderData {
  /** The training images. */
  train: ImageDataset;
  /** The held-out images (a `test`/`val` subfolder or the validation fraction). */
  test: ImageDataset;
  /** Class names in label order (the subfolder names, sorted). */
  classNames: string[];
  /** How the test images were chosen. */
  split: "folders" | "csv" | "fraction";
  /** Images left out (only with `skipBadImages`). */
  skipped: BadImage[];
  /** Files that are not images by their extension (not read). */
  ignored: string[];
}

interface Entry {
  file: string;
  label: number;
  split?: "train" | "test";
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Image files (by extension) under `dir`, recursively, in sorted order; hidden files are skipped
 * and other files are added to `ignored`.
 */
export async function imageFiles(dir: string, ignored: string[]): Promise<string[]> {
  const files: string[] = [];
  const names: { name: string; dir: boolean }[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".")) continue;
    let isDirectory = e.isDirectory;
    if (e.isSymlink) isDirectory = await isDir(join(dir, e.name));
    names.push({ name: e.name, dir: isDirectory });
  }
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { name, dir: sub } of names) {
    const p = join(dir, name);
    if (sub) files.push(...(await imageFiles(p, ignored)));
    else if (IMAGE_EXTENSIONS.includes(extname(name).toLowerCase())) files.push(p);
    else ignored.push(p);
  }
  return files;
}

async function classDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(root)) {
    if (e.name.startsWith(".")) continue;
    if (e.isDirectory || (e.isSymlink && await isDir(join(root, e.name)))) out.push(e.name);
  }
  return out.sort();
}

function normSize(size: ImageFolderOptions["size"]): [number, number] {
  const [h, w] = typeof size === "number" ? [size, size] : size;
  if (![h, w].every((v) => Number.isInteger(v) && v > 0)) {
    throw new RangeError(`image folder: size must be positive integers, got [${size}]`);
  }
  return [h, w];
}

function checkFraction(v: number | undefined, where: string): number {
  const f = v ?? 0.2;
  if (!(f > 0 && f < 1)) {
    throw new DataError(where, `val split must be a fraction in (0, 1), got ${v}`);
  }
  return f;
}

/** Split entries without a split by a seeded, stratified fraction per class. */
function drawSplit(entries: Entry[], numClasses: number, frac: number, seed: number): void {
  const next = mulberry32(seed ^ 0x5f3759df);
  for (let c = 0; c < numClasses; c++) {
    const idx = entries.map((e, i) => (e.label === c && !e.split ? i : -1)).filter((i) => i >= 0);
    shuffleInPlace(idx, next);
    // At least one test image per class that has two or more.
    const k = idx.length >= 2 ? Math.max(1, Math.round(frac * idx.length)) : 0;
    idx.forEach((i, j) => (entries[i].split = j < k ? "test" : "train"));
  }
}

/** Decode, convert and resize every entry into the two data sets. */
async function build(
  name: string,
  entries: Entry[],
  classNames: string[],
  opts: ImageFolderOptions,
): Promise<{ train: ImageDataset; test: ImageDataset; skipped: BadImage[] }> {
  const [h, w] = normSize(opts.size);
  const c = opts.channels ?? 3;
  const size = c * h * w;
  const images = { train: [] as Float32Array[], test: [] as Float32Array[] };
  const labels = { train: [] as number[], test: [] as number[] };
  const skipped: BadImage[] = [];
  let done = 0;
  for (const e of entries) {
    let planes: Float32Array;
    try {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(e.file);
      } catch (err) {
        const why = err instanceof Deno.errors.NotFound ? "not found" : (err as Error).message;
        throw new DataError(e.file, `cannot read: ${why}`);
      }
      const img = toFloatImage(decodeImage(bytes, e.file), c);
      planes = resizeCenterCrop(img.data, c, img.height, img.width, h, w);
    } catch (err) {
      if (!(err instanceof DataError) || !opts.skipBadImages) throw err;
      skipped.push({ file: e.file, problem: err.problem });
      opts.onProgress?.(++done, entries.length);
      continue;
    }
    const s = e.split ?? "train";
    images[s].push(planes);
    labels[s].push(e.label);
    opts.onProgress?.(++done, entries.length);
  }
  const make = (s: "train" | "test"): ImageDataset => {
    const data = new Float32Array(images[s].length * size);
    images[s].forEach((p, i) => data.set(p, i * size));
    return {
      name: `${name}/${s}`,
      images: data,
      labels: Int32Array.from(labels[s]),
      n: labels[s].length,
      channels: c,
      height: h,
      width: w,
      numClasses: classNames.length,
      classNames,
    };
  };
  const train = make("train"), test = make("test");
  for (const ds of [train, test]) {
    if (ds.n === 0) {
      const why = skipped.length ? ` (${skipped.length} bad images were skipped)` : "";
      throw new DataError(name, `no ${ds.name.split("/").pop()} images${why}`);
    }
  }
  return { train, test, skipped };
}

/**
 * Load a folder of images: `root/<class>/...` (split by `valSplit`) or `root/train/<class>/...`
 * with `root/test/<class>/...` or `root/val/<class>/...`. Classes are the sorted subfolder names;
 * images are found recursively, in sorted order.
 *
 * @example
 * ```ts
 * import { DataLoader, loadImageFolder } from "../../mod.ts";
 * import { channelStats } from "./dataset.ts";
 * const dir = await Deno.makeTempDir();
 * // ... put images in dir/cats/*.jpg and dir/dogs/*.png, then:
 * try {
 *   const data = await loadImageFolder(dir, { size: 32, valSplit: 0.2 });
 *   const { mean, std } = channelStats(data.train);
 *   const loader = new DataLoader(data.train, { batchSize: 32, shuffle: true, mean, std, hflip: true, cropPadding: 4 });
 * } catch (e) {
 *   console.log((e as Error).message); // an empty folder has no classes
 * }
 * ```
 */
export async function loadImageFolder(
  root: string,
  opts: ImageFolderOptions,
): Promise<ImageFolderData> {
  if (!(await isDir(root))) {
    throw new DataError(root, "not a directory (expected root/<class>/*.png|jpg)");
  }
  const top = await classDirs(root);
  const testDir = ["test", "val"].find((d) => top.includes(d));
  const byFolders = top.includes("train") && testDir !== undefined;
  if (byFolders && opts.valSplit !== undefined) {
    throw new DataError(root, `has train/ and ${testDir}/ subfolders; a val split does not apply`);
  }
  const classRoot = top.includes("train") ? join(root, "train") : root;
  const classNames = await classDirs(classRoot);
  if (classNames.length === 0) {
    throw new DataError(classRoot, "no class subfolders (expected <class>/*.png|jpg)");
  }
  const ignored: string[] = [];
  const entries: Entry[] = [];
  for (const [label, cls] of classNames.entries()) {
    for (const file of await imageFiles(join(classRoot, cls), ignored)) {
      entries.push({ file, label, split: byFolders ? "train" : undefined });
    }
  }
  if (byFolders) {
    const testRoot = join(root, testDir!);
    for (const cls of await classDirs(testRoot)) {
      const label = classNames.indexOf(cls);
      if (label < 0) {
        throw new DataError(
          join(testRoot, cls),
          `class "${cls}" has no folder in ${join(root, "train")}`,
        );
      }
      for (const file of await imageFiles(join(testRoot, cls), ignored)) {
        entries.push({ file, label, split: "test" });
      }
    }
  } else {
    drawSplit(entries, classNames.length, checkFraction(opts.valSplit, root), opts.seed ?? 0);
  }
  if (entries.length === 0) throw new DataError(root, "no .png or .jpg images found");
  const r = await build(root, entries, classNames, opts);
  return { ...r, classNames, split: byFolders ? "folders" : "fraction", ignored };
}

/** Fields of one CSV line (RFC 4180 quoting). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = "", quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") (out.push(cur), (cur = ""));
    else cur += ch;
  }
  out.push(cur);
  return out.map((f) => f.trim());
}

/**
 * Load images listed in a CSV file: `path,label[,split]` per line (a header line naming `path`
 * is skipped), paths relative to the CSV's folder. Labels are class names (sorted to give the
 * class indices) or all integers (used as they are). `split` is `train`, `test` or `val`; without
 * it, `valSplit` holds out a fraction of every class.
 */
export async function loadImageCsv(
  csvFile: string,
  opts: ImageFolderOptions,
): Promise<ImageFolderData> {
  let text: string;
  try {
    text = await Deno.readTextFile(csvFile);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message;
    throw new DataError(csvFile, `cannot read: ${why}`);
  }
  const base = dirname(resolve(csvFile));
  const rows: { path: string; label: string; split?: string; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (!raw.trim() || raw.startsWith("#")) return;
    const f = csvFields(raw);
    if (i === 0 && /^(path|file|filename|image)$/i.test(f[0])) return; // header
    if (f.length < 2 || !f[0] || !f[1]) {
      throw new DataError(csvFile, `line ${i + 1}: expected path,label[,split], got "${raw}"`);
    }
    rows.push({ path: f[0], label: f[1], split: f[2] || undefined, line: i + 1 });
  });
  if (rows.length === 0) throw new DataError(csvFile, "no path,label lines");
  const numeric = rows.every((r) => /^\d+$/.test(r.label));
  const classNames = numeric
    ? Array.from({ length: Math.max(...rows.map((r) => Number(r.label))) + 1 }, (_, i) => String(i))
    : [...new Set(rows.map((r) => r.label))].sort();
  const withSplit = rows.filter((r) => r.split).length;
  if (withSplit !== 0 && withSplit !== rows.length) {
    throw new DataError(
      csvFile,
      `${withSplit} of ${rows.length} lines give a split; give it on all or none`,
    );
  }
  if (withSplit && opts.valSplit !== undefined) {
    throw new DataError(csvFile, "gives the split in its third column; a val split does not apply");
  }
  const entries: Entry[] = rows.map((r) => {
    const s = r.split?.toLowerCase();
    if (s !== undefined && !["train", "test", "val"].includes(s)) {
      throw new DataError(csvFile, `line ${r.line}: split "${r.split}" is not train, test or val`);
    }
    return {
      file: resolve(base, r.path),
      label: numeric ? Number(r.label) : classNames.indexOf(r.label),
      split: s === undefined ? undefined : s === "train" ? "train" : "test",
    };
  });
  if (!withSplit) {
    drawSplit(entries, classNames.length, checkFraction(opts.valSplit, csvFile), opts.seed ?? 0);
  }
  const r = await build(csvFile, entries, classNames, opts);
  return { ...r, classNames, split: withSplit ? "csv" : "fraction", ignored: [] };
}
