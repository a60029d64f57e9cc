/**
 * Declared channel rules against the cpu reference (in f64): what a rule promises the ZIG
 * partition and compression is tested on the op itself. Zero channels in give zero channels out
 * (pass-through, joint, accessory and concat rules, pixel shuffles, a stem's zeroed rows, each
 * accessory `zeroWhen` alternative, constants a joint's `zeroWith` accepts); each output channel
 * depends only on the input channels the rule says (a perturbed channel changes no other output
 * channel, `map` rules included; a stem's weight columns of a zero input channel are unused;
 * permutes, slices, splits and reductions move channels where they say); a norm that keeps its
 * statistics' divisor (`normCount`) gives the same outputs once zero channels are removed; a sum
 * over the channels is unchanged by a zero channel.
 */
import type { ChannelRule, HostArray, OpInfo } from "../../src/ops/spec.ts";
import { resolveRule } from "../../src/zig/rules.ts";
import { type SampleContext, where } from "./context.ts";
import { seedOf, uniformValues, widen } from "./data.ts";
import { cpu64, infoOf } from "./run.ts";

type Hosts = HostArray[];

/** The elements of channel `ch` along `axis` of an array of `shape`. */
function channelElems(shape: readonly number[], axis: number, ch: number): number[] {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const c = shape[axis], inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const idx: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let s = 0; s < inner; s++) idx.push((o * c + ch) * inner + s);
  }
  return idx;
}

/** One input's channels to zero or perturb: input index, channel axis, channels. */
interface Edit {
  input: number;
  axis: number;
  channels: readonly number[];
}

function edited(c: SampleContext, edits: readonly Edit[], how: "zero" | "perturb"): Hosts {
  const hosts = c.inputs.map((x) => widen(x.host.slice() as HostArray));
  for (const e of edits) {
    const shape = c.inputs[e.input].shape;
    const r = uniformValues(hosts[e.input].length, seedOf(`${c.op.name}/perturb${e.input}`), -2, 2);
    for (const ch of e.channels) {
      for (const j of channelElems(shape, e.axis, ch)) {
        hosts[e.input][j] = how === "zero" ? 0 : r[j];
      }
    }
  }
  return hosts;
}

const run = (c: SampleContext, hosts: Hosts, info: OpInfo = c.info, attrs = c.sample.attrs) =>
  cpu64(c.op, info, hosts, attrs);

const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i);
const ends = (count: number) => count > 1 ? [0, count - 1] : [0];

/** Output channels (along `axis` of output k) that are not all exactly zero. */
function nonZero(
  c: SampleContext,
  outs: Float64Array[],
  k: number,
  chans: readonly number[],
  axis = 1,
) {
  const shape = c.info.outs[k].shape;
  return chans.filter((ch) => channelElems(shape, axis, ch).some((j) => outs[k][j] !== 0));
}

/** Output channels other than `keep` whose values changed. */
function changed(
  c: SampleContext,
  a: Float64Array[],
  b: Float64Array[],
  k: number,
  keep: readonly number[],
  axis = 1,
) {
  const shape = c.info.outs[k].shape;
  const out: number[] = [];
  for (let ch = 0; ch < shape[axis]; ch++) {
    if (keep.includes(ch)) continue;
    if (channelElems(shape, axis, ch).some((j) => a[k][j] !== b[k][j])) out.push(ch);
  }
  return out;
}

/** Checks of one resolved rule; `null` when the sample gives it nothing to check. */
type Checker<R> = (c: SampleContext, rule: R, say: (s: string) => void) => boolean;

