/**
 * Channel rules: how an op's output channels relate to its input channels. The ZIG partition
 * reads these from the op registry; an op without a rule blocks every channel space it touches
 * (reported by name, never a silent wrong answer).
 *
 * Channels are axis 1 of every tensor (NCHW activations, [batch, features] for linear layers).
 */
import type { OpInfo } from "../ops/registry.ts";

/** Declarative channel rule of one op. `A` is the op's attribute record. */
export type ChannelRule<A = unknown> =
  /** Creates a fresh channel space for output 0 (conv, linear, transposed conv). */
  | {
    kind: "stem";
    /** Axis of the weight (input `weightInput`) that holds output channels (conv 0, convT 1). */
    outAxis: number | ((attrs: A) => number);
    /** Axis of the weight that holds input channels (conv 1, convT 0). */
    inAxis: number | ((attrs: A) => number);
    /** Groups of a grouped conv (1 = dense). */
    groups?: (attrs: A) => number;
  }
  /** Output channel space = input 0's; per-channel parameters (norm gamma/beta, PReLU slope). */
  | {
    kind: "accessory";
    perChannelInputs: number[];
    blockSize?: (attrs: A, info: OpInfo) => number;
  }
  /** Output channel space = input 0's, zero-invariant, no parameters (ReLU, pooling). */
  | { kind: "passthrough" }
  /** All non-broadcast operands and the output share one channel space (add, mul). */
  | { kind: "joint" }
  /** Channel concat: output space is the operands' spaces in order, with offsets. */
  | { kind: "concat" }
  /** Flatten [N,C,H,W] -> [N, C*H*W]: channel c owns a block of H*W columns. */
  | { kind: "flatten" }
  /** Pixel shuffle: output channel c comes from input channels c*r*r ... c*r*r+r*r-1. */
  | { kind: "pixelShuffle"; factor: (attrs: A) => number }
  /** Not zero-invariant or mixes channels: every space it touches is unprunable. */
  | { kind: "block"; reason: string };
