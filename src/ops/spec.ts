/**
 * The op spec: the types every op's facets are written against. This module imports nothing
 * (not even types), so the ZIG partition (`src/zig/`), the ONNX writer (`src/onnx/`) and the
 * tensor itself can import these types without importing the op registry, and `src/ops/`
 * never imports them back.
 *
 * Where a facet needs the tensor class (gradients are built from ops on tensors), the type takes
 * the tensor type as a parameter `T`; `src/ops/registry.ts` instantiates it with `Tensor`.
 */

/** Element types. All are 4 bytes wide on every backend. */
export type DType = "f32" | "i32" | "u32";

/** Host-side array for a dtype. */
export type HostArray = Float32Array | Int32Array | Uint32Array;

/** Shape and dtype, the part of a tensor that shape rules see. */
export interface TensorInfo {
  shape: readonly number[];
  dtype: DType;
}

/** Input/output shapes as the facets see them. */
export interface OpInfo {
  ins: readonly TensorInfo[];
  outs: readonly TensorInfo[];
}

/** A facet an op does not have, and why (a backward kernel has no ONNX form, argmax no grad). */
export interface NoFacet {
  none: string;
}

/**
 * Autograd rule: gradients of the inputs from the gradients of the outputs, built from ops on
 * tensors of type `T`. A gradient may come back at the output's broadcast shape: `backward`
 * sums it down to the input's shape. `null` means no gradient for that input.
 */
export type GradFn<A, T> = (
  ctx: { ins: readonly T[]; outs: readonly T[]; attrs: A },
  gradOuts: readonly T[],
) => (T | null)[];

/** Multiply-adds (conv/linear/matmul) and all arithmetic operations of one application. */
export type CostFn<A> = (info: OpInfo, attrs: A) => { macs: number; flops: number };

// ---------------------------------------------------------------------------------------------
// Channel rules (read by the ZIG partition and by compression)

/**
 * How an op's output channels relate to its input channels. The ZIG partition reads these from
 * the op registry.
 *
 * A tensor's tracked channels live on one or more of its axes (axis 1 of NCHW activations, the
 * last axis after a permute to NHWC, several axes after a reshape splits the channel axis); the
 * partition follows them through permutes, reshapes, slices and reductions. Parameter inputs
 * are recognised by tensor identity during tracing and their role comes from the op's
 * `inputNames` ("weight", "bias", ...). `A` is the op's attribute record.
 */
export type ChannelRule<A = unknown> =
  /**
   * Creates a fresh channel space for output 0 (conv, linear, transposed conv): weight rows along
   * `outAxis` (and the bias) produce it; weight columns along `inAxis` consume input 0's space.
   * Conv-like stems read channels on axis 1; a stem with a 2-D weight (linear) reads the last
   * axis. A grouped conv (groups > 1) ties each output block to its input block instead: its
   * rows join the input's space (depthwise: out channel c = in channel c) and `groups` shrinks
   * with it.
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
    /** Tensor axis of the channels (default 1; a layer norm over the last axis: the last). */
    axis?: (attrs: A, info: OpInfo) => number;
    /**
     * When a zero input channel gives a zero output channel: alternatives, any one suffices,
     * each a list of per-channel inputs that must be zero at that channel (in train and eval
     * mode alike). Batch norm: `[[gamma, beta], [beta, runningMean]]` (eval mode outputs
     * gamma·(0 - mean)/sd + beta). The partition takes the first alternative the model can
     * meet (parameters and buffers can be zeroed, constants must already be 0); a buffer it
     * needs becomes part of the group's zero test. Default: `[perChannelInputs]`.
     */
    zeroWhen?: readonly (readonly number[])[];
    /** Channels normalised together in blocks (GroupNorm): pruned in whole blocks. */
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
  /**
   * Output channels = the input's (every tensor input's, aligned), zero-invariant (ReLU,
   * pooling). `mixes`: axes whose positions the op combines (a pooling window's H and W), which
   * must not carry channels.
   */
  | { kind: "passthrough"; mixes?: (attrs: A) => readonly number[] }
  /**
   * Output channel j depends on input channel j only, but a zero channel does not stay zero
   * (sigmoid, exp, hard sigmoid): the output channels are pruned with the input's, and their
   * values do not count as zero (a gate `x * sigmoid(...)` still prunes with x).
   */
  | { kind: "map"; reason: string; mixes?: (attrs: A) => readonly number[] }
  /**
   * All non-broadcast operands and the output share one channel space (add, mul). An operand
   * broadcast over channels keeps zero channels zero only for a `product` (mul); for the
   * others the output is a `map` of the channels. A constant operand c keeps them zero when
   * `zeroWith(c)` (add: c = 0; maximum: c <= 0). `divisor`: input 1 divides (a channel of it
   * being zero is not allowed; a constant or broadcast divisor keeps zeros).
   */
  | {
    kind: "joint";
    product?: boolean;
    zeroWith?: (value: number) => boolean;
    divisor?: boolean;
  }
  /** Concatenation along `axis` (default 1): along the channels, the spaces in order. */
  | { kind: "concat"; axis?: (attrs: A) => number }
  /** Split along `axis` into outputs of `sizes` (the inverse of concat). */
  | { kind: "split"; axis: (attrs: A) => number }
  /**
   * Reshape (any: flatten, unflatten, a split of the channel axis into groups): channel c of a
   * flatten owns its H*W consecutive columns; a split into [g, C/g] is pruned along its last
   * axis (the same channel index in every group).
   */
  | { kind: "flatten" }
  /** Permutation of the axes: the channels move with their axis (NCHW <-> NHWC). */
  | { kind: "permute"; perm: (attrs: A) => readonly number[] }
  /**
   * Reduction over `axes`: channel-wise (the channel axes kept) it passes them through, zero to
   * zero; a `sum` over the channel axis consumes them (zero channels add nothing); any other
   * reduction over channels blocks them.
   */
  | {
    kind: "reduce";
    axes: (attrs: A) => readonly number[];
    keepDims: (attrs: A) => boolean;
    /** Zero channels do not change it (a sum): over the channels it consumes them. */
    consumes?: boolean;
  }
  /** Strided slice (`starts`/`steps` per axis, output shape): a channel subset stays tracked. */
  | {
    kind: "slice";
    starts: (attrs: A) => readonly number[];
    steps: (attrs: A) => readonly number[];
  }
  /**
   * Zero padding: `before`/`after` positions added per axis. Along a channel axis the added
   * positions are channels that are always zero (CIFAR ResNet's option-A shortcut pads a strided
   * slice's channels): they go with whatever channels they meet, and compression drops them
   * with their group (the padding shrinks).
   */
  | {
    kind: "pad";
    before: (attrs: A) => readonly number[];
    after: (attrs: A) => readonly number[];
  }
  /**
   * Pixel shuffle: output channel c comes from input channels c*r*r ... c*r*r+r*r-1 (the space
   * is pruned in blocks of r*r). `inverse` (pixel unshuffle): input channel c becomes output
   * channels c*r*r ... c*r*r+r*r-1.
   */
  | { kind: "pixelShuffle"; factor: (attrs: A) => number; inverse?: boolean }
  /** Mixes channels: every space it touches is unprunable. */
  | { kind: "block"; reason: string }
  /** The rule depends on the attributes (clamp's range): see {@link resolveRule}. */
  | { kind: "byAttrs"; rule: (attrs: A, info: OpInfo) => ChannelRule<A> };