/** Zero `edits` -> output channels `zeroOut` of output `k` zero; perturb -> only those change. */
function zeroAndLocal(
  c: SampleContext,
  say: (s: string) => void,
  what: string,
  edits: Edit[],
  k: number,
  zeroOut: readonly number[],
  local = true,
  axis = 1,
  zero = true,
) {
  if (zero) {
    const z = nonZero(c, run(c, edited(c, edits, "zero")), k, zeroOut, axis);
    if (z.length) say(`${what}: zeroed input channels, output ${k} channels [${z}] are not zero`);
  }
  if (!local) return;
  const base = run(c, edited(c, [], "zero"));
  const moved = changed(c, base, run(c, edited(c, edits, "perturb")), k, zeroOut, axis);
  if (moved.length) {
    say(`${what}: perturbing input channels changes output ${k} channels [${moved}] too`);
  }
}

const hasChannels = (shape: readonly number[]) => shape.length >= 2;

/**
 * Pass-through (zero stays zero) and map (only kept apart): output channel z of every output
 * with the channel count depends on input channel z only. Nothing is promised when the op
 * mixes positions along the channel axis (`mixes`).
 */
const elementwise =
  (zero: boolean): Checker<{ mixes?: (a: unknown) => readonly number[] }> => (c, rule, say) => {
    const out = c.info.outs[0].shape;
    if (!hasChannels(out)) return false;
    if (rule.mixes?.(c.sample.attrs).some((a) => a === 1 || a === 1 - out.length)) return false;
    const C = out[1];
    const ins = c.inputs.map((x, i) => ({ x, i })).filter(({ x }) =>
      hasChannels(x.shape) && x.shape[1] === C
    );
    if (ins.length === 0) return false;
    for (const z of ends(C)) {
      const edits = ins.map(({ i }) => ({ input: i, axis: 1, channels: [z] }));
      c.info.outs.forEach((o, k) => {
        if (hasChannels(o.shape) && o.shape[1] === C) {
          const what = `${zero ? "pass-through" : "map"} channel ${z}`;
          zeroAndLocal(c, say, what, edits, k, [z], true, 1, zero);
        }
      });
    }
    return true;
  };

/** The elements of channels `keep` along `axis`, in the compact order (each outer index). */
function gatherChannels(
  host: ArrayLike<number>,
  shape: readonly number[],
  axis: number,
  keep: readonly number[],
): Float64Array {
  const outer = shape.slice(0, axis).reduce((p, q) => p * q, 1);
  const C = shape[axis], inner = shape.slice(axis + 1).reduce((p, q) => p * q, 1);
  const out = new Float64Array(outer * keep.length * inner);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const ch of keep) {
      for (let s = 0; s < inner; s++) out[at++] = host[(o * C + ch) * inner + s];
    }
  }
  return out;
}

