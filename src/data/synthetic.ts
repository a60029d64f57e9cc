/**
 * A seeded, learnable synthetic image data set for tests, benchmarks and smoke training runs.
 *
 * Each class has a fixed prototype: oriented stripes (class-specific angle and frequency) plus a
 * Gaussian blob (class-specific position), with per-channel weights. Each sample is its class
 * prototype shifted by a random sub-pixel offset, with random contrast/brightness and Gaussian
 * pixel noise (drawn from a fixed table of 65536 normal samples), clamped to [0, 1]. A tiny CNN
 * (or even a nearest-centroid classifier) learns it.
 *
 * The class prototypes depend only on `patternSeed` (fixed by default), and the samples on
 * `seed`: so a train set with `seed: 1` and a test set with `seed: 2` share the same classes.
 *
 * @module
 */

import type { ImageDataset } from "./dataset.ts";

/**
 * The mulberry32 PRNG: a tiny, fast 32-bit seeded generator.
 *
 * @param seed any number (its low 32 bits are used)
 * @returns a function giving uniform floats in [0, 1)
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample from a uniform generator (Box–Muller). */
export function gaussian(next: () => number): number {
  const u = 1 - next(); // (0, 1]
  const v = next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** In-place Fisher–Yates shuffle driven by `next`. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(
  a: T,
  next: () => number,
): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

const NORMAL_TABLE_SIZE = 1 << 16;
let normalCache: Float64Array | undefined;

/** A fixed table of standard normal samples; indexing it is much cheaper than Box–Muller. */
function normalTable(): Float64Array {
  if (!normalCache) {
    const rng = mulberry32(0x6a09e667);
    normalCache = Float64Array.from({ length: NORMAL_TABLE_SIZE }, () => gaussian(rng));
  }
  return normalCache;
}

/** Options for {@link makeSynthetic}. */
export interface SyntheticOptions {
  /** Number of images. */
  n: number;
  /** Channels per image (default 1). */
  channels?: number;
  /** Image height (default 28). */
  height?: number;
  /** Image width (default 28). */
  width?: number;
  /** Number of classes (default 10). */
  numClasses?: number;
  /** Seed of the samples: labels order, offsets, noise (default 0). */
  seed?: number;
  /** Seed of the class prototypes; keep it equal across train/test sets (default 0x5eed). */
  patternSeed?: number;
  /** Standard deviation of the per-pixel Gaussian noise (default 0.1). */
  noise?: number;
  /** Largest random shift in pixels, each axis (default `min(height, width) / 14`). */
  maxShift?: number;
  /** Alternative to `seed`: a uniform [0, 1) generator for the samples. */
  next?: () => number;
}

interface Prototype {
  cos: number;
  sin: number;
  freq: number;
  phase: number;
  cx: number;
  cy: number;
  inv2s2: number;
  wStripe: number[];
  wBlob: number[];
}

function makePrototypes(numClasses: number, channels: number, patternSeed: number): Prototype[] {
  const rng = mulberry32(patternSeed ^ 0x9e3779b9);
  const protos: Prototype[] = [];
  for (let c = 0; c < numClasses; c++) {
    const angle = Math.PI * (c + 0.3 * rng()) / numClasses;
    const sigma = 0.12 + 0.08 * rng();
    protos.push({
      cos: Math.cos(angle),
      sin: Math.sin(angle),
      freq: 1.5 + (c % 3) + 0.5 * rng(), // cycles across the image
      phase: 2 * Math.PI * rng(),
      cx: 0.25 + 0.5 * rng(),
      cy: 0.25 + 0.5 * rng(),
      inv2s2: 1 / (2 * sigma * sigma),
      wStripe: Array.from({ length: channels }, () => 0.3 + 0.7 * rng()),
      wBlob: Array.from({ length: channels }, () => 0.3 + 0.7 * rng()),
    });
  }
  return protos;
}

/**
 * Make a seeded, learnable synthetic image data set with balanced classes (counts differ by at
 * most one) in random order.
 *
 * @returns an {@link ImageDataset} named `synthetic-<seed>`, pixels in [0, 1]
 */
export function makeSynthetic(opts: SyntheticOptions): ImageDataset {
  const {
    n,
    channels = 1,
    height = 28,
    width = 28,
    numClasses = 10,
    seed = 0,
    patternSeed = 0x5eed,
    noise = 0.1,
  } = opts;
  for (const [k, v] of Object.entries({ n, channels, height, width, numClasses })) {
    if (!Number.isInteger(v) || v < (k === "n" ? 0 : 1)) {
      throw new RangeError(
        `makeSynthetic: ${k} must be a ${
          k === "n" ? "non-negative" : "positive"
        } integer, got ${v}`,
      );
    }
  }
  const maxShift = opts.maxShift ?? Math.min(height, width) / 14;
  const next = opts.next ?? mulberry32(seed);
  const protos = makePrototypes(numClasses, channels, patternSeed);
  const normals = normalTable();

  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % numClasses;
  shuffleInPlace(labels, next);

  const plane = height * width;
  const size = channels * plane;
  const images = new Float32Array(n * size);
  const twoPi = 2 * Math.PI;
  // The stripe cos(A·u + B·v + φ) and the blob exp(-k·((u-cx)² + (v-cy)²)) are separable in
  // u and v, so each sample needs only O(H + W) transcendental calls.
  const cu = new Float64Array(width), su = new Float64Array(width), ex = new Float64Array(width);
  const cv = new Float64Array(height), sv = new Float64Array(height), ey = new Float64Array(height);
  for (let i = 0; i < n; i++) {
    const p = protos[labels[i]];
    const dx = (2 * next() - 1) * maxShift / width;
    const dy = (2 * next() - 1) * maxShift / height;
    const contrast = 0.7 + 0.3 * next();
    const bright = 0.1 * (2 * next() - 1);
    const a = twoPi * p.freq * p.cos, b = twoPi * p.freq * p.sin;
    for (let x = 0; x < width; x++) {
      const u = (x + 0.5) / width - dx;
      cu[x] = Math.cos(a * u);
      su[x] = Math.sin(a * u);
      ex[x] = Math.exp(-(u - p.cx) * (u - p.cx) * p.inv2s2);
    }
    for (let y = 0; y < height; y++) {
      const v = (y + 0.5) / height - dy;
      cv[y] = Math.cos(b * v + p.phase);
      sv[y] = Math.sin(b * v + p.phase);
      ey[y] = Math.exp(-(v - p.cy) * (v - p.cy) * p.inv2s2);
    }
    const base = i * size;
    for (let ch = 0; ch < channels; ch++) {
      const ws = 0.5 * contrast * p.wStripe[ch], wb = 0.5 * contrast * p.wBlob[ch];
      const off = base + ch * plane;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const stripe = 0.5 + 0.5 * (cu[x] * cv[y] - su[x] * sv[y]);
          const val = ws * stripe + wb * ex[x] * ey[y] + bright +
            noise * normals[(next() * NORMAL_TABLE_SIZE) | 0];
          images[off + y * width + x] = val < 0 ? 0 : val > 1 ? 1 : val;
        }
      }
    }
  }
  return {
    name: `synthetic-${seed}`,
    images,
    labels,
    n,
    channels,
    height,
    width,
    numClasses,
    classNames: Array.from({ length: numClasses }, (_, c) => `class${c}`),
  };
}
