/** Every op's user-facing function. Importing this registers all ops. */
export * from "./elementwise.ts";
export * from "./fill.ts";
export * from "./cast.ts";
export * from "./activation.ts";
export * from "./reduce.ts";
export * from "./movement.ts";
export * from "./matmul.ts";
export * from "./creation.ts";
export { slice, type SliceAttrs } from "./slice.ts";
export { concat, type ConcatAttrs, split, type SplitAttrs } from "./concat.ts";
export { gather, type GatherAttrs, indexSelect, oneHot } from "./gather.ts";
export { pad, type PadAttrs } from "./pad.ts";
export {
  crossEntropy,
  type CrossEntropyOptions,
  logSoftmax,
  softmax,
  type SoftmaxAttrs,
} from "./softmax.ts";
export * from "./conv.ts";
export * from "./pool.ts";
export * from "./global_pool.ts";
export * from "./norm.ts";
export * from "./resize.ts";
export * from "./prelu.ts";
export * from "./dropout.ts";
