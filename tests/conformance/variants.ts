/**
 * Attribute variants: a sample fixes every attribute, so a facet that ignores one (an ONNX rule
 * writing PyTorch's default alpha instead of the sample's, a kernel with eps 1e-5 built in)
 * agrees with the cpu reference as long as every sample uses that value. For each fractional
 * attribute (eps, alpha, momentum, a clamp bound, a learning rate) the harness runs the first
 * sample that has it once more with the value moved, and checks the variant like any sample,
 * when the move changes what the cpu reference computes.
 */
import type { OpSample } from "../../src/ops/spec.ts";

/** A path into an attribute record and the value there. */
interface Leaf {
  path: (string | number)[];
  value: number;
}

function leaves(v: unknown, path: (string | number)[] = [], out: Leaf[] = []): Leaf[] {
  if (typeof v === "number") out.push({ path, value: v });
  else if (Array.isArray(v)) v.forEach((x, i) => leaves(x, [...path, i], out));
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) leaves(x, [...path, k], out);
  }
  return out;
}

/**
 * Another value of the same kind: a fraction in (-1, 1) halfway to ±1 keeping its sign (0.9 ->
 * 0.95, 1e-5 -> 0.5, -0.5 -> -0.75), a larger one by a quarter.
 */
export function moved(v: number): number {
  return Math.abs(v) < 1 ? v + Math.sign(v) * (1 - Math.abs(v)) / 2 : v * 1.25;
}

function withLeaf(v: unknown, path: readonly (string | number)[], value: number): unknown {
  if (path.length === 0) return value;
  const [k, ...rest] = path;
  if (Array.isArray(v)) return v.map((x, i) => (i === k ? withLeaf(x, rest, value) : x));
  const o = v as Record<string, unknown>;
  return { ...o, [k]: withLeaf(o[k as string], rest, value) };
}

/** `attrs.a.b` or `attrs.pads[1]`. */
const pathName = (path: readonly (string | number)[]) =>
  "attrs" + path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("");

/**
 * One variant per fractional attribute of the op: taken from the first sample that has the
 * attribute, is not on a tie, and exports with its own attributes. `seen` collects the
 * attributes already varied across the op's samples.
 */
export function attrVariants<A>(
  sample: OpSample<A>,
  seen: Set<string>,
): { sample: OpSample<A>; attr: string }[] {
  if (sample.ties || sample.onnx) return [];
  const out: { sample: OpSample<A>; attr: string }[] = [];
  for (const { path, value } of leaves(sample.attrs)) {
    if (!Number.isFinite(value) || Number.isInteger(value)) continue;
    const attr = pathName(path.map((k) => (typeof k === "number" ? 0 : k)));
    if (seen.has(attr)) continue;
    seen.add(attr);
    const v = moved(value);
    out.push({
      attr,
      sample: {
        ...sample,
        name: `${sample.name}, ${pathName(path)} = ${+v.toPrecision(6)} (moved)`,
        attrs: withLeaf(sample.attrs, path, v) as A,
      },
    });
  }
  return out;
}
