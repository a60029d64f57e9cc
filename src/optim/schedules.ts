/**
 * Learning-rate schedules. A schedule is a closed-form factor of the step count applied to
 * each group's initial learning rate; call `scheduler.step()` once per epoch or once per
 * iteration (the unit is whatever you step). Schedules compose: `LinearWarmup` takes the
 * schedule to follow the warmup (`then`), e.g. warmup then cosine annealing.
 */
import type { Optimizer } from "./optimizer.ts";

/**
 * The lr at step `t` for a group whose initial lr is `base`. Pure: it never touches an
 * optimizer, so schedules can be nested.
 */
export interface LrSchedule {
  /** The lr at step `t` for an initial lr `base`. */
  lrAt(t: number, base: number): number;
}

/**
 * Base class: binds a schedule to an optimizer (or to none, when it is only nested in another
 * schedule). Attaching records each group's initial lr (as PyTorch's `initial_lr`) and sets the
 * lr for step 0; each `step()` advances one step.
 */
export abstract class LRScheduler implements LrSchedule {
  /** Steps taken so far (PyTorch's `last_epoch`). */
  lastStep = 0;
  private opt: Optimizer<{ lr: number }> | null = null;

  /** Subclasses call this at the end of their constructor, once their fields are set. */
  protected attach(optimizer: Optimizer<{ lr: number }> | null): void {
    this.opt = optimizer;
    if (optimizer) {
      for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
      this.apply();
    }
  }

  /** The lr at step `t` for an initial lr `base`. */
  abstract lrAt(t: number, base: number): number;

  /** Advance one step (epoch or iteration) and set the new learning rates. */
  step(): void {
    this.lastStep++;
    this.apply();
  }

  /** Current learning rate of each group. */
  getLastLr(): number[] {
    return this.opt ? this.opt.paramGroups.map((g) => g.lr) : [];
  }

  /** Set every group's lr for the current step. */
  private apply(): void {
    if (!this.opt) return;
    for (const g of this.opt.paramGroups) g.lr = this.lrAt(this.lastStep, g.initialLr!);
  }
}

function checkPositiveInt(what: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) {
    throw new Error(`${what} must be a positive integer, got ${v}`);
  }
}

/** lr = base · gamma^⌊t / stepSize⌋ (`torch.optim.lr_scheduler.StepLR`). */
export class StepLR extends LRScheduler {
  /** Steps between decays. */
  readonly stepSize: number;
  /** Factor of each decay. */
  readonly gamma: number;
  /** Decay `optimizer`'s lr (or none, nested) by `gamma` (default 0.1) every `stepSize` steps. */
  constructor(
    optimizer: Optimizer<{ lr: number }> | null,
    opts: { stepSize: number; gamma?: number },
  ) {
    checkPositiveInt("StepLR: stepSize", opts.stepSize);
    const stepSize = opts.stepSize, gamma = opts.gamma ?? 0.1;
    super();
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.attach(optimizer);
  }
  /** base * gamma^floor(t / stepSize). */
  lrAt(t: number, base: number): number {
    return base * this.gamma ** Math.floor(t / this.stepSize);
  }
}

/**
 * Cosine annealing from base to `etaMin` over `tMax` steps (closed form of
 * `torch.optim.lr_scheduler.CosineAnnealingLR`): lr = etaMin + (base − etaMin)(1 + cos(πt/tMax))/2.
 */
export class CosineAnnealing extends LRScheduler {
  /** Steps from the base lr to `etaMin`. */
  readonly tMax: number;
  /** The lr after `tMax` steps. */
  readonly etaMin: number;
  /** Anneal `optimizer`'s lr (or none, nested) to `etaMin` (default 0) over `tMax` steps. */
  constructor(
    optimizer: Optimizer<{ lr: number }> | null,
    opts: { tMax: number; etaMin?: number },
  ) {
    checkPositiveInt("CosineAnnealing: tMax", opts.tMax);
    super();
    this.tMax = opts.tMax;
    this.etaMin = opts.etaMin ?? 0;
    this.attach(optimizer);
  }
  /** etaMin + (base - etaMin)(1 + cos(pi t / tMax)) / 2. */
  lrAt(t: number, base: number): number {
    return this.etaMin + (base - this.etaMin) * (1 + Math.cos(Math.PI * t / this.tMax)) / 2;
  }
}

/**
 * Linear warmup from `startFactor`·base to base over `warmupSteps` steps
 * (`torch.optim.lr_scheduler.LinearLR` with end factor 1), then the `then` schedule with its
 * step count restarted at 0 (constant base lr without one).
 *
 * @example
 * ```ts
 * import { CosineAnnealing, init, Linear, LinearWarmup, SGD } from "../../mod.ts";
 * await init();
 * const opt = new SGD(new Linear(4, 3).parameters(), { lr: 0.1 });
 * // 5 warmup epochs, then cosine over the remaining 95.
 * const sched = new LinearWarmup(opt, {
 *   warmupSteps: 5,
 *   then: new CosineAnnealing(null, { tMax: 95 }),
 * });
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   // ... one epoch of training (opt.step() per batch) ...
 *   sched.step();
 * }
 * console.log(sched.getLastLr()); // [0]: the end of the cosine
 * ```
 */
export class LinearWarmup extends LRScheduler {
  /** Steps of the warmup. */
  readonly warmupSteps: number;
  /** Fraction of the base lr at step 0. */
  readonly startFactor: number;
  /** The schedule after the warmup (constant base lr when null). */
  readonly then: LrSchedule | null;
  /** Warm `optimizer`'s lr (or none, nested) up linearly, then follow `then`. */
  constructor(
    optimizer: Optimizer<{ lr: number }> | null,
    opts: { warmupSteps: number; startFactor?: number; then?: LrSchedule },
  ) {
    checkPositiveInt("LinearWarmup: warmupSteps", opts.warmupSteps);
    const sf = opts.startFactor ?? 1 / 3;
    if (!(sf > 0 && sf <= 1)) throw new Error(`LinearWarmup: startFactor ${sf} not in (0, 1]`);
    super();
    this.warmupSteps = opts.warmupSteps;
    this.startFactor = sf;
    this.then = opts.then ?? null;
    this.attach(optimizer);
  }
  /** Linear from startFactor * base to base, then `then` from step 0. */
  lrAt(t: number, base: number): number {
    if (t < this.warmupSteps) {
      return base * (this.startFactor + (1 - this.startFactor) * t / this.warmupSteps);
    }
    return this.then ? this.then.lrAt(t - this.warmupSteps, base) : base;
  }
}
