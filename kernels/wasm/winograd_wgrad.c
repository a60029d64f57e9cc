/*
 * Weight gradient of a 3x3 stride-1 undilated conv by Winograd F(3x3, 2x2): over one 2x2 tile e
 * of dy and the 4x4 input patch d under it, dW += the correlation of d with e, which is
 *   Gᵀ [(A e Aᵀ) ⊙ (Bᵀ d B)] G
 * with the matrices of the forward's F(2x2, 3x3) (winograd.c) in other roles (the transposition
 * of its bilinear form): 16 multiply-adds per tile and channel pair instead of 36. Summed over
 * tiles, the 16 products are dot products along the tiles, M[k][r][o] = sum_t V[k][r][t] E[k][o][t]
 * (conv.c's wgrad_dots; the tiles of several images are gathered first so that the dots are
 * long); Gᵀ M G comes once at the end.
 *
 * Tasks: chunks of (image, band of tile rows) items, as many as the shape allows (up to 16, at
 * least 128 tiles each; not the thread count), each summing into its own M (so the result does
 * not depend on which thread ran what), then the chunks are added in order.
 */
#include "tile.h"

#define CHUNKS 16
#define MIN_TILES 128
#ifndef CAP_FLOATS
#define CAP_FLOATS 196608
#endif

typedef struct {
  const float* x;
  const float* dy;
  float* part; /* [G][chunks][16][R][O] */
  const int* tab; /* tab[r] = r * Tp */
  int N, G, R, O, H, W, Ho, Wo, ph, pw;
  int TH, TW, band, nbands, chunks, items, XW, Tp, cap;
} wwg_args;

static long long task_floats(int R, int O, int TW, int band, int Tp, int XW) {
  int O2 = (O + 1) & ~1;
  (void)TW;
  return (long long)(R + O2) * (2 * band + 2) * XW + 16LL * (R + O2) * Tp + 128;
}

/* E = A e Aᵀ of four tiles (lanes) of dy whose 2x2 blocks start at p (row stride XW). */
static inline void dy_tile4(const float* p, int XW, float* e, int ks) {
  v128_t u[4][2];
  for (int b = 0; b < 2; b++) {
    /* rows 0 and 1 of the tiles, column b: even or odd lanes of eight floats */
    v128_t a0 = wasm_v128_load(p), a1 = wasm_v128_load(p + 4);
    v128_t c0 = wasm_v128_load(p + XW), c1 = wasm_v128_load(p + XW + 4);
    v128_t r0 = b ? wasm_i32x4_shuffle(a0, a1, 1, 3, 5, 7) : wasm_i32x4_shuffle(a0, a1, 0, 2, 4, 6);
    v128_t r1 = b ? wasm_i32x4_shuffle(c0, c1, 1, 3, 5, 7) : wasm_i32x4_shuffle(c0, c1, 0, 2, 4, 6);
    u[0][b] = r0;
    u[1][b] = wasm_f32x4_add(r0, r1);
    u[2][b] = wasm_f32x4_sub(r0, r1);
    u[3][b] = wasm_f32x4_neg(r1);
  }
  for (int i = 0; i < 4; i++) {
    wasm_v128_store(e + (i * 4 + 0) * ks, u[i][0]);
    wasm_v128_store(e + (i * 4 + 1) * ks, wasm_f32x4_add(u[i][0], u[i][1]));
    wasm_v128_store(e + (i * 4 + 2) * ks, wasm_f32x4_sub(u[i][0], u[i][1]));
    wasm_v128_store(e + (i * 4 + 3) * ks, wasm_f32x4_neg(u[i][1]));
  }
}

/* part[k] += V[k] · E[k]ᵀ over the first T tiles: dot products along the tiles (zero past T up
 * to a multiple of 4; E's row after an odd O is zero). */
