/**
 * A declared channel rule must be true: run the op on the cpu reference with a channel zeroed
 * (and, for accessories, the per-channel inputs each `zeroWhen` alternative names; for stems,
 * the weight rows and bias of a channel) and check that the channel the rule maps it to is
 * exactly zero; a `map` (not zero-invariant) must at least keep channels apart. Written for reuse
 * by a registry-wide conformance harness: `checkChannelRule(name, sample)` returns the problems.
 */
import { apply, getOp, type OpSpec } from "../src/ops/registry.ts";
import { fromHost, type HostArray, type Tensor } from "../src/tensor.ts";
import { recordOps } from "../src/onnx/record.ts";
import { type ChannelRule, resolveRule } from "../src/zig/rules.ts";
import { Rng } from "../src/random.ts";

/** How to make one application of the op: `call` runs it on cpu tensors of `inputs`' shapes. */
export interface RuleSample {
  inputs: number[][];
  /** Runs the op (the last application of the op under test is checked). */
  call: (...xs: Tensor[]) => unknown;
  /** Value range of the random inputs (default [-2, 2]). */
  range?: [number, number];
}

type Host = { data: HostArray; shape: readonly number[]; dtype: Tensor["dtype"] };

const strides = (s: readonly number[]) =>
  s.map((_, i) => s.slice(i + 1).reduce((p, x) => p * x, 1));

/** Indices of the elements whose coordinate along `axis` is in `js`. */
function along(shape: readonly number[], axis: number, js: readonly number[]): number[] {
  const st = strides(shape), n = shape.reduce((p, x) => p * x, 1);
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (js.includes(Math.floor(i / st[axis]) % shape[axis])) out.push(i);
  return out;
}

function zeroed(h: Host, axis: number, js: readonly number[]): Host {
  const data = h.data.slice();
  for (const i of along(h.shape, axis, js)) data[i] = 0;
  return { ...h, data };
}

/** Run the recorded op on host inputs (cpu), returning its outputs. */
function run(op: OpSpec<never>, ins: readonly Host[], attrs: unknown): Host[] {
  const ts = ins.map((h) => fromHost(h.data.slice() as HostArray, h.shape, h.dtype, "cpu"));
  return apply(op, ts, attrs as never, "cpu").map((t) => ({
    data: t.hostData(),
    shape: t.shape,
    dtype: t.dtype,
  }));
}

const allZero = (h: Host, axis: number, js: readonly number[]) =>
  along(h.shape, axis, js).every((i) => h.data[i] === 0);

