/**
 * Declared channel rules against the cpu reference (in f64): what a rule promises the ZIG
 * partition and compression is tested on the op itself. Zero channels in give zero channels out
 * (pass-through, joint, accessory and concat rules, pixel shuffles, a stem's zeroed rows); each
 * output channel depends only on the input channels the rule says (a perturbed channel changes
 * no other output channel; a stem's weight columns of a zero input channel are unused); a norm
 * that keeps its statistics' divisor (`normCount`) gives the same outputs once zero channels
 * are removed.
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

/** Output channels (axis 1 of output k) that are not all exactly zero. */
function nonZero(c: SampleContext, outs: Float64Array[], k: number, chans: readonly number[]) {
  const shape = c.info.outs[k].shape;
  return chans.filter((ch) => channelElems(shape, 1, ch).some((j) => outs[k][j] !== 0));
}

/** Output channels other than `keep` whose values changed. */
function changed(
  c: SampleContext,
  a: Float64Array[],
  b: Float64Array[],
  k: number,
  keep: readonly number[],
) {
  const shape = c.info.outs[k].shape;
  const out: number[] = [];
  for (let ch = 0; ch < shape[1]; ch++) {
    if (keep.includes(ch)) continue;
    if (channelElems(shape, 1, ch).some((j) => a[k][j] !== b[k][j])) out.push(ch);
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
) {
  const z = nonZero(c, run(c, edited(c, edits, "zero")), k, zeroOut);
  if (z.length) say(`${what}: zeroed input channels, output ${k} channels [${z}] are not zero`);
  if (!local) return;
  const base = run(c, edited(c, [], "zero"));
  const moved = changed(c, base, run(c, edited(c, edits, "perturb")), k, zeroOut);
  if (moved.length) {
    say(`${what}: perturbing input channels changes output ${k} channels [${moved}] too`);
  }
}

const hasChannels = (shape: readonly number[]) => shape.length >= 2;

const passthrough: Checker<unknown> = (c, _rule, say) => {
  const out = c.info.outs[0].shape;
  if (!hasChannels(out)) return false;
  const C = out[1];
  const ins = c.inputs.map((x, i) => ({ x, i })).filter(({ x }) =>
    hasChannels(x.shape) && x.shape[1] === C
  );
  if (ins.length === 0) return false;
  for (const z of ends(C)) {
    const edits = ins.map(({ i }) => ({ input: i, axis: 1, channels: [z] }));
    c.info.outs.forEach((o, k) => {
      if (hasChannels(o.shape) && o.shape[1] === C) {
        zeroAndLocal(c, say, `pass-through channel ${z}`, edits, k, [z]);
      }
    });
  }
  return true;
};

const accessory: Checker<Extract<ChannelRule, { kind: "accessory" }>> = (c, rule, say) => {
  const x = c.info.ins[0].shape;
  if (!hasChannels(x)) return false;
  const C = x[1];
  const block = rule.blockSize?.(c.sample.attrs, c.info) ?? 1;
  const per = rule.perChannelInputs.filter((i) =>
    i < c.inputs.length && c.inputs[i].host.length === C
  );
  for (const b of ends(C / block)) {
    const chans = range(b * block, block);
    const edits: Edit[] = [
      { input: 0, axis: 1, channels: chans },
      ...per.map((i) => ({ input: i, axis: 0, channels: chans })),
    ];
    const what = `accessory channels [${chans}] (input 0 and inputs [${per}])`;
    zeroAndLocal(c, say, what, edits, 0, chans, !rule.normCount);
    if (!rule.normCount || C / block < 2) continue;
    // Removing the zero channels with the divisor kept gives the same other channels.
    const full = run(c, edited(c, edits, "zero"));
    const keep = range(0, C).filter((ch) => !chans.includes(ch));
    const ins = c.inputs.map((inp, i) => {
      if (i !== 0 && !per.includes(i)) return { info: inp, host: widen(inp.host) };
      const axis = i === 0 ? 1 : 0;
      const shape = inp.shape.map((d, a) => (a === axis ? keep.length : d));
      const host = new Float64Array(keep.flatMap((ch) => channelElems(inp.shape, axis, ch)).length);
      // Gather kept channels in order (channel-major within each outer index).
      const outer = inp.shape.slice(0, axis).reduce((p, q) => p * q, 1);
      const inner = inp.shape.slice(axis + 1).reduce((p, q) => p * q, 1);
      let at = 0;
      for (let o = 0; o < outer; o++) {
        for (const ch of keep) {
          for (let s = 0; s < inner; s++) host[at++] = inp.host[(o * C + ch) * inner + s];
        }
      }
      return { info: { shape, dtype: inp.dtype }, host: host as unknown as HostArray };
    });
    const attrs = rule.normCount.set(c.sample.attrs, rule.normCount.get(c.sample.attrs, c.info));
    const info = infoOf(c.op, ins.map((t) => t.info), attrs);
    const small = cpu64(c.op, info, ins.map((t) => t.host), attrs)[0];
    const expect = keep.flatMap((ch) => channelElems(c.info.outs[0].shape, 1, ch));
    // Output rows of kept channels, in the compact order.
    const compact = new Float64Array(expect.length);
    const os = c.info.outs[0].shape, oinner = os.slice(2).reduce((p, q) => p * q, 1);
    let at = 0;
    for (let n = 0; n < os[0]; n++) {
      for (const ch of keep) {
        for (let s = 0; s < oinner; s++) compact[at++] = full[0][(n * C + ch) * oinner + s];
      }
    }
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
  // A sum with an operand broadcast over channels is not zero-invariant: nothing is promised.
  if (!rule.product && full.some((f) => !f)) return false;
  const fullIdx = full.flatMap((f, i) => (f ? [i] : []));
  for (const z of ends(C)) {
    const all = fullIdx.map((i) => ({ input: i, axis: axes[i], channels: [z] }));
    if (rule.product) {
      // A product: one zero operand channel suffices.
      for (const e of all) {
        zeroAndLocal(c, say, `joint product operand ${e.input} channel ${z}`, [e], 0, [z], false);
      }
    }
    zeroAndLocal(c, say, `joint channel ${z}`, all, 0, [z]);
  }
  return true;
};

const concat: Checker<unknown> = (c, _rule, say) => {
  const out = c.info.outs[0].shape;
  if (!hasChannels(out)) return false;
  let off = 0;
  c.inputs.forEach((x, i) => {
    const ci = x.shape[1];
    for (const z of ends(ci)) {
      if (ci === 0) break;
      zeroAndLocal(
        c,
        say,
        `concat operand ${i} channel ${z}`,
        [{ input: i, axis: 1, channels: [z] }],
        0,
        [off + z],
      );
    }
    off += ci;
  });
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
  passthrough,
  accessory,
  joint,
  concat,
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
