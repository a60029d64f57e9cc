/**
 * Constant padding, through the "embed" gather it shares with the gradient of a strided slice
 * (`embed.ts`); its own gradient is a slice.
 */
import type { Tensor } from "../tensor.ts";
import { apply1, defineOp, shapeError } from "./registry.ts";
import { embedCpu, embedGpu } from "./embed.ts";
import { sliceByAttrs } from "./slice.ts";
import { ints, rand } from "./samples.ts";

// ---------------------------------------------------------------------------------------------

/** Attributes of {@link pad}: elements added before and after each axis, and the fill value. */
export interface PadAttrs {
  before: readonly number[];
  after: readonly number[];
  value: number;
}

const padOp = defineOp<PadAttrs>({
  name: "pad",
  inputNames: ["x"],
  shape([x], a) {
    const r = x.shape.length;
    if (a.before.length !== r || a.after.length !== r) {
      throw shapeError(
        "pad",
        `needs one [before, after] pair per axis (${r}), got ${a.before.length}`,
        x.shape,
      );
    }
    const bad = [...a.before, ...a.after].find((p) => !Number.isInteger(p) || p < 0);
    if (bad !== undefined) {
      throw shapeError("pad", `pad sizes must be non-negative integers, got ${bad}`, x.shape);
    }
    return [{ shape: x.shape.map((d, i) => d + a.before[i] + a.after[i]), dtype: x.dtype }];
  },
  cpu([x], [y], a, info) {
    const ones = a.before.map(() => 1);
    embedCpu(x, y, info.outs[0].shape, info.ins[0].shape, a.before, ones, a.value);
  },
  gpu([x], [y], a, info) {
    const ones = a.before.map(() => 1);
    const { shape, dtype } = info.ins[0];
    embedGpu("pad", x, y, dtype, info.outs[0].shape, shape, a.before, ones, a.value);
  },
  grad: ({ ins, attrs }, [g]) => [
    sliceByAttrs(g, {
      starts: attrs.before,
      steps: attrs.before.map(() => 1),
      shape: ins[0].shape,
    }),
  ],
  // Padding adds positions along the padded axes; a nonzero padding value makes a zero channel
  // nonzero (and must not pad a channel axis).
  channels: {
    kind: "byAttrs",
    rule: (a) => {
      const mixes = () => a.before.flatMap((b, i) => (b > 0 || a.after[i] > 0 ? [i] : []));
      return a.value !== 0
        ? {
          kind: "map",
          reason: "padding with a nonzero value makes a zero channel nonzero",
          mixes,
        }
        : { kind: "pad", before: (p) => p.before, after: (p) => p.after };
    },
  },
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => {
    const { before, after, value } = io.attrs;
    const pads = e.constant([...before, ...after], [before.length * 2], "i64");
    const dt = io.info.ins[0].dtype === "f32" ? "f32" : "i32";
    const v = e.constant([value], [], dt);
    e.node("Pad", [io.inputs[0], pads, v], io.outputs, { mode: "constant" });
  },
  samples: [
    {
      name: "nonzero value",
      ins: [rand([2, 3])],
      attrs: { before: [1, 2], after: [0, 1], value: 0.5 },
    },
    {
      name: "spatial zero padding of NCHW, wider than the input",
      ins: [rand([2, 3, 2, 3])],
      attrs: { before: [0, 0, 3, 1], after: [0, 0, 1, 4], value: 0 },
    },
    {
      name: "spatial padding with a nonzero value",
      ins: [rand([1, 2, 2, 3])],
      attrs: { before: [0, 0, 1, 0], after: [0, 0, 0, 2], value: -1.5 },
    },
    {
      name: "channel axis",
      ins: [rand([1, 2, 3])],
      attrs: { before: [0, 1, 0], after: [0, 2, 0], value: 0 },
    },
    { name: "i32", ins: [ints([1, -2, 3], [3])], attrs: { before: [2], after: [1], value: -7 } },
    {
      name: "empty input",
      ins: [rand([0, 2])],
      attrs: { before: [1, 0], after: [0, 1], value: 1 },
    },
  ],
});

/**
 * Constant padding: `pads` has one `[before, after]` pair per axis (or the same numbers flat:
 * `[b0, a0, b1, a1, ...]`), every axis included.
 *
 * @example
 * ```ts
 * import { init, pad, randn } from "../../mod.ts";
 * await init();
 * const x = randn([1, 3, 4, 4], { seed: 0 });
 * const y = pad(x, [[0, 0], [0, 0], [1, 1], [2, 2]]); // NCHW: 1 row above/below, 2 columns
 * console.log(y.shape); // [1, 3, 6, 8]
 * ```
 */
export function pad(
  x: Tensor,
  pads: readonly (readonly [number, number])[] | readonly number[],
  value = 0,
): Tensor {
  const flat = (pads as readonly (number | readonly number[])[]).flatMap((p) =>
    typeof p === "number" ? [p] : [...p]
  );
  if (flat.length !== 2 * x.rank) {
    throw shapeError(
      "pad",
      `needs ${x.rank} [before, after] pairs (one per axis), got ${flat.length} numbers`,
      x.shape,
    );
  }
  const before = flat.filter((_, i) => i % 2 === 0), after = flat.filter((_, i) => i % 2 === 1);
  return apply1(padOp, [x], { before, after, value });
}
