/**
 * Functional forms of the layers (PyTorch's `torch.nn.functional`), exported from the package
 * as the namespace `F`: the ops the layers call, with their options optional where PyTorch has
 * defaults, plus the losses.
 *
 * @example
 * ```ts
 * import { F } from "./mod.ts";
 * const y = F.relu(F.conv2d(x, w, b, { padding: 1 }));
 * const loss = F.crossEntropy(logits, labels, { labelSmoothing: 0.1 });
 * ```
 * @module
 */
export {
  adaptiveAvgPool2d,
  avgPool2d,
  batchNorm,
  conv2d,
  convTranspose2d,
  dropout,
  flatten,
  gelu,
  groupNorm,
  instanceNorm,
  layerNorm,
  layerNorm2d,
  leakyRelu,
  logSoftmax,
  maxPool2d,
  pixelShuffle,
  prelu,
  relu,
  sigmoid,
  silu,
  softmax,
  tanh,
  upsample,
} from "../ops/index.ts";
export { linear } from "../ops/linear.ts";
export { crossEntropyLoss as crossEntropy, l1Loss, mseLoss } from "./losses.ts";
