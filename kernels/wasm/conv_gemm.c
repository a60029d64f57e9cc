/*
 * Convolution as explicit im2col + GEMM, for small images (ungrouped convs). The implicit
 * kernels of conv.c compute every column of the zero-padded grid, so on a 4x4 output with a
 * 3x3 kernel a third of their work is dropped; here the batch's pixels are one GEMM dimension
 * (N*P columns), so nothing is wasted and the GEMM's tiles stay full. The copies cost O(N*P*J)
 * against O(N*P*J*O) multiply-adds.
 *
 * Layouts: colT[j][n*P + p] (tap-major), col[n*P + p][j] (pixel-major), j = (r, ky, kx),
 * p = oy*Wo + ox; "cnp" = [channel][n*P + p], the batch-merged form of an NCHW tensor.
 */
#include "oto.h"

void sgemm(int batch, int m, int n, int k, const float* A, int sa, int rsa, int csa,
           const float* B, int sb, int rsb, int csb, float* C, int sc, int ldc, int accumulate);

typedef struct {
  int N, R, O, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
} cgeom;

typedef struct {
  const cgeom* g;
  const float* x;
  float* col;
  int tapmajor, per;
} im2col_args;

/* One tap j for every pixel (tap-major) or every tap for a range of pixels (pixel-major). */
static void im2col_task(const void* p, int t, int tid) {
  const im2col_args* a = (const im2col_args*)p;
  const cgeom* g = a->g;
  (void)tid;
  int kk = g->kh * g->kw, J = g->R * kk, P = g->Ho * g->Wo, NP = g->N * P;
  if (a->tapmajor) {
    int j = t, r = j / kk, ky = (j % kk) / g->kw, kx = j % g->kw;
    float* dst = a->col + (size_t)j * NP;
    for (int n = 0; n < g->N; n++) {
      const float* xc = a->x + ((size_t)n * g->R + r) * g->H * g->W;
      for (int oy = 0; oy < g->Ho; oy++) {
        int iy = oy * g->sh - g->ph + ky * g->dh;
        int ok = iy >= 0 && iy < g->H;
        for (int ox = 0; ox < g->Wo; ox++) {
          int ix = ox * g->sw - g->pw + kx * g->dw;
          *dst++ = ok && ix >= 0 && ix < g->W ? xc[iy * g->W + ix] : 0.f;
        }
      }
    }
    return;
  }
  for (int q = t * a->per; q < MIN(NP, (t + 1) * a->per); q++) {
    int n = q / P, oy = (q % P) / g->Wo, ox = q % g->Wo;
    float* dst = a->col + (size_t)q * J;
    for (int r = 0; r < g->R; r++) {
      const float* xc = a->x + ((size_t)n * g->R + r) * g->H * g->W;
      for (int ky = 0; ky < g->kh; ky++) {
        int iy = oy * g->sh - g->ph + ky * g->dh;
        int ok = iy >= 0 && iy < g->H;
        for (int kx = 0; kx < g->kw; kx++) {
          int ix = ox * g->sw - g->pw + kx * g->dw;
          *dst++ = ok && ix >= 0 && ix < g->W ? xc[iy * g->W + ix] : 0.f;
        }
      }
    }
  }
}

static void im2col(const cgeom* g, const float* x, float* col, int tapmajor) {
  int J = g->R * g->kh * g->kw, NP = g->N * g->Ho * g->Wo;
  im2col_args a = {g, x, col, tapmajor, MAX(1, 16384 / MAX(J, 1))};
  parallel_for(im2col_task, &a, tapmajor ? J : (NP + a.per - 1) / a.per);
}

/* ---- NCHW <-> cnp, col2im ---- */

typedef struct {
  const float* src;
  float* dst;
  const float* bias;
  int N, C, P, to_cnp;
} perm_args;

static void perm_task(const void* p, int t, int tid) {
  const perm_args* a = (const perm_args*)p;
  (void)tid;
  int n = t / a->C, c = t % a->C;
  size_t nchw = ((size_t)n * a->C + c) * a->P, cnp = ((size_t)c * a->N + n) * a->P;
  if (a->to_cnp) {
    __builtin_memcpy(a->dst + cnp, a->src + nchw, a->P * sizeof(float));
  } else {
    float b = a->bias ? a->bias[c] : 0.f;
    for (int i = 0; i < a->P; i++) a->dst[nchw + i] = a->src[cnp + i] + b;
  }
}

