/**
 * Super-resolution data: pairs of a high-resolution (HR) image and its low-resolution (LR)
 * version, `scale` times smaller, held as 8-bit CHW planes.
 *
 * Sources: DIV2K's layout (`DIV2K_train_HR/0001.png` with
 * `DIV2K_train_LR_bicubic/X2/0001x2.png`, `valid` likewise; missing LR folders are made), a
 * plain folder of HR images (LR made by MATLAB-style bicubic downscaling with antialiasing, as
 * DIV2K's were), and the embedded sample (`src/data/sr_sample/`). HR images are cropped to a
 * multiple of the scale first (the usual "modcrop").
 *
 * @module
 */
import { join } from "node:path";
import { DataError } from "./dataset.ts";
import { decodeImage, toBytePlanes } from "./image.ts";
import { displayPath, type PathLike, readBytes } from "./idx.ts";
import { cropPlanes, resizeBytes } from "./resample.ts";
import { type BadImage, imageFiles } from "./folder.ts";
import { mulberry32, shuffleInPlace } from "./synthetic.ts";

/** One HR image and its LR version, 8-bit CHW planes. */
export interface SrImage {
  /** The HR file's path relative to the data set's folder (or its file stem). */
  name: string;
  /** Channels of both images (1 grey, 3 RGB). */
  channels: 1 | 3;
  /** HR size (a multiple of `scale`). */
  height: number;
  /** HR width (a multiple of `scale`). */
  width: number;
  /** Upscaling factor from LR to HR. */
  scale: number;
  /** `channels x height x width` HR samples. */
  hr: Uint8Array;
  /** `channels x height/scale x width/scale`. */
  lr: Uint8Array;
}

/** A set of {@link SrImage}s of one scale. */
export interface SrDataset {
  /** Short name of the set. */
  name: string;
  /** Upscaling factor of every pair. */
  scale: number;
  /** Channels of every image. */
  channels: 1 | 3;
  /** The image pairs. */
  images: SrImage[];
}

/** Training and held-out pairs. */
export interface SrData {
  /** Pairs to train on. */
  train: SrDataset;
  /** Held-out pairs to evaluate on. */
  test: SrDataset;
  /** Where the held-out images come from. */
  split: "div2k" | "folders" | "fraction" | "embedded";
  /** Whether the LR images were made here by bicubic downscaling (else read from files). */
  generatedLr: boolean;
  /** Images left out (only with `skipBadImages`). */
  skipped: BadImage[];
}

/** Options of the SR loaders. */
export interface SrLoadOptions {
  /** Upscaling factor, an integer >= 2 (CARN: 2, 3, 4). */
  scale: number;
  /** 3 (RGB, default) or 1 (grey). */
  channels?: 1 | 3;
  /** Use only the first `limit` training images (sorted by name). */
  limit?: number;
  /** Use only the first `testLimit` held-out images (sorted by name). */
  testLimit?: number;
  /** Leave out images that cannot be read or decoded, and list them (default false: throw). */
  skipBadImages?: boolean;
  /** Called after each image with the count done and the total. */
  onProgress?: (done: number, total: number) => void;
}

function checkScale(scale: number): void {
  if (!Number.isInteger(scale) || scale < 2) {
    throw new RangeError(`super-resolution: scale must be an integer >= 2, got ${scale}`);
  }
}

/** An HR image cropped to a multiple of `scale`, with its MATLAB-bicubic LR version. */
export function makeSrImage(
  name: string,
  hr: Uint8Array,
  channels: 1 | 3,
  height: number,
  width: number,
  scale: number,
): SrImage {
  checkScale(scale);
  const h = height - (height % scale), w = width - (width % scale);
  if (h < scale || w < scale) {
    throw new DataError(name, `${height}x${width} is smaller than the scale ${scale}`);
  }
  const crop = h === height && w === width
    ? hr
    : cropPlanes(hr, channels, height, width, 0, 0, h, w);
  const lr = resizeBytes(crop, channels, h, w, h / scale, w / scale, {
    kernel: "cubic",
    style: "matlab",
  });
  return { name, channels, height: h, width: w, scale, hr: crop, lr };
}

async function readPlanes(
  file: PathLike,
  channels: 1 | 3,
): Promise<{ planes: Uint8Array; height: number; width: number }> {
  const shown = displayPath(file);
  const img = decodeImage(await readBytes(file), shown);
  return { planes: toBytePlanes(img, channels), height: img.height, width: img.width };
}

