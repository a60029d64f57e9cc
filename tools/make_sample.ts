/**
 * Build the embedded Fashion-MNIST sample in `src/data/sample/`: a stratified deterministic
 * sample of 4000 training images (400 per class) and 1000 test images (100 per class), written
 * as gzip IDX files with the original Fashion-MNIST file names.
 *
 * Usage: `deno run -A tools/make_sample.ts [--src DIR] [--out DIR]`
 * (default source: /usr/share/datasets/fashion-mnist, from `apt-get install dataset-fashion-mnist`).
 *
 * Sampling: for each split and each class c, the indices of class c (in file order) are shuffled
 * with a mulberry32 PRNG and the first k are kept; the kept indices of all classes are then
 * shuffled together with the same PRNG. Seeds: 20170828 (train), 20170829 (test).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  FASHION_MNIST_DIR,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  idxFileNames,
  readIdx,
  type Split,
  writeIdx,
} from "../src/data/idx.ts";
import { mulberry32, shuffleInPlace } from "../src/data/synthetic.ts";

/** Per-split sampling parameters. */
export const SAMPLE_PLAN: Record<Split, { perClass: number; seed: number }> = {
  train: { perClass: 400, seed: 20170828 },
  test: { perClass: 100, seed: 20170829 },
};

/**
 * Pick `perClass` indices of each of `numClasses` classes from `labels`, deterministically.
 *
 * @returns the chosen indices, classes interleaved in a seeded random order
 */
export function stratifiedSample(
  labels: Uint8Array,
  numClasses: number,
  perClass: number,
  seed: number,
): number[] {
  const next = mulberry32(seed);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((l, i) => byClass[l].push(i));
  const chosen: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    if (byClass[c].length < perClass) {
      throw new Error(`class ${c} has only ${byClass[c].length} images, need ${perClass}`);
    }
    chosen.push(...shuffleInPlace(byClass[c], next).slice(0, perClass));
  }
  return shuffleInPlace(chosen, next);
}

/** Build one split of the sample from `src` into `out`. */
export async function makeSampleSplit(src: string, out: string, split: Split): Promise<void> {
  const names = idxFileNames(split);
  const img = await readIdx(`${src}/${names.images}.gz`, { expectMagic: IDX_IMAGES_MAGIC });
  const lbl = await readIdx(`${src}/${names.labels}.gz`, { expectMagic: IDX_LABELS_MAGIC });
  const [, h, w] = img.dims;
  const { perClass, seed } = SAMPLE_PLAN[split];
  const idx = stratifiedSample(lbl.data, 10, perClass, seed);
  const pix = h * w;
  const images = new Uint8Array(idx.length * pix);
  const labels = new Uint8Array(idx.length);
  idx.forEach((i, j) => {
    images.set(img.data.subarray(i * pix, (i + 1) * pix), j * pix);
    labels[j] = lbl.data[i];
  });
  await writeIdx(`${out}/${names.images}.gz`, [idx.length, h, w], images);
  await writeIdx(`${out}/${names.labels}.gz`, [idx.length], labels);
  console.log(`${split}: ${idx.length} images (${perClass} per class) from ${img.dims[0]}`);
}

if (import.meta.main) {
  const args = parseArgs({
    options: {
      src: { type: "string", default: FASHION_MNIST_DIR },
      out: {
        type: "string",
        default: fileURLToPath(new URL("../src/data/sample", import.meta.url)),
      },
    },
  });
  const { src, out } = args.values;
  await Deno.mkdir(out, { recursive: true });
  for (const split of ["train", "test"] as const) await makeSampleSplit(src, out, split);
  for (const e of Deno.readDirSync(out)) {
    console.log(`${e.name}\t${Deno.statSync(`${out}/${e.name}`).size} bytes`);
  }
}
