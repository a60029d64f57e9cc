/**
 * DHSPG (Dual Half-Space Projected Gradient), the OTOv2 optimizer that trains and prunes at
 * once: parameters outside the prunable Zero-Invariant Groups are trained by the base optimizer
 * (SGD with momentum, Adam or AdamW); the groups of the prunable ZIGs are partitioned once into
 * G_p (penalised toward zero) and G_np, and G_p groups get an adaptive group-lasso step plus a
 * half-space projection that sets whole groups to exactly zero. Zero groups stay zero.
 *
 * Formulas and defaults follow OTOv2 (`optimizer/dhspg.py`, see
 * `shared/design/otov2-algorithm.md` §4). Deliberate departures from the original's quirks:
 * - Adam/AdamW: standard Adam (moments start at zero, bias correction 1-β^t with the global
 *   step count t). OTOv2 starts the moments at g and g², which makes the first steps ≈0.316x.
 * - Projection cap (`upperGroupSparsity` < 1, default 1 = no cap as in OTOv2): project at most
 *   the *allowance* floor(upper·M) − (zero rows) of the candidates, lowest group ids first.
 *   OTOv2 projects the *excess* count, chosen at random.
 * - Zero detection (sparsity, fixed zeros) looks at the trainable slices only (max|x| == 0,
 *   exact); buffers such as BatchNorm running statistics are never optimised, but a buffer the
 *   channel's value depends on (`required`: the running mean of a batch norm without affine
 *   parameters) is zeroed whenever its group is, so the group compresses (OTOv2 waited for
 *   such statistics to decay to exactly 0).
 * - `weightDecayType: "l1_norm"` is honoured for every variant: rows of prunable groups get the
 *   group-lasso decay lr·w·x_j/(‖x_j‖+1e-8) instead of an L2 term; elements outside the groups
 *   keep the variant's L2 decay (coupled for sgd/adam, decoupled for adamw). OTOv2 applies it
 *   to adamw only and silently uses coupled L2 for sgd/adam.
 * - `partitionStep` and `halfSpaceStep` each default to `startPruningStep` independently
 *   (OTOv2 resets both when either is missing).
 * - The target counts as reached when zeros/total ≥ target exactly (OTOv2 divides by
 *   total + 6e-6, which needs one extra zero group when target·total is an integer).
 * - Partition ties (equal scores) are broken by the lower group id; `n'` is clamped to G.
 * - The global top-K in OTOv2's partition is over groups of linear/conv components; here over
 *   every prunable ZIG (the partitioner decides prunability).
 * - `partitionScope: "zig"` (an addition; default "global" as OTOv2) ranks each ZIG on its own:
 *   its top ceil(G·(target + tolerance)) scores form its share of the top-K (rounded up so that
 *   a small ZIG keeps a spare: `zigShare`). OTOv2's score divides a group's norm by its row
 *   width, so the global ranking favours pruning wide layers
 *   and can shrink one layer to a few channels (a bottleneck the rest of the network cannot
 *   train around); per-ZIG ranking prunes every layer by the same fraction.
 *
 * @example
 * ```ts
 * import { backward, crossEntropyLoss, DHSPG, init, partition, randn, tensor, tidy, trace } from "../../mod.ts";
 * import { zoo } from "../zoo/index.ts";
 * await init();
 * const model = zoo["small-cnn"].build({ seed: 0 });
 * const opt = new DHSPG(model.namedParameters(), partition(trace(model, [1, 1, 28, 28])), {
 *   variant: "sgd", lr: 0.1, targetGroupSparsity: 0.5, startPruningStep: 2,
 * });
 * const x = randn([8, 1, 28, 28], { seed: 1 });
 * const y = tensor(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), [8], { dtype: "i32" });
 * for (let step = 0; step < 4; step++) {
 *   tidy(() => backward(crossEntropyLoss(model.call(x), y)));
 *   opt.step();
 *   opt.zeroGrad();
 * }
 * console.log(await opt.stats());
 * ```
 */
import type { Tensor } from "../tensor.ts";
import type { NamedArray } from "../io/named_array.ts";
import { Optimizer } from "./optimizer.ts";
import type { OptimizerState } from "./state.ts";
import type { Partition } from "../zig/types.ts";
import { buildLayout, type Layout, type ZigLayout } from "./dhspg_layout.ts";
import { S, type StepPlan } from "./dhspg_plan.ts";
import { CpuEngine } from "./dhspg_cpu.ts";
import { GpuEngine } from "./dhspg_gpu.ts";

