/**
 * One optimisation step, the same everywhere (the CLI, the examples, your loop): forward,
 * loss, backward in a `tidy` scope, then the optimizer's step and the gradients cleared.
 * @module
 */
import { type Tensor, tidy } from "../tensor.ts";
import { backward } from "../autograd.ts";
import type { Module } from "./module.ts";
import { crossEntropyLoss } from "./losses.ts";

/**
 * What a step needs of an optimizer (every oto optimizer has both). Structural, so that nn/ does
 * not import optim/ (which imports io/, which imports nn/).
 */
export interface StepOptimizer {
  /** Update the parameters from their gradients. */
  step(): void;
  /** Clear the parameters' gradients. */
  zeroGrad(): void;
}

/** A batch of inputs and targets (labels, target images, label maps). */
export interface TrainBatch {
  /** Inputs. */
  x: Tensor;
  /** Targets: class labels, target images or label maps. */
  y: Tensor;
}

/** Options of {@link trainStep}. */
export interface TrainStepOptions {
  /**
   * The objective: a scalar from the model's output and the batch's targets (default: cross
   * entropy of logits [N, K] against integer labels [N]).
   */
  loss?: (output: Tensor, target: Tensor) => Tensor;
  /**
   * Sees the output and the loss before the scope frees them (accumulate metrics here, on the
   * device: reading values back each step would stall the GPU).
   */
  observe?: (output: Tensor, target: Tensor, loss: Tensor) => void;
}

/**
 * Train on one batch: forward, loss and backward inside a `tidy` scope (every temporary is
 * freed), then `optimizer.step()` and `optimizer.zeroGrad()`. The optimizer steps outside the
 * scope because its state (momentum, moments) must outlive the step.
 *
 * @example
 * ```ts
 * import { ClassificationMeter, init, Linear, randn, SGD, tensor, trainStep } from "../../mod.ts";
 * await init();
 * const model = new Linear(4, 3);
 * const opt = new SGD(model.parameters(), { lr: 0.1 });
 * const x = randn([8, 4], { seed: 1 }).keep();
 * const y = tensor(Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1]), [8], { dtype: "i32" }).keep();
 * const meter = new ClassificationMeter();
 * for (let step = 0; step < 3; step++) {
 *   trainStep(model, opt, { x, y }, { observe: (out, t, loss) => meter.add(out, t, loss) });
 * }
 * console.log(await meter.read()); // { loss, accuracy, images: 24 }
 * meter.dispose();
 * ```
 */
export function trainStep(
  model: Module,
  optimizer: StepOptimizer,
  batch: TrainBatch,
  opts: TrainStepOptions = {},
): void {
  const lossFn = opts.loss ?? ((out: Tensor, y: Tensor) => crossEntropyLoss(out, y));
  tidy(() => {
    const out = model.call(batch.x);
    const loss = lossFn(out, batch.y);
    backward(loss);
    opts.observe?.(out, batch.y, loss);
  });
  optimizer.step();
  optimizer.zeroGrad();
}