static void permute(const float* src, float* dst, const float* bias, int N, int C, int P,
                    int to_cnp) {
  perm_args a = {src, dst, bias, N, C, P, to_cnp};
  parallel_for(perm_task, &a, N * C);
}

typedef struct {
  const cgeom* g;
  const float* colT;
  float* dx;
} col2im_args;

/* dx[n] = sum over taps of colT[j][n*P + p] at the input pixel tap j of output pixel p reads. */
static void col2im_task(const void* p, int n, int tid) {
  const col2im_args* a = (const col2im_args*)p;
  const cgeom* g = a->g;
  (void)tid;
  int kk = g->kh * g->kw, P = g->Ho * g->Wo, NP = g->N * P, HW = g->H * g->W;
  float* dxn = a->dx + (size_t)n * g->R * HW;
  __builtin_memset(dxn, 0, (size_t)g->R * HW * sizeof(float));
  for (int j = 0; j < g->R * kk; j++) {
    int r = j / kk, ky = (j % kk) / g->kw, kx = j % g->kw;
    const float* src = a->colT + (size_t)j * NP + (size_t)n * P;
    float* dc = dxn + (size_t)r * HW;
    for (int oy = 0; oy < g->Ho; oy++) {
      int iy = oy * g->sh - g->ph + ky * g->dh;
      if (iy < 0 || iy >= g->H) continue;
      for (int ox = 0; ox < g->Wo; ox++) {
        int ix = ox * g->sw - g->pw + kx * g->dw;
        if (ix >= 0 && ix < g->W) dc[iy * g->W + ix] += src[oy * g->Wo + ox];
      }
    }
  }
}

/* ---- the three ops ---- */

#define ALIGN16(p) ((float*)(((uintptr_t)(p) + 63) & ~(uintptr_t)63))

/*
 * mode 0, forward: y = conv(x, w) + bias (x [N,R,H,W], w [O,R,kh,kw], y [N,O,Ho,Wo]).
 * mode 1, input gradient: x receives dx from dy = y (w as in forward).
 * mode 2, weight gradient: w receives dw from x and dy = y.
 * Returns 0 when done or the work bytes needed.
 */
int EXPORT(conv_gemm)(int mode, float* x, float* w, const float* bias, float* y, int N, int R,
                      int O, int H, int W, int Ho, int Wo, int kh, int kw, int sh, int sw, int ph,
                      int pw, int dh, int dwl, char* work, int work_bytes) {
  cgeom g = {N, R, O, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dwl};
  long long J = (long long)R * kh * kw, NP = (long long)N * Ho * Wo;
  long long floats = J * NP + (long long)O * NP + 64;
  if (floats * 4 + 256 > work_bytes) return (int)MIN(floats * 4 + 256, 0x7fffffff);
  if (NP == 0) {
    /* an empty batch: no pixels; the weight gradient is a sum over none */
    if (mode == 2) __builtin_memset(w, 0, (size_t)O * J * sizeof(float));
    return 0;
  }
  float* col = ALIGN16(work);
  float* cnp = ALIGN16(col + J * NP);
  if (mode == 0) {
    /* C[O][NP] = w[O][J] · colT[J][NP], then to NCHW with the bias */
    im2col(&g, x, col, 1);
    sgemm(1, O, (int)NP, (int)J, w, 0, (int)J, 1, col, 0, (int)NP, 1, cnp, 0, (int)NP, 0);
    permute(cnp, y, bias, N, O, Ho * Wo, 0);
  } else if (mode == 1) {
    /* colT[J][NP] = wᵀ[J][O] · dy_cnp[O][NP], then col2im */
    permute(y, cnp, 0, N, O, Ho * Wo, 1);
    sgemm(1, (int)J, (int)NP, O, w, 0, 1, (int)J, cnp, 0, (int)NP, 1, col, 0, (int)NP, 0);
    col2im_args a = {&g, col, x};
    parallel_for(col2im_task, &a, N);
  } else {
    /* dw[O][J] = dy_cnp[O][NP] · col[NP][J] */
    permute(y, cnp, 0, N, O, Ho * Wo, 1);
    im2col(&g, x, col, 0);
    sgemm(1, O, (int)J, (int)NP, cnp, 0, (int)NP, 1, col, 0, (int)J, 1, w, 0, (int)J, 0);
  }
  return 0;
}
