/**
 * Dense prediction (semantic segmentation) as a {@link Task}: a class per pixel; per-pixel
 * cross entropy; pixel accuracy and mean IoU. Data: the seeded synthetic shapes (discs and
 * squares on textured backgrounds, src/data/segmentation.ts).
 * @module
 */
import type { Tensor } from "../../tensor.ts";
import { crossEntropyLoss } from "../../nn/losses.ts";
import {
  evaluateSegmentation,
  SegmentationMeter,
  type SegmentationMeterState,
  type SegmentationStats,
} from "../../nn/segmentation_metrics.ts";
import { channelStats } from "../../data/dataset.ts";
import {
  makeShapesSegmentation,
  SegmentationLoader,
  SHAPES_CLASSES,
} from "../../data/segmentation.ts";
import type { MeterReading, MetricSpec, Task, TaskData, TaskMeter } from "../task.ts";

/** Fraction of pixels whose predicted class is right. */
export const PIXEL_ACCURACY: MetricSpec = {
  key: "pixelAccuracy",
  short: "pix acc",
  name: "pixel accuracy",
  format: (v, digits) => `${(100 * v).toFixed(digits)}%`,
  higherIsBetter: true,
  onTrain: true,
};

/** Intersection over union, averaged over the classes present. */
export const MEAN_IOU: MetricSpec = {
  key: "meanIoU",
  short: "mIoU",
  name: "mean IoU",
  format: (v, digits) => v.toFixed(digits + 2),
  higherIsBetter: true,
  onTrain: true,
};

/** Images per evaluation batch. */
const EVAL_BATCH = 64;
/** Side of the generated images. */
const SHAPES_SIZE = 32;

const reading = (r: SegmentationStats, images: number): MeterReading => ({
  loss: r.loss,
  images,
  metrics: { pixelAccuracy: r.pixelAccuracy, meanIoU: r.meanIoU },
});

/** The device sums of a {@link SegmentationMeter} seen as a {@link TaskMeter}. */
class IouMeter implements TaskMeter {
  private readonly m: SegmentationMeter;
  images = 0;
  constructor(classes: number) {
    this.m = new SegmentationMeter(classes);
  }
  add(output: Tensor, target: Tensor, loss: Tensor): void {
    this.m.add(output, target, loss);
    this.images += target.shape[0];
  }
  async read(): Promise<MeterReading> {
    return reading(await this.m.read(), this.images);
  }
  async state(): Promise<{ meter: SegmentationMeterState; images: number }> {
    return { meter: await this.m.state(), images: this.images };
  }
  restore(state: unknown): void {
    const st = state as { meter: SegmentationMeterState; images: number };
    this.m.restore(st.meter);
    this.images = st.images;
  }
  dispose(): void {
    this.m.dispose();
    this.images = 0;
  }
}

/** Pixel classes of the shapes. */
const classes = SHAPES_CLASSES.length;

/** A class per pixel: per-pixel cross entropy, pixel accuracy and mean IoU. */
export const segmentation: Task = {
  name: "segmentation",
  datasets: ["shapes"],
  metrics: [MEAN_IOU, PIXEL_ACCURACY],
  dynamicSize: true,
  defaults: {
    model: "stacked-unets",
    width: 8,
    epochs: 4,
    batchSize: 16,
    optimizer: "adam",
    startPruning: "1",
  },
  loadData(s): Promise<TaskData> {
    const train = makeShapesSegmentation({
      n: s.limit ?? 1024,
      size: SHAPES_SIZE,
      seed: 1000 + s.seed,
    });
    const test = makeShapesSegmentation({
      n: s.testLimit ?? 256,
      size: SHAPES_SIZE,
      seed: 2000 + s.seed,
    });
    const { mean, std } = channelStats(train);
    const norm = { mean, std };
    const testLoader = () => new SegmentationLoader(test, { batchSize: EVAL_BATCH, ...norm });
    const shape = [train.channels, train.height, train.width];
    return Promise.resolve({
      name: "shapes",
      trainCount: train.n,
      testCount: test.n,
      inputShape: shape,
      classes: null,
      classNames: train.classNames,
      mean,
      std,
      modelOptions: { inChannels: train.channels, outChannels: train.numClasses },
      summary: `${train.n} train, ${test.n} test images of [${shape.join(", ")}], ` +
        `${train.numClasses} pixel classes (${train.classNames.join(", ")})`,
      trainBatches: ({ batchSize, seed }) =>
        new SegmentationLoader(train, { batchSize, shuffle: true, hflip: true, seed, ...norm }),
      testBatches: testLoader,
      verifyBatch: () => {
        const b = testLoader().hostBatch(0, 0);
        return { x: b.x, shape: [b.n, ...shape] };
      },
    });
  },
  checkModel(model, out, data) {
    const [, h, w] = data.inputShape;
    if (out.length !== 4 || out[1] !== classes || out[2] !== h || out[3] !== w) {
      throw new Error(
        `model ${model} returns [${out}] for one [${data.inputShape}] image, not ${classes} ` +
          `class scores per pixel; choose a dense-prediction model (stacked-unets)`,
      );
    }
  },
  loss: (output, target) => crossEntropyLoss(output, target),
  meter: () => new IouMeter(classes),
  async evaluate(model, batches) {
    const r = await evaluateSegmentation(model, batches.epochBatches(0), classes);
    return reading(r, batches.size);
  },
};