/** Base optimizer of DHSPG. */
export type DHSPGVariant = "sgd" | "adam" | "adamw";

/** Options of {@link DHSPG}; unset variant-dependent values come from §4.2's table. */
export interface DHSPGOptions {
  /** Base optimizer (default "sgd"). */
  variant?: DHSPGVariant;
  /** Learning rate (default 0.1 for every variant, as OTOv2's API). Settable: `opt.lr = x`. */
  lr?: number;
  /** Fraction of prunable groups to drive to zero (default 0.5). */
  targetGroupSparsity?: number;
  /** Enlarges G_p beyond the target (default 0.05). */
  tolerance?: number;
  /** Half-space projection aggressiveness in [0, 1) (default 0). */
  epsilon?: number;
  /** Steps of plain training before the partition (default 0). */
  startPruningStep?: number;
  /** Partition on the call where step-1 == partitionStep (default startPruningStep). */
  partitionStep?: number;
  /** Half-space projection from this step on (default startPruningStep). */
  halfSpaceStep?: number;
  /** Steps with a fixed lambda and no projection (default 0). */
  warmUpSteps?: number;
  /** Kept groups per ZIG rounded to a multiple of this (default: the partition's, else 1). */
  groupDivisible?: number;
  /** Zero groups stay zero from the start (default true). */
  fixedZeroGroups?: boolean;
  /** Base group-lasso coefficient (sgd 1e-3, adam/adamw 1e-2). */
  lambda?: number;
  /** Adaptive-lambda amplification (sgd 2, adam/adamw 20). */
  lambdaAmplify?: number;
  /**
   * The model's buffers (`model.namedBuffers()`): a group whose channel value depends on a
   * buffer (batch norm without affine parameters: -runningMean/sd in eval mode) has that
   * buffer's slice zeroed whenever the group is zero, so compression removes it. Required only
   * for such models; `OTO.dhspg` passes them.
   */
  buffers?: Iterable<[string, Tensor]>;
  /** Upper lambda bound as a multiple of lambda (sgd 10, adam/adamw 1e3). */
  hatLambdaCoeff?: number;
  /** SGD momentum / Adam beta1 (sgd 0, adam/adamw 0.9). */
  firstMomentum?: number;
  /** Adam beta2 (0.999). */
  secondMomentum?: number;
  /** SGD dampening (0). */
  dampening?: number;
  /** Weight decay (sgd/adam 0, adamw 1e-2). */
  weightDecay?: number;
  /** "l2_norm" (default) or "l1_norm" (group lasso on prunable rows; see the module comment). */
  weightDecayType?: "l2_norm" | "l1_norm";
  /** Projection cap: at most this fraction of each ZIG's G_p rows is zero (default 1). */
  upperGroupSparsity?: number;
  /**
   * Where the partition ranks saliency scores: "global" (default, OTOv2: one top-K over all
   * groups) or "zig" (each ZIG pruned by the same fraction; see the module comment).
   */
  partitionScope?: "global" | "zig";
}

/** What {@link DHSPG.stats} reports. */
export interface DHSPGStats {
  /** Steps taken. */
  step: number;
  /** Zero groups / prunable groups. */
  groupSparsity: number;
  /** Prunable groups that are exactly zero. */
  zeroGroups: number;
  /** Prunable groups. */
  totalGroups: number;
  /** Whether zeroGroups/totalGroups >= target. */
  reachedTarget: boolean;
  /**
   * Steps completed when the group sparsity first met the target (null: not yet). Checked at
   * every step and every stats() call, so it does not depend on how often stats() is read.
   */
  reachedStep: number | null;
  /** Whether the partition into G_p and G_np has happened. */
  partitioned: boolean;
  /** Groups in G_p (penalised toward zero). */
  numGp: number;
  /** Groups in G_np (trained as the base optimizer). */
  numGnp: number;
  /** Sum of group norms. */
  omega: number;
  /** Lambdas applied to G_p groups in the last step (zeros when none). */
  lambda: { min: number; max: number; mean: number; count: number };
  /** Groups projected to zero in the last step. */
  projected: number;
}

