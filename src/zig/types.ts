/**
 * The ZIG partition as the optimizer (DHSPG) and compression read it. Produced by
 * `src/zig/partition.ts` from a traced graph.
 */

/**
 * A slice of one parameter that belongs to channel `j` of a ZIG: along `axis`, the indices
 * `offset + j*stride ... offset + j*stride + block - 1` (`stride` defaults to `block`).
 * Examples: conv weight output rows (axis 0, block 1), a BatchNorm after a concat (axis 0,
 * offset = the operand's position), a Linear after Flatten (axis 1, block = H*W), a transposed
 * conv's output (axis 1), a conv after a channel shuffle (stride 2).
 */
export interface ParamSlice {
  /** Parameter or buffer path, as in `module.namedParameters()` ("layer1.0.conv1.weight"). */
  param: string;
  /** The axis along which channels are laid out. */
  axis: number;
  /** Index of the ZIG's channel 0 along the axis. */
  offset: number;
  /** Consecutive indices per channel. */
  block: number;
  /** Distance between the first indices of consecutive groups (default `block`). */
  stride?: number;
  /** Role of the tensor in its op (weight, bias, gamma, beta, runningMean, runningVar, ...). */
  role: string;
  /** Trainable parameter (true) or buffer (false). Buffers are sliced, never optimised. */
  trainable: boolean;
  /**
   * A buffer the channel's value depends on (eval-mode batch norm without affine parameters
   * outputs -runningMean/sd for a zero input): part of the zero test and zeroed with the group.
   */
  required?: boolean;
}

/** The indices of group `j` of a slice along its axis. */
export function sliceIndices(s: ParamSlice, j: number): number[] {
  const start = s.offset + j * (s.stride ?? s.block);
  return Array.from({ length: s.block }, (_, q) => start + q);
}

/** Whether a member slice takes part in the zero test (trainable or a required buffer). */
export function zeroTested(s: ParamSlice): boolean {
  return s.trainable || s.required === true;
}

/** Which op made a channel space unprunable, and why. */
export interface Blocker {
  /** Op name ("sigmoid"), or "" for the model's inputs and outputs. */
  op: string;
  /** Module path of the op ("" for the root module). */
  layer: string;
  /** The reason ("not zero-invariant", "tied to the model input", ...). */
  why: string;
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
  /** The ops that made it unprunable (op, layer, why), when not prunable. */
  blockedBy?: Blocker[];
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
  /** Every ZIG, prunable or not. */
  zigs: Zig[];
  /** Trainable parameters outside every prunable ZIG member list (trained normally). */
  otherParams: string[];
  /** Kept channel counts should be multiples of this (OTOv2 `group_divisible`, default 1). */
  groupDivisible?: number;
}
