/**
 * How shape-carrying attributes follow inputs whose shapes differ from the traced ones (another
 * batch size at run time, fewer channels after compression): the targets of reshape and expand
 * and the per-axis extents of a slice. The ops' `follow` facets call these.
 */
/**
 * New target of a reshape traced as `oldIn -> oldOut` when its input is now `newIn` (another
 * batch size, or fewer channels after compression). Both shapes are split into runs of axes with
 * equal products; a run whose size changed passes the change to its leading output axis (the
 * channel-major one: [N, C*H*W] -> [N, C', H, W] keeps H and W).
 */
export function reshapeTarget(
  oldIn: readonly number[],
  oldOut: readonly number[],
  newIn: readonly number[],
): number[] {
  if (oldIn.length === newIn.length && oldIn.every((d, i) => d === newIn[i])) return [...oldOut];
  if (oldIn.length !== newIn.length) {
    throw new Error(`reshape: traced input rank ${oldIn.length}, got [${newIn}]`);
  }
  const out = [...oldOut];
  let i = 0, j = 0;
  while (i < oldIn.length || j < oldOut.length) {
    const i0 = i, j0 = j;
    let pa = 1, pb = 1;
    // Each run takes at least one axis from each side (when there is one left).
    if (i < oldIn.length) pa *= oldIn[i++];
    if (j < oldOut.length) pb *= oldOut[j++];
    while (pa !== pb) {
      if (pa < pb && i < oldIn.length) pa *= oldIn[i++];
      else if (j < oldOut.length) pb *= oldOut[j++];
      else if (i < oldIn.length) pa *= oldIn[i++];
      else break;
    }
    let na = 1;
    for (let k = i0; k < i; k++) na *= newIn[k];
    if (na === pa) continue;
    if (pb === 0 || j === j0) {
      throw new Error(`reshape: cannot adapt [${oldIn}] -> [${oldOut}] to input [${newIn}]`);
    }
    // The leading output axis of the run that is not 1 (or the first) takes the change.
    let lead = j0;
    for (let k = j0; k < j; k++) {
      if (oldOut[k] !== 1) {
        lead = k;
        break;
      }
    }
    const rest = pb / oldOut[lead];
    if (na % rest !== 0) {
      throw new Error(
        `reshape: traced [${oldIn}] -> [${oldOut}]; input [${newIn}] does not divide into ` +
          `the kept axes (${na} elements for ${rest})`,
      );
    }
    out[lead] = na / rest;
  }
  return out;
}

/** New target of an expand traced as `oldIn -> oldOut` when its input is now `newIn`. */
export function expandTarget(
  oldIn: readonly number[],
  oldOut: readonly number[],
  newIn: readonly number[],
): number[] {
  const r = oldOut.length, k = oldIn.length;
  return oldOut.map((d, i) => {
    const a = i - (r - k);
    if (a < 0) return d;
    // Axes the expand kept (not broadcast from 1) follow the input.
    return oldIn[a] === d ? newIn[a] : d;
  });
}

/**
 * A slice traced as `starts/steps/shape` on `oldIn`, for the input `newIn`: an axis the slice
 * took whole (the batch, usually) takes the new input whole; a crop keeps its traced extent.
 */
export function sliceFollow(
  oldIn: readonly number[],
  a: { starts: readonly number[]; steps: readonly number[]; shape: readonly number[] },
  newIn: readonly number[],
): { starts: number[]; steps: number[]; shape: number[] } {
  const shape = a.shape.map((n, d) =>
    a.starts[d] === 0 && a.steps[d] === 1 && n === oldIn[d] ? newIn[d] : n
  );
  return { starts: [...a.starts], steps: [...a.steps], shape };
}