const TABLE: Record<DHSPGVariant, Required<Pick<DHSPGOptions, TableKey>>> = {
  sgd: {
    firstMomentum: 0,
    secondMomentum: 0,
    dampening: 0,
    weightDecay: 0,
    lambda: 1e-3,
    lambdaAmplify: 2,
    hatLambdaCoeff: 10,
  },
  adam: {
    firstMomentum: 0.9,
    secondMomentum: 0.999,
    dampening: 0,
    weightDecay: 0,
    lambda: 1e-2,
    lambdaAmplify: 20,
    hatLambdaCoeff: 1e3,
  },
  adamw: {
    firstMomentum: 0.9,
    secondMomentum: 0.999,
    dampening: 0,
    weightDecay: 1e-2,
    lambda: 1e-2,
    lambdaAmplify: 20,
    hatLambdaCoeff: 1e3,
  },
};
type TableKey =
  | "firstMomentum"
  | "secondMomentum"
  | "dampening"
  | "weightDecay"
  | "lambda"
  | "lambdaAmplify"
  | "hatLambdaCoeff";

/**
 * The DHSPG optimizer. `step()` is synchronous: it records GPU work and returns; nothing is
 * read back (the partition happens on the GPU too). Read progress with `await stats()`.
 * It is an {@link Optimizer} with one parameter group, so `opt.lr = x` and the schedules of
 * `schedules.ts` work as with SGD/Adam.
 */
export class DHSPG extends Optimizer<{ lr: number }> {
  /** See {@link DHSPGOptions.variant}. */
  readonly variant: DHSPGVariant;
  /** See {@link DHSPGOptions.targetGroupSparsity}. */
  targetGroupSparsity: number;
  /** See {@link DHSPGOptions.tolerance}. */
  tolerance: number;
  /** See {@link DHSPGOptions.epsilon}. */
  epsilon: number;
  /** See {@link DHSPGOptions.startPruningStep}. */
  readonly startPruningStep: number;
  /** See {@link DHSPGOptions.partitionStep}. */
  partitionStep: number;
  /** See {@link DHSPGOptions.halfSpaceStep}. */
  halfSpaceStep: number;
  /** See {@link DHSPGOptions.warmUpSteps}. */
  warmUpSteps: number;
  /** See {@link DHSPGOptions.groupDivisible}. */
  groupDivisible: number;
  /** See {@link DHSPGOptions.fixedZeroGroups}. */
  fixedZeroGroups: boolean;
  /** See {@link DHSPGOptions.lambda}. */
  lambda: number;
  /** See {@link DHSPGOptions.lambdaAmplify}. */
  lambdaAmplify: number;
  /** See {@link DHSPGOptions.hatLambdaCoeff}. */
  hatLambdaCoeff: number;
  /** See {@link DHSPGOptions.firstMomentum}. */
  firstMomentum: number;
  /** See {@link DHSPGOptions.secondMomentum}. */
  secondMomentum: number;
  /** See {@link DHSPGOptions.dampening}. */
  dampening: number;
  /** See {@link DHSPGOptions.weightDecay}. */
  weightDecay: number;
  /** See {@link DHSPGOptions.weightDecayType}. */
  weightDecayType: "l2_norm" | "l1_norm";
  /** See {@link DHSPGOptions.upperGroupSparsity}. */
  upperGroupSparsity: number;
  /** See {@link DHSPGOptions.partitionScope}. */
  partitionScope: "global" | "zig";

  private partitioned_ = false;
  private readonly layout: Layout;
  private readonly engine: GpuEngine | CpuEngine;
  private readonly hadGrad: boolean[];
  /** Which moment buffers the variant keeps. */
  private readonly needs: { m: boolean; v: boolean };