const accessory: Checker<Extract<ChannelRule, { kind: "accessory" }>> = (c, rule, say) => {
  const x = c.info.ins[0].shape;
  const axis = rule.axis?.(c.sample.attrs, c.info) ?? 1;
  if (!hasChannels(x) || axis >= x.length) return false;
  const C = x[axis];
  const block = rule.blockSize?.(c.sample.attrs, c.info) ?? 1;
  const per = rule.perChannelInputs.filter((i) =>
    i < c.inputs.length && c.inputs[i].host.length === C
  );
  // Each alternative way to a zero output channel, with only its inputs zeroed.
  const ways = (rule.zeroWhen ?? [rule.perChannelInputs]).map((w) =>
    w.filter((i) => per.includes(i))
  );
  for (const b of ends(C / block)) {
    const chans = range(b * block, block);
    const edit = (inputs: readonly number[]): Edit[] => [
      { input: 0, axis, channels: chans },
      ...inputs.map((i) => ({ input: i, axis: 0, channels: chans })),
    ];
    for (const way of ways) {
      const what = `accessory channels [${chans}] (input 0 and inputs [${way}])`;
      zeroAndLocal(c, say, what, edit(way), 0, chans, false, axis);
    }
    if (!rule.normCount) {
      zeroAndLocal(c, say, `accessory channels [${chans}]`, edit(per), 0, chans, true, axis, false);
    }
    if (!rule.normCount || C / block < 2) continue;
    // Removing the zero channels with the divisor kept gives the same other channels.
    const edits = edit(ways[0]);
    const what = `accessory channels [${chans}] (inputs [${ways[0]}])`;
    const full = run(c, edited(c, edits, "zero"));
    const zeroedIns = edited(c, edits, "zero");
    const keep = range(0, C).filter((ch) => !chans.includes(ch));
    const ins = c.inputs.map((inp, i) => {
      if (i !== 0 && !per.includes(i)) return { info: inp, host: zeroedIns[i] };
      const ax = i === 0 ? axis : 0;
      const shape = inp.shape.map((d, a) => (a === ax ? keep.length : d));
      const host = gatherChannels(zeroedIns[i], inp.shape, ax, keep);
      return { info: { shape, dtype: inp.dtype }, host: host as unknown as HostArray };
    });
    // Compression's attributes: follow the fewer channels (a layer norm's normalised shape),
    // then keep the original divisor.
    const followed = c.op.follow?.(c.sample.attrs as never, c.info, ins.map((t) => t.info)) ??
      c.sample.attrs;
    const attrs = rule.normCount.set(followed, rule.normCount.get(c.sample.attrs, c.info));
    const info = infoOf(c.op, ins.map((t) => t.info), attrs);
    const small = cpu64(c.op, info, ins.map((t) => t.host), attrs)[0];
    const compact = gatherChannels(full[0], c.info.outs[0].shape, axis, keep);
    const bad = compact.findIndex((v, j) => Math.abs(v - small[j]) > 1e-9 * (1 + Math.abs(v)));
    if (bad >= 0) {
      say(
        `${what}: removing the zero channels (normCount kept) changes element ${bad}: ` +
          `${small[bad]}, expected ${compact[bad]}`,
      );
    }
  }
  return true;
};

const joint: Checker<Extract<ChannelRule, { kind: "joint" }>> = (c, rule, say) => {
  const out = c.info.outs[0].shape;
  if (!hasChannels(out) || out[1] < 2) return false;
  const r = out.length, C = out[1];
  const axes = c.inputs.map((x) => 1 - (r - x.shape.length));
  const full = c.inputs.map((x, i) => axes[i] >= 0 && x.shape[axes[i]] === C);
  // A divisor with channels is not allowed (the partition blocks it): the numerator's zero
  // channels are what a division keeps.
  if (rule.divisor) full[1] = false;
  const fullIdx = full.flatMap((f, i) => (f ? [i] : []));
  const scalars = c.inputs.flatMap((x, i) => (x.host.length === 1 && !full[i] ? [i] : []));
  const broadcast = c.inputs.some((_, i) => !full[i] && !scalars.includes(i));
  // A sum with a tensor broadcast over channels is not zero-invariant: nothing is promised.
  if (!rule.product && !rule.divisor && broadcast) return false;
  if (!fullIdx.length) return false;
  for (const z of ends(C)) {
    const all = fullIdx.map((i) => ({ input: i, axis: axes[i], channels: [z] }));
    if (rule.product) {
      // A product: one zero operand channel suffices.
      for (const e of all) {
        zeroAndLocal(c, say, `joint product operand ${e.input} channel ${z}`, [e], 0, [z], false);
      }
    }
    if (!scalars.length || rule.product) zeroAndLocal(c, say, `joint channel ${z}`, all, 0, [z]);
    // Constants the rule says keep zeros: 0 for a sum, <= 0 for max, >= 0 for min, != 0 ...
    for (const v of rule.zeroWith ? [0, 1, -1, 6, -6, 0.5] : []) {
      if (!scalars.length || !rule.zeroWith?.(v)) continue;
      const hosts = edited(c, all, "zero");
      for (const i of scalars) hosts[i][0] = v;
      const bad = nonZero(c, run(c, hosts), 0, [z]);
      if (bad.length) say(`joint channel ${z}: zeroWith(${v}) is declared, the output is not zero`);
    }
  }
  return true;
};