static void flush(const wwg_args* a, float* V, float* E, int T, float* part) {
  int R = a->R, O = a->O, O2 = (O + 1) & ~1, Tp = a->Tp, T4 = (T + 3) & ~3;
  for (int k = 0; k < 16; k++) {
    float* Vk = V + (size_t)k * R * Tp;
    float* Ek = E + (size_t)k * O2 * Tp;
    for (int r = 0; r < R; r++) {
      for (int t = T; t < T4; t++) Vk[(size_t)r * Tp + t] = 0.f;
    }
    for (int o = 0; o < O2; o++) {
      if (o >= O) __builtin_memset(Ek + (size_t)o * Tp, 0, T4 * sizeof(float));
      for (int t = T; t < T4; t++) Ek[(size_t)o * Tp + t] = 0.f;
    }
    wgrad_dots(Vk, Ek, a->tab, R, O, T4, Tp, part + (size_t)k * R * O);
  }
}

static void wwg_task(const void* p, int task, int tid) {
  const wwg_args* a = (const wwg_args*)p;
  int gi = task / a->chunks, ch = task % a->chunks;
  int i0 = (int)((long long)a->items * ch / a->chunks);
  int i1 = (int)((long long)a->items * (ch + 1) / a->chunks);
  int R = a->R, O = a->O, XW = a->XW, Tp = a->Tp, TW = a->TW;
  float* part = a->part + ((size_t)gi * a->chunks + ch) * 16 * R * O;
  __builtin_memset(part, 0, (size_t)16 * R * O * sizeof(float));
  float* xp = scratch(tid);
  float* dp = xp + (size_t)R * (2 * a->band + 2) * XW;
  float* V = dp + (((size_t)O * 2 * a->band * XW + 15) & ~(size_t)15);
  int O2 = (O + 1) & ~1;
  float* E = V + (size_t)16 * R * Tp;
  int acc = 0; /* tiles in V and E so far */
  for (int it = i0; it < i1; it++) {
    int n = it / a->nbands, band = it % a->nbands;
    int ty0 = band * a->band, rows = MIN(a->band, a->TH - ty0), T = rows * TW;
    if (acc + T > a->cap) flush(a, V, E, acc, part), acc = 0;
    int XH = 2 * rows + 2;
    winograd_pad(a->x + (size_t)(n * a->G + gi) * R * a->H * a->W, R, a->H, a->W, a->ph, a->pw,
                 ty0, rows, XW, xp);
    /* dy's band, zeros past Ho and Wo */
    const float* dyb = a->dy + (size_t)(n * a->G + gi) * O * a->Ho * a->Wo;
    for (int o = 0; o < O; o++) {
      for (int i = 0; i < 2 * rows; i++) {
        float* dst = dp + ((size_t)o * 2 * a->band + i) * XW;
        int oy = 2 * ty0 + i;
        if (oy >= a->Ho) {
          __builtin_memset(dst, 0, XW * sizeof(float));
          continue;
        }
        __builtin_memcpy(dst, dyb + ((size_t)o * a->Ho + oy) * a->Wo, a->Wo * sizeof(float));
        __builtin_memset(dst + a->Wo, 0, (XW - a->Wo) * sizeof(float));
      }
    }
    /* V and E of this item's tiles after the ones so far, four tiles of a row at a time (lanes
     * past a row's end are rewritten by the next row or item, or lie past what is summed) */
    for (int r = 0; r < R; r++) {
      for (int tyl = 0; tyl < rows; tyl++) {
        const float* src = xp + ((size_t)r * XH + 2 * tyl) * XW;
        for (int tx = 0; tx < TW; tx += 4) {
          winograd_input4(src + 2 * tx, XW, V + (size_t)r * Tp + acc + tyl * TW + tx, R * Tp);
        }
      }
    }
    for (int o = 0; o < O; o++) {
      for (int tyl = 0; tyl < rows; tyl++) {
        const float* src = dp + ((size_t)o * 2 * a->band + 2 * tyl) * XW;
        for (int tx = 0; tx < TW; tx += 4) {
          dy_tile4(src + 2 * tx, XW, E + (size_t)o * Tp + acc + tyl * TW + tx, O2 * Tp);
        }
      }
    }
    acc += T;
  }
  if (acc) flush(a, V, E, acc, part);
}

typedef struct {
  const float* part;
  float* dw;
  int G, R, O, chunks;
} wsum_args;