  /** DHSPG over the named parameters, grouped by `partition`'s ZIGs; unset options from §4.2. */
  constructor(
    params: Map<string, Tensor> | Iterable<[string, Tensor]>,
    partition: Partition,
    opts: DHSPGOptions = {},
  ) {
    const variant = opts.variant ?? "sgd";
    if (!(variant in TABLE)) {
      throw new Error(`DHSPG: unknown variant "${variant}"; use "sgd", "adam" or "adamw"`);
    }
    const layout = buildLayout(
      [...(params instanceof Map ? params.entries() : params)],
      partition,
      [...(opts.buffers ?? [])],
    );
    super(layout.params.map((p) => p.tensor), { lr: opts.lr ?? 0.1 }, "DHSPG");
    this.layout = layout;
    const tab = TABLE[variant];
    this.variant = variant;
    this.targetGroupSparsity = opts.targetGroupSparsity ?? 0.5;
    this.tolerance = opts.tolerance ?? 0.05;
    this.epsilon = opts.epsilon ?? 0;
    this.startPruningStep = opts.startPruningStep ?? 0;
    this.partitionStep = opts.partitionStep ?? this.startPruningStep;
    this.halfSpaceStep = opts.halfSpaceStep ?? this.startPruningStep;
    this.warmUpSteps = opts.warmUpSteps ?? 0;
    this.groupDivisible = opts.groupDivisible ??
      (partition as { groupDivisible?: number }).groupDivisible ?? 1;
    this.fixedZeroGroups = opts.fixedZeroGroups ?? true;
    this.lambda = opts.lambda ?? tab.lambda;
    this.lambdaAmplify = opts.lambdaAmplify ?? tab.lambdaAmplify;
    this.hatLambdaCoeff = opts.hatLambdaCoeff ?? tab.hatLambdaCoeff;
    this.firstMomentum = opts.firstMomentum ?? tab.firstMomentum;
    this.secondMomentum = opts.secondMomentum ?? tab.secondMomentum;
    this.dampening = opts.dampening ?? tab.dampening;
    this.weightDecay = opts.weightDecay ?? tab.weightDecay;
    this.weightDecayType = opts.weightDecayType ?? "l2_norm";
    this.upperGroupSparsity = opts.upperGroupSparsity ?? 1;
    this.partitionScope = opts.partitionScope ?? "global";
    this.validate();

    const backends = new Set(this.layout.params.map((p) => p.tensor.backend));
    if (backends.size > 1) {
      throw new Error(
        `DHSPG: parameters are on different backends (${[...backends].join(", ")}); ` +
          `move them with toBackend() first`,
      );
    }
    const backend = [...backends][0] ?? "cpu";
    if (backend === "meta") throw new Error("DHSPG: parameters are shape-only (meta) tensors");
    const needs = this.needs = {
      m: variant !== "sgd" || this.firstMomentum > 0,
      v: variant !== "sgd",
    };
    this.engine = backend === "webgpu"
      ? new GpuEngine(this.layout, needs)
      : new CpuEngine(this.layout);
    this.hadGrad = this.layout.params.map(() => false);
  }

  /** Throw (naming the option) when a hyper-parameter is out of range. */
  private validate(): void {
    const bad = (what: string) => {
      throw new Error(`DHSPG: ${what}`);
    };
    if (!(this.targetGroupSparsity >= 0 && this.targetGroupSparsity <= 1)) {
      bad(`targetGroupSparsity must be in [0, 1], got ${this.targetGroupSparsity}`);
    }
    if (!(this.epsilon >= 0 && this.epsilon < 1)) {
      bad(`epsilon must be in [0, 1), got ${this.epsilon}`);
    }
    if (!(Number.isInteger(this.groupDivisible) && this.groupDivisible >= 1)) {
      bad(`groupDivisible must be an integer >= 1, got ${this.groupDivisible}`);
    }
    if (this.weightDecayType !== "l2_norm" && this.weightDecayType !== "l1_norm") {
      bad(`weightDecayType must be "l2_norm" or "l1_norm", got "${this.weightDecayType}"`);
    }
    if (this.partitionScope !== "global" && this.partitionScope !== "zig") {
      bad(`partitionScope must be "global" or "zig", got ${JSON.stringify(this.partitionScope)}`);
    }
    if (!(this.upperGroupSparsity > 0 && this.upperGroupSparsity <= 1)) {
      bad(`upperGroupSparsity must be in (0, 1], got ${this.upperGroupSparsity}`);
    }
  }

  /** Whether the G_p / G_np partition has happened. */
  get partitioned(): boolean {
    return this.partitioned_;
  }
  /** The prunable ZIGs DHSPG optimises, with their group ranges (global ids base..base+size). */
  get zigs(): readonly ZigLayout[] {
    return this.layout.zigs;
  }
  /** Number of groups (channels of prunable ZIGs). */
  get numGroups(): number {
    return this.layout.ng;
  }
  /** The optimised parameters in flat order. */
  get paramNames(): string[] {
    return this.layout.params.map((p) => p.name);
  }

