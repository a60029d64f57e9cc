/**
 * The ZIG partition as the optimizer (DHSPG) and compression read it. Produced by
 * `src/zig/partition.ts` from a traced graph.
 */

/**
 * A slice of one parameter that belongs to channel `j` of a ZIG: along `axis`, the indices
 * `offset + j*block ... offset + j*block + block - 1`. Examples: conv weight output rows
 * (axis 0, block 1), a BatchNorm after a concat (axis 0, offset = the operand's position),
 * a Linear after Flatten (axis 1, block = H*W), a transposed conv's output (axis 1).
 */
export interface ParamSlice {
  /** Parameter or buffer path, as in `module.namedParameters()` ("layer1.0.conv1.weight"). */
  param: string;
  axis: number;
  offset: number;
  block: number;
  /** Role of the tensor in its op (weight, bias, gamma, beta, runningMean, runningVar, ...). */
  role: string;
  /** Trainable parameter (true) or buffer (false). Buffers are sliced, never optimised. */
  trainable: boolean;
}

/** One Zero-Invariant Group family: `size` channels of one channel space. */
export interface Zig {
  /** Stable index in the partition (deterministic order). */
  id: number;
  /** Number of channels (groups): G. */
  size: number;
  /** Whether these channels may be removed. */
  prunable: boolean;
  /** Why not, when not prunable ("feeds the model output", "op sigmoid is not zero-invariant"). */
  reason?: string;
  /**
   * Slices that make up each group's variables: zero all of them for channel j and channel j's
   * output is zero (producer rows, biases, norm entries, concat slices of later norms).
   */
  members: ParamSlice[];
  /** Slices that disappear with channel j but are not part of its group (next layer's inputs). */
  consumers: ParamSlice[];
  /** Module paths of the ops in this channel space, for reports. */
  layers: string[];
}

/** The whole partition. */
export interface Partition {
  zigs: Zig[];
  /** Trainable parameters outside every prunable ZIG member list (trained normally). */
  otherParams: string[];
  /** Kept channel counts should be multiples of this (OTOv2 `group_divisible`, default 1). */
  groupDivisible?: number;
}
