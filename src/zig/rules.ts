/**
 * Channel rules: how an op's output channels relate to its input channels. The ZIG partition
 * (`src/zig/partition.ts`) reads these from the op registry; an op without a rule blocks every
 * channel space it touches (reported by name, never a silent wrong answer).
 *
 * Channels are axis 1 of every tensor (NCHW activations, [batch, features] for linear layers).
 * Parameter inputs are recognised by tensor identity during tracing and their role comes from
 * the op's `inputNames` ("weight", "bias", ...).
 */
import type { OpInfo } from "../ops/registry.ts";

/** Declarative channel rule of one op. `A` is the op's attribute record. */
export type ChannelRule<A = unknown> =
  /**
   * Creates a fresh channel space for output 0 (conv, linear, transposed conv): weight rows along
   * `outAxis` (and the bias) produce it; weight columns along `inAxis` consume input 0's space.
   * A grouped conv (groups > 1) ties each output block to its input block instead: its rows join
   * the input's space (depthwise: out channel c = in channel c) and `groups` shrinks with it.
   */
  | {
    kind: "stem";
    /** Axis of the weight that holds output channels (conv 0, convT 1). */
    outAxis: number | ((attrs: A) => number);
    /** Axis of the weight that holds input channels (conv 1, convT 0). */
    inAxis: number | ((attrs: A) => number);
    /** Groups of a grouped conv (1 = dense). Default: `attrs.groups`, else 1. */
    groups?: (attrs: A) => number;
    /** Attributes with a new group count (compression). Default: sets `attrs.groups`. */
    withGroups?: (attrs: A, groups: number) => A;
    /** Input index of the weight. Default: the input named "weight", else 1. */
    weightInput?: number;
    /** Input index of the bias. Default: the input named "bias", else 2. */
    biasInput?: number;
  }
  /**
   * Output channel space = input 0's; every other parameter input with one entry per channel
   * (norm gamma/beta/running statistics, PReLU slopes) is attached to it. Inputs of size 1 are
   * shared scalars and stay whole.
   */
  | {
    kind: "accessory";
    perChannelInputs: number[];
    /** Channels normalised together in blocks (GroupNorm): > 1 blocks pruning. */
    blockSize?: (attrs: A, info: OpInfo) => number;
    /**
     * The op normalises across channels (LayerNorm2d): removing zero channels changes the
     * statistics unless the compact model keeps dividing by the original channel count. With
     * this hook compression sets that count; without it such an op must not be an accessory.
     */
    normCount?: {
      get: (attrs: A, info: OpInfo) => number;
      set: (attrs: A, count: number) => A;
    };
  }
  /** Output channel space = input 0's, zero-invariant, no parameters (ReLU, pooling). */
  | { kind: "passthrough" }
  /**
   * All non-broadcast operands and the output share one channel space (add, mul). An operand
   * broadcast over channels breaks zero invariance (x + c is not zero when x is) unless
   * `product` is set (mul: a zero channel times anything stays zero).
   */
  | { kind: "joint"; product?: boolean }
  /** Channel concat: output space is the operands' spaces in order, with offsets. */
  | { kind: "concat" }
  /**
   * Reshape. Same leading axes: passthrough. [N,C,H,W] -> [N, C*H*W]: channel c owns a block of
   * H*W columns (and the inverse, several channels per column, coarsens the space).
   */
  | { kind: "flatten" }
  /**
   * Pixel shuffle: output channel c comes from input channels c*r*r ... c*r*r+r*r-1 (the space
   * is pruned in blocks of r*r). `inverse` (pixel unshuffle): input channel c becomes output
   * channels c*r*r ... c*r*r+r*r-1.
   */
  | { kind: "pixelShuffle"; factor: (attrs: A) => number; inverse?: boolean }
  /** Not zero-invariant or mixes channels: every space it touches is unprunable. */
  | { kind: "block"; reason: string }
  /** The rule depends on the attributes (concat along axis 1 or not): see {@link resolveRule}. */
  | { kind: "byAttrs"; rule: (attrs: A, info: OpInfo) => ChannelRule<A> };

/** The concrete rule of one op application (resolves `byAttrs`). */
export function resolveRule<A>(rule: ChannelRule<A>, attrs: A, info: OpInfo): ChannelRule<A> {
  while (rule.kind === "byAttrs") rule = rule.rule(attrs, info);
  return rule;
}
