/**
 * Dense prediction metrics accumulated on the device, read back once: per-pixel loss, pixel
 * accuracy and intersection over union per class (from per-class true positives, predicted and
 * true pixel counts), as semantic segmentation reports them.
 *
 * @module
 */
import { add, argmax, concat, mul, oneHot, reshape, scale, sum } from "../ops/index.ts";
import { noGrad } from "../ops/registry.ts";
import { type BackendName, fromHost, getDefaultBackend, type Tensor, tidy } from "../tensor.ts";
import type { Module } from "./module.ts";
import { crossEntropyLoss } from "./losses.ts";

/** What a {@link SegmentationMeter} reports. */
export interface SegmentationStats {
  /** Mean loss per pixel. */
  loss: number;
  /** Fraction of pixels whose arg-max class is the label. */
  pixelAccuracy: number;
  /** Mean of `iou` over the classes present in the labels or the predictions. */
  meanIoU: number;
  /** Per class: true positives / (predicted + labelled - true positives); NaN when absent. */
  iou: number[];
  /** Labelled pixels counted. */
  pixels: number;
}

/** The raw sums of a {@link SegmentationMeter}: loss x pixels, then per class TP, predicted, labelled. */
export interface SegmentationMeterState {
  /** Loss x pixels, then for each class: true positives, predicted, labelled. */
  sums: number[];
  /** Labelled pixels counted. */
  pixels: number;
}

/**
 * Running per-class counts over batches, one [1 + 3K] device tensor. Counts are f32 sums:
 * exact up to 2^24 pixels per class, then rounded to about 1e-7 relative.
 *
 * @example
 * ```ts
 * import { init, randn, tensor } from "../../mod.ts";
 * import { SegmentationMeter } from "./segmentation_metrics.ts";
 * await init();
 * const meter = new SegmentationMeter(3);
 * const logits = randn([2, 3, 4, 4], { seed: 1 });
 * const labels = tensor(Int32Array.from({ length: 32 }, (_, i) => i % 3), [2, 4, 4], { dtype: "i32" });
 * meter.add(logits, labels);
 * console.log(await meter.read()); // { loss, pixelAccuracy, meanIoU, iou: [3 values], pixels: 32 }
 * meter.dispose();
 * ```
 */
export class SegmentationMeter {
  private total: Tensor | null = null;
  /** Pixels added so far. */
  pixels = 0;

  /** Sums for `numClasses` classes. */
  constructor(readonly numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 2) {
      throw new RangeError(
        `SegmentationMeter: numClasses must be an integer >= 2, got ${numClasses}`,
      );
    }
  }

  /**
   * Add a batch: logits [N, K, H, W], labels [N, H, W] (i32) and optionally the batch's mean
   * per-pixel loss (computed here when omitted).
   */
  add(logits: Tensor, labels: Tensor, meanLoss?: Tensor): void {
    const k = this.numClasses;
    const [n, kk, h, w] = logits.shape;
    if (
      logits.rank !== 4 || kk !== k || labels.rank !== 3 || labels.shape.join() !== [n, h, w].join()
    ) {
      throw new Error(
        `SegmentationMeter: logits [${logits.shape}] and labels [${labels.shape}] must be ` +
          `[N, ${k}, H, W] and [N, H, W]`,
      );
    }
    const m = n * h * w;
    const next = noGrad(() =>
      tidy(() => {
        const loss = meanLoss ?? crossEntropyLoss(logits, labels);
        const pred = oneHot(reshape(argmax(logits, 1), [m]), k);
        const truth = oneHot(reshape(labels, [m]), k);
        const s = concat([
          reshape(scale(loss, m), [1]),
          sum(mul(pred, truth), 0),
          sum(pred, 0),
          sum(truth, 0),
        ]);
        return this.total ? add(this.total, s) : s;
      })
    ).keep();
    this.total?.dispose();
    this.total = next;
    this.pixels += m;
  }

  /** The raw sums; one readback. */
  async state(): Promise<SegmentationMeterState> {
    const sums = this.total
      ? Array.from(await this.total.data())
      : new Array(1 + 3 * this.numClasses).fill(0);
    return { sums, pixels: this.pixels };
  }

  /** Continue from sums saved by {@link state} (a run resumed mid-epoch). */
  restore(st: SegmentationMeterState, backend: BackendName = getDefaultBackend()): void {
    if (
      st?.sums?.length !== 1 + 3 * this.numClasses || !st.sums.every(Number.isFinite) ||
      !(st.pixels >= 0)
    ) {
      throw new Error(`SegmentationMeter.restore: not a ${this.numClasses}-class meter state`);
    }
    this.dispose();
    this.total = fromHost(Float32Array.from(st.sums), [st.sums.length], "f32", backend).keep();
    this.pixels = st.pixels;
  }

  /** Loss, pixel accuracy and IoU from the sums (one readback). */
  async read(): Promise<SegmentationStats> {
    return segmentationStats(await this.state(), this.numClasses);
  }

  /** Free the device sums and start over. */
  dispose(): void {
    this.total?.dispose();
    this.total = null;
    this.pixels = 0;
  }
}

/** {@link SegmentationStats} from a meter's sums. */
export function segmentationStats(
  st: SegmentationMeterState,
  numClasses: number,
): SegmentationStats {
  const k = numClasses, s = st.sums, px = Math.max(1, st.pixels);
  const tp = s.slice(1, 1 + k), pred = s.slice(1 + k, 1 + 2 * k), truth = s.slice(1 + 2 * k);
  const iou = tp.map((t, c) => {
    const union = pred[c] + truth[c] - t;
    return union > 0 ? t / union : NaN;
  });
  const present = iou.filter((v) => !Number.isNaN(v));
  return {
    loss: s[0] / px,
    pixelAccuracy: tp.reduce((a, v) => a + v, 0) / px,
    meanIoU: present.length ? present.reduce((a, v) => a + v, 0) / present.length : NaN,
    iou,
    pixels: st.pixels,
  };
}

/**
 * Per-pixel loss, pixel accuracy and IoU of a dense-prediction model over batches of
 * `{ x: [N, C, H, W], y: [N, H, W] }`, in eval mode (the training flag is restored).
 */
export async function evaluateSegmentation(
  model: Module,
  batches: AsyncIterable<{ x: Tensor; y: Tensor }> | Iterable<{ x: Tensor; y: Tensor }>,
  numClasses: number,
): Promise<SegmentationStats> {
  const was = model.training;
  model.eval();
  const meter = new SegmentationMeter(numClasses);
  try {
    for await (const { x, y } of batches) noGrad(() => tidy(() => meter.add(model.call(x), y)));
    return await meter.read();
  } finally {
    meter.dispose();
    model.train(was);
  }
}
