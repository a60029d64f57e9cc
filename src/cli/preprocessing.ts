/**
 * What a trained model expects of its input, stored with every file a run ships (ONNX
 * `metadata_props`, safetensors `__metadata__`, report.json) so that the model can be used
 * without the training code: `x[c] = (pixel[c] / 255 - mean[c]) / std[c]`, NCHW float32, at the
 * training images' size, plus the class names when they are known.
 * @module
 */

/** The input a model was trained on. */
export interface Preprocessing {
  /** Tensor layout of the input. */
  layout: "NCHW";
  dtype: "float32";
  /** Channels (1: grayscale, 3: RGB), height and width of one image. */
  channels: number;
  height: number;
  width: number;
  /** How 8-bit pixels become values in [0, 1] before normalisation. */
  scale: "pixel / 255";
  /** Per-channel normalisation: (value - mean[c]) / std[c]. */
  mean: number[];
  std: number[];
  /** The formula, for people reading the metadata. */
  formula: string;
}

/** Metadata keys (ONNX metadata_props / safetensors __metadata__). */
export const META_KEYS = {
  preprocessing: "preprocessing",
  classes: "class_names",
  task: "task",
  model: "model",
  dataset: "dataset",
} as const;

/** The preprocessing of images of `shape` [C, H, W] normalised with `mean` / `std`. */
export function preprocessingOf(shape: readonly number[], mean: number[], std: number[]) {
  const [channels, height, width] = shape;
  const p: Preprocessing = {
    layout: "NCHW",
    dtype: "float32",
    channels,
    height,
    width,
    scale: "pixel / 255",
    mean,
    std,
    formula: "x[n, c, h, w] = (pixel[c, h, w] / 255 - mean[c]) / std[c]",
  };
  return p;
}

/** The metadata strings a shipped model carries. */
export function shipMetadata(info: {
  preprocessing: Preprocessing;
  classNames?: readonly string[];
  task: string;
  model: string;
  dataset: string;
}): Record<string, string> {
  return {
    [META_KEYS.preprocessing]: JSON.stringify(info.preprocessing),
    ...(info.classNames ? { [META_KEYS.classes]: JSON.stringify(info.classNames) } : {}),
    [META_KEYS.task]: info.task,
    [META_KEYS.model]: info.model,
    [META_KEYS.dataset]: info.dataset,
  };
}

/** Read the preprocessing back from metadata; errors name `source` and the key. */
export function readPreprocessing(
  meta: Readonly<Record<string, string>>,
  source: string,
): { preprocessing: Preprocessing; classNames: string[] | null } {
  const raw = meta[META_KEYS.preprocessing];
  if (!raw) {
    throw new Error(
      `${source}: no "${META_KEYS.preprocessing}" metadata (written by oto's train CLI since ` +
        `it ships preprocessing); normalise inputs yourself or re-export the model`,
    );
  }
  let p: Preprocessing;
  try {
    p = JSON.parse(raw);
  } catch {
    throw new Error(`${source}: the "${META_KEYS.preprocessing}" metadata is not JSON`);
  }
  const ok = p.layout === "NCHW" && [p.channels, p.height, p.width].every(Number.isInteger) &&
    p.mean?.length === p.channels && p.std?.length === p.channels;
  if (!ok) throw new Error(`${source}: the "${META_KEYS.preprocessing}" metadata is incomplete`);
  const names = meta[META_KEYS.classes];
  return { preprocessing: p, classNames: names ? JSON.parse(names) : null };
}