interface Job {
  name: string;
  hr: PathLike;
  lr?: PathLike;
  split: "train" | "test";
}

async function loadJobs(
  jobs: Job[],
  name: string,
  opts: SrLoadOptions,
): Promise<{ train: SrDataset; test: SrDataset; skipped: BadImage[] }> {
  checkScale(opts.scale);
  const c = opts.channels ?? 3, s = opts.scale;
  const out = { train: [] as SrImage[], test: [] as SrImage[] };
  const skipped: BadImage[] = [];
  let done = 0;
  for (const job of jobs) {
    try {
      const hr = await readPlanes(job.hr, c);
      let img: SrImage;
      if (job.lr) {
        const lr = await readPlanes(job.lr, c);
        const lrName = displayPath(job.lr);
        const h = lr.height * s, w = lr.width * s;
        if (hr.height < h || hr.width < w || hr.height - h >= s || hr.width - w >= s) {
          throw new DataError(
            lrName,
            `is ${lr.height}x${lr.width}, HR ${displayPath(job.hr)} is ${hr.height}x${hr.width}: ` +
              `not a x${s} pair`,
          );
        }
        const crop = h === hr.height && w === hr.width
          ? hr.planes
          : cropPlanes(hr.planes, c, hr.height, hr.width, 0, 0, h, w);
        img = {
          name: job.name,
          channels: c,
          height: h,
          width: w,
          scale: s,
          hr: crop,
          lr: lr.planes,
        };
      } else {
        img = makeSrImage(job.name, hr.planes, c, hr.height, hr.width, s);
      }
      out[job.split].push(img);
    } catch (e) {
      if (!(e instanceof DataError) || !opts.skipBadImages) throw e;
      skipped.push({ file: e.file, problem: e.problem });
    }
    opts.onProgress?.(++done, jobs.length);
  }
  const ds = (split: "train" | "test"): SrDataset => {
    if (out[split].length === 0) {
      const why = skipped.length ? ` (${skipped.length} bad images were skipped)` : "";
      throw new DataError(name, `no ${split} images${why}`);
    }
    return { name: `${name}/${split}`, scale: s, channels: c, images: out[split] };
  };
  return { train: ds("train"), test: ds("test"), skipped };
}

/** The limit of a split. */
const limitOf = (opts: SrLoadOptions, split: "train" | "test") =>
  split === "train" ? opts.limit : opts.testLimit;

function limited<T>(xs: T[], limit?: number): T[] {
  if (limit === undefined) return xs;
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new RangeError(`super-resolution: limit must be a positive integer, got ${limit}`);
  }
  return xs.slice(0, limit);
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Whether `root` holds DIV2K (a `DIV2K_train_HR` folder). */
export function isDiv2k(root: string): Promise<boolean> {
  return exists(join(root, "DIV2K_train_HR"));
}

/**
 * Load DIV2K from `root`: training pairs from `DIV2K_train_HR` and held-out pairs from
 * `DIV2K_valid_HR`, with the LR images of `DIV2K_{train,valid}_LR_bicubic/X{scale}/` when that
 * folder exists (else made by bicubic downscaling, like the originals).
 *
 * @example
 * ```ts
 * import { isDiv2k, loadDiv2k } from "./sr.ts";
 * const root = "/data/DIV2K";
 * if (await isDiv2k(root)) {
 *   const { train, test } = await loadDiv2k(root, { scale: 2, limit: 100 });
 *   console.log(train.images.length, test.images.length);
 * }
 * ```
 */
export async function loadDiv2k(root: string, opts: SrLoadOptions): Promise<SrData> {
  checkScale(opts.scale);
  const jobs: Job[] = [];
  let generated = false;
  for (const [split, dir] of [["train", "train"], ["test", "valid"]] as const) {
    const hrDir = join(root, `DIV2K_${dir}_HR`);
    if (!(await exists(hrDir))) {
      throw new DataError(hrDir, `not found: DIV2K needs DIV2K_train_HR/ and DIV2K_valid_HR/`);
    }
    const lrDir = join(root, `DIV2K_${dir}_LR_bicubic`, `X${opts.scale}`);
    const hasLr = await exists(lrDir);
    generated ||= !hasLr;
    for (const hr of limited(await imageFiles(hrDir, []), limitOf(opts, split))) {
      const stem = hr.slice(hrDir.length + 1).replace(/\.[^.]+$/, "");
      jobs.push({
        name: stem,
        hr,
        lr: hasLr ? join(lrDir, `${stem}x${opts.scale}.png`) : undefined,
        split,
      });
    }
  }
  const r = await loadJobs(jobs, root, opts);
  return { ...r, split: "div2k", generatedLr: generated };
}