// ---------------------------------------------------------------------------------------------
// ONNX facet (read by the ONNX writer)

/** Attribute values the ONNX writer understands. */
export type OnnxAttr = number | number[] | string | { float: number } | { floats: number[] };

/** What an op's ONNX rule can do while the graph is written. */
export interface OnnxEmitter {
  /** Add a node; returns nothing. Attribute numbers are written as INT unless `{float}`. */
  node(opType: string, inputs: string[], outputs: string[], attrs?: Record<string, OnnxAttr>): void;
  /** Add a constant initializer and return its name. */
  constant(values: number[], shape: number[], dtype?: "f32" | "i64" | "i32" | "u32"): string;
  /** A fresh tensor name for intermediate values. */
  fresh(hint: string): string;
}

/** Write one op: `inputs`/`outputs` are the ONNX names of the op's tensors. */
export type OnnxRule<A = unknown> = (
  e: OnnxEmitter,
  io: { inputs: string[]; outputs: string[]; attrs: A; info: OpInfo },
) => void;

// ---------------------------------------------------------------------------------------------
// Samples (read by the conformance harness, tests/conformance_test.ts)

/** One input of a sample: a shape and either explicit values or seeded random ones. */
export interface SampleInput {
  readonly shape: readonly number[];
  /** Element type (default f32). */
  readonly dtype?: DType;
  /** Explicit values in row-major order; without them, seeded uniform values in `range`. */
  readonly data?: readonly number[];
  /** Range of the random values (default [-1, 1]): keep logs, roots and divisors positive. */
  readonly range?: readonly [number, number];
  /**
   * Not differentiated by the gradient check (indices, running statistics, a divisor kept away
   * from 0). Integer inputs never are.
   */
  readonly constant?: boolean;
}

/**
 * How every element of one input moves to break a tie the way a {@link TieRule} resolves it:
 * `up`/`down` by a small step, `earlierHigher`/`earlierLower` by a ramp over the flat index
 * (earlier elements end up larger / smaller: the first of tied maxima / minima wins), `none`
 * stays.
 */
export type TieBreak = "up" | "down" | "earlierHigher" | "earlierLower" | "none";

/**
 * What an op computes where its derivative (or an index it returns) is not unique: at a kink
 * (relu at 0, a clamp bound) or between tied values (max, max pooling, argmax). The rule holds
 * when the op at the tied sample gives the output and the gradient it gives just next to the
 * tie, on the side the rule picks: the mean, over `breaks`, of the op at inputs moved per
 * {@link TieBreak} (one entry per input; two entries that favour each side of a 2-way tie say
 * "split evenly").
 */
