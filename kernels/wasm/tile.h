/*
 * The 5x8 register tile of the convolution kernels (see gemm.c for why 5x8 and why loads are
 * the cost to cut): t[5 rows][8 cols] = init + sum_k A(r, k) B(k, c), with B packed as [k][8]
 * and A read straight from the source tensor through an offset table: rows 0..4 of step k are
 * the five consecutive floats at base + tab[k] (consecutive output pixels), loaded as one
 * vector plus one broadcast.
 */
#ifndef OTO_TILE_H
#define OTO_TILE_H
#include "oto.h"

#define TROW(r)                                                                   \
  a = r < 4 ? wasm_i32x4_shuffle(al, al, r & 3, r & 3, r & 3, r & 3)             \
            : wasm_v128_load32_splat(src + 4);                                    \
  c##r##0 = MADD(a, b0, c##r##0);                                                 \
  c##r##1 = MADD(a, b1, c##r##1);

#define TSTEP                                                                     \
  {                                                                               \
    const float* src = base + tab[k];                                             \
    v128_t b0 = wasm_v128_load(pb), b1 = wasm_v128_load(pb + 4);                  \
    v128_t al = wasm_v128_load(src), a;                                           \
    TROW(0) TROW(1) TROW(2) TROW(3) TROW(4)                                       \
    pb += 8;                                                                      \
  }

/* Rows 0..3 of channels c..c+3 (accumulators a, b, c, d = pixels 0..3) as four channel rows. */
#define TRANSPOSE4(a, b, c, d, r0, r1, r2, r3)                                   \
  {                                                                               \
    v128_t t0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5);                             \
    v128_t t1 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);                             \
    v128_t t2 = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5);                             \
    v128_t t3 = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);                             \
    r0 = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5);                                  \
    r1 = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);                                  \
    r2 = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5);                                  \
    r3 = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);                                  \
  }

/* Where a tile's result goes: y != NULL stores it straight to y[c * plane + r] (5 consecutive
 * valid pixels, 8 channels); else into t[r * 8 + c] for the caller to place. */
#define TILE_OUT(y, plane, t)                                                     \
  if (y) {                                                                        \
    v128_t r0, r1, r2, r3;                                                        \
    TRANSPOSE4(c00, c10, c20, c30, r0, r1, r2, r3)                                \
    wasm_v128_store(y, r0), wasm_v128_store(y + plane, r1);                       \
    wasm_v128_store(y + 2 * plane, r2), wasm_v128_store(y + 3 * plane, r3);       \
    TRANSPOSE4(c01, c11, c21, c31, r0, r1, r2, r3)                                \
    wasm_v128_store(y + 4 * plane, r0), wasm_v128_store(y + 5 * plane, r1);       \
    wasm_v128_store(y + 6 * plane, r2), wasm_v128_store(y + 7 * plane, r3);       \
    wasm_v128_store32_lane(y + 4, c40, 0);                                        \
    wasm_v128_store32_lane(y + plane + 4, c40, 1);                                \
    wasm_v128_store32_lane(y + 2 * plane + 4, c40, 2);                            \
    wasm_v128_store32_lane(y + 3 * plane + 4, c40, 3);                            \
    wasm_v128_store32_lane(y + 4 * plane + 4, c41, 0);                            \
    wasm_v128_store32_lane(y + 5 * plane + 4, c41, 1);                            \
    wasm_v128_store32_lane(y + 6 * plane + 4, c41, 2);                            \
    wasm_v128_store32_lane(y + 7 * plane + 4, c41, 3);                            \
  } else {                                                                        \
    wasm_v128_store(t + 0, c00), wasm_v128_store(t + 4, c01);                     \
    wasm_v128_store(t + 8, c10), wasm_v128_store(t + 12, c11);                    \
    wasm_v128_store(t + 16, c20), wasm_v128_store(t + 20, c21);                   \
    wasm_v128_store(t + 24, c30), wasm_v128_store(t + 28, c31);                   \
    wasm_v128_store(t + 32, c40), wasm_v128_store(t + 36, c41);                   \
  }

#define TILE_INIT                                                                 \
  v128_t c00, c01;                                                                \
  if (init8) {                                                                    \
    c00 = wasm_v128_load(init8);                                                  \
    c01 = wasm_v128_load(init8 + 4);                                              \
  } else {                                                                        \
    c00 = c01 = wasm_f32x4_splat(0);                                              \
  }                                                                               \
  v128_t c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01, c40 = c00, c41 = c01;

/* init8 (broadcast over rows; NULL = 0) + sum_k base[tab[k] + r] * pb[k][c], r < 5, to y or t
 * (TILE_OUT). */
static inline void tile_tab(const float* base, const int* tab, int K, const float* pb,
                            const float* init8, float* y, int plane, float* t) {
  TILE_INIT
#pragma clang loop unroll(disable)
  for (int k = 0; k < K; k++) {
    TSTEP
    if (++k >= K) break;
    TSTEP
  }
  TILE_OUT(y, plane, t)
}

/* conv.c: part[j][o] += sum_{v < Vp} dq[o * ld + v] * xq[tab[j] + v] for o < O, j < J; dq has
 * an even number of rows (a zero row after an odd O), Vp is a multiple of 4. */
void wgrad_dots(const float* xq, const float* dq, const int* tab, int J, int O, int Vp, int ld,
                float* part);

/* winograd.c / winograd_wgrad.c: F(2x2, 3x3) for conv_direct and conv_wgrad; 1 = not applicable. */
int winograd_conv(const float* x, const float* w, const float* bias, float* y, int N, int G, int R,
                  int O, int H, int W, int Ho, int Wo, int kh, int kw, int sh, int sw, int ph,
                  int pw, int dh, int dw, int sg, int so, int sr, int flip, char* work,
                  int work_bytes);
int winograd_wgrad(const float* x, const float* dy, float* dw, int N, int G, int R, int O, int H,
                   int W, int Ho, int Wo, int kh, int kw, int sh, int sw, int ph, int pw, int dh,
                   int dwl, char* work, int work_bytes);
/* Bᵀ d B of four tiles (lanes) whose 4x4 patches start at p (row stride XW), to v[k * ks]. */
void winograd_input4(const float* p, int XW, float* v, int ks);
/* Fill xp[r][2 * rows + 2][XW] with rows 2 * ty0 - ph + i, columns j - pw of x's R channels
 * (zeros outside x). */
void winograd_pad(const float* x, int R, int H, int W, int ph, int pw, int ty0, int rows, int XW,
                  float* xp);
/* Whether F(2x2, 3x3) is on (set_winograd); count a conv computed by it (winograd_count). */
int winograd_on(void);
void winograd_note(void);

#endif