const concat: Checker<Extract<ChannelRule, { kind: "concat" }>> = (c, rule, say) => {
  const out = c.info.outs[0].shape;
  if (!hasChannels(out)) return false;
  const a = rule.axis?.(c.sample.attrs) ?? 1;
  const axis = a < 0 ? a + out.length : a;
  let off = 0;
  c.inputs.forEach((x, i) => {
    const ci = x.shape[axis];
    for (const z of ends(ci)) {
      if (ci === 0) break;
      const e = [{ input: i, axis, channels: [z] }];
      zeroAndLocal(c, say, `concat operand ${i} position ${z}`, e, 0, [off + z], true, axis);
    }
    off += ci;
  });
  return true;
};

/** Output k's position along `outAxis` <- input position along axis 1 (split, slice, permute). */
function moves(
  c: SampleContext,
  say: (s: string) => void,
  what: string,
  pairs: readonly { k: number; inCh: number; outCh: number; outAxis: number }[],
) {
  for (const { k, inCh, outCh, outAxis } of pairs) {
    const e = [{ input: 0, axis: 1, channels: [inCh] }];
    zeroAndLocal(c, say, `${what} channel ${inCh} -> ${outCh}`, e, k, [outCh], true, outAxis);
  }
}

const split: Checker<Extract<ChannelRule, { kind: "split" }>> = (c, rule, say) => {
  const x = c.info.ins[0].shape;
  if (!hasChannels(x) || x[1] === 0) return false;
  const a = rule.axis(c.sample.attrs), axis = a < 0 ? a + x.length : a;
  let off = 0;
  const pairs = c.info.outs.flatMap((o, k) => {
    const start = off;
    off += o.shape[axis];
    if (axis !== 1) return ends(x[1]).map((z) => ({ k, inCh: z, outCh: z, outAxis: 1 }));
    return ends(o.shape[1]).filter(() => o.shape[1] > 0).map((z) => ({
      k,
      inCh: start + z,
      outCh: z,
      outAxis: 1,
    }));
  });
  moves(c, say, "split", pairs);
  return pairs.length > 0;
};

const slice: Checker<Extract<ChannelRule, { kind: "slice" }>> = (c, rule, say) => {
  const x = c.info.ins[0].shape, y = c.info.outs[0].shape;
  if (!hasChannels(x) || y[1] === 0) return false;
  const starts = rule.starts(c.sample.attrs), steps = rule.steps(c.sample.attrs);
  const pairs = ends(y[1]).map((z) => ({
    k: 0,
    inCh: starts[1] + z * steps[1],
    outCh: z,
    outAxis: 1,
  }));
  moves(c, say, "slice", pairs);
  return true;
};

/** Zero padding: input channel z is output channel before + z; the added channels are zero. */
const pad: Checker<Extract<ChannelRule, { kind: "pad" }>> = (c, rule, say) => {
  const x = c.info.ins[0].shape, y = c.info.outs[0].shape;
  if (!hasChannels(x) || x[1] === 0) return false;
  const b = rule.before(c.sample.attrs)[1];
  moves(c, say, "pad", ends(x[1]).map((z) => ({ k: 0, inCh: z, outCh: b + z, outAxis: 1 })));
  const added = range(0, y[1]).filter((ch) => ch < b || ch >= b + x[1]);
  const z = added.length ? nonZero(c, run(c, edited(c, [], "perturb")), 0, added, 1) : [];
  if (z.length) say(`added channels [${z}] are not zero`);
  return true;
};

const permute: Checker<Extract<ChannelRule, { kind: "permute" }>> = (c, rule, say) => {
  const x = c.info.ins[0].shape;
  if (!hasChannels(x) || x[1] === 0) return false;
  const outAxis = rule.perm(c.sample.attrs).indexOf(1);
  moves(c, say, "permute", ends(x[1]).map((z) => ({ k: 0, inCh: z, outCh: z, outAxis })));
  return true;
};

