/** Shape and regularisation layers: Flatten, Dropout, Identity. */
import { Module } from "../module.ts";
import type { Tensor } from "../../tensor.ts";
import { dropout, flatten } from "../../ops/index.ts";

/** [N, d1, d2, ...] -> [N, d1·d2·...] (flattening from `startDim`, default 1). */
export class Flatten extends Module {
  /** Flatten from `startDim` on (default 1: keep the batch dimension). */
  constructor(public startDim = 1) {
    super();
  }
  /** x with the dimensions from `startDim` on merged into one. */
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim);
  }
}

/**
 * Zero each element with probability `p` in training and scale the rest by 1/(1-p); the
 * identity in eval mode. Masks come from the seeded global generator (`manualSeed`).
 */
export class Dropout extends Module {
  /** Probability of zeroing an element in train mode. */
  p: number;
  /** Zero elements with probability `p` (default 0.5) in train mode, scaling the rest. */
  constructor(p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
    this.p = p;
  }
  /** x with dropout in train mode; x itself in eval mode. */
  forward(x: Tensor): Tensor {
    return dropout(x, { p: this.p, training: this.training });
  }
}

/** Returns its input (a placeholder, e.g. for a removed layer or an unused shortcut). */
export class Identity extends Module {
  /** x itself. */
  forward(x: Tensor): Tensor {
    return x;
  }
}
