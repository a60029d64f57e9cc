/**
 * The conv kernels of kernels/wasm/conv.c, as the conv ops' wasm facets call them. Everything is
 * in the direct-conv view of `Dims` (src/ops/conv.ts): x [n, groups*r, h, w] -> y [n,
 * groups*o, ho, wo] with weight taps kh x kw.
 */
import { wasmRuntime, withWork } from "./runtime.ts";

/** The geometry the kernels need (src/ops/conv_geometry.ts's `Dims` extends it). */
export interface ConvGeometry {
  n: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
  groups: number;
  r: number;
  o: number;
  kh: number;
  kw: number;
}

/** Stride, padding and dilation along y and x. */
export interface ConvSteps {
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

/** Where tap (r, ky, kx) of output channel o of group g is in the weight: g*sg + o*so + r*sr. */
export interface WeightStrides {
  sg: number;
  so: number;
  sr: number;
}

function geo(d: ConvGeometry, s: ConvSteps): number[] {
  return [
    d.n,
    d.groups,
    d.r,
    d.o,
    d.h,
    d.w,
    d.ho,
    d.wo,
    d.kh,
    d.kw,
    s.sh,
    s.sw,
    s.ph,
    s.pw,
    s.dh,
    s.dw,
  ];
}

/**
 * Whether the direct conv computes 3x3 stride-1 convs by Winograd F(2x2, 3x3)
 * (kernels/wasm/winograd.c; on by default). For tests and benchmarks of the plain kernel.
 */
export function setWasmWinograd(on: boolean): void {
  wasmRuntime().kernels.set_winograd(on ? 1 : 0);
}

/**
 * Direct conv: y = bias + x ⋆ w, with the weight read through `ws` (mirrored taps when
 * `flip`). Pixels outside x read zeros, so any output size (crops, transposed convs' padding)
 * works. `bias` is 0 for none.
 */
export function convDirectWasm(
  x: number,
  w: number,
  bias: number,
  y: number,
  d: ConvGeometry,
  s: ConvSteps,
  ws: WeightStrides,
  flip: boolean,
): void {
  if (d.n * d.ho * d.wo === 0) return;
  const k = wasmRuntime().kernels;
  withWork(
    "conv",
    (work, bytes) =>
      k.conv_direct(x, w, bias, y, ...geo(d, s), ws.sg, ws.so, ws.sr, flip ? 1 : 0, work, bytes),
  );
}

/** Weight gradient dw [groups*o, r, kh, kw] of the direct conv from x and dy [n, g*o, ho, wo]. */
export function convWgradWasm(
  x: number,
  dy: number,
  dw: number,
  d: ConvGeometry,
  s: ConvSteps,
): void {
  const k = wasmRuntime().kernels;
  withWork(
    "conv weight gradient",
    (work, bytes) => k.conv_wgrad(x, dy, dw, ...geo(d, s), work, bytes),
  );
}

/**
 * Transposed conv: x [n, g*r, h, w], weight [g*r, o, kh, kw], y [n, g*o, ho, wo] = bias +
 * scatter of x · w to y[iy*sh - ph + ky*dh, ix*sw - pw + kx*dw].
 */
export function convScatterWasm(
  x: number,
  w: number,
  bias: number,
  y: number,
  d: ConvGeometry,
  s: ConvSteps,
): void {
  if (d.n * d.ho * d.wo === 0) return;
  const k = wasmRuntime().kernels;
  withWork(
    "transposed conv",
    (work, bytes) => k.conv_scatter(x, w, bias, y, ...geo(d, s), work, bytes),
  );
}

/**
 * The conv as explicit im2col + GEMM over the whole batch (ungrouped convs): mode 0 forward
 * (y = x ⋆ w + bias), 1 input gradient (x receives dx from dy = y), 2 weight gradient (w
 * receives dw from x and dy = y). `d` is in the direct-conv view (o output channels, r inputs).
 */
export function convGemmWasm(
  mode: 0 | 1 | 2,
  x: number,
  w: number,
  bias: number,
  y: number,
  d: ConvGeometry,
  s: ConvSteps,
): void {
  if (d.groups !== 1) throw new Error("convGemmWasm: grouped convs use the implicit kernels");
  const k = wasmRuntime().kernels;
  const g = geo(d, s);
  g.splice(1, 1); // no groups
  withWork("conv (im2col)", (work, bytes) => k.conv_gemm(mode, x, w, bias, y, ...g, work, bytes));
}