/**
 * Load a folder of HR images (PNG/JPEG, found recursively): split by `train/` and `test/` (or
 * `val/`) subfolders when present, else by a seeded `valSplit` fraction (default 0.2). LR images
 * are made by MATLAB-style bicubic downscaling.
 */
export async function loadSrFolder(
  dir: string,
  opts: SrLoadOptions & { valSplit?: number; seed?: number },
): Promise<SrData> {
  checkScale(opts.scale);
  if (!(await exists(dir))) throw new DataError(dir, "not a directory of HR images");
  const testName = (await exists(join(dir, "test")))
    ? "test"
    : (await exists(join(dir, "val")))
    ? "val"
    : null;
  const byFolders = testName !== null && (await exists(join(dir, "train")));
  const jobs: Job[] = [];
  const rel = (f: string) => f.slice(dir.length + 1);
  if (byFolders) {
    if (opts.valSplit !== undefined) {
      throw new DataError(
        dir,
        `has train/ and ${testName}/ subfolders; a val split does not apply`,
      );
    }
    for (const [split, sub] of [["train", "train"], ["test", testName]] as const) {
      for (const f of limited(await imageFiles(join(dir, sub), []), limitOf(opts, split))) {
        jobs.push({ name: rel(f), hr: f, split });
      }
    }
  } else {
    const frac = opts.valSplit ?? 0.2;
    if (!(frac > 0 && frac < 1)) {
      throw new DataError(dir, `val split must be a fraction in (0, 1), got ${opts.valSplit}`);
    }
    const files = await imageFiles(dir, []);
    if (files.length < 2) {
      throw new DataError(dir, `needs at least 2 images, found ${files.length}`);
    }
    const order = shuffleInPlace(files.map((_, i) => i), mulberry32((opts.seed ?? 0) ^ 0x2545f491));
    const k = Math.max(1, Math.round(frac * files.length));
    const test = new Set(order.slice(0, k));
    const pick = (split: "train" | "test") =>
      limited(files.filter((_, i) => test.has(i) === (split === "test")), limitOf(opts, split));
    for (const split of ["train", "test"] as const) {
      for (const f of pick(split)) jobs.push({ name: rel(f), hr: f, split });
    }
  }
  const r = await loadJobs(jobs, dir, opts);
  return { ...r, split: byFolders ? "folders" : "fraction", generatedLr: true };
}

/** URL of the embedded SR sample (`src/data/sr_sample/`). */
export const SR_SAMPLE_DIR: URL = new URL("./sr_sample/", import.meta.url);

/** The embedded sample's files (listed, so that it also loads over https). */
export const SR_SAMPLE_FILES: Readonly<Record<"train" | "test", readonly string[]>> = {
  train: [
    "astronaut1.jpg",
    "astronaut2.jpg",
    "hubble1.jpg",
    "hubble2.jpg",
    "retina1.jpg",
    "retina2.jpg",
    "rocket1.jpg",
    "rocket2.jpg",
  ],
  test: ["chelsea1.jpg", "chelsea2.jpg", "coffee1.jpg"],
};

/**
 * The embedded sample: eight 192x192 training photographs and three held-out ones (public
 * domain / CC0; sources in `src/data/sr_sample/README.md`), LR made by bicubic downscaling.
 */
export async function loadSrSample(opts: SrLoadOptions): Promise<SrData> {
  const jobs: Job[] = [];
  for (const split of ["train", "test"] as const) {
    for (const f of limited([...SR_SAMPLE_FILES[split]], limitOf(opts, split))) {
      jobs.push({ name: `${split}/${f}`, hr: new URL(`${split}/${f}`, SR_SAMPLE_DIR), split });
    }
  }
  const r = await loadJobs(jobs, "sr-sample", opts);
  return { ...r, split: "embedded", generatedLr: true };
}