  /** Smallest number of zero groups that meets the target sparsity. */
  private needZeros(): number {
    // Smallest k with k / total >= target (in float64).
    const total = this.layout.ng;
    let k = Math.ceil(this.targetGroupSparsity * total);
    while (k > 0 && (k - 1) / total >= this.targetGroupSparsity) k--;
    while (k < total && k / total < this.targetGroupSparsity) k++;
    return k;
  }

  /**
   * One optimisation step from the parameters' `.grad`. Parameters without a gradient keep
   * their value and optimizer state (their slices of prunable groups still follow the group's
   * lambda step, projection and fixed zeros, with a zero gradient). Adam's bias correction uses
   * the global step count (PyTorch counts per parameter; they differ only for parameters that
   * missed gradients). Records GPU work only; nothing is read back.
   */
  override step(): void {
    const t = ++this.stepCount;
    const partitionNow = !this.partitioned_ && t - 1 === this.partitionStep;
    if (partitionNow) this.partitioned_ = true;
    const grads = this.layout.params.map((p) => {
      const g = p.tensor.grad;
      if (!g) return null;
      g.assertAlive("DHSPG.step");
      if (g.size !== p.size || g.backend !== p.tensor.backend) {
        throw new Error(
          `DHSPG: gradient of "${p.name}" is [${g.shape}] on ${g.backend}, parameter is ` +
            `[${p.tensor.shape}] on ${p.tensor.backend}`,
        );
      }
      return g;
    });
    const first = grads.map((g, k) => Boolean(g) && !this.hadGrad[k]);
    grads.forEach((g, k) => (this.hadGrad[k] ||= Boolean(g)));
    const adam = this.variant !== "sgd";
    const ng = this.layout.ng;
    // Fraction of groups in the partition's top-K (G_p before the per-ZIG keep rule).
    const topFrac = Math.min(this.targetGroupSparsity + this.tolerance, 0.999);
    const plan: StepPlan = {
      t,
      lr: this.lr,
      mode: adam ? "adam" : "sgd",
      decoupled: this.variant === "adamw",
      l1: this.weightDecayType === "l1_norm",
      momentum: !adam && this.firstMomentum > 0,
      wd: this.weightDecay,
      b1: this.firstMomentum,
      b2: this.secondMomentum,
      damp: this.dampening,
      bc1: adam ? 1 - this.firstMomentum ** t : 1,
      bc2: adam ? 1 - this.secondMomentum ** t : 1,
      partitionNow,
      partitioned: this.partitioned_,
      topK: Math.floor(ng * topFrac),
      topFrac: Math.fround(topFrac),
      perZig: this.partitionScope === "zig",
      groupDivisible: this.groupDivisible,
      warm: t < this.warmUpSteps,
      halfSpace: t >= this.halfSpaceStep,
      fixedZero: this.fixedZeroGroups || t > this.halfSpaceStep,
      lambda: this.lambda,
      amp: this.lambdaAmplify,
      hat: this.hatLambdaCoeff,
      epsilon: this.epsilon,
      upper: this.upperGroupSparsity,
      needZeros: this.needZeros(),
    };
    this.engine.step(plan, { grads, first });
  }

  /** Not used: DHSPG updates all parameters at once in {@link step}. */
  protected update(): void {
    throw new Error("DHSPG: update() is not used; call step()");
  }

  /**
   * Group sparsity, partition sizes, omega and the last step's lambdas, from the current
   * parameters (one 64-byte readback on webgpu).
   */
  async stats(): Promise<DHSPGStats> {
    let s: Float32Array;
    if (this.engine instanceof GpuEngine) {
      s = await this.engine.refresh(this.needZeros(), this.stepCount);
    } else {
      this.engine.refresh(this.needZeros(), this.stepCount);
      s = this.engine.summary;
    }
    const total = this.layout.ng;
    const numGp = s[S.numGp];
    return {
      step: this.stepCount,
      groupSparsity: total ? s[S.zeros] / total : 0,
      zeroGroups: s[S.zeros],
      totalGroups: total,
      reachedTarget: s[S.reached] > 0.5,
      reachedStep: s[S.reachedAt] > 0 ? s[S.reachedAt] - 1 : null,
      partitioned: this.partitioned_,
      numGp,
      numGnp: total - numGp,
      omega: s[S.omega],
      lambda: { min: s[S.lamMin], max: s[S.lamMax], mean: s[S.lamMean], count: s[S.lamCount] },
      projected: s[S.projected],
    };
  }

