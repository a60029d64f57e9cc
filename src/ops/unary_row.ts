/**
 * The record type of the unary ops' table (`elementwise.ts`, `activation.ts`): one row per op
 * with its kernel body, reference, gradient, channel rule, ONNX mapping and samples.
 * @module
 */
import type { Tensor } from "../tensor.ts";
import type { ChannelRule, NoFacet, OnnxRule, OpSample } from "./spec.ts";

/** Attributes of unary ops: `alpha`/`beta` are op-specific scalars (slope, scale, shift). */
export interface UnaryAttrs {
  /** The first attribute (a slope, a lower bound, ...; 0 when unused). */
  alpha: number;
  /** The second attribute (an upper bound, ...; 0 when unused). */
  beta: number;
}

/** The gradient of a unary op: from its input x, output y, output gradient g and attributes. */
export type UnaryGrad = (x: Tensor, y: Tensor, g: Tensor, a: UnaryAttrs) => Tensor;

/** One unary op: its kernel body, reference, gradient and ONNX mapping side by side. */
export interface UnaryRow {
  /** WGSL body of `fn f(x: f32) -> f32`, may use p.alpha, p.beta. */
  wgsl: string;
  /** The reference: f(x) from x and the attributes. */
  cpu: (x: number, alpha: number, beta: number) => number;
  /** d(out)/d(in) * g, from input x, output y and output gradient g (or why there is none). */
  grad: UnaryGrad | { none: string };
  /** f(0) == 0, so an all-zero channel stays zero (ZIG pass-through). */
  zeroInvariant: boolean;
  /** Channel rule when it depends on the attributes (clamp); overrides `zeroInvariant`. */
  channels?: ChannelRule<UnaryAttrs>;
  /** The ONNX mapping, or why there is none. */
  onnx: OnnxRule<UnaryAttrs> | NoFacet;
  /** Range of the samples' inputs (default [-2, 2]) and their attributes (default 0, 0). */
  domain?: [number, number];
  /** See `domain`. */
  attrs?: UnaryAttrs;
  /** Samples beyond the shared ones: kinks with their tie rule, other attributes. */
  samples?: OpSample<UnaryAttrs>[];
}