/** The problems with `name`'s channel rule on this sample (empty: the claim holds). */
export function checkChannelRule(name: string, sample: RuleSample, seed = 1): string[] {
  const rng = new Rng(seed);
  const [lo, hi] = sample.range ?? [-2, 2];
  const xs = sample.inputs.map((s) => {
    const n = s.reduce((p, x) => p * x, 1);
    const v = Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
    const t = fromHost(v, s, "f32", "cpu");
    t.requiresGrad = true;
    return t;
  });
  const { ops } = recordOps(() => sample.call(...xs));
  const rec = [...ops].reverse().find((r) => r.op.name === name);
  if (!rec) return [`${name}: the sample did not run the op`];
  const op = rec.op, attrs = rec.attrs;
  const info = { ins: rec.ins, outs: rec.outs };
  const rule = resolveRule(op.channels as ChannelRule<unknown>, attrs as never, info);
  const ins: Host[] = rec.ins.map((t) => ({
    data: t.hostData().slice(),
    shape: t.shape,
    dtype: t.dtype,
  }));
  const out0 = rec.outs[0].shape;
  const problems: string[] = [];
  const fail = (what: string) => problems.push(`${name} (${rule.kind}): ${what}`);
  const j = (c: number) => (c > 1 ? 1 : 0);
  /** Inputs carrying channel axis `axis` of the output (rank-aligned, full size there). */
  const carriers = (axis: number) =>
    ins.flatMap((h, i) => {
      const a = axis - (out0.length - h.shape.length);
      return h.dtype === "f32" && a >= 0 && h.shape[a] === out0[axis] ? [{ i, a }] : [];
    });
  switch (rule.kind) {
    case "passthrough":
    case "map": {
      const c = carriers(1);
      const ch = j(out0[1]);
      if (!c.length) return [`${name}: no input carries the output's channels`];
      if (rule.kind === "passthrough") {
        const z = ins.map((h, i) => {
          const k = c.find((x) => x.i === i);
          return k ? zeroed(h, k.a, [ch]) : h;
        });
        const outs = run(op, z, attrs);
        if (!outs.every((o) => allZero(o, 1, [ch]))) fail("a zero channel is not zero after it");
      }
      // Either way, channel ch of the output must not depend on another input channel.
      const other = ch === 0 ? Math.min(1, out0[1] - 1) : 0;
      if (other !== ch) {
        const base = run(op, ins, attrs)[0];
        const z = ins.map((h, i) => {
          const k = c.find((x) => x.i === i);
          if (!k) return h;
          const data = h.data.slice();
          for (const e of along(h.shape, k.a, [other])) data[e] += 0.75;
          return { ...h, data };
        });
        const moved = run(op, z, attrs)[0];
        if (along(base.shape, 1, [ch]).some((e) => base.data[e] !== moved.data[e])) {
          fail(`output channel ${ch} depends on input channel ${other}`);
        }
      }
      break;
    }
    case "accessory": {
      const axis = rule.axis?.(attrs as never, info) ?? 1;
      const c = ins[0].shape[axis];
      const block = rule.blockSize?.(attrs as never, info) ?? 1;
      const ch = j(c), js = Array.from({ length: block }, (_, q) => ch - (ch % block) + q);
      for (const way of rule.zeroWhen ?? [rule.perChannelInputs]) {
        const z = ins.map((h, i) =>
          i === 0 ? zeroed(h, axis, js) : way.includes(i) ? zeroed(h, 0, js) : h
        );
        const outs = run(op, z, attrs);
        if (!allZero(outs[0], axis, js)) {
          fail(`channel ${ch} is not zero with inputs [${way}] zero there`);
        }
      }
      break;
    }
    case "joint": {
      const c = carriers(1), ch = j(out0[1]);
      const zeroAll = (which: readonly number[], scalar?: number) =>
        ins.map((h, i) => {
          if (scalar !== undefined && h.data.length === 1) {
            return { ...h, data: Float32Array.from([scalar]) as HostArray };
          }
          const k = c.find((x) => x.i === i);
          return k && which.includes(i) ? zeroed(h, k.a, [ch]) : h;
        });
      const all = c.map((x) => x.i);
      const check = (z: Host[], what: string) => {
        if (!allZero(run(op, z, attrs)[0], 1, [ch])) fail(what);
      };
      const scalars = ins.some((h) => h.data.length === 1);
      if (!scalars) check(zeroAll(all), "zero channels in every operand do not give zero");
      if (rule.product && !scalars) {
        for (const i of all) {
          check(zeroAll([i]), `a zero channel in operand ${i} does not give zero`);
        }
      }
      if (scalars && rule.zeroWith) {
        for (const v of [0, 1, -1, 6, -6, 0.5]) {
          if (rule.zeroWith(v)) {
            check(zeroAll(all, v), `zeroWith(${v}) is declared but the channel is not zero`);
          }
        }
      }
      break;
    }
    case "stem": {
      const names = op.inputNames ?? [];
      const wi = rule.weightInput ?? (names.includes("weight") ? names.indexOf("weight") : 1);
      const bi = rule.biasInput ?? (names.includes("bias") ? names.indexOf("bias") : 2);
      const outAxis = typeof rule.outAxis === "function"
        ? rule.outAxis(attrs as never)
        : rule.outAxis;
      const axis = ins[wi].shape.length === 2 ? out0.length - 1 : 1;
      const ch = j(out0[axis]);
      const g = (attrs as { groups?: number }).groups ?? 1;
      if (ins[wi].shape[outAxis] !== out0[axis] && g > 1) break; // grouped: rows are per block
      const z = ins.map((
        h,
        i,
      ) => (i === wi ? zeroed(h, outAxis, [ch]) : i === bi ? zeroed(h, 0, [ch]) : h));
      if (!allZero(run(op, z, attrs)[0], axis, [ch])) {
        fail("zero weight rows and bias do not zero the channel");
      }
      break;
    }
    case "concat":
    case "split": {
      const axis = (rule.axis as (a: unknown) => number)(attrs);
      const ax = axis < 0 ? axis + ins[0].shape.length : axis;
      if (rule.kind === "concat") {
        let off = 0;
        ins.forEach((h, i) => {
          const ch = j(h.shape[ax]);
          const z = ins.map((x, k) => (k === i ? zeroed(x, ax, [ch]) : x));
          if (!allZero(run(op, z, attrs)[0], ax, [off + ch])) fail(`operand ${i} channel ${ch}`);
          off += h.shape[ax];
        });
      } else {
        let off = 0;
        for (const o of rec.outs) {
          const ch = j(o.shape[ax]);
          const outs = run(op, [zeroed(ins[0], ax, [off + ch])], attrs);
          const k = rec.outs.indexOf(o);
          if (!allZero(outs[k], ax, [ch])) fail(`output ${k} channel ${ch}`);
          off += o.shape[ax];
        }
      }
      break;
    }
    case "slice": {
      const starts = rule.starts(attrs as never), steps = rule.steps(attrs as never);
      const ch = j(out0[1]);
      const outs = run(op, [zeroed(ins[0], 1, [starts[1] + ch * steps[1]])], attrs);
      if (!allZero(outs[0], 1, [ch])) fail(`input channel ${starts[1] + ch * steps[1]} -> ${ch}`);
      break;
    }
    case "permute": {
      const perm = rule.perm(attrs as never), ch = j(ins[0].shape[1]);
      const outs = run(op, [zeroed(ins[0], 1, [ch])], attrs);
      if (!allZero(outs[0], perm.indexOf(1), [ch])) {
        fail("the channel axis does not move as declared");
      }
      break;
    }
    case "flatten": {
      const ch = j(ins[0].shape[1]);
      const z = zeroed(ins[0], 1, [ch]);
      const outs = run(op, [z], attrs);
      const idx = along(ins[0].shape, 1, [ch]);
      if (!idx.every((i) => outs[0].data[i] === 0)) fail("a reshape moved values");
      break;
    }
    case "reduce": {
      const axes = rule.axes(attrs as never), keep = rule.keepDims(attrs as never);
      const ch = j(ins[0].shape[1]);
      const outs = run(op, [zeroed(ins[0], 1, [ch])], attrs);
      if (!axes.includes(1) && !axes.includes(0)) {
        const oa = keep ? 1 : 1 - axes.filter((a) => a < 1).length;
        if (!allZero(outs[0], oa, [ch])) fail("a zero channel does not reduce to zero");
      } else if (rule.consumes && axes.includes(1)) {
        // Zero channels add nothing: the same as reducing without channel ch.
        const keepIdx = Array.from({ length: ins[0].shape[1] }, (_, q) => q).filter((q) =>
          q !== ch
        );
        const sliced = gather1(ins[0], keepIdx);
        const ref = run(op, [sliced], attrs)[0];
        if (ref.data.some((v, i) => Math.abs(v - outs[0].data[i]) > 1e-5 * (1 + Math.abs(v)))) {
          fail("a zero channel changes the reduction");
        }
      }
      break;
    }
    case "pixelShuffle": {
      const r = rule.factor(attrs as never), rr = r * r, ch = j(out0[1] / (rule.inverse ? rr : 1));
      const inCh = rule.inverse ? [ch] : Array.from({ length: rr }, (_, q) => ch * rr + q);
      const outCh = rule.inverse ? Array.from({ length: rr }, (_, q) => ch * rr + q) : [ch];
      const outs = run(op, [zeroed(ins[0], 1, inCh)], attrs);
      if (!allZero(outs[0], 1, outCh)) fail(`input channels [${inCh}] -> [${outCh}]`);
      break;
    }
  }
  return problems;
}

/** Channels `keep` of axis 1 of `h`. */
function gather1(h: Host, keep: readonly number[]): Host {
  const shape = [...h.shape];
  shape[1] = keep.length;
  const inner = h.shape.slice(2).reduce((p, x) => p * x, 1);
  const data = new Float32Array(shape.reduce((p, x) => p * x, 1));
  for (let n = 0; n < h.shape[0]; n++) {
    keep.forEach((c, q) => {
      data.set(
        h.data.subarray((n * h.shape[1] + c) * inner, (n * h.shape[1] + c + 1) * inner),
        (n * keep.length + q) * inner,
      );
    });
  }
  return { data, shape, dtype: h.dtype };
}

/** The declared (unresolved) rule kind of a registered op. */
export const declaredKind = (name: string): string => getOp(name).channels.kind;
