/**
 * The plan every normalisation shares: "statistics groups" (the sets of elements that share a
 * mean and variance), a map from each element to its group and to its affine parameter, and
 * "parameter groups" (the elements that share a gamma/beta entry, for their gradients). The cpu
 * references (`norm_cpu.ts`) and the GPU dispatch (`norm_gpu.ts`) both walk it.
 */
import { numel } from "../tensor.ts";
import type { NormElem, NormGroups } from "../backend/wasm/ops.ts";

/**
 * A family of `count` groups. Group q (hi = q / qd, lo = q % qd) holds the A·B elements
 * base + a·oa + b·ob with base = hi·bh + lo·bl; element (a, b) belongs to statistics group
 * r0 + a·ra + b·rb (r0 = hi·rh + lo·rl) and reads parameter p0 + a·pa + b·pb
 * (p0 = hi·ph + lo·pl). Kernels step (a, b) as counters: no per-element division.
 */
export type Groups = NormGroups;

/**
 * Elementwise view: the input as [planes = N·C, S]; with n = plane / C, c = plane % C the
 * statistics group is n·rn + (c / cg)·rc + s·rs and the parameter c·pc + s·ps.
 */
export type Elem = NormElem;

/** The statistics and parameter groups of one normalisation of one input shape. */
export interface Plan {
  /** Statistics groups (mean and variance each). */
  stat: Groups;
  /** Parameter groups: the elements sharing gamma[c] (for dgamma, dbeta). */
  param: Groups;
  /** Divisor of the statistics (>= group size; larger only for layerNorm2d's normCount). */
  nc: number;
  elem: Elem;
}

/** Which normalisation. */
export type Kind = "batch" | "instance" | "group" | "layer" | "layer2d";

/** What a normalisation normalises over. */
export interface Core {
  kind: Kind;
  groups?: number;
  normDims?: number;
  normCount?: number;
}

const ZERO: Groups = {
  count: 0,
  qd: 1,
  bh: 0,
  bl: 0,
  rh: 0,
  rl: 0,
  ph: 0,
  pl: 0,
  A: 1,
  B: 1,
  oa: 0,
  ob: 0,
  ra: 0,
  rb: 0,
  pa: 0,
  pb: 0,
};

/** The plan of normalisation `core` over an input of `shape`. */
export function makePlan(core: Core, shape: readonly number[]): Plan {
  let N = shape[0], C = shape[1] ?? 1, S = numel(shape.slice(2));
  if (core.kind === "layer") {
    // [rows, 1, L] with L the normalised trailing elements.
    S = numel(shape.slice(shape.length - core.normDims!));
    N = numel(shape) / S;
    C = 1;
  }
  const G = (g: Partial<Groups>): Groups => ({ ...ZERO, ...g });
  // Per channel over (n, s): batch norm statistics, every per-channel parameter gradient.
  const perChannel = (ra: number, rb: number, r0: Partial<Groups>) =>
    G({ count: C, bh: S, ph: 1, A: N, B: S, oa: C * S, ob: 1, ra, rb, ...r0 });
  const elem = (e: Partial<Elem>): Elem => ({
    planes: N * C,
    C,
    S,
    cg: 1,
    rn: 0,
    rc: 0,
    rs: 0,
    pc: 1,
    ps: 0,
    ...e,
  });
  switch (core.kind) {
    case "batch":
      return {
        stat: perChannel(0, 0, { rh: 1 }),
        param: perChannel(0, 0, { rh: 1 }),
        nc: N * S,
        elem: elem({ rc: 1 }),
      };
    case "instance":
      return {
        stat: G({ count: N * C, qd: C, bh: C * S, bl: S, rh: C, rl: 1, pl: 1, B: S, ob: 1 }),
        param: perChannel(C, 0, { rh: 1 }),
        nc: S,
        elem: elem({ rn: C, rc: 1 }),
      };
    case "group": {
      const g = core.groups!, cg = C / g;
      return {
        stat: G({
          count: N * g,
          qd: g,
          bh: C * S,
          bl: cg * S,
          rh: g,
          rl: 1,
          pl: cg,
          A: cg,
          B: S,
          oa: S,
          ob: 1,
          pa: 1,
        }),
        param: G({ ...perChannel(g, 0, {}), qd: cg, bh: cg * S, bl: S, rh: 1, ph: cg, pl: 1 }),
        nc: cg * S,
        elem: elem({ rn: g, cg, rc: 1 }),
      };
    }
    case "layer":
      return {
        stat: G({ count: N, bh: S, rh: 1, B: S, ob: 1, pb: 1 }),
        param: G({ count: S, bh: 1, ph: 1, A: N, oa: S, ra: 1 }),
        nc: core.normCount ?? S,
        elem: elem({ rn: 1, pc: 0, ps: 1 }),
      };
    case "layer2d":
      return {
        stat: G({ count: N * S, qd: S, bh: C * S, bl: 1, rh: S, rl: 1, A: C, oa: S, pa: 1 }),
        param: perChannel(S, 1, {}),
        nc: core.normCount ?? C,
        elem: elem({ rn: S, rs: 1 }),
      };
  }
}

/** Attributes of the backward op shared by every normalisation. */
export interface NormBackwardAttrs {
  core: Core;
  eps: number;
  /** Batch statistics (true) or fixed statistics passed as inputs 3 and 4 (eval batch norm). */
  center: boolean;
  /** Also compute dgamma and dbeta (outputs 1 and 2). */
  params: boolean;
}
