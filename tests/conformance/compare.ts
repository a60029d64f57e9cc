/** Elementwise comparison with a message that names the worst element and both values. */

/** Tolerance: |actual - expected| <= atol + rtol·|expected|. */
export interface Tol {
  atol: number;
  rtol: number;
}

/** Largest |v| (0 for none): the scale absolute tolerances are taken relative to. */
export function scaleOf(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) if (Math.abs(v[i]) > m) m = Math.abs(v[i]);
  return m;
}

const fmt = (v: number) => Number.isInteger(v) ? String(v) : v.toPrecision(7);

/**
 * null when `actual` matches `expected` within `tol`, else "element i is a, expected b (|diff| d,
 * n of m elements off)" for the worst element. NaN matches only NaN; an index list names the
 * elements when the arrays hold a subset.
 */
export function mismatch(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
  index?: readonly number[],
): string | null {
  if (actual.length !== expected.length) {
    return `${actual.length} elements, expected ${expected.length}`;
  }
  let worst = -1, worstErr = -1, bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (a === e || (Number.isNaN(a) && Number.isNaN(e))) continue;
    const err = Number.isNaN(a) || Number.isNaN(e) ? Infinity : Math.abs(a - e);
    if (err <= tol.atol + tol.rtol * Math.abs(e)) continue;
    bad++;
    if (err > worstErr) (worst = i, worstErr = err);
  }
  if (worst < 0) return null;
  const at = index ? index[worst] : worst;
  return `element ${at} is ${fmt(actual[worst])}, expected ${fmt(expected[worst])} ` +
    `(|diff| ${worstErr.toExponential(2)}; ${bad} of ${actual.length} off)`;
}
