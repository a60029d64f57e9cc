/** Small helpers shared by the layer definitions. */

/** A size given as one number (both axes) or `[h, w]`. */
export type Size2 = number | readonly [number, number];

/** `[v, v]` for a number, a copy of the pair otherwise (validated). */
export function pair(v: Size2, what: string, layer: string): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${layer}: ${what} must be a non-negative integer or [h, w], got ${v}`);
  }
  return p;
}

/** Throw unless `v` is a positive integer. */
export function positiveInt(v: number, what: string, layer: string): number {
  if (!Number.isInteger(v) || v <= 0) {
    throw new Error(`${layer}: ${what} must be a positive integer, got ${v}`);
  }
  return v;
}
