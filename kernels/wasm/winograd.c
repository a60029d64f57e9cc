/*
 * 3x3 stride-1 undilated convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2016): a 2x2 output tile costs 16
 * multiply-adds per (input, output) channel pair instead of 36, plus transforms linear in the
 * channels. conv_direct (conv.c) hands eligible convs here: forward, and the input gradient of a
 * stride-1 conv (the conv with the mirrored weight). Same contract as conv_direct: any output size
 * and padding (pixels outside x read zeros), weights read through strides, optional mirroring.
 *
 * One task is one image, group and band of tile rows, fused so that its buffers stay in cache:
 *   xp[r][XH][XW]    the band's input with zeros outside x;
 *   V[16][r][Tp]     V = Bᵀ d B of every tile's 4x4 patch d (tiles t = row * TW + column);
 *   M[16][OP][Tp]    M[k] = V[k] · U[k] for the 16 transform points k, by conv's 5x8 tile;
 *   y                Aᵀ M A, 2x2 outputs per tile, plus the bias.
 * U = G g Gᵀ of every 3x3 kernel g is computed once per call, packed [g][k][o/8][r][8].
 * Transforms work on four tiles of one row at a time (one f32x4 lane each).
 */
#include "tile.h"

static int enabled = 1;
static int calls;

/* Tests and benchmarks switch the Winograd path off to compare it with the direct kernel. */
void EXPORT(set_winograd)(int on) { enabled = on; }

/* Convs computed here so far (tests check which shapes take this path). */
int EXPORT(winograd_count)(void) { return calls; }

typedef struct {
  const float* x;
  const float* U;
  const float* bias; /* [g][OP] or NULL */
  float* y;
  const int* tab;    /* tab[r] = r * Tp */
  int N, G, R, O, H, W, Ho, Wo, ph, pw;
  int TH, TW, band, nbands, OP, XW, Tp;
} wino_args;

/* Floats of scratch one task needs for `band` tile rows. */
static long long task_floats(int R, int OP, int TW, int band, int* XW, int* Tp) {
  *XW = 2 * ((TW + 3) & ~3) + 8;
  *Tp = (band * TW + 4 + 3) & ~3;
  return (long long)R * (2 * band + 2) * *XW + 16LL * R * *Tp + 16LL * OP * *Tp + 64;
}

void winograd_input4(const float* p, int XW, float* v, int ks) {
  v128_t t[4][4];
  for (int i = 0; i < 4; i++, p += XW) {
    v128_t a = wasm_v128_load(p), b = wasm_v128_load(p + 4);
    v128_t c = wasm_v128_load(p + 2), e = wasm_v128_load(p + 6);
    v128_t d0 = wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), d1 = wasm_i32x4_shuffle(a, b, 1, 3, 5, 7);
    v128_t d2 = wasm_i32x4_shuffle(c, e, 0, 2, 4, 6), d3 = wasm_i32x4_shuffle(c, e, 1, 3, 5, 7);
    t[i][0] = wasm_f32x4_sub(d0, d2);
    t[i][1] = wasm_f32x4_add(d1, d2);
    t[i][2] = wasm_f32x4_sub(d2, d1);
    t[i][3] = wasm_f32x4_sub(d1, d3);
  }
  for (int j = 0; j < 4; j++) {
    wasm_v128_store(v + (0 * 4 + j) * ks, wasm_f32x4_sub(t[0][j], t[2][j]));
    wasm_v128_store(v + (1 * 4 + j) * ks, wasm_f32x4_add(t[1][j], t[2][j]));
    wasm_v128_store(v + (2 * 4 + j) * ks, wasm_f32x4_sub(t[2][j], t[1][j]));
    wasm_v128_store(v + (3 * 4 + j) * ks, wasm_f32x4_sub(t[1][j], t[3][j]));
  }
}

int winograd_on(void) { return enabled; }
void winograd_note(void) { calls++; }

void winograd_pad(const float* x, int R, int H, int W, int ph, int pw, int ty0, int rows, int XW,
                  float* xp) {
  int XH = 2 * rows + 2, lo = MAX(0, pw), hi = MIN(XW, W + pw);
  for (int r = 0; r < R; r++) {
    const float* xc = x + (size_t)r * H * W;
    float* dst = xp + (size_t)r * XH * XW;
    for (int i = 0; i < XH; i++, dst += XW) {
      int iy = 2 * ty0 - ph + i;
      if (iy < 0 || iy >= H || hi <= lo) {
        __builtin_memset(dst, 0, XW * sizeof(float));
        continue;
      }
      if (lo > 0) __builtin_memset(dst, 0, lo * sizeof(float));
      __builtin_memcpy(dst + lo, xc + (size_t)iy * W + lo - pw, (hi - lo) * sizeof(float));
      if (hi < XW) __builtin_memset(dst + hi, 0, (XW - hi) * sizeof(float));
    }
  }
}