  /**
   * Per-group L2 norms of the current parameters (group ids as in {@link zigs}); one readback.
   */
  async groupNorms(): Promise<Float32Array> {
    const st = await this.rawStats();
    return Float32Array.from({ length: this.layout.ng }, (_, g) => Math.sqrt(st[g * 4]));
  }

  /** Per group whether every element is exactly zero; one readback. */
  async zeroGroups(): Promise<boolean[]> {
    const st = await this.rawStats();
    return Array.from({ length: this.layout.ng }, (_, g) => st[g * 4 + 3] === 0);
  }

  /** The G_p mask (true = penalised) of the partition (all false before it). */
  async penalized(): Promise<boolean[]> {
    const m = this.engine instanceof GpuEngine ? await this.engine.readMask() : this.engine.mask;
    return Array.from(m.subarray(0, this.layout.ng), (v) => v === 1);
  }

  /**
   * The last step's per-group decisions: lambda_j, whether it was projected and whether it was
   * held as a fixed zero (for tests and reports).
   */
  async lastDecisions(): Promise<{ lambda: number[]; projected: boolean[]; fixed: boolean[] }> {
    const st = this.engine instanceof GpuEngine
      ? await this.engine.readGstate()
      : this.engine.gstate;
    const ng = this.layout.ng;
    const col = (c: number) => Array.from({ length: ng }, (_, g) => st[g * 4 + c]);
    return {
      lambda: col(2),
      projected: col(3).map((v) => v > 0.5),
      fixed: col(1).map((v) => v > 0.5),
    };
  }

  /** The statistics vector, read back from the GPU engine (or the cpu engine's). */
  private async rawStats(): Promise<Float32Array> {
    if (this.engine instanceof GpuEngine) {
      await this.engine.refresh(this.needZeros(), this.stepCount);
      return await this.engine.readStats();
    }
    this.engine.refresh(this.needZeros(), this.stepCount);
    return this.engine.stats;
  }

  /**
   * The state a checkpoint needs (see {@link Optimizer.stateDict}): step count, lr, partition
   * flag, the step the target was first met, which parameters have had a gradient, the flat
   * moments and the G_p mask.
   */
  override async stateDict(): Promise<OptimizerState> {
    const { n, ng } = this.layout;
    const arrays: Record<string, NamedArray> = {};
    // Moments the variant does not keep are never read (their buffers are placeholders).
    for (
      const [k, len, dtype] of [["m", n, "F32"], ["v", n, "F32"], ["mask", ng, "U32"]] as const
    ) {
      if (k === "mask" || this.needs[k]) {
        arrays[k] = { dtype, shape: [len], data: await this.engine.readArray(k) };
      }
    }
    return {
      kind: this.kind,
      scalars: {
        stepCount: this.stepCount,
        lr: this.lr,
        partitioned: this.partitioned_,
        reachedStep: (await this.stats()).reachedStep,
        hadGrad: [...this.hadGrad],
        params: this.paramNames,
      },
      arrays,
    };
  }

  /** Restore a state from {@link stateDict} of a DHSPG over the same parameters. */
  override loadStateDict(s: OptimizerState): void {
    this.checkKind(s);
    const sc = s.scalars;
    if (JSON.stringify(sc.params) !== JSON.stringify(this.paramNames)) {
      throw new Error("DHSPG: the saved state is over different parameters");
    }
    const { n, ng } = this.layout;
    for (const [k, len] of [["m", n], ["v", n], ["mask", ng]] as const) {
      const a = s.arrays[k];
      if (!a) continue;
      if (a.data.length !== len) {
        throw new Error(`DHSPG: saved ${k} has ${a.data.length} values, expected ${len}`);
      }
      this.engine.writeState(k, a.data as Float32Array | Uint32Array);
    }
    this.stepCount = sc.stepCount as number;
    this.lr = sc.lr as number;
    this.partitioned_ = sc.partitioned as boolean;
    // Checkpoints written before reachedStep existed restore "not yet".
    const reached = sc.reachedStep as number | null | undefined;
    this.engine.writeReachedAt(typeof reached === "number" ? reached + 1 : 0);
    (sc.hadGrad as boolean[]).forEach((v, i) => (this.hadGrad[i] = v));
  }

  /** Free the optimizer's GPU buffers. */
  override dispose(): void {
    super.dispose();
    if (this.engine instanceof GpuEngine) this.engine.dispose();
  }
}
