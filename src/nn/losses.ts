/**
 * Loss functions: cross entropy with label smoothing (over the fused `crossEntropy` op), mean
 * squared error and L1. `reduction` is "mean" (default), "sum" or "none" (per element).
 */
import type { Tensor } from "../tensor.ts";
import { abs, crossEntropy, mean, permute, reshape, square, sub, sum } from "../ops/index.ts";
import { shapeError } from "../ops/registry.ts";

/** How per-element losses are combined. */
export type LossReduction = "mean" | "sum" | "none";

/** Options of {@link crossEntropyLoss}. */
export interface CrossEntropyLossOptions {
  /** Mix the one-hot targets with the uniform distribution: (1-s)·onehot + s/K (default 0). */
  labelSmoothing?: number;
  /** How per-element losses are combined (default "mean"). */
  reduction?: LossReduction;
}

/**
 * Softmax cross entropy of `logits` [N, K] against integer `labels` [N] (i32), as
 * `F.cross_entropy`: mean over the batch by default. Dense prediction: `logits` [N, K, d1, ...]
 * (e.g. per-pixel class scores [N, K, H, W]) against `labels` [N, d1, ...], mean over every
 * position; `"none"` then gives [N, d1, ...].
 *
 * @example
 * ```ts
 * import { crossEntropyLoss, init, Linear, randn, tensor } from "../../mod.ts";
 * await init();
 * const model = new Linear(4, 3);
 * const x = randn([2, 4], { seed: 0 });
 * const y = tensor([2, 0], [2], { dtype: "i32" });
 * const loss = crossEntropyLoss(model.call(x), y, { labelSmoothing: 0.1 }); // scalar mean
 * ```
 */
export function crossEntropyLoss(
  logits: Tensor,
  labels: Tensor,
  opts: CrossEntropyLossOptions = {},
): Tensor {
  const s = opts.labelSmoothing ?? 0;
  if (!(s >= 0 && s <= 1)) throw new Error(`crossEntropyLoss: labelSmoothing ${s} not in [0, 1]`);
  const reduction = opts.reduction ?? "mean";
  if (logits.rank <= 2) return crossEntropy(logits, labels, { labelSmoothing: s, reduction });
  const [n, k, ...rest] = logits.shape;
  if (
    labels.rank !== logits.rank - 1 || labels.shape[0] !== n ||
    rest.some((d, i) => d !== labels.shape[i + 1])
  ) {
    throw shapeError(
      "crossEntropyLoss",
      "per-position labels must be [N, d1, ...] for logits [N, K, d1, ...]",
      logits.shape,
      labels.shape,
    );
  }
  // Classes last, positions as rows: the [M, K] form of the fused op.
  const m = labels.size;
  const rows = reshape(permute(logits, [0, ...rest.map((_, i) => i + 2), 1]), [m, k]);
  const out = crossEntropy(rows, reshape(labels, [m]), { labelSmoothing: s, reduction });
  return reduction === "none" ? reshape(out, labels.shape) : out;
}

function reduce(op: string, x: Tensor, reduction: LossReduction = "mean"): Tensor {
  if (reduction === "mean") return mean(x);
  if (reduction === "sum") return sum(x);
  if (reduction === "none") return x;
  throw new Error(`${op}: unknown reduction "${reduction}" (use "mean", "sum" or "none")`);
}

function checkSame(op: string, a: Tensor, b: Tensor): void {
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) {
    throw shapeError(op, "input and target must have the same shape", a.shape, b.shape);
  }
}

/** Mean (or summed) squared error, (input − target)². */
export function mseLoss(
  input: Tensor,
  target: Tensor,
  opts: { reduction?: LossReduction } = {},
): Tensor {
  checkSame("mseLoss", input, target);
  return reduce("mseLoss", square(sub(input, target)), opts.reduction);
}

/** Mean (or summed) absolute error, |input − target|. */
export function l1Loss(
  input: Tensor,
  target: Tensor,
  opts: { reduction?: LossReduction } = {},
): Tensor {
  checkSame("l1Loss", input, target);
  return reduce("l1Loss", abs(sub(input, target)), opts.reduction);
}