static void wino_task(const void* p, int task, int tid) {
  const wino_args* a = (const wino_args*)p;
  int band = task % a->nbands, gi = (task / a->nbands) % a->G, n = task / (a->nbands * a->G);
  int ty0 = band * a->band, rows = MIN(a->band, a->TH - ty0), T = rows * a->TW;
  int R = a->R, XW = a->XW, XH = 2 * rows + 2, Tp = a->Tp, OP = a->OP;
  float* xp = scratch(tid);
  float* V = xp + (((size_t)R * (2 * a->band + 2) * XW + 15) & ~(size_t)15);
  float* M = V + (size_t)16 * R * Tp;

  winograd_pad(a->x + (size_t)(n * a->G + gi) * R * a->H * a->W, R, a->H, a->W, a->ph, a->pw, ty0,
               rows, XW, xp);

  /* V: groups of four tiles of one row; lanes past the row's end write the next row's first
   * tiles (rewritten right after) or the padding past T. */
  for (int r = 0; r < R; r++) {
    for (int tyl = 0; tyl < rows; tyl++) {
      const float* src = xp + ((size_t)r * XH + 2 * tyl) * XW;
      for (int tx = 0; tx < a->TW; tx += 4) {
        winograd_input4(src + 2 * tx, XW, V + (size_t)r * Tp + tyl * a->TW + tx, R * Tp);
      }
    }
  }

  /* M[k] = V[k] · U[k]: 5 tiles x 8 output channels per register tile */
  for (int k = 0; k < 16; k++) {
    const float* Vk = V + (size_t)k * R * Tp;
    for (int ob = 0; ob < OP; ob += 8) {
      const float* pb = a->U + ((size_t)(gi * 16 + k) * OP + ob) * R;
      float* Mk = M + ((size_t)k * OP + ob) * Tp;
      for (int t0 = 0; t0 < T; t0 += 5) tile_tab(Vk + t0, a->tab, R, pb, 0, Mk + t0, Tp, 0);
    }
  }

  /* y = Aᵀ M A (+ bias) */
  float lanes[2][2][4] __attribute__((aligned(16)));
  for (int o = 0; o < a->O; o++) {
    float* yo = a->y + ((size_t)(n * a->G + gi) * a->O + o) * a->Ho * a->Wo;
    v128_t b = wasm_f32x4_splat(a->bias ? a->bias[gi * OP + o] : 0.f);
    for (int tyl = 0; tyl < rows; tyl++) {
      int oy = 2 * (ty0 + tyl);
      for (int tx = 0; tx < a->TW; tx += 4) {
        const float* m = M + (size_t)o * Tp + tyl * a->TW + tx;
        size_t ks = (size_t)OP * Tp;
        v128_t r0[4], r1[4];
        for (int i = 0; i < 4; i++) {
          v128_t m0 = wasm_v128_load(m + (i * 4 + 0) * ks), m1 = wasm_v128_load(m + (i * 4 + 1) * ks);
          v128_t m2 = wasm_v128_load(m + (i * 4 + 2) * ks), m3 = wasm_v128_load(m + (i * 4 + 3) * ks);
          r0[i] = wasm_f32x4_add(wasm_f32x4_add(m0, m1), m2);
          r1[i] = wasm_f32x4_sub(wasm_f32x4_sub(m1, m2), m3);
        }
        v128_t y00 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(r0[0], r0[1]), r0[2]), b);
        v128_t y01 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(r1[0], r1[1]), r1[2]), b);
        v128_t y10 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_sub(r0[1], r0[2]), r0[3]), b);
        v128_t y11 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_sub(r1[1], r1[2]), r1[3]), b);
        int ox = 2 * tx;
        if (ox + 7 < a->Wo && oy + 1 < a->Ho) {
          float* d = yo + (size_t)oy * a->Wo + ox;
          wasm_v128_store(d, wasm_i32x4_shuffle(y00, y01, 0, 4, 1, 5));
          wasm_v128_store(d + 4, wasm_i32x4_shuffle(y00, y01, 2, 6, 3, 7));
          d += a->Wo;
          wasm_v128_store(d, wasm_i32x4_shuffle(y10, y11, 0, 4, 1, 5));
          wasm_v128_store(d + 4, wasm_i32x4_shuffle(y10, y11, 2, 6, 3, 7));
          continue;
        }
        wasm_v128_store(lanes[0][0], y00), wasm_v128_store(lanes[0][1], y01);
        wasm_v128_store(lanes[1][0], y10), wasm_v128_store(lanes[1][1], y11);
        for (int dy = 0; dy < 2 && oy + dy < a->Ho; dy++) {
          for (int l = 0; l < 4 && tx + l < a->TW; l++) {
            for (int dx = 0; dx < 2; dx++) {
              int x = 2 * (tx + l) + dx;
              if (x < a->Wo) yo[(size_t)(oy + dy) * a->Wo + x] = lanes[dy][dx][l];
            }
          }
        }
      }
    }
  }
}

