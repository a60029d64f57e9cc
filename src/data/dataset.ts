/**
 * Common types for the image data readers.
 *
 * Everything here is plain TypeScript over typed arrays: no tensors. A data set is a single
 * contiguous `Float32Array` in N×C×H×W order (values in [0, 1]) plus an `Int32Array` of labels.
 *
 * @module
 */

/** An in-memory image classification data set. */
export interface ImageDataset {
  /** Short name, e.g. `"fashion-mnist/train"`. */
  name: string;
  /** Pixels, N*C*H*W in row-major (NCHW) order, values in [0, 1]. */
  images: Float32Array;
  /** One label per image, each in [0, numClasses). */
  labels: Int32Array;
  /** Number of images. */
  n: number;
  /** Channels per image (1 for grayscale, 3 for RGB). */
  channels: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Number of classes. */
  numClasses: number;
  /** Optional human-readable class names, `classNames.length === numClasses`. */
  classNames?: string[];
}

/**
 * Error raised by the data readers. The message always names the file (or directory) and the
 * problem, e.g. `fashion-mnist: /x/train-images-idx3-ubyte.gz not found; install with ...`.
 */
export class DataError extends Error {
  /** The file or directory the error is about. */
  readonly file: string;
  /** What is wrong with it (the message without the file prefix). */
  readonly problem: string;

  /**
   * Create an error about `file`; the message is `[context: ]file: problem`.
   *
   * @param file the path of the offending file or directory
   * @param problem what is wrong, e.g. `"bad magic number 0x00000000"`
   * @param context optional prefix such as the data set name (`"fashion-mnist"`)
   * @param options standard error options (`cause`)
   */
  constructor(file: string, problem: string, context?: string, options?: ErrorOptions) {
    super(`${context ? context + ": " : ""}${file}: ${problem}`, options);
    this.name = "DataError";
    this.file = file;
    this.problem = problem;
  }
}

/** Number of values per image (`channels * height * width`). */
export function imageSize(ds: Pick<ImageDataset, "channels" | "height" | "width">): number {
  return ds.channels * ds.height * ds.width;
}

/**
 * Count how many images each class has.
 *
 * @returns an array of length `ds.numClasses` with the count of each label
 */
export function classCounts(ds: Pick<ImageDataset, "labels" | "numClasses">): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (const l of ds.labels) counts[l]++;
  return counts;
}

/**
 * Check the invariants of an {@link ImageDataset}: array lengths agree with the shape, labels are
 * in range, pixels are finite and in [0, 1], class names (if any) match `numClasses`.
 *
 * @throws {DataError} naming `ds.name` and the first violated invariant
 */
export function validateDataset(ds: ImageDataset): void {
  const fail = (problem: string): never => {
    throw new DataError(ds.name, problem);
  };
  for (const k of ["n", "channels", "height", "width", "numClasses"] as const) {
    if (!Number.isInteger(ds[k]) || ds[k] < 0) fail(`${k} must be a non-negative integer`);
  }
  const size = imageSize(ds);
  if (ds.images.length !== ds.n * size) {
    fail(`images has ${ds.images.length} values, expected n*c*h*w = ${ds.n * size}`);
  }
  if (ds.labels.length !== ds.n) fail(`labels has ${ds.labels.length} entries, expected ${ds.n}`);
  for (let i = 0; i < ds.n; i++) {
    const l = ds.labels[i];
    if (l < 0 || l >= ds.numClasses) {
      fail(`label ${l} at index ${i} out of range [0, ${ds.numClasses})`);
    }
  }
  for (let i = 0; i < ds.images.length; i++) {
    const v = ds.images[i];
    if (!(v >= 0 && v <= 1)) fail(`pixel ${v} at index ${i} outside [0, 1]`);
  }
  if (ds.classNames && ds.classNames.length !== ds.numClasses) {
    fail(`classNames has ${ds.classNames.length} entries, expected ${ds.numClasses}`);
  }
}

/**
 * Take the images at the given indices (in that order) as a new data set.
 *
 * @param ds the source data set
 * @param indices image indices, each in [0, ds.n)
 * @param name optional name of the result (default `${ds.name}[subset]`)
 */
export function subsetDataset(
  ds: ImageDataset,
  indices: ArrayLike<number>,
  name?: string,
): ImageDataset {
  const size = imageSize(ds);
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) {
      throw new DataError(ds.name, `subset index ${i} out of range [0, ${ds.n})`);
    }
    images.set(ds.images.subarray(i * size, (i + 1) * size), j * size);
    labels[j] = ds.labels[i];
  }
  return { ...ds, name: name ?? `${ds.name}[subset]`, images, labels, n: indices.length };
}

/**
 * Per-channel mean and standard deviation (population) of every pixel of a data set: the
 * normalisation to compute once on the training split and store with the run.
 */
export function channelStats(
  ds: Pick<ImageDataset, "images" | "n" | "channels" | "height" | "width">,
): { mean: number[]; std: number[] } {
  const plane = ds.height * ds.width, size = ds.channels * plane;
  const mean: number[] = [], std: number[] = [];
  for (let c = 0; c < ds.channels; c++) {
    let s = 0, s2 = 0;
    for (let i = 0; i < ds.n; i++) {
      const o = i * size + c * plane;
      for (let k = 0; k < plane; k++) {
        const v = ds.images[o + k];
        s += v;
        s2 += v * v;
      }
    }
    const count = Math.max(1, ds.n * plane);
    const m = s / count;
    mean.push(m);
    // A constant channel gets a tiny std rather than 0 (normalising must not divide by 0).
    std.push(Math.sqrt(Math.max(1e-12, s2 / count - m * m)));
  }
  return { mean, std };
}
