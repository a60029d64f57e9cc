/**
 * Functional forms of the layers (PyTorch's `torch.nn.functional`), exported from the package
 * as the namespace `F`: the ops the layers call, with their options optional where PyTorch has
 * defaults, plus the losses.
 *
 * @example
 * ```ts
 * import { F, init, randn, tensor } from "../../mod.ts";
 * await init();
 * const x = randn([2, 3, 8, 8], { seed: 0 });
 * const w = randn([4, 3, 3, 3], { seed: 1 }), b = randn([4], { seed: 2 });
 * const y = F.relu(F.conv2d(x, w, b, { padding: 1 })); // [2, 4, 8, 8]
 * const logits = F.linear(F.flatten(y), randn([10, 256], { seed: 3 })); // [2, 10]
 * const labels = tensor([3, 7], [2], { dtype: "i32" });
 * const loss = F.crossEntropy(logits, labels, { labelSmoothing: 0.1 });
 * ```
 * @module
 */
export {
  adaptiveAvgPool2d,
  avgPool2d,
  batchNorm,
  clamp,
  conv2d,
  convTranspose2d,
  dropout,
  flatten,
  gelu,
  globalMaxPool2d,
  groupNorm,
  hardSigmoid,
  hardSwish,
  instanceNorm,
  layerNorm,
  layerNorm2d,
  leakyRelu,
  logSoftmax,
  maxPool2d,
  mish,
  pixelShuffle,
  prelu,
  relu,
  relu6,
  sigmoid,
  silu,
  softmax,
  tanh,
  upsample,
} from "../ops/index.ts";
export { linear } from "../ops/linear.ts";
export { crossEntropyLoss as crossEntropy, l1Loss, mseLoss } from "./losses.ts";