/* U = G g Gᵀ for every kernel g, packed [g][k][o/8][r][8] (zeros for o >= O). */
static void pack_u(const float* w, int G, int R, int O, int OP, int sg, int so, int sr, int flip,
                   float* U) {
  __builtin_memset(U, 0, (size_t)G * 16 * OP * R * sizeof(float));
  for (int gi = 0; gi < G; gi++) {
    for (int o = 0; o < O; o++) {
      for (int r = 0; r < R; r++) {
        float g[3][3], t[4][3];
        for (int tap = 0; tap < 9; tap++) {
          g[tap / 3][tap % 3] = w[gi * sg + o * so + r * sr + (flip ? 8 - tap : tap)];
        }
        for (int j = 0; j < 3; j++) {
          t[0][j] = g[0][j];
          t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
          t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
          t[3][j] = g[2][j];
        }
        for (int i = 0; i < 4; i++) {
          float u[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]),
                        0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
          for (int j = 0; j < 4; j++) {
            int k = i * 4 + j;
            U[(((size_t)(gi * 16 + k) * (OP / 8) + o / 8) * R + r) * 8 + o % 8] = u[j];
          }
        }
      }
    }
  }
}

/*
 * The conv of conv_direct by F(2x2, 3x3) when it applies (kh = kw = 3, unit stride and dilation,
 * enough channels for the 16 products to be GEMMs worth the transforms). Returns 1 when not
 * applicable (the caller runs the direct kernel), 0 when done, or the work bytes needed.
 */
int winograd_conv(const float* x, const float* w, const float* bias, float* y, int N, int G, int R,
                  int O, int H, int W, int Ho, int Wo, int kh, int kw, int sh, int sw, int ph,
                  int pw, int dh, int dw, int sg, int so, int sr, int flip, char* work,
                  int work_bytes) {
  if (!enabled || kh != 3 || kw != 3 || sh != 1 || sw != 1 || dh != 1 || dw != 1) return 1;
  if (R < 4 || O < 4 || (long long)Ho * Wo < 16) return 1;
  wino_args a;
  a.OP = (O + 7) & ~7;
  a.TH = (Ho + 1) / 2, a.TW = (Wo + 1) / 2;
  /* tiles per task: V and M within ~384 KiB (L2), at least one row, within the scratch */
  int budget = 98304 / (16 * (R + a.OP));
  a.band = MAX(1, MIN(a.TH, budget / a.TW));
  while (a.band > 1 && task_floats(R, a.OP, a.TW, a.band, &a.XW, &a.Tp) * 4 > scratch_bytes()) {
    a.band = (a.band + 1) / 2;
  }
  if (task_floats(R, a.OP, a.TW, a.band, &a.XW, &a.Tp) * 4 > scratch_bytes()) return 1;
  a.nbands = (a.TH + a.band - 1) / a.band;
  long long need = 64 + 4LL * ((R + 3) & ~3) + 4LL * G * 16 * a.OP * R + 4LL * G * a.OP;
  if (need > work_bytes) return (int)MIN(need, 0x7fffffff);
  int* tab = (int*)(((uintptr_t)work + 15) & ~(uintptr_t)15);
  float* U = (float*)(tab + ((R + 3) & ~3));
  float* bp = bias ? U + (size_t)G * 16 * a.OP * R : 0;
  for (int r = 0; r < R; r++) tab[r] = r * a.Tp;
  pack_u(w, G, R, O, a.OP, sg, so, sr, flip, U);
  if (bp) {
    for (int gi = 0; gi < G; gi++) {
      for (int o = 0; o < a.OP; o++) bp[gi * a.OP + o] = o < O ? bias[gi * O + o] : 0.f;
    }
  }
  winograd_note();
  a.x = x, a.U = U, a.bias = bp, a.y = y, a.tab = tab;
  a.N = N, a.G = G, a.R = R, a.O = O, a.H = H, a.W = W, a.Ho = Ho, a.Wo = Wo, a.ph = ph, a.pw = pw;
  parallel_for(wino_task, &a, N * G * a.nbands);
  return 0;
}
