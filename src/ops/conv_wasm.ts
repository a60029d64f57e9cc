/**
 * The conv ops' wasm column: which kernel of kernels/wasm/conv.c (through
 * src/backend/wasm/conv.ts) computes each op, in the direct-conv view of `Dims`.
 */
import {
  convDirectWasm,
  convScatterWasm,
  type ConvSteps,
  convWgradWasm,
} from "../backend/wasm/conv.ts";
import type { Conv2dAttrs, Dims } from "./conv_geometry.ts";

function steps(a: Conv2dAttrs): ConvSteps {
  const [sh, sw] = a.stride, [ph, pw] = a.padding, [dh, dw] = a.dilation;
  return { sh, sw, ph, pw, dh, dw };
}

/** conv2d (and the cropped direct conv of convTranspose2d's input gradient); bias 0 = none. */
export function conv2dWasm(x: number, w: number, b: number, y: number, d: Dims): void {
  const kk = d.kh * d.kw;
  convDirectWasm(x, w, b, y, d, steps(d.a), { sg: d.o * d.r * kk, so: d.r * kk, sr: kk }, false);
}

/**
 * Transposed conv (also conv2d's input gradient); `w` is [G*R, O, kh, kw]. Stride 1 is the
 * direct conv with the kernel mirrored and padding d*(k-1) - p; other strides scatter.
 */
export function transposedWasm(x: number, w: number, b: number, y: number, d: Dims): void {
  const { a } = d;
  if (a.stride[0] === 1 && a.stride[1] === 1) {
    const kk = d.kh * d.kw;
    convDirectWasm(
      x,
      w,
      b,
      y,
      d,
      {
        sh: 1,
        sw: 1,
        ph: a.dilation[0] * (d.kh - 1) - a.padding[0],
        pw: a.dilation[1] * (d.kw - 1) - a.padding[1],
        dh: a.dilation[0],
        dw: a.dilation[1],
      },
      { sg: d.r * d.o * kk, so: kk, sr: d.o * kk },
      true,
    );
    return;
  }
  convScatterWasm(x, w, b, y, d, steps(a));
}

/** Weight gradient [groups*o, r, kh, kw] from x and dy. */
export function wgradWasm(x: number, dy: number, dw: number, d: Dims): void {
  convWgradWasm(x, dy, dw, d, steps(d.a));
}
