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

/* t = init8 (broadcast over rows; NULL = 0) + sum_k base[tab[k] + r] * pb[k][c], r < 5. */
static inline void tile_tab(const float* base, const int* tab, int K, const float* pb,
                            const float* init8, float* t) {
  v128_t c00, c01;
  if (init8) {
    c00 = wasm_v128_load(init8);
    c01 = wasm_v128_load(init8 + 4);
  } else {
    c00 = c01 = wasm_f32x4_splat(0);
  }
  v128_t c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01, c40 = c00, c41 = c01;
#pragma clang loop unroll(disable)
  for (int k = 0; k < K; k++) {
    TSTEP
    if (++k >= K) break;
    TSTEP
  }
  wasm_v128_store(t + 0, c00), wasm_v128_store(t + 4, c01);
  wasm_v128_store(t + 8, c10), wasm_v128_store(t + 12, c11);
  wasm_v128_store(t + 16, c20), wasm_v128_store(t + 20, c21);
  wasm_v128_store(t + 24, c30), wasm_v128_store(t + 28, c31);
  wasm_v128_store(t + 32, c40), wasm_v128_store(t + 36, c41);
}
#endif
