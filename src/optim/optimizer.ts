/**
 * `Optimizer`: the base of SGD, Adam and AdamW. Parameters are grouped (each group has its own
 * hyper-parameters, e.g. no weight decay on norms); `step()` updates every parameter that has
 * a gradient with one in-place kernel per tensor, never reading anything back.
 */
import { noGrad } from "../ops/registry.ts";
import { fromHost, type Tensor } from "../tensor.ts";
import { zeroGrad as clearGrads } from "../autograd.ts";
import { zeros } from "../ops/creation.ts";
import type { NamedArray } from "../io/named_array.ts";
import type { OptimizerState } from "./state.ts";

/** A parameter group: its tensors and the hyper-parameters that apply to them. */
export type ParamGroup<H> = H & {
  params: Tensor[];
  /** The learning rate schedulers scale (set by the first scheduler attached). */
  initialLr?: number;
};

/** What the constructors accept: a list of tensors, or groups with per-group overrides. */
export type ParamsInput<H> = Iterable<Tensor> | ({ params: Iterable<Tensor> } & Partial<H>)[];

/**
 * Base class. Subclasses implement {@link update} for one tensor.
 *
 * @example
 * ```ts
 * import { backward, crossEntropyLoss, init, Linear, randn, SGD, tensor, tidy } from "../../mod.ts";
 * await init();
 * const model = new Linear(4, 3);
 * const x = randn([8, 4], { seed: 1 });
 * const y = tensor(Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1]), [8], { dtype: "i32" });
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * tidy(() => backward(crossEntropyLoss(model.call(x), y)));
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export abstract class Optimizer<H extends { lr: number }> {
  /** Parameter groups with their hyper-parameters (mutable: schedulers set `lr`). */
  readonly paramGroups: ParamGroup<H>[];
  /** Per-parameter state (momentum buffers, moments, step counts). */
  protected readonly state: Map<Tensor, Record<string, Tensor | number>> = new Map();
  /** Number of completed `step()` calls. */
  stepCount = 0;
  /** The optimizer's name ("SGD", "Adam", ...), recorded in its {@link stateDict}. */
  readonly kind: string;

  /** Parameter groups from `params` over `defaults`; `name` is recorded in the state. */
  constructor(params: ParamsInput<H>, defaults: H, name: string) {
    this.kind = name;
    const list = [...(params as Iterable<unknown>)];
    const groups = list.length > 0 && !isTensorLike(list[0])
      ? (list as ({ params: Iterable<Tensor> } & Partial<H>)[])
      : [{ params: list as Tensor[] } as unknown as { params: Iterable<Tensor> } & Partial<H>];
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g, gi) => {
      const ps = [...g.params];
      for (const p of ps) {
        if (seen.has(p)) {
          throw new Error(`${name}: parameter ${p.label ?? `#${p.id}`} appears in two groups`);
        }
        seen.add(p);
        if (p.dtype !== "f32") {
          throw new Error(`${name}: parameter ${p.label ?? `#${p.id}`} is ${p.dtype}, not f32`);
        }
      }
      const merged = { ...defaults, ...g, params: ps } as ParamGroup<H>;
      if (!(merged.lr >= 0)) throw new Error(`${name}: group ${gi} has invalid lr ${merged.lr}`);
      return merged;
    });
    if (seen.size === 0) throw new Error(`${name}: got an empty parameter list`);
  }

  /** Learning rate of the first group. */
  get lr(): number {
    return this.paramGroups[0].lr;
  }
  /** Set the learning rate of every group. */
  set lr(v: number) {
    if (!(v >= 0)) throw new Error(`optimizer: invalid learning rate ${v}`);
    for (const g of this.paramGroups) g.lr = v;
  }

  /** Every parameter of every group. */
  params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** Drop every gradient (PyTorch's `zero_grad(set_to_none=True)`), freeing their memory. */
  zeroGrad(): void {
    clearGrads(this.params());
  }

  /**
   * Update every parameter that has a gradient (parameters without one are skipped). Records
   * one kernel per tensor on the parameter's backend; nothing is read back.
   */
  step(): void {
    this.stepCount++;
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          const g = p.grad;
          if (!g) continue;
          p.assertAlive("optimizer step");
          if (g.rank !== p.rank || g.shape.some((d, i) => d !== p.shape[i])) {
            throw new Error(
              `optimizer: gradient of ${p.label ?? `#${p.id}`} has shape [${g.shape}], ` +
                `parameter has [${p.shape}]`,
            );
          }
          let st = this.state.get(p);
          if (!st) this.state.set(p, st = {});
          this.update(p, g, group, st);
        }
      }
    });
  }

  /** Update one tensor in place. */
  protected abstract update(
    p: Tensor,
    g: Tensor,
    group: ParamGroup<H>,
    state: Record<string, Tensor | number>,
  ): void;

  /** A kept zero tensor shaped like `p` on its backend (for state buffers). */
  protected zerosLike(p: Tensor): Tensor {
    return zeros(p.shape, { backend: p.backend }).keep();
  }

  /**
   * The state a checkpoint needs to continue bit-exactly: step count, learning rates and every
   * per-parameter buffer (read to the host; parameters are numbered in {@link params} order).
   *
   * @example
   * ```ts
   * import { init, Linear, SGD } from "../../mod.ts";
   * await init();
   * const opt = new SGD(new Linear(4, 3).parameters(), { lr: 0.1, momentum: 0.9 });
   * // ... some training steps ...
   * const saved = await opt.stateDict();
   * // Later, e.g. in a new process, an optimizer with the same settings over the same model:
   * const again = new SGD(new Linear(4, 3).parameters(), { lr: 0.1, momentum: 0.9 });
   * again.loadStateDict(saved);
   * ```
   */
  async stateDict(): Promise<OptimizerState> {
    const arrays: Record<string, NamedArray> = {};
    const perParam: Record<string, number>[] = [];
    const params = this.params();
    for (let i = 0; i < params.length; i++) {
      const nums: Record<string, number> = {};
      for (const [k, v] of Object.entries(this.state.get(params[i]) ?? {})) {
        if (typeof v === "number") nums[k] = v;
        else arrays[`${i}.${k}`] = { dtype: "F32", shape: [...v.shape], data: await v.data() };
      }
      perParam.push(nums);
    }
    return {
      kind: this.kind,
      scalars: {
        stepCount: this.stepCount,
        lrs: this.paramGroups.map((g) => g.lr),
        perParam,
      },
      arrays,
    };
  }

  /** Restore a state from {@link stateDict} of the same kind of optimizer over the same model. */
  loadStateDict(s: OptimizerState): void {
    this.checkKind(s);
    const sc = s.scalars;
    const params = this.params();
    const perParam = sc.perParam as Record<string, number>[];
    if (!Array.isArray(perParam) || perParam.length !== params.length) {
      throw new Error(
        `${this.kind}: the saved state has ${perParam?.length} parameters, the optimizer ` +
          `${params.length}`,
      );
    }
    const lrs = sc.lrs as number[];
    if (!Array.isArray(lrs) || lrs.length !== this.paramGroups.length) {
      throw new Error(
        `${this.kind}: the saved state has ${lrs?.length} parameter groups, the optimizer ` +
          `${this.paramGroups.length}`,
      );
    }
    const restored = params.map((p, i) => {
      const st: Record<string, Tensor | number> = { ...perParam[i] };
      for (const [key, a] of Object.entries(s.arrays)) {
        const dot = key.indexOf(".");
        if (Number(key.slice(0, dot)) !== i) continue;
        if (a.data.length !== p.size) {
          throw new Error(
            `${this.kind}: saved ${key} has ${a.data.length} values, parameter ` +
              `${p.label ?? i} has ${p.size}`,
          );
        }
        st[key.slice(dot + 1)] = fromHost(a.data, p.shape, p.dtype, p.backend).keep();
      }
      return st;
    });
    this.dispose();
    params.forEach((p, i) => {
      if (Object.keys(restored[i]).length) this.state.set(p, restored[i]);
    });
    this.stepCount = sc.stepCount as number;
    lrs.forEach((lr, i) => (this.paramGroups[i].lr = lr));
  }

  /** Throw unless `s` was written by this kind of optimizer. */
  protected checkKind(s: OptimizerState): void {
    if (s.kind !== this.kind) {
      throw new Error(`${this.kind}: the saved optimizer state is from ${s.kind}`);
    }
  }

  /** Free the optimizer state (momentum buffers, moments). */
  dispose(): void {
    for (const st of this.state.values()) {
      for (const v of Object.values(st)) if (typeof v !== "number") v.dispose();
    }
    this.state.clear();
  }
}

function isTensorLike(v: unknown): boolean {
  return typeof v === "object" && v !== null && "shape" in v && "storage" in v;
}