/* dw[gi, o, r] = Gᵀ (sum over chunks of M[k][r][o]) G, one (group, output channel) per task. */
static void wsum_task(const void* p, int t, int tid) {
  const wsum_args* a = (const wsum_args*)p;
  (void)tid;
  int gi = t / a->O, o = t % a->O, R = a->R, O = a->O;
  for (int r = 0; r < R; r++) {
    float m[4][4];
    for (int k = 0; k < 16; k++) {
      const float* src = a->part + (((size_t)gi * a->chunks * 16 + k) * R + r) * O + o;
      float s = 0.f;
      for (int c = 0; c < a->chunks; c++) s += src[(size_t)c * 16 * R * O];
      m[k / 4][k % 4] = s;
    }
    /* Gᵀ = [[1, .5, .5, 0], [0, .5, -.5, 0], [0, .5, .5, 1]] on both sides */
    float h[3][4];
    for (int j = 0; j < 4; j++) {
      h[0][j] = m[0][j] + 0.5f * (m[1][j] + m[2][j]);
      h[1][j] = 0.5f * (m[1][j] - m[2][j]);
      h[2][j] = 0.5f * (m[1][j] + m[2][j]) + m[3][j];
    }
    float* d = a->dw + (((size_t)gi * O + o) * R + r) * 9;
    for (int i = 0; i < 3; i++) {
      d[i * 3 + 0] = h[i][0] + 0.5f * (h[i][1] + h[i][2]);
      d[i * 3 + 1] = 0.5f * (h[i][1] - h[i][2]);
      d[i * 3 + 2] = 0.5f * (h[i][1] + h[i][2]) + h[i][3];
    }
  }
}

/*
 * conv_wgrad's dw by F(3x3, 2x2) when it applies (kh = kw = 3, unit stride and dilation, at least
 * 4 input and output channels). Returns 1 when not applicable (the caller runs the direct
 * kernel), 0 when done, or the work bytes needed.
 */
int winograd_wgrad(const float* x, const float* dy, float* dw, int N, int G, int R, int O, int H,
                   int W, int Ho, int Wo, int kh, int kw, int sh, int sw, int ph, int pw, int dh,
                   int dwl, char* work, int work_bytes) {
  if (!winograd_on() || kh != 3 || kw != 3 || sh != 1 || sw != 1 || dh != 1 || dwl != 1) return 1;
  if (R < 4 || O < 4 || (long long)Ho * Wo < 16 || N == 0) return 1;
  wwg_args a;
  a.TH = (Ho + 1) / 2, a.TW = (Wo + 1) / 2;
  a.XW = 2 * ((a.TW + 3) & ~3) + 8;
  /* V and E hold up to `cap` tiles (~768 KiB, at least one row of tiles) */
  a.cap = MAX(a.TW, CAP_FLOATS / (16 * (R + O)));
  for (;;) {
    a.band = MAX(1, MIN(a.TH, a.cap / a.TW));
    a.Tp = (a.cap + 4 + 3) & ~3;
    if (task_floats(R, O, a.TW, a.band, a.Tp, a.XW) * 4 <= scratch_bytes()) break;
    if (a.cap == a.TW) return 1;
    a.cap = MAX(a.TW, a.cap / 2);
  }
  a.nbands = (a.TH + a.band - 1) / a.band;
  a.items = N * a.nbands;
  /* at least MIN_TILES tiles per chunk so that the dots are long (small images: few chunks) */
  long long tiles = (long long)N * a.TH * a.TW;
  a.chunks = (int)MAX(1, MIN(MIN(a.items, CHUNKS), tiles / MIN_TILES));
  long long need = 64 + 4LL * ((R + 3) & ~3) + 4LL * G * a.chunks * 16 * R * O;
  if (need > (256LL << 20)) return 1;
  if (need > work_bytes) return (int)need;
  int* tab = (int*)(((uintptr_t)work + 15) & ~(uintptr_t)15);
  for (int r = 0; r < R; r++) tab[r] = r * a.Tp;
  a.part = (float*)(tab + ((R + 3) & ~3));
  winograd_note();
  a.x = x, a.dy = dy, a.tab = tab;
  a.N = N, a.G = G, a.R = R, a.O = O, a.H = H, a.W = W, a.Ho = Ho, a.Wo = Wo, a.ph = ph, a.pw = pw;
  parallel_for(wwg_task, &a, G * a.chunks);
  wsum_args s = {a.part, dw, G, R, O, a.chunks};
  parallel_for(wsum_task, &s, G * O);
  return 0;
}
