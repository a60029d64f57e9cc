/**
 * CPU references of the conv ops, written from the definitions (loops over the formula in each
 * comment), independent of the GPU kernels' index tricks.
 */
import type { HostArray } from "./spec.ts";
import type { Dims } from "./conv_geometry.ts";

/** y[n, g*O+o, oy, ox] = b + Σ x[n, g*R+r, oy*s-p+ky*d, ox*s-p+kx*d] · w[g*O+o, r, ky, kx]. */
export function directCpu(x: HostArray, w: HostArray, b: HostArray | null, y: HostArray, d: Dims) {
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
export function transposedCpu(
  x: HostArray,
  w: HostArray,
  b: HostArray | null,
  y: HostArray,
  d: Dims,
) {
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
export function wgradCpu(x: HostArray, dy: HostArray, dw: HostArray, d: Dims) {
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