const reduce: Checker<Extract<ChannelRule, { kind: "reduce" }>> = (c, rule, say) => {
  const x = c.info.ins[0].shape;
  if (!hasChannels(x) || x[1] < 2) return false;
  const axes = rule.axes(c.sample.attrs), keep = rule.keepDims(c.sample.attrs);
  if (!axes.includes(0) && !axes.includes(1)) {
    // Channel-wise: channel z reduces to output channel z (after the removed leading axes).
    const outAxis = keep ? 1 : 1 - axes.filter((a) => a < 1).length;
    moves(c, say, "reduce", ends(x[1]).map((z) => ({ k: 0, inCh: z, outCh: z, outAxis })));
    return true;
  }
  if (!rule.consumes || !axes.includes(1)) return false;
  // A sum over the channels: a zero channel changes nothing, as if it were removed.
  for (const z of ends(x[1])) {
    const zeroed = edited(c, [{ input: 0, axis: 1, channels: [z] }], "zero");
    const a = run(c, zeroed)[0];
    const kept = range(0, x[1]).filter((ch) => ch !== z);
    const host = gatherChannels(zeroed[0], x, 1, kept) as unknown as HostArray;
    const shape = x.map((d, i) => (i === 1 ? kept.length : d));
    const info = infoOf(c.op, [{ shape, dtype: c.inputs[0].dtype }], c.sample.attrs);
    const b = cpu64(c.op, info, [host], c.sample.attrs)[0];
    const bad = a.findIndex((v, j) => Math.abs(v - b[j]) > 1e-9 * (1 + Math.abs(v)));
    if (bad >= 0) say(`sum over channels: a zero channel ${z} changes element ${bad}`);
  }
  return true;
};

const flatten: Checker<unknown> = (c, _rule, say) => {
  const x = c.info.ins[0].shape, y = c.info.outs[0].shape;
  if (!hasChannels(x) || !hasChannels(y) || x[0] !== y[0] || x[0] === 0) return false;
  const perSample = c.inputs[0].host.length / x[0];
  const inner = perSample / x[1];
  for (const z of ends(x[1])) {
    const outs = run(c, edited(c, [{ input: 0, axis: 1, channels: [z] }], "zero"));
    for (let n = 0; n < x[0]; n++) {
      for (let s = 0; s < inner; s++) {
        const j = n * perSample + z * inner + s;
        if (outs[0][j] !== 0) {
          return say(`reshape channel ${z}: flat element ${j} is not zero`), true;
        }
      }
    }
  }
  return true;
};

const pixelShuffle: Checker<Extract<ChannelRule, { kind: "pixelShuffle" }>> = (c, rule, say) => {
  const x = c.info.ins[0].shape, y = c.info.outs[0].shape;
  if (!hasChannels(x)) return false;
  const rr = rule.factor(c.sample.attrs) ** 2;
  if (rule.inverse) {
    for (const z of ends(x[1])) {
      const outs = range(z * rr, rr);
      zeroAndLocal(
        c,
        say,
        `pixel unshuffle channel ${z}`,
        [{ input: 0, axis: 1, channels: [z] }],
        0,
        outs,
      );
    }
  } else {
    for (const z of ends(y[1])) {
      const ins = range(z * rr, rr);
      zeroAndLocal(
        c,
        say,
        `pixel shuffle output channel ${z}`,
        [{ input: 0, axis: 1, channels: ins }],
        0,
        [z],
      );
    }
  }
  return true;
};

