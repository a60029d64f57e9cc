/**
 * 2-D convolution (NCHW) and transposed convolution, grouped, strided and dilated, with their
 * backward ops. Five ops share the WGSL kernels of `kernels/conv/`:
 *
 * | op | computes | kernels |
 * |---|---|---|
 * | `conv2d` | y = x ⋆ w + b | `fwd_k3.wgsl` (3x3 stride 1), `fwd.wgsl` (generic), `conv1x1.wgsl` |
 * | `convTranspose2d` | transposed conv + b | stride 1: the conv2d kernels with w mirrored; else `transposed.wgsl` |
 * | `conv2dBackwardInput` | dx of conv2d | as `convTranspose2d` |
 * | `conv2dBackwardWeight` | dw of conv2d | `wgrad_k3.wgsl`, `wgrad1x1.wgsl` or `wgrad.wgsl`, + `sum_chunks.wgsl` |
 * | `convTranspose2dBackwardInput` | dx of convTranspose2d | as `conv2d` (output cropped) |
 *
 * The weight gradient of `convTranspose2d` is `conv2dBackwardWeight` with x and dy swapped.
 * Weights are repacked per call (`pack.wgsl`) so every kernel reads the 4 output channels of a
 * tap as one vec4. Register tiling only, no workgroup memory (slower on llvmpipe); on llvmpipe
 * every storage load is a per-lane loop, so the kernels are shaped to reuse each loaded value in
 * as many multiply-adds as possible and to keep index math out of the inner loops.
 */
import fwdSrcRaw from "../../kernels/conv/fwd.wgsl" with { type: "text" };
import fwdK3SrcRaw from "../../kernels/conv/fwd_k3.wgsl" with { type: "text" };
import conv1x1SrcRaw from "../../kernels/conv/conv1x1.wgsl" with { type: "text" };
import transposedSrcRaw from "../../kernels/conv/transposed.wgsl" with { type: "text" };
import wgradSrcRaw from "../../kernels/conv/wgrad.wgsl" with { type: "text" };
import wgradK3SrcRaw from "../../kernels/conv/wgrad_k3.wgsl" with { type: "text" };
import wgrad1x1SrcRaw from "../../kernels/conv/wgrad1x1.wgsl" with { type: "text" };
import packSrc from "../../kernels/conv/pack.wgsl" with { type: "text" };
import sumChunksSrc from "../../kernels/conv/sum_chunks.wgsl" with { type: "text" };
import convParams from "../../kernels/lib/conv_params.wgsl" with { type: "text" };
import {
  acquireBuffer,
  dispatch,
  grid1d,
  releaseBuffer,
  specialize,
  Uniforms,
} from "../backend/webgpu.ts";
import type { HostArray, Tensor, TensorInfo } from "../tensor.ts";
import { apply1, defineOp, type OpInfo, shapeError } from "./registry.ts";
import { sum } from "./reduce.ts";

// Every conv kernel but pack/sum_chunks starts with the shared geometry uniform block.
const fwdSrc = convParams + fwdSrcRaw;
const fwdK3Src = convParams + fwdK3SrcRaw;
const conv1x1Src = convParams + conv1x1SrcRaw;
const transposedSrc = convParams + transposedSrcRaw;
const wgradSrc = convParams + wgradSrcRaw;
const wgradK3Src = convParams + wgradK3SrcRaw;
const wgrad1x1Src = convParams + wgrad1x1SrcRaw;

/** A size given once for both spatial axes or as [height, width]. */
export type ConvSize = number | readonly [number, number];

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Step between output pixels (default 1). */
  stride?: ConvSize;
  /** Zero padding added to each side (default 0). */
  padding?: ConvSize;
  /** Spacing between kernel taps (default 1). */
  dilation?: ConvSize;
  /** Channel groups: input and output channels are split into `groups` independent convs. */
  groups?: number;
}

/** Options of {@link convTranspose2d}. */
export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns added to one side of the output (smaller than stride or dilation). */
  outputPadding?: ConvSize;
}

/** Normalised attributes of `conv2d`. */
export interface Conv2dAttrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/** Normalised attributes of `convTranspose2d`. */
export interface ConvTranspose2dAttrs extends Conv2dAttrs {
  outputPadding: [number, number];
}

/**
 * Attributes of the backward ops: the conv's attributes and the spatial size of what the op
 * produces ([H, W] of the conv input for `conv2dBackwardInput`, [kh, kw] for the weight).
 */
export interface ConvBackwardAttrs extends Conv2dAttrs {
  size: [number, number];
}

// ---------------------------------------------------------------------------------------------
// Geometry

