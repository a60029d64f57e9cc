/**
 * The conv ops' wasm column: which kernel computes each op, in the direct-conv view of `Dims`.
 * Two families (src/backend/wasm/conv.ts): implicit GEMM over a zero-padded copy of each image
 * (kernels/wasm/conv.c: no im2col traffic, but every column of the padded grid is computed) and
 * im2col + GEMM over the whole batch (kernels/wasm/conv_gemm.c: nothing wasted, O(N*P*J)
 * copies); see {@link wasmConvPath}.
 */
import {
  convDirectWasm,
  convGemmWasm,
  convScatterWasm,
  type ConvSteps,
  convWgradWasm,
} from "../backend/wasm/conv.ts";
import { type Conv2dAttrs, type Dims, mirroredDirect } from "./conv_geometry.ts";

function steps(a: Conv2dAttrs): ConvSteps {
  const [sh, sw] = a.stride, [ph, pw] = a.padding, [dh, dw] = a.dilation;
  return { sh, sw, ph, pw, dh, dw };
}

let forced: "implicit" | "gemm" | null = null;

/**
 * Force one conv family on wasm ("implicit" or "gemm"; grouped convs always use the implicit
 * kernels), or restore the automatic choice with "auto". For tests and benchmarks.
 */
export function setWasmConvPath(path: "auto" | "implicit" | "gemm"): void {
  forced = path === "auto" ? null : path;
}

/**
 * The family for one of a conv's three computations (forward, input gradient, weight gradient).
 * im2col + GEMM where the implicit kernels lose (measured per CPU-second on the vgg-small and
 * resnet-small layers, bench/README.md): strided 1x1 convs (the implicit kernels copy every
 * phase of the input for a quarter of it), outputs of at most 16 pixels per image (mostly
 * padding columns and short tiles) for the forward and weight gradient unless Winograd takes
 * them, and strided convs' weight gradients. Grouped convs always run implicit.
 */
export function wasmConvPath(d: Dims, op: "forward" | "input" | "weight"): "implicit" | "gemm" {
  if (d.groups !== 1) return "implicit";
  if (forced) return forced;
  const strided = d.a.stride[0] > 1 || d.a.stride[1] > 1;
  if (d.kh * d.kw === 1 && strided) return "gemm";
  if (op === "input") return "implicit";
  // Winograd (kernels/wasm/winograd*.c, inside the implicit kernels) beats im2col + GEMM on
  // small images too (4x4 outputs of 64 channels: 54 vs 20-29 GFLOP/s forward, 37-39 vs 30
  // weight gradient, per CPU-second).
  const winograd = d.kh === 3 && d.kw === 3 && !strided && d.a.dilation[0] === 1 &&
    d.a.dilation[1] === 1 && d.r >= 4 && d.o >= 4 && d.ho * d.wo >= 16;
  if (winograd) return "implicit";
  const small = d.ho * d.wo <= 16;
  return small || (op === "weight" && strided) ? "gemm" : "implicit";
}

/** conv2d (and the cropped direct conv of convTranspose2d's input gradient); bias 0 = none. */
export function conv2dWasm(x: number, w: number, b: number, y: number, d: Dims): void {
  if (wasmConvPath(d, "forward") === "gemm") return convGemmWasm(0, x, w, b, y, d, steps(d.a));
  const kk = d.kh * d.kw;
  convDirectWasm(x, w, b, y, d, steps(d.a), { sg: d.o * d.r * kk, so: d.r * kk, sr: kk }, false);
}

/**
 * Transposed conv; `w` is [G*R, O, kh, kw]. Stride 1 is the direct conv with the kernel mirrored
 * and padding d*(k-1) - p; other strides scatter.
 */
export function transposedWasm(x: number, w: number, b: number, y: number, d: Dims): void {
  const { a } = d;
  if (a.stride[0] === 1 && a.stride[1] === 1) {
    const m = mirroredDirect(d);
    convDirectWasm(x, w, b, y, d, m.steps, m.strides, true);
    return;
  }
  convScatterWasm(x, w, b, y, d, steps(a));
}

/** conv2d's input gradient dx from dy; `d` is `transposedDims` of (dy, w) with size [H, W]. */
export function conv2dBackwardInputWasm(dy: number, w: number, dx: number, d: Dims): void {
  // The forward conv's view: input dx [n, o, ho, wo], output dy [n, r, h, w].
  const fwd: Dims = {
    ...d,
    cin: d.cout,
    cout: d.cin,
    r: d.o,
    o: d.r,
    h: d.ho,
    w: d.wo,
    ho: d.h,
    wo: d.w,
  };
  if (wasmConvPath(fwd, "input") === "gemm") {
    return convGemmWasm(1, dx, w, 0, dy, fwd, steps(d.a));
  }
  transposedWasm(dy, w, 0, dx, d);
}

/** Weight gradient [groups*o, r, kh, kw] from x and dy. */
export function wgradWasm(x: number, dy: number, dw: number, d: Dims): void {
  if (wasmConvPath(d, "weight") === "gemm") return convGemmWasm(2, x, dw, 0, dy, d, steps(d.a));
  convWgradWasm(x, dy, dw, d, steps(d.a));
}