const stem: Checker<Extract<ChannelRule, { kind: "stem" }>> = (c, rule, say) => {
  const attrs = c.sample.attrs as { groups?: number };
  const names = c.op.inputNames ?? [];
  const wi = rule.weightInput ?? (names.includes("weight") ? names.indexOf("weight") : 1);
  const bi0 = rule.biasInput ?? (names.includes("bias") ? names.indexOf("bias") : 2);
  const bi = bi0 < c.inputs.length ? bi0 : -1;
  const x = c.info.ins[0].shape, w = c.info.ins[wi].shape, y = c.info.outs[0].shape;
  if (!hasChannels(x) || !hasChannels(y) || (w.length === 2 && x.length !== 2)) return false;
  const outAxis = typeof rule.outAxis === "function" ? rule.outAxis(c.sample.attrs) : rule.outAxis;
  const inAxis = typeof rule.inAxis === "function" ? rule.inAxis(c.sample.attrs) : rule.inAxis;
  const groups = rule.groups?.(c.sample.attrs) ?? attrs.groups ?? 1;
  const cin = x[1], cout = y[1];
  const bias = (chans: number[]): Edit[] =>
    bi >= 0 ? [{ input: bi, axis: 0, channels: chans }] : [];
  if (groups === 1) {
    if (w[outAxis] !== cout || w[inAxis] !== cin) {
      say(`stem: weight [${w}] axes ${outAxis}/${inAxis} do not hold ${cout}/${cin} channels`);
      return true;
    }
    for (const z of ends(cout)) {
      const edits = [{ input: wi, axis: outAxis, channels: [z] }, ...bias([z])];
      zeroAndLocal(c, say, `stem weight rows ${z} (axis ${outAxis})`, edits, 0, [z]);
    }
    for (const z of ends(cin)) {
      // Input channel z zero: the weight columns that read it are unused.
      const zero = edited(c, [{ input: 0, axis: 1, channels: [z] }], "zero");
      const a = run(c, zero);
      const pert = edited(c, [{ input: wi, axis: inAxis, channels: [z] }], "perturb");
      pert[0] = zero[0];
      const b = run(c, pert);
      if (a[0].some((v, j) => v !== b[0][j])) {
        say(
          `stem weight columns ${z} (axis ${inAxis}) change the output while input channel ${z} is zero`,
        );
      }
    }
    return true;
  }
  const ci = cin / groups, co = cout / groups;
  const rowsOut = w[outAxis] === cout;
  for (const g of ends(groups)) {
    const edits: Edit[] = [
      { input: 0, axis: 1, channels: range(g * ci, ci) },
      rowsOut
        ? { input: wi, axis: outAxis, channels: range(g * co, co) }
        : { input: wi, axis: inAxis, channels: range(g * ci, ci) },
      ...bias(range(g * co, co)),
    ];
    zeroAndLocal(c, say, `grouped stem group ${g}`, edits, 0, range(g * co, co));
  }
  return true;
};

const CHECKERS: Record<string, Checker<never>> = {
  passthrough: elementwise(true),
  map: elementwise(false),
  accessory,
  joint,
  concat,
  split,
  slice,
  pad,
  permute,
  reduce,
  flatten,
  pixelShuffle,
  stem,
  block: () => false,
};

/**
 * Check the sample's resolved channel rule. `checked`: the rule promised something this sample
 * could test.
 */
export function checkChannels(c: SampleContext): { problems: string[]; checked: boolean } {
  const problems: string[] = [];
  let rule: ChannelRule;
  try {
    rule = resolveRule(c.op.channels as ChannelRule, c.sample.attrs, c.info);
  } catch (e) {
    return { problems: [`${where(c, "channel rule")}: ${(e as Error).message}`], checked: false };
  }
  const check = CHECKERS[rule.kind];
  if (!check) {
    const msg =
      `no check for channel rule kind "${rule.kind}": add one to tests/conformance/channels.ts`;
    return { problems: [`${where(c, "channel rule")}: ${msg}`], checked: false };
  }
  const say = (s: string) => void problems.push(`${where(c, `channel rule ${rule.kind}`)}: ${s}`);
  const checked = (check as Checker<ChannelRule>)(c, rule, say);
  return { problems, checked };
}