function pair(v: ConvSize | undefined, dflt: number): [number, number] {
  if (v === undefined) return [dflt, dflt];
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

function checkAttrs(op: string, a: Conv2dAttrs, outputPadding?: [number, number]): void {
  const bad = (what: string, v: readonly number[], min: number) =>
    v.some((d) => !Number.isInteger(d) || d < min) &&
    shapeError(op, `${what} must be integers >= ${min}, got [${v}]`);
  const e = bad("stride", a.stride, 1) || bad("padding", a.padding, 0) ||
    bad("dilation", a.dilation, 1) || bad("groups", [a.groups], 1) ||
    (outputPadding && bad("outputPadding", outputPadding, 0));
  if (e) throw e;
  if (outputPadding?.some((p, i) => p >= Math.max(a.stride[i], a.dilation[i]))) {
    throw shapeError(
      op,
      `outputPadding [${outputPadding}] must be smaller than the stride [${a.stride}] or the ` +
        `dilation [${a.dilation}]`,
    );
  }
}

function checkRank4(op: string, what: string, t: TensorInfo): void {
  if (t.shape.length !== 4) {
    throw shapeError(op, `${what} must be 4-D (${what === "weight" ? "OIHW" : "NCHW"})`, t.shape);
  }
  if (t.dtype !== "f32") throw shapeError(op, `${what} must be f32, got ${t.dtype}`, t.shape);
}

function checkBias(op: string, b: TensorInfo | undefined, channels: number): void {
  if (!b) return;
  if (b.dtype !== "f32" || b.shape.length !== 1 || b.shape[0] !== channels) {
    throw shapeError(op, `bias must be f32 of shape [${channels}], got [${b.shape}]`, b.shape);
  }
}

/** Output size of a direct conv along one axis. */
function convOut(size: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** Output size of a transposed conv along one axis. */
function convTOut(size: number, k: number, s: number, p: number, d: number, op: number): number {
  return (size - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

/**
 * Everything a kernel needs, in the direct-conv view: x [n, cin, h, w] -> y [n, cout, ho, wo],
 * groups of `r` reduction (input) channels and `o` output channels.
 */
interface Dims {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  ho: number;
  wo: number;
  groups: number;
  r: number;
  o: number;
  kh: number;
  kw: number;
  a: Conv2dAttrs;
}

/** Direct conv dims of x [N,C,H,W] with a conv2d weight [Cout, C/g, kh, kw]. */
function directDims(x: readonly number[], w: readonly number[], a: Conv2dAttrs): Dims {
  const [n, cin, h, wd] = x;
  const [cout, r, kh, kw] = w;
  return {
    n,
    cin,
    h,
    w: wd,
    cout,
    ho: convOut(h, kh, a.stride[0], a.padding[0], a.dilation[0]),
    wo: convOut(wd, kw, a.stride[1], a.padding[1], a.dilation[1]),
    groups: a.groups,
    r,
    o: cout / a.groups,
    kh,
    kw,
    a,
  };
}

/**
 * Transposed conv dims: x [N, Cin, H, W], weight [Cin, O, kh, kw] (convT layout, which is also
 * the conv2d weight of the conv whose input gradient this is), output [N, O*g, ho, wo].
 */
function transposedDims(
  x: readonly number[],
  w: readonly number[],
  a: Conv2dAttrs,
  ho: number,
  wo: number,
): Dims {
  const [n, cin, h, wd] = x;
  const [, o, kh, kw] = w;
  return {
    n,
    cin,
    h,
    w: wd,
    cout: o * a.groups,
    ho,
    wo,
    groups: a.groups,
    r: cin / a.groups,
    o,
    kh,
    kw,
    a,
  };
}

function macsOf(d: Dims): number {
  // The direct view counts output pixels; the transposed one (x is the small side) input pixels.
  return d.n * d.cout * d.ho * d.wo * d.r * d.kh * d.kw;
}

// ---------------------------------------------------------------------------------------------
// CPU references (written from the definitions, independent of the kernels' index tricks)

/** y[n, g*O+o, oy, ox] = b + Σ x[n, g*R+r, oy*s-p+ky*d, ox*s-p+kx*d] · w[g*O+o, r, ky, kx]. */
function directCpu(x: HostArray, w: HostArray, b: HostArray | null, y: HostArray, d: Dims) {
  const { a } = d;
  const [sh, sw] = a.stride, [ph, pw] = a.padding, [dh, dw] = a.dilation;
  for (let n = 0; n < d.n; n++) {
    for (let co = 0; co < d.cout; co++) {
      const g = Math.floor(co / d.o);
      for (let oy = 0; oy < d.ho; oy++) {
        for (let ox = 0; ox < d.wo; ox++) {
          let s = b ? b[co] : 0;
          for (let r = 0; r < d.r; r++) {
            const xc = ((n * d.cin + g * d.r + r) * d.h) * d.w;
            const wc = (co * d.r + r) * d.kh * d.kw;
            for (let ky = 0; ky < d.kh; ky++) {
              const iy = oy * sh - ph + ky * dh;
              if (iy < 0 || iy >= d.h) continue;
              for (let kx = 0; kx < d.kw; kx++) {
                const ix = ox * sw - pw + kx * dw;
                if (ix < 0 || ix >= d.w) continue;
                s += x[xc + iy * d.w + ix] * w[wc + ky * d.kw + kx];
              }
            }
          }
          y[((n * d.cout + co) * d.ho + oy) * d.wo + ox] = s;
        }
      }
    }
  }
}

/** Scatter form: y[n, g*O+o, iy*s-p+ky*d, ix*s-p+kx*d] += x[n, g*R+r, iy, ix] · w[g*R+r, o, ky, kx]. */
function transposedCpu(x: HostArray, w: HostArray, b: HostArray | null, y: HostArray, d: Dims) {
  const { a } = d;
  const [sh, sw] = a.stride, [ph, pw] = a.padding, [dh, dw] = a.dilation;
  const plane = d.ho * d.wo;
  if (b) {
    for (let n = 0; n < d.n; n++) {
      for (let c = 0; c < d.cout; c++) {
        y.fill(b[c], (n * d.cout + c) * plane, (n * d.cout + c + 1) * plane);
      }
    }
  }
  for (let n = 0; n < d.n; n++) {
    for (let ci = 0; ci < d.cin; ci++) {
      const g = Math.floor(ci / d.r);
      for (let iy = 0; iy < d.h; iy++) {
        for (let ix = 0; ix < d.w; ix++) {
          const v = x[((n * d.cin + ci) * d.h + iy) * d.w + ix];
          for (let o = 0; o < d.o; o++) {
            const yc = (n * d.cout + g * d.o + o) * plane;
            const wc = (ci * d.o + o) * d.kh * d.kw;
            for (let ky = 0; ky < d.kh; ky++) {
              const oy = iy * sh - ph + ky * dh;
              if (oy < 0 || oy >= d.ho) continue;
              for (let kx = 0; kx < d.kw; kx++) {
                const ox = ix * sw - pw + kx * dw;
                if (ox < 0 || ox >= d.wo) continue;
                y[yc + oy * d.wo + ox] += v * w[wc + ky * d.kw + kx];
              }
            }
          }
        }
      }
    }
  }
}

/** dw[g*O+o, r, ky, kx] = Σ_{n,oy,ox} dy[n, g*O+o, oy, ox] · x[n, g*R+r, oy*s-p+ky*d, ox*s-p+kx*d]. */
function wgradCpu(x: HostArray, dy: HostArray, dw: HostArray, d: Dims) {
  const { a } = d;
  const [sh, sw] = a.stride, [ph, pw] = a.padding, [dh, dwl] = a.dilation;
  for (let co = 0; co < d.cout; co++) {
    const g = Math.floor(co / d.o);
    for (let r = 0; r < d.r; r++) {
      for (let ky = 0; ky < d.kh; ky++) {
        for (let kx = 0; kx < d.kw; kx++) {
          let s = 0;
          for (let n = 0; n < d.n; n++) {
            const xc = (n * d.cin + g * d.r + r) * d.h * d.w;
            const dc = (n * d.cout + co) * d.ho * d.wo;
            for (let oy = 0; oy < d.ho; oy++) {
              const iy = oy * sh - ph + ky * dh;
              if (iy < 0 || iy >= d.h) continue;
              for (let ox = 0; ox < d.wo; ox++) {
                const ix = ox * sw - pw + kx * dwl;
                if (ix < 0 || ix >= d.w) continue;
                s += dy[dc + oy * d.wo + ox] * x[xc + iy * d.w + ix];
              }
            }
          }
          dw[((co * d.r + r) * d.kh + ky) * d.kw + kx] = s;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// WebGPU

const WG = 64;

/** Workgroups for `n` threads of a WG-wide kernel, folded into the third axis past 65535. */
function foldGrid(n: number): { gx: number; gz: number; nx: number } {
  const groups = Math.max(1, Math.ceil(n / WG));
  const gz = Math.ceil(groups / 65535);
  const gx = Math.ceil(groups / gz);
  return { gx, gz, nx: gx * WG };
}

function convUniforms(
  d: Dims,
  total: number,
  nx: number,
  geo: { sh: number; sw: number; ph: number; pw: number; dh: number; dw: number },
  extra: { nxb?: number; bias?: boolean; rows?: number; chunks?: number } = {},
): Uniforms {
  const r4 = Math.ceil(d.r / 4), o4 = Math.ceil(d.o / 4);
  return new Uniforms()
    .u32(total, nx, d.n, d.cin, d.h, d.w, d.cout, d.ho, d.wo, d.r, d.o, o4)
    .u32(d.kh, d.kw, geo.sh, geo.sw)
    .i32(geo.ph, geo.pw)
    .u32(geo.dh, geo.dw, extra.nxb ?? 0, extra.bias ? 1 : 0, d.groups, r4)
    .u32(extra.rows ?? 0, extra.chunks ?? 0, 0, 0);
}

/**
 * Repack a weight into [g][r][tap][o padded to 4] (f32), reading src[g*sg + o*so + r*sr + tap]
 * (tap mirrored when `flip`). Returns a pooled buffer the caller releases.
 */
function packWeight(
  w: GPUBuffer,
  d: Dims,
  strides: { sg: number; so: number; sr: number },
  flip: boolean,
): GPUBuffer {
  const kk = d.kh * d.kw, o4 = Math.ceil(d.o / 4);
  const total = d.groups * d.r * kk * o4 * 4;
  const out = acquireBuffer(total * 4);
  const g = grid1d(total);
  const u = new Uniforms().u32(total, g[0], d.r, kk, d.o, o4, strides.sg, strides.so)
    .u32(strides.sr, flip ? 1 : 0, 0, 0);
  dispatch(specialize("conv_pack", packSrc), [w, out], g, u);
  return out;
}

/** The 1x1 kernel, reading pixels as vec4 when every plane is a multiple of 4 long. */
function conv1x1Kernel(vec: boolean) {
  return specialize(
    "conv_1x1",
    conv1x1Src,
    vec ? { T: "vec4<f32>", LOAD: "return x[base / 4u + q];", STORE: "y[base / 4u + q] = v;" } : {
      T: "f32",
      LOAD: "let e = base + 4u * q;\n  let l = base + hw - 1u;\n  return vec4<f32>(x[min(e, l)], " +
        "x[min(e + 1u, l)], x[min(e + 2u, l)], x[min(e + 3u, l)]);",
      STORE:
        "for (var k = 0u; k < 4u; k++) {\n    if (4u * q + k < hw) { y[base + 4u * q + k] = v[k]; }\n  }",
    },
  );
}

// Register tile of fwd_k3.wgsl: 4 output-channel quads x 8 pixels per invocation (measured on
// llvmpipe: about twice the speed of 1 quad; wider pixel runs were no faster).
const K3_OB = 4;
const GEN_OB = 4;

/** Accumulators of a forward tile (`a{q}_{j}`) and its clamped channel quads (`oq{q}`). */
function tileSetup(ob: number, px: number): string {
  const setup: string[] = [];
  for (let q = 0; q < ob; q++) {
    setup.push(`  let oq${q} = min(ob0 + ${q}u, p.o4 - 1u);`);
    for (let j = 0; j < px; j++) setup.push(`  var a${q}_${j} = vec4<f32>(0.0);`);
  }
  return setup.join("\n");
}

/**
 * Store of a forward tile (+ bias), skipping channels past O and pixels past wo; pixel j of
 * the tile is column `col(j)` of row `yb` (consecutive from ox0 unless given).
 */
function tileStore(ob: number, px: number, col = (j: number) => `ox0 + ${j}u`): string {
  const store: string[] = [];
  for (let q = 0; q < ob; q++) {
    store.push(`  if (ob0 + ${q}u < p.o4) {`);
    for (let c = 0; c < 4; c++) {
      store.push(`    { let oc = (ob0 + ${q}u) * 4u + ${c}u; if (oc < p.o) {`);
      store.push(`      var bv = 0.0; if (p.bias != 0u) { bv = bias[oc0 + oc]; }`);
      store.push(`      let yo = yb + oc * plane;`);
      for (let j = 0; j < px; j++) {
        store.push(`      if (${col(j)} < p.wo) { y[yo + ${col(j)}] = a${q}_${j}[${c}] + bv; }`);
      }
      store.push(`    } }`);
    }
    store.push(`  }`);
  }
  return store.join("\n");
}

/** The generated parts of fwd_k3.wgsl for a tile of `ob` channel quads x `px` pixels. */
function k3Body(ob: number, px: number): Record<string, string | number> {
  const body: string[] = [];
  for (let j = 0; j < px + 2; j++) {
    body.push(
      `      let i${j} = ix0 + ${j}; let x${j} = select(0.0, x[rb + u32(clamp(i${j}, 0, wi - 1))], ` +
        `i${j} >= 0 && i${j} < wi);`,
    );
  }
  for (let q = 0; q < ob; q++) {
    for (let t = 0; t < 3; t++) body.push(`      let w${q}_${t} = wp[wk + ${t}u * p.o4 + oq${q}];`);
    for (let j = 0; j < px; j++) {
      body.push(
        `      a${q}_${j} += x${j} * w${q}_0 + x${j + 1} * w${q}_1 + x${j + 2} * w${q}_2;`,
      );
    }
  }
  return {
    OB: ob,
    PX: px,
    SETUP: tileSetup(ob, px),
    BODY: body.join("\n"),
    STORE: tileStore(ob, px),
  };
}

/** The generated parts of fwd.wgsl (the generic path) for `ob` channel quads x `px` pixels. */
function fwdBody(
  ob: number,
  px: number,
  col?: (j: number) => string,
): Record<string, string | number> {
  const tap: string[] = [], body: string[] = [];
  for (let j = 0; j < px; j++) {
    // Input column of pixel j at this tap: strided (fwd.wgsl) or consecutive (transposed.wgsl).
    const ix = col ? `ixb + ${j}` : `i32((ox0 + ${j}u) * p.sw) + ixk`;
    tap.push(
      `      let ix${j} = ${ix}; let off${j} = rowOff + u32(clamp(ix${j}, 0, wi - 1)); ` +
        `let ok${j} = ix${j} >= 0 && ix${j} < wi;`,
    );
    body.push(`        let x${j} = select(0.0, x[xb + off${j}], ok${j});`);
  }
  for (let q = 0; q < ob; q++) {
    body.push(`        let w${q} = wp[wk + oq${q}];`);
    for (let j = 0; j < px; j++) body.push(`        a${q}_${j} += x${j} * w${q};`);
  }
  return {
    OB: ob,
    PX: px,
    SETUP: tileSetup(ob, px),
    TAP: tap.join("\n"),
    BODY: body.join("\n"),
    STORE: tileStore(ob, px, col),
  };
}

/** Run the direct kernel; `w` is packed by the caller's strides (see {@link packWeight}). */
function directGpu(
  x: GPUBuffer,
  w: GPUBuffer,
  b: GPUBuffer | null,
  y: GPUBuffer,
  d: Dims,
  wStrides: { sg: number; so: number; sr: number },
  geo: { sh: number; sw: number; ph: number; pw: number; dh: number; dw: number },
  flip: boolean,
): void {
  const packed = packWeight(w, d, wStrides, flip);
  const o4 = Math.ceil(d.o / 4), gy = d.groups * o4;
  // 1x1, stride 1, no padding: a GEMM per image over the flattened pixels.
  if (
    d.kh === 1 && d.kw === 1 && geo.sh === 1 && geo.sw === 1 && geo.ph === 0 && geo.pw === 0
  ) {
    const hw = d.h * d.w;
    const dd = { ...d, h: 1, w: hw, ho: 1, wo: hw };
    const nxb = Math.ceil(Math.ceil(hw / 4) / 2);
    const total = d.n * nxb;
    const { gx, gz, nx } = foldGrid(total);
    const u = convUniforms(dd, total, nx, geo, { nxb, bias: b !== null });
    dispatch(conv1x1Kernel(hw % 4 === 0), [x, packed, b ?? packed, y], [gx, gy, gz], u);
    releaseBuffer(packed);
    return;
  }
  // 3x3 stride 1 (the common case): the wide register tile of fwd_k3.wgsl; else the generic one.
  const k3 = d.kh === 3 && d.kw === 3 && geo.sh === 1 && geo.sw === 1 && geo.dh === 1 &&
    geo.dw === 1;
  const ob = Math.min(k3 ? K3_OB : GEN_OB, o4), px = Math.min(8, Math.max(d.wo, 1));
  const nxb = Math.ceil(d.wo / px);
  const total = d.n * d.ho * nxb;
  const { gx, gz, nx } = foldGrid(total);
  const kern = k3
    ? specialize("conv_fwd_k3", fwdK3Src, k3Body(ob, px))
    : specialize("conv_fwd", fwdSrc, fwdBody(ob, px));
  const u = convUniforms(d, total, nx, geo, { nxb, bias: b !== null });
  dispatch(kern, [x, packed, b ?? packed, y], [gx, d.groups * Math.ceil(o4 / ob), gz], u);
  releaseBuffer(packed);
}

/** conv2d forward on the GPU. */
function conv2dGpu(x: GPUBuffer, w: GPUBuffer, b: GPUBuffer | null, y: GPUBuffer, d: Dims) {
  const { a } = d;
  const kk = d.kh * d.kw;
  directGpu(x, w, b, y, d, { sg: d.o * d.r * kk, so: d.r * kk, sr: kk }, {
    sh: a.stride[0],
    sw: a.stride[1],
    ph: a.padding[0],
    pw: a.padding[1],
    dh: a.dilation[0],
    dw: a.dilation[1],
  }, false);
}

/** Transposed conv on the GPU; `w` is [G*R, O, kh, kw]. */
function transposedGpu(x: GPUBuffer, w: GPUBuffer, b: GPUBuffer | null, y: GPUBuffer, d: Dims) {
  const { a } = d;
  const kk = d.kh * d.kw;
  const strides = { sg: d.r * d.o * kk, so: kk, sr: d.o * kk };
  if (a.stride[0] === 1 && a.stride[1] === 1) {
    // Stride 1: a direct conv with the kernel mirrored and padding d*(k-1) - p.
    directGpu(x, w, b, y, d, strides, {
      sh: 1,
      sw: 1,
      ph: a.dilation[0] * (d.kh - 1) - a.padding[0],
      pw: a.dilation[1] * (d.kw - 1) - a.padding[1],
      dh: a.dilation[0],
      dw: a.dilation[1],
    }, true);
    return;
  }
  const packed = packWeight(w, d, strides, false);
  const [sh, sw] = a.stride;
  const o4 = Math.ceil(d.o / 4), ob = Math.min(GEN_OB, o4);
  const px = Math.min(8, Math.max(Math.ceil(d.wo / sw), 1));
  const nxb = Math.ceil(Math.ceil(d.wo / sw) / px);
  const rows = Math.ceil(d.ho / sh);
  const total = sh * sw * d.n * rows * nxb;
  const { gx, gz, nx } = foldGrid(total);
  const gy = d.groups * Math.ceil(o4 / ob);
  const geo = {
    sh,
    sw,
    ph: a.padding[0],
    pw: a.padding[1],
    dh: a.dilation[0],
    dw: a.dilation[1],
  };
  const u = convUniforms(d, total, nx, geo, { nxb, bias: b !== null, rows });
  const body = fwdBody(ob, px, (j) => `rx + p.sw * (q0 + ${j}u)`);
  dispatch(specialize("conv_transposed", transposedSrc, body), [x, packed, b ?? packed, y], [
    gx,
    gy,
    gz,
  ], u);
  releaseBuffer(packed);
}

/** Quads of 4 pixels of one plane for the 1x1 weight-gradient kernel (vec4 or clamped scalars). */
function wgrad1x1Kernel(vec: boolean) {
  const scalar = (mask: boolean) =>
    "let e = base + 4u * q;\n  let l = base + hw - 1u;\n  let v = vec4<f32>(x_[min(e, l)], " +
    "x_[min(e + 1u, l)], x_[min(e + 2u, l)], x_[min(e + 3u, l)]);\n  " +
    (mask
      ? "return select(vec4<f32>(0.0), v, 4u * q + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(hw));"
      : "return v;");
  return specialize(
    "conv_wgrad_1x1",
    wgrad1x1Src,
    vec
      ? { T: "vec4<f32>", LOADX: "return x[base / 4u + q];", LOADD: "return dy[base / 4u + q];" }
      : {
        T: "f32",
        LOADX: scalar(false).replaceAll("x_", "x"),
        LOADD: scalar(true).replaceAll("x_", "dy"),
      },
  );
}

// Register tile of wgrad_k3.wgsl: 2 output x 2 input channel quads per invocation (measured on
// llvmpipe: 2.5-3x the speed of the 1 x 1 tile this kernel had; 4 x 1 and 1 x 4 were slower).
const WG_OQ = 2, WG_RQ = 2;

/** The generated parts of wgrad_k3.wgsl for a tile of `oq` x `rq` channel quads. */
function wgradK3Body(oq: number, rq: number): Record<string, string | number> {
  const setup: string[] = [], row: string[] = [], step: string[] = [], store: string[] = [];
  for (let q = 0; q < rq; q++) {
    const ch = (e: number) => `min(rc0 + ${4 * q + e}u, p.r - 1u)`;
    setup.push(
      `  let rb${q} = (${ch(0)} - r0) * hw;`,
      `  let ro${q} = vec3<u32>(${ch(1)} - ${ch(0)}, ${ch(2)} - ${ch(0)}, ${ch(3)} - ${
        ch(0)
      }) * hw;`,
    );
    for (let c = 0; c < 4 * oq; c++) {
      for (let t = 0; t < 3; t++) setup.push(`  var a${c}_${q}_${t} = vec4<f32>(0.0);`);
    }
    row.push(
      `    var xa${q}: vec4<f32>;`,
      `    var xm${q} = load4(xb + rb${q}, -p.pw, ro${q});`,
      `    var xc${q} = load4(xb + rb${q}, 1 - p.pw, ro${q});`,
    );
    step.push(
      `      xa${q} = xm${q}; xm${q} = xc${q}; xc${q} = load4(xb + rb${q}, ix, ro${q});`,
    );
  }
  for (let c = 0; c < 4 * oq; c++) {
    setup.push(`  let do${c} = (g * p.o + min(oc0 + ${c}u, p.o - 1u)) * hwo;`);
    step.push(`      let d${c} = dy[d + do${c}];`);
    for (let q = 0; q < rq; q++) {
      step.push(
        `      a${c}_${q}_0 += d${c} * xa${q}; a${c}_${q}_1 += d${c} * xm${q}; ` +
          `a${c}_${q}_2 += d${c} * xc${q};`,
      );
    }
  }
  for (let c = 0; c < 4 * oq; c++) {
    store.push(`  if (oc0 + ${c}u < p.o) {`);
    for (let q = 0; q < rq; q++) {
      for (let e = 0; e < 4; e++) {
        store.push(
          `    if (rc0 + ${4 * q + e}u < p.r) {`,
          `      let at = chunk * m + ((g * p.o + oc0 + ${c}u) * p.r + rc0 + ${
            4 * q + e
          }u) * kk + ky * 3u;`,
          `      part[at] = a${c}_${q}_0[${e}]; part[at + 1u] = a${c}_${q}_1[${e}]; ` +
            `part[at + 2u] = a${c}_${q}_2[${e}];`,
          `    }`,
        );
      }
    }
    store.push(`  }`);
  }
  return {
    OQ: oq,
    RQ: rq,
    SETUP: setup.join("\n"),
    ROW: row.join("\n"),
    STEP: step.join("\n"),
    STORE: store.join("\n"),
  };
}

/** The generated parts of wgrad.wgsl (the generic path) for `oq` x `rq` channel quads. */
function wgradBody(oq: number, rq: number): Record<string, string | number> {
  const setup: string[] = [], step: string[] = [], store: string[] = [];
  for (let e = 0; e < 4 * rq; e++) {
    setup.push(`  let xo${e} = (g * p.r + min(rc0 + ${e}u, p.r - 1u)) * hw;`);
  }
  for (let q = 0; q < rq; q++) {
    const xs = [0, 1, 2, 3].map((e) => `x[xi + xo${4 * q + e}]`).join(", ");
    step.push(`      let x${q} = vec4<f32>(${xs});`);
  }
  for (let c = 0; c < 4 * oq; c++) {
    setup.push(`  let do${c} = (g * p.o + min(oc0 + ${c}u, p.o - 1u)) * hwo;`);
    step.push(`      let d${c} = dy[d + do${c}];`);
    for (let q = 0; q < rq; q++) {
      setup.push(`  var a${c}_${q} = vec4<f32>(0.0);`);
      step.push(`      a${c}_${q} += d${c} * x${q};`);
    }
    store.push(`  if (oc0 + ${c}u < p.o) {`);
    for (let q = 0; q < rq; q++) {
      for (let e = 0; e < 4; e++) {
        store.push(
          `    if (rc0 + ${
            4 * q + e
          }u < p.r) { part[chunk * m + ((g * p.o + oc0 + ${c}u) * p.r + ` +
            `rc0 + ${4 * q + e}u) * kk + t] = a${c}_${q}[${e}]; }`,
        );
      }
    }
    store.push(`  }`);
  }
  return {
    OQ: oq,
    RQ: rq,
    SETUP: setup.join("\n"),
    STEP: step.join("\n"),
    STORE: store.join("\n"),
  };
}

/**
 * Split `rowsTotal` reduction rows into chunks until there are enough threads (`base` per
 * chunk) to fill the machine, keeping each chunk at least `minRows` rows long.
 */
function chunking(rowsTotal: number, base: number, minRows: number) {
  if (rowsTotal === 0) return { rows: 1, chunks: 1 }; // empty batch: one pass writes zeros
  const want = Math.min(rowsTotal, Math.max(1, Math.ceil(4096 / base)));
  const rows = Math.max(Math.ceil(rowsTotal / want), minRows);
  return { rows, chunks: Math.ceil(rowsTotal / rows) };
}

/** Weight gradient on the GPU: dw [cout, r, kh, kw] from x and dy (direct-conv dims). */
function wgradGpu(x: GPUBuffer, dy: GPUBuffer, dw: GPUBuffer, d: Dims) {
  const { a } = d;
  const kk = d.kh * d.kw;
  const o4 = Math.ceil(d.o / 4), r4 = Math.ceil(d.r / 4);
  const geo = {
    sh: a.stride[0],
    sw: a.stride[1],
    ph: a.padding[0],
    pw: a.padding[1],
    dh: a.dilation[0],
    dw: a.dilation[1],
  };
  const m = d.cout * d.r * kk;
  let kern, dd = d, base, rows, chunks, oq = 1, rq = 1;
  if (kk === 1 && geo.sh === 1 && geo.sw === 1 && geo.ph === 0 && geo.pw === 0) {
    // 1x1: a GEMM over the flattened pixels, 4 at a time.
    const hw = d.h * d.w;
    dd = { ...d, h: 1, w: hw, ho: 1, wo: hw };
    base = d.groups * o4 * r4;
    ({ rows, chunks } = chunking(d.n * Math.ceil(hw / 4), base, 32));
    kern = wgrad1x1Kernel(hw % 4 === 0);
  } else if (d.kw === 3 && geo.sw === 1 && geo.dw === 1) {
    // Kernels 3 wide with stride/dilation 1 along x: one thread per kernel row (sliding window).
    oq = Math.min(WG_OQ, o4);
    rq = Math.min(WG_RQ, r4);
    base = d.groups * Math.ceil(o4 / oq) * Math.ceil(r4 / rq) * d.kh;
    ({ rows, chunks } = chunking(d.n * d.ho, base, Math.ceil(128 / d.wo)));
    kern = specialize("conv_wgrad_k3", wgradK3Src, wgradK3Body(oq, rq));
  } else {
    oq = Math.min(WG_OQ, o4);
    rq = Math.min(WG_RQ, r4);
    base = d.groups * Math.ceil(o4 / oq) * Math.ceil(r4 / rq) * kk;
    ({ rows, chunks } = chunking(d.n * d.ho, base, Math.ceil(128 / d.wo)));
    kern = specialize("conv_wgrad", wgradSrc, wgradBody(oq, rq));
  }
  const part = chunks > 1 ? acquireBuffer(chunks * m * 4) : dw;
  const total = chunks * base;
  const g = grid1d(total, WG);
  const u = convUniforms(dd, total, g[0] * WG, geo, { rows, chunks });
  dispatch(kern, [x, dy, part], g, u);
  if (chunks > 1) {
    const g2 = grid1d(m);
    dispatch(
      specialize("conv_sum_chunks", sumChunksSrc),
      [part, dw],
      g2,
      new Uniforms().u32(m, g2[0], chunks, 0),
    );
    releaseBuffer(part);
  }
}

// ---------------------------------------------------------------------------------------------
// Ops

function onnxConvAttrs(a: Conv2dAttrs, kernel: readonly number[]) {
  return {
    kernel_shape: [kernel[0], kernel[1]],
    strides: [...a.stride],
    pads: [a.padding[0], a.padding[1], a.padding[0], a.padding[1]],
    dilations: [...a.dilation],
    group: a.groups,
  };
}

const trainingOnly = (name: string) => () => {
  throw new Error(`onnx: ${name} is a training-only op (export the forward graph)`);
};

const conv2dOp = defineOp<Conv2dAttrs>({
  name: "conv2d",
  inputNames: ["x", "weight", "bias"],
  shape([x, w, b], a) {
    checkAttrs("conv2d", a);
    checkRank4("conv2d", "input", x);
    checkRank4("conv2d", "weight", w);
    const [, c, h, wd] = x.shape;
    const [cout, r, kh, kw] = w.shape;
    if (r < 1 || kh < 1 || kw < 1 || cout < 1) {
      throw shapeError("conv2d", "weight has an empty dimension", w.shape);
    }
    if (cout % a.groups) {
      throw shapeError(
        "conv2d",
        `${cout} output channels are not divisible by groups ${a.groups}`,
        x.shape,
        w.shape,
      );
    }
    if (c !== r * a.groups) {
      const how = a.groups > 1 ? ` (${a.groups} groups of ${r})` : "";
      throw shapeError(
        "conv2d",
        `input has ${c} channels, weight expects ${r * a.groups}${how}`,
        x.shape,
        w.shape,
      );
    }
    checkBias("conv2d", b, cout);
    const d = directDims(x.shape, w.shape, a);
    if (d.ho < 1 || d.wo < 1) {
      throw shapeError(
        "conv2d",
        `output would be empty: input ${h}x${wd} with padding [${a.padding}] is smaller than ` +
          `the kernel ${kh}x${kw} with dilation [${a.dilation}]`,
        x.shape,
        w.shape,
      );
    }
    return [{ shape: [d.n, cout, d.ho, d.wo], dtype: "f32" }];
  },
  cpu([x, w, b], [y], a, info) {
    directCpu(x, w, b ?? null, y, directDims(info.ins[0].shape, info.ins[1].shape, a));
  },
  gpu([x, w, b], [y], a, info) {
    conv2dGpu(x, w, b ?? null, y, directDims(info.ins[0].shape, info.ins[1].shape, a));
  },
  grad: ({ ins, attrs }, [g]) => {
    const [x, w, b] = ins;
    const dx = x.requiresGrad ? conv2dBackwardInput(g, w, [x.shape[2], x.shape[3]], attrs) : null;
    const dw = w.requiresGrad ? conv2dBackwardWeight(x, g, [w.shape[2], w.shape[3]], attrs) : null;
    const db = b?.requiresGrad ? sum(g, [0, 2, 3]) : null;
    return b ? [dx, dw, db] : [dx, dw];
  },
  channels: { kind: "stem", outAxis: 0, inAxis: 1, groups: (a) => a.groups },
  cost: (info, a) => {
    const d = directDims(info.ins[0].shape, info.ins[1].shape, a);
    const macs = macsOf(d);
    const biasOps = info.ins.length > 2 ? d.n * d.cout * d.ho * d.wo : 0;
    return { macs, flops: 2 * macs + biasOps };
  },
  onnx: (e, io) => {
    e.node("Conv", io.inputs, io.outputs, onnxConvAttrs(io.attrs, io.info.ins[1].shape.slice(2)));
  },
});

function convTDims(info: OpInfo, a: ConvTranspose2dAttrs): Dims {
  const [x, w] = info.ins;
  const [, , h, wd] = x.shape;
  const [, , kh, kw] = w.shape;
  const ho = convTOut(h, kh, a.stride[0], a.padding[0], a.dilation[0], a.outputPadding[0]);
  const wo = convTOut(wd, kw, a.stride[1], a.padding[1], a.dilation[1], a.outputPadding[1]);
  return transposedDims(x.shape, w.shape, a, ho, wo);
}

const convTranspose2dOp = defineOp<ConvTranspose2dAttrs>({
  name: "convTranspose2d",
  inputNames: ["x", "weight", "bias"],
  shape([x, w, b], a) {
    const op = "convTranspose2d";
    checkAttrs(op, a, a.outputPadding);
    checkRank4(op, "input", x);
    checkRank4(op, "weight", w);
    const [, c, h, wd] = x.shape;
    const [cin, o, kh, kw] = w.shape;
    if (o < 1 || kh < 1 || kw < 1 || cin < 1) {
      throw shapeError(op, "weight has an empty dimension", w.shape);
    }
    if (cin % a.groups) {
      throw shapeError(
        op,
        `${cin} input channels are not divisible by groups ${a.groups}`,
        x.shape,
        w.shape,
      );
    }
    if (c !== cin) {
      throw shapeError(op, `input has ${c} channels, weight expects ${cin}`, x.shape, w.shape);
    }
    checkBias(op, b, o * a.groups);
    const ho = convTOut(h, kh, a.stride[0], a.padding[0], a.dilation[0], a.outputPadding[0]);
    const wo = convTOut(wd, kw, a.stride[1], a.padding[1], a.dilation[1], a.outputPadding[1]);
    if (ho < 1 || wo < 1) {
      throw shapeError(
        op,
        `output would be empty (${ho}x${wo}): padding [${a.padding}] is too large`,
        x.shape,
        w.shape,
      );
    }
    return [{ shape: [x.shape[0], o * a.groups, ho, wo], dtype: "f32" }];
  },
  cpu([x, w, b], [y], a, info) {
    transposedCpu(x, w, b ?? null, y, convTDims(info, a));
  },
  gpu([x, w, b], [y], a, info) {
    transposedGpu(x, w, b ?? null, y, convTDims(info, a));
  },
  grad: ({ ins, attrs }, [g]) => {
    const [x, w, b] = ins;
    const ca: Conv2dAttrs = {
      stride: attrs.stride,
      padding: attrs.padding,
      dilation: attrs.dilation,
      groups: attrs.groups,
    };
    // y = convT(x): dx is the direct conv of dy with w (cropped to x's size when
    // outputPadding >= stride); dw pairs x (as the conv's output grad) with dy.
    const dx = x.requiresGrad
      ? apply1(convTranspose2dBackwardInputOp, [g, w], {
        ...ca,
        size: [x.shape[2], x.shape[3]] as [number, number],
      })
      : null;
    const dw = w.requiresGrad ? conv2dBackwardWeight(g, x, [w.shape[2], w.shape[3]], ca) : null;
    const db = b?.requiresGrad ? sum(g, [0, 2, 3]) : null;
    return b ? [dx, dw, db] : [dx, dw];
  },
  channels: { kind: "stem", outAxis: 1, inAxis: 0, groups: (a) => a.groups },
  cost: (info, a) => {
    const d = convTDims(info, a);
    // Every input pixel meets O*kh*kw weights.
    const macs = d.n * d.cin * d.h * d.w * d.o * d.kh * d.kw;
    const biasOps = info.ins.length > 2 ? d.n * d.cout * d.ho * d.wo : 0;
    return { macs, flops: 2 * macs + biasOps };
  },
  onnx: (e, io) => {
    e.node("ConvTranspose", io.inputs, io.outputs, {
      ...onnxConvAttrs(io.attrs, io.info.ins[1].shape.slice(2)),
      output_padding: [...io.attrs.outputPadding],
    });
  },
});

/** Check that dy is the conv output of an input of spatial size `hw` (backward ops). */
function checkBackwardGeometry(
  op: string,
  dy: TensorInfo,
  w: readonly number[],
  hw: readonly number[],
  a: Conv2dAttrs,
  other: TensorInfo,
  cropped = false,
): void {
  const ho = convOut(hw[0], w[2], a.stride[0], a.padding[0], a.dilation[0]);
  const wo = convOut(hw[1], w[3], a.stride[1], a.padding[1], a.dilation[1]);
  const [gh, gw] = [dy.shape[2], dy.shape[3]];
  if (cropped ? gh > ho || gw > wo || gh < 1 || gw < 1 : gh !== ho || gw !== wo) {
    throw shapeError(
      op,
      `output gradient is ${dy.shape[2]}x${dy.shape[3]} but the conv of a ${hw[0]}x${hw[1]} ` +
        `input gives ${ho}x${wo}`,
      dy.shape,
      other.shape,
    );
  }
}

const conv2dBackwardInputOp = defineOp<ConvBackwardAttrs>({
  name: "conv2dBackwardInput",
  inputNames: ["dy", "weight"],
  shape([dy, w], a) {
    const op = "conv2dBackwardInput";
    checkAttrs(op, a);
    checkRank4(op, "output gradient", dy);
    checkRank4(op, "weight", w);
    if (dy.shape[1] !== w.shape[0] || w.shape[0] % a.groups) {
      throw shapeError(
        op,
        `output gradient has ${dy.shape[1]} channels, weight has ${w.shape[0]} outputs ` +
          `(groups ${a.groups})`,
        dy.shape,
        w.shape,
      );
    }
    checkBackwardGeometry(op, dy, w.shape, a.size, a, w);
    return [{ shape: [dy.shape[0], w.shape[1] * a.groups, a.size[0], a.size[1]], dtype: "f32" }];
  },
  cpu([dy, w], [dx], a, info) {
    transposedCpu(
      dy,
      w,
      null,
      dx,
      transposedDims(info.ins[0].shape, info.ins[1].shape, a, a.size[0], a.size[1]),
    );
  },
  gpu([dy, w], [dx], a, info) {
    transposedGpu(
      dy,
      w,
      null,
      dx,
      transposedDims(info.ins[0].shape, info.ins[1].shape, a, a.size[0], a.size[1]),
    );
  },
  grad: { none: "conv2dBackwardInput is itself a gradient (no double backward)" },
  channels: { kind: "block", reason: "conv2dBackwardInput is a training-only op" },
  cost: (info, a) => {
    const d = directDims(info.outs[0].shape, info.ins[1].shape, a);
    const macs = macsOf(d);
    return { macs, flops: 2 * macs };
  },
  onnx: trainingOnly("conv2dBackwardInput"),
});

const conv2dBackwardWeightOp = defineOp<ConvBackwardAttrs>({
  name: "conv2dBackwardWeight",
  inputNames: ["x", "dy"],
  shape([x, dy], a) {
    const op = "conv2dBackwardWeight";
    checkAttrs(op, a);
    checkRank4(op, "input", x);
    checkRank4(op, "output gradient", dy);
    if (x.shape[0] !== dy.shape[0]) {
      throw shapeError(
        op,
        "input and output gradient have different batch sizes",
        x.shape,
        dy.shape,
      );
    }
    if (x.shape[1] % a.groups || dy.shape[1] % a.groups) {
      throw shapeError(
        op,
        `channels ${x.shape[1]} -> ${dy.shape[1]} are not divisible by groups ${a.groups}`,
        x.shape,
        dy.shape,
      );
    }
    const w = [dy.shape[1], x.shape[1] / a.groups, a.size[0], a.size[1]];
    // dy may be a crop of the conv output (convTranspose2d with outputPadding >= stride).
    checkBackwardGeometry(op, dy, w, x.shape.slice(2), a, x, true);
    return [{ shape: w, dtype: "f32" }];
  },
  cpu([x, dy], [dw], a, info) {
    wgradCpu(x, dy, dw, wgradDims(info, a));
  },
  gpu([x, dy], [dw], a, info) {
    wgradGpu(x, dy, dw, wgradDims(info, a));
  },
  grad: { none: "conv2dBackwardWeight is itself a gradient (no double backward)" },
  channels: { kind: "block", reason: "conv2dBackwardWeight is a training-only op" },
  cost: (info, a) => {
    const macs = macsOf(wgradDims(info, a));
    return { macs, flops: 2 * macs };
  },
  onnx: trainingOnly("conv2dBackwardWeight"),
});

/** Direct-conv dims of a weight gradient: x, dw's kernel, and dy's (possibly cropped) size. */
function wgradDims(info: OpInfo, a: Conv2dAttrs): Dims {
  const dy = info.ins[1].shape;
  return { ...directDims(info.ins[0].shape, info.outs[0].shape, a), ho: dy[2], wo: dy[3] };
}

/** Direct-conv dims of convTranspose2d's input gradient: dy ⋆ w cropped to `size`. */
function convTBackDims(info: OpInfo, a: ConvBackwardAttrs): Dims {
  return { ...directDims(info.ins[0].shape, info.ins[1].shape, a), ho: a.size[0], wo: a.size[1] };
}

/**
 * Input gradient of convTranspose2d: the direct conv of dy [N, Cout, Ho, Wo] with the convT
 * weight [Cin, Cout/g, kh, kw] read as a conv2d weight, cropped to the input size `size`.
 */
const convTranspose2dBackwardInputOp = defineOp<ConvBackwardAttrs>({
  name: "convTranspose2dBackwardInput",
  inputNames: ["dy", "weight"],
  shape([dy, w], a) {
    const op = "convTranspose2dBackwardInput";
    checkAttrs(op, a);
    checkRank4(op, "output gradient", dy);
    checkRank4(op, "weight", w);
    if (dy.shape[1] !== w.shape[1] * a.groups || w.shape[0] % a.groups) {
      throw shapeError(
        op,
        `output gradient has ${dy.shape[1]} channels, weight gives ${w.shape[1] * a.groups} ` +
          `(groups ${a.groups})`,
        dy.shape,
        w.shape,
      );
    }
    checkBackwardGeometry(
      op,
      { shape: [0, 0, ...a.size], dtype: "f32" },
      w.shape,
      dy.shape.slice(2),
      a,
      dy,
      true,
    );
    return [{ shape: [dy.shape[0], w.shape[0], a.size[0], a.size[1]], dtype: "f32" }];
  },
  cpu([dy, w], [dx], a, info) {
    directCpu(dy, w, null, dx, convTBackDims(info, a));
  },
  gpu([dy, w], [dx], a, info) {
    conv2dGpu(dy, w, null, dx, convTBackDims(info, a));
  },
  grad: { none: "convTranspose2dBackwardInput is itself a gradient (no double backward)" },
  channels: { kind: "block", reason: "convTranspose2dBackwardInput is a training-only op" },
  cost: (info, a) => {
    const macs = macsOf(convTBackDims(info, a));
    return { macs, flops: 2 * macs };
  },
  onnx: trainingOnly("convTranspose2dBackwardInput"),
});

// ---------------------------------------------------------------------------------------------
// User-facing functions

function convAttrs(opts: Conv2dOptions): Conv2dAttrs {
  return {
    stride: pair(opts.stride, 1),
    padding: pair(opts.padding, 0),
    dilation: pair(opts.dilation, 1),
    groups: opts.groups ?? 1,
  };
}

/**
 * 2-D convolution (cross-correlation, like PyTorch) of x [N, Cin, H, W] with
 * w [Cout, Cin/groups, kh, kw] plus an optional bias [Cout]; returns [N, Cout, Ho, Wo] with
 * Ho = floor((H + 2·padding - dilation·(kh-1) - 1) / stride) + 1.
 *
 * @example
 * ```ts
 * import { conv2d, init, randn } from "../../mod.ts";
 * await init();
 * const x = randn([2, 3, 8, 8], { seed: 1 });
 * const w = randn([16, 3, 3, 3], { seed: 2 });
 * const y = conv2d(x, w, null, { padding: 1 }); // [2, 16, 8, 8]
 * ```
 */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  return apply1(conv2dOp, b ? [x, w, b] : [x, w], convAttrs(opts));
}

/**
 * Transposed 2-D convolution (PyTorch `conv_transpose2d`) of x [N, Cin, H, W] with
 * w [Cin, Cout/groups, kh, kw] plus an optional bias [Cout]; returns [N, Cout, Ho, Wo] with
 * Ho = (H-1)·stride - 2·padding + dilation·(kh-1) + outputPadding + 1.
 *
 * @example
 * ```ts
 * import { convTranspose2d, init, randn } from "../../mod.ts";
 * await init();
 * const x = randn([1, 8, 4, 4], { seed: 1 });
 * const w = randn([8, 4, 3, 3], { seed: 2 });
 * const y = convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 });
 * console.log(y.shape); // [1, 4, 8, 8]
 * ```
 */
export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  opts: ConvTranspose2dOptions = {},
): Tensor {
  const attrs: ConvTranspose2dAttrs = {
    ...convAttrs(opts),
    outputPadding: pair(opts.outputPadding, 0),
  };
  return apply1(convTranspose2dOp, b ? [x, w, b] : [x, w], attrs);
}

/**
 * Input gradient of {@link conv2d}: dy [N, Cout, Ho, Wo] and w [Cout, Cin/groups, kh, kw] to
 * dx [N, Cin, H, W] where `inputSize` = [H, W]. A training op (not differentiable).
 */
export function conv2dBackwardInput(
  dy: Tensor,
  w: Tensor,
  inputSize: readonly [number, number],
  opts: Conv2dOptions = {},
): Tensor {
  const attrs: ConvBackwardAttrs = { ...convAttrs(opts), size: [inputSize[0], inputSize[1]] };
  return apply1(conv2dBackwardInputOp, [dy, w], attrs);
}

/**
 * Weight gradient of {@link conv2d}: x [N, Cin, H, W] and dy [N, Cout, Ho, Wo] to
 * dw [Cout, Cin/groups, kh, kw] where `kernelSize` = [kh, kw]. A training op.
 */
export function conv2dBackwardWeight(
  x: Tensor,
  dy: Tensor,
  kernelSize: readonly [number, number],
  opts: Conv2dOptions = {},
): Tensor {
  const attrs: ConvBackwardAttrs = { ...convAttrs(opts), size: [kernelSize[0], kernelSize[1]] };
  return apply1(conv2dBackwardWeightOp, [x, dy], attrs);
}
