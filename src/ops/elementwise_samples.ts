/**
 * The conformance samples every elementwise op gets (both kernel paths, several workgroups,
 * broadcasting either way, integer operands, empty inputs), beside each row's own.
 */
import type { OpSample, SampleInput } from "./spec.ts";
import { ints, rand, values } from "./samples.ts";

type UnaryAttrs = { alpha: number; beta: number };
type NoAttrs = Record<string, never>;

/** Samples of a unary op with inputs in `domain` (default [-2, 2]) and these attributes. */
export function unarySamples(
  domain: [number, number] = [-2, 2],
  attrs: UnaryAttrs = { alpha: 0, beta: 0 },
  extra: OpSample<UnaryAttrs>[] = [],
): OpSample<UnaryAttrs>[] {
  const [lo, hi] = domain;
  return [
    { name: "odd size (scalar path), 2 workgroups", ins: [rand([3, 5, 19], lo, hi)], attrs },
    { name: "multiple of 4 (vec4 path), NCHW", ins: [rand([2, 3, 4, 6], lo, hi)], attrs },
    { name: "empty", ins: [rand([0, 3], lo, hi)], attrs },
    ...extra,
  ];
}

/** Samples of a binary op whose second operand lies in `rangeB` (default [-2, 2]). */
export function binarySamples(
  rangeB: [number, number] = [-2, 2],
  withInts = true,
  extra: OpSample<NoAttrs>[] = [],
): OpSample<NoAttrs>[] {
  const [lo, hi] = rangeB;
  const b = (shape: number[]) => rand(shape, lo, hi);
  const s = (name: string, x: SampleInput, y: SampleInput) => ({ name, ins: [x, y], attrs: {} });
  const i = (shape: number[], k: number) =>
    ints(Array.from({ length: shape[0] * (shape[1] ?? 1) }, (_, j) => ((j * k) % 11) - 5), shape);
  return [
    s("same shape, odd size (scalar path)", rand([3, 7], -2, 2), b([3, 7])),
    s("same shape, multiple of 4 (vec4 path), NCHW", rand([2, 3, 4, 4], -2, 2), b([2, 3, 4, 4])),
    s("both operands broadcast", rand([4, 1, 5], -2, 2), b([3, 1])),
    s("per-channel operand [1, C, 1, 1]", rand([2, 3, 4, 5], -2, 2), b([1, 3, 1, 1])),
    s("operand broadcast over channels", rand([2, 3, 2, 5], -2, 2), b([5])),
    s("empty", rand([0, 3], -2, 2), b([3])),
    // A scalar constant (the partition's zeroWith: which constants keep zero channels zero).
    s("scalar operand", rand([2, 3, 2, 2], -2, 2), b([])),
    ...(withInts ? [s("i32 operands, broadcast", i([3, 4], 7), i([4], 3))] : []),
    ...extra,
  ];
}

/** Equal operands: where a comparison flips, and where max/min pick a side. */
export const tieData: SampleInput[] = [
  values([1, -0.5, 2, 0.25, -1, 3], [2, 3]),
  values([1, 0.5, 2, 0.25, -2, 3], [2, 3]),
];

/** Equal operands of a comparison: the result is that of the first operand moved `side`. */
export function compareTie(side: "up" | "down"): OpSample<NoAttrs> {
  return {
    name: "equal elements",
    ins: tieData,
    attrs: {},
    ties: { rule: `a tie compares as a first operand moved ${side}`, breaks: [[side, "none"]] },
  };
}
