/**
 * Neural-network building blocks: the `Module` base, PyTorch-like layers, initialisers,
 * losses and the functional namespace `F`.
 *
 * @module
 */
export { type AnyModule, Module, type ModuleOutput } from "./module.ts";
export * from "./layers/linear.ts";
export * from "./layers/conv.ts";
export * from "./layers/norm.ts";
export * from "./layers/activation.ts";
export * from "./layers/pool.ts";
export * from "./layers/misc.ts";
export * from "./layers/resize.ts";
export * from "./layers/container.ts";
export * from "./init.ts";
export * from "./losses.ts";
export * as F from "./functional.ts";
export { linear, type LinearAttrs } from "../ops/linear.ts";
export * from "./metrics.ts";
export * from "./train_step.ts";
export * from "./image_metrics.ts";
export * from "./segmentation_metrics.ts";
export * from "./sr_eval.ts";
export type { Size2 } from "./layers/util.ts";