export interface TieRule {
  /** The rule in words ("relu'(0) = 0: the derivative from below, as PyTorch"). */
  readonly rule: string;
  /** Each entry moves every input (missing inputs: `none`); the rule is their mean. */
  readonly breaks: readonly (readonly TieBreak[])[];
}

/**
 * One small application of an op that the conformance harness runs on every backend, checks
 * the gradient of, exports to ONNX and checks the channel rule on. Samples cover the edge cases
 * of the op's kernels: strides, dilation, padding, odd sizes, partial tiles, broadcasting,
 * empty dims, integer dtypes.
 */
export interface OpSample<A> {
  /** What the sample covers ("stride 2, dilation 2, padding larger than the kernel"). */
  readonly name: string;
  readonly ins: readonly SampleInput[];
  readonly attrs: A;
  /** The sample sits on a tie or kink: the rule its gradient and output follow there. */
  readonly ties?: TieRule;
  /**
   * The ONNX export writes the inference form of the op: the attributes whose cpu result the
   * exported graph must reproduce (train-mode batch norm: eval mode; dropout: p = 0), or
   * `{ none: reason }` when this sample cannot be exported.
   */
  readonly onnx?: { attrs: A } | NoFacet;
  /** Tolerance factor for backends and ONNX vs the cpu reference (long f32 sums). */
  readonly tol?: number;
}

// ---------------------------------------------------------------------------------------------
// The spec

/**
 * The compute facets, one column per backend. `apply` maps each backend to its column (see
 * `BACKEND_FACETS` in `registry.ts`), so a new backend is one facet here and one row there.
 */
export interface BackendFacets<A> {
  /** Reference implementation: fill `outs` (zeroed) from `ins`. Mutating ops write `ins`. */
  cpu(ins: readonly HostArray[], outs: HostArray[], attrs: A, info: OpInfo): void;
  /** Record the WGSL kernel dispatch(es) that compute `outs` from `ins`. */
  gpu(ins: readonly GPUBuffer[], outs: GPUBuffer[], attrs: A, info: OpInfo): void;
  /**
   * Compute `outs` (not zeroed) with the wasm backend's kernels; `ins`/`outs` are the byte
   * offsets of the tensors' blocks in the shared wasm memory. Optional: without it, or when it
   * returns false (a dtype or layout its kernels do not cover), the `cpu` facet runs on views
   * of the same memory.
   */
  wasm?(ins: readonly number[], outs: number[], attrs: A, info: OpInfo): void | boolean;
}

/** Facets every op has, whatever its kernels. */
export interface OpFacets<A, T> {
  readonly name: string;
  /** Names of the inputs, which tell graph capture the role of a parameter input. */
  readonly inputNames?: readonly string[];
  /** Output shapes and dtypes; throws errors that name the op and the offending shapes. */
  shape(ins: readonly TensorInfo[], attrs: A): TensorInfo[];
  /** Gradient, or `{ none: reason }` for ops that are not differentiable (argmax, updates). */
  readonly grad: GradFn<A, T> | NoFacet;
  /** Indices of inputs the op writes in place (optimizer updates); never differentiable. */
  readonly mutates?: readonly number[];
  /** How output channels relate to input channels, for the ZIG partition. */
  readonly channels: ChannelRule<A>;
  /** Multiply-adds and arithmetic operations, for reports. */
  readonly cost: CostFn<A>;
  /** How the op is written to an ONNX graph, or `{ none: reason }` (backward kernels). */
  readonly onnx: OnnxRule<A> | NoFacet;
  /**
   * Small applications for the conformance harness (edge shapes and attributes), or
   * `{ none: reason }` for an op that cannot run on its own.
   */
  readonly samples: readonly OpSample<A>[] | NoFacet;
  /**
   * Attributes for inputs whose shapes differ from the traced ones (`traced`: the shapes it was
   * recorded with), for ops whose attributes hold shapes (reshape, expand, slice): a graph then
   * runs at any batch size. Ops without it keep their attributes.
   */
  readonly follow?: (attrs: A, traced: OpInfo, ins: readonly TensorInfo[]) => A;
}

/** An op that computes its outputs with a kernel on every backend. */
export interface KernelOp<A, T> extends OpFacets<A, T>, BackendFacets<A> {
  readonly alias?: false;
}

/** An op whose output 0 shares input 0's storage (reshape): no kernel runs on any backend. */
export interface AliasOp<A, T> extends OpFacets<A, T> {
  readonly alias: true;
  /** Never called, so never written. */
  readonly cpu?: never;
  /** Never called, so never written. */
  readonly gpu?: never;
  /** Never called, so never written. */
  readonly wasm?: never;
}

/** One op, all facets side by side. `A` is its attribute record, `T` the tensor type. */
export type OpSpec<A, T> = KernelOp<A, T> | AliasOp<A, T>;

/** How a tensor was computed: the op application autograd walks back through. */
export interface GradNode<T> {
  op: OpSpec<never, T>;
  ins: readonly T[];
  outs: readonly T[];
  attrs: unknown;
}
