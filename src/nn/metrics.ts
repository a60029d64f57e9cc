/**
 * Classification loss and accuracy accumulated on the device, read back once: the training
 * loop and evaluation never wait on the GPU per batch.
 * @module
 */
import { add, argmax, concat, eq, reshape, scale, sum } from "../ops/index.ts";
import { noGrad } from "../ops/registry.ts";
import { type BackendName, fromHost, getDefaultBackend, type Tensor, tidy } from "../tensor.ts";
import type { Module } from "./module.ts";
import { crossEntropyLoss } from "./losses.ts";

/** What a {@link ClassificationMeter} reports. */
export interface ClassificationStats {
  /** Mean loss per image. */
  loss: number;
  /** Fraction of images whose arg-max class equals the label. */
  accuracy: number;
  /** Images added. */
  images: number;
}

/** The sums of a {@link ClassificationMeter}, as plain numbers. */
export interface MeterState {
  /** Sum of the batches' mean losses times their image counts. */
  lossSum: number;
  /** Images whose arg-max class equals the label. */
  correct: number;
  /** Images added. */
  images: number;
}

/**
 * Running sums of loss and correct predictions over batches, kept as one [2] device tensor.
 *
 * @example
 * ```ts
 * import { backward, ClassificationMeter, crossEntropyLoss, init, Linear, randn, SGD, tensor, tidy } from "../../mod.ts";
 * await init();
 * const model = new Linear(4, 3);
 * const opt = new SGD(model.parameters(), { lr: 0.1 });
 * const x = randn([8, 4], { seed: 1 }).keep();
 * const y = tensor(Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1]), [8], { dtype: "i32" }).keep();
 * const meter = new ClassificationMeter();
 * for (let step = 0; step < 3; step++) {
 *   tidy(() => {
 *     const logits = model.call(x);
 *     const loss = crossEntropyLoss(logits, y);
 *     backward(loss);
 *     meter.add(logits, y, loss);
 *   });
 *   opt.step();
 *   opt.zeroGrad();
 * }
 * console.log(await meter.read()); // { loss, accuracy, images: 24 }
 * meter.dispose();
 * ```
 */
export class ClassificationMeter {
  private total: Tensor | null = null;
  /** Images added so far. */
  images = 0;

  /** Add a batch: logits [N, classes], integer labels [N], and the batch's mean loss. */
  add(logits: Tensor, labels: Tensor, meanLoss: Tensor): void {
    if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
      throw new Error(
        `ClassificationMeter: logits [${logits.shape}] and labels [${labels.shape}] must be ` +
          `[N, classes] and [N]`,
      );
    }
    const n = labels.shape[0];
    const next = noGrad(() =>
      tidy(() => {
        const correct = sum(eq(argmax(logits, 1), labels));
        const s = concat([reshape(scale(meanLoss, n), [1]), reshape(correct, [1])]);
        return this.total ? add(this.total, s) : s;
      })
    ).keep();
    this.total?.dispose();
    this.total = next;
    this.images += n;
  }

  /** Read the sums (one readback). */
  async read(): Promise<ClassificationStats> {
    const { lossSum, correct, images } = await this.state();
    const n = Math.max(images, 1);
    return { loss: lossSum / n, accuracy: correct / n, images };
  }

  /** The raw sums (loss x images, correct predictions) and the image count; one readback. */
  async state(): Promise<MeterState> {
    const [lossSum, correct] = this.total ? Array.from(await this.total.data()) : [0, 0];
    return { lossSum, correct, images: this.images };
  }

  /**
   * Continue from sums saved by {@link state} (a training run resumed mid-epoch): later batches
   * (on `backend`, default the default backend) add to exactly the values an uninterrupted run
   * would hold.
   */
  restore(st: MeterState, backend: BackendName = getDefaultBackend()): void {
    if (![st?.lossSum, st?.correct, st?.images].every(Number.isFinite) || st.images < 0) {
      throw new Error(`ClassificationMeter.restore: not a meter state: ${JSON.stringify(st)}`);
    }
    this.dispose();
    const sums = Float32Array.from([st.lossSum, st.correct]);
    this.total = fromHost(sums, [2], "f32", backend).keep();
    this.images = st.images;
  }

  /** Free the device sums and start over. */
  dispose(): void {
    this.total?.dispose();
    this.total = null;
    this.images = 0;
  }
}

/**
 * Cross-entropy loss and accuracy of a classifier over batches, in eval mode (the model's
 * training flag is restored afterwards); one readback at the end.
 *
 * @example
 * ```ts
 * import { DataLoader, evaluate, init, loadSample } from "../../mod.ts";
 * import { zoo } from "../zoo/index.ts";
 * await init();
 * const model = zoo["small-cnn"].build({ seed: 0 });
 * const test = await loadSample("test");
 * const { loss, accuracy } = await evaluate(model, new DataLoader(test, { batchSize: 250 }));
 * console.log(loss, accuracy); // an untrained model: about 10% accuracy
 * ```
 */
export async function evaluate(
  model: Module,
  batches: AsyncIterable<{ x: Tensor; y: Tensor }> | Iterable<{ x: Tensor; y: Tensor }>,
): Promise<ClassificationStats> {
  const was = model.training;
  model.eval();
  const meter = new ClassificationMeter();
  try {
    for await (const { x, y } of batches) {
      noGrad(() =>
        tidy(() => {
          const logits = model.call(x);
          meter.add(logits, y, crossEntropyLoss(logits, y));
        })
      );
    }
    return await meter.read();
  } finally {
    meter.dispose();
    model.train(was);
  }
}
