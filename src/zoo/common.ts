/**
 * Options shared by every zoo model, and the seeding helper that makes construction
 * reproducible.
 */
import { manualSeed } from "../random.ts";

/** Options every zoo builder understands (families add their own). */
export interface ModelOptions {
  /** Seed of the global generator before the weights are drawn (default 0). */
  seed?: number;
  /** Classes of a classifier's head (default: the published one). */
  numClasses?: number;
  /** Input channels (default 3; 1 for the Fashion-MNIST models). */
  inChannels?: number;
  /**
   * Channels of the first stage (default: the published width); every later width scales with
   * it, so `width: 8` on ResNet50 gives stages of 8, 16, 32, 64 bottleneck planes.
   */
  width?: number;
  /** Upscaling factor of a super-resolution model (CARN: 2, 3 or 4; default 2). */
  scale?: number;
}

/** Seed the global generator with `seed` (default 0), then build. */
export function seeded<T>(seed: number | undefined, build: () => T): T {
  manualSeed(seed ?? 0);
  return build();
}

/** `c * width / base`, rounded, at least 1: a published width scaled by the `width` option. */
export function scaleWidth(c: number, width: number | undefined, base: number): number {
  if (width === undefined || width === base) return c;
  if (!(width > 0)) throw new Error(`zoo: width must be positive, got ${width}`);
  return Math.max(1, Math.round((c * width) / base));
}
