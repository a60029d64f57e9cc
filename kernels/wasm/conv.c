/*
 * 2-D convolution (NCHW) as implicit GEMM, forward, input gradient and weight gradient, for any
 * stride, padding, dilation and groups.
 *
 * The input of one image and group is first copied into a zero-padded, phase-split layout xq:
 * for strides (sh, sw), padded pixel (sh*i + py, sw*j + px) of channel r goes to plane
 * (py, px, r), row i, column j. Then every tap (r, ky, kx) of every output pixel is at
 *   xq[tab[r, ky, kx] + v],  v = oy * Wq + ox  ("virtual pixel", ox < Wq)
 * with unit stride in v whatever the conv's stride. Columns ox >= Wo of the virtual grid are
 * computed and dropped (a few percent for 3x3 kernels). Output rows are processed in bands so
 * that xq fits the per-thread scratch memory.
 *
 * - direct: y[v, o] = sum_j xq[tab[j] + v] * W(j, o): a 5 x 8 tile of (pixels x channels), A read
 *   from xq through the offset table, weights packed once per call. Also the input gradient of
 *   a stride-1 conv (the conv of dy with the mirrored, transposed weight) and the input
 *   gradient of a transposed conv.
 * - wgrad: dW(j, o) = sum_{n, v} xq[tab[j] + v] * dy[o, v]: dot products along v (both operands
 *   contiguous there), a tile of 2 channels x 5 taps in 10 f32x4 accumulators, dy copied to the
 *   virtual-pixel layout (zeros in the dropped columns); partial sums per chunk of images are
 *   added in a fixed order (results do not depend on which thread ran what).
 * - scatter: the transposed conv (and the input gradient of strided convs), col2im style: a
 *   5 x 8 tile of (input pixels x (channel, tap)) scattered into the output.
 */
#include "tile.h"

typedef struct {
  int N, G, R, O, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
} geom;

/* Geometry of xq for a band of `rows` output rows. */
typedef struct {
  int Hq, Wq, qy, qx, planes, floats;
} qgeom;

static qgeom qgeom_of(const geom* g, int rows) {
  qgeom q;
  q.qy = ((g->kh - 1) * g->dh) / g->sh;
  q.qx = ((g->kw - 1) * g->dw) / g->sw;
  q.Hq = rows + q.qy;
  q.Wq = g->Wo + q.qx + 1;
  q.planes = g->sh * g->sw * g->R;
  /* Tiles read up to qx + 4 floats past the last plane (dropped columns, partial tiles). */
  q.floats = q.planes * q.Hq * q.Wq + q.qx + 8;
  return q;
}

/* Offsets of the taps j = (r, ky, kx) in xq. */
static void make_tab(const geom* g, const qgeom* q, int* tab) {
  int j = 0;
  for (int r = 0; r < g->R; r++) {
    for (int ky = 0; ky < g->kh; ky++) {
      int yy = ky * g->dh, py = yy % g->sh, qy = yy / g->sh;
      for (int kx = 0; kx < g->kw; kx++) {
        int xx = kx * g->dw, px = xx % g->sw, qx = xx / g->sw;
        int plane = (py * g->sw + px) * g->R + r;
        tab[j++] = (plane * q->Hq + qy) * q->Wq + qx;
      }
    }
  }
}

/* Fill xq for image n, group gi, output rows from oy0 (x has G*R channels of H x W). */
static void build_xq(const geom* g, const qgeom* q, const float* x, int n, int gi, int oy0,
                     float* xq) {
  int plane_size = q->Hq * q->Wq;
  for (int py = 0; py < g->sh; py++) {
    for (int px = 0; px < g->sw; px++) {
      for (int r = 0; r < g->R; r++) {
        const float* xc = x + ((size_t)(n * g->G + gi) * g->R + r) * g->H * g->W;
        float* dst = xq + ((py * g->sw + px) * g->R + r) * plane_size;
        for (int i = 0; i < q->Hq; i++, dst += q->Wq) {
          int iy = g->sh * (oy0 + i) + py - g->ph;
          if (iy < 0 || iy >= g->H) {
            __builtin_memset(dst, 0, q->Wq * sizeof(float));
            continue;
          }
          const float* src = xc + iy * g->W;
          if (g->sw == 1) {
            /* columns j map to ix = j - pw: zeros, a contiguous run, zeros */
            int lo = MAX(0, g->pw), hi = MIN(q->Wq, g->W + g->pw);
            if (hi <= lo) {
              __builtin_memset(dst, 0, q->Wq * sizeof(float));
              continue;
            }
            if (lo > 0) __builtin_memset(dst, 0, lo * sizeof(float));
            __builtin_memcpy(dst + lo, src + lo - g->pw, (hi - lo) * sizeof(float));
            if (hi < q->Wq) __builtin_memset(dst + hi, 0, (q->Wq - hi) * sizeof(float));
          } else {
            for (int j = 0; j < q->Wq; j++) {
              int ix = g->sw * j + px - g->pw;
              dst[j] = ix >= 0 && ix < g->W ? src[ix] : 0.f;
            }
          }
        }
      }
    }
  }
  __builtin_memset(xq + q->planes * plane_size, 0, (q->qx + 8) * sizeof(float));
}

/* Output rows per band so that `per_row(rows)` floats of scratch suffice; 0 if not even one. */
static int band_rows(const geom* g, int extra_per_v, int* nbands) {
  int avail = scratch_bytes() / 4 - 64;
  int rows = g->Ho;
  for (; rows > 0; rows = rows > 1 ? (rows + 1) / 2 : 0) {
    qgeom q = qgeom_of(g, rows);
    if (q.floats + extra_per_v * (rows * q.Wq + 4) + 16 <= avail) break;
  }
  if (rows > 0) *nbands = (g->Ho + rows - 1) / rows;
  return rows;
}

/* ---- weights: W(j, o) of group gi read through strides, packed [g][o/8][j][8] ---- */

static void pack_weights(const geom* g, const float* w, int sg, int so, int sr, int flip,
                         float* wp) {
  int kk = g->kh * g->kw, J = g->R * kk, OP = (g->O + 7) & ~7;
  for (int gi = 0; gi < g->G; gi++) {
    for (int op = 0; op < OP; op += 8) {
      for (int j = 0; j < J; j++) {
        int r = j / kk, tap = j % kk;
        if (flip) tap = kk - 1 - tap;
        for (int c = 0; c < 8; c++) {
          int o = op + c;
          *wp++ = o < g->O ? w[gi * sg + o * so + r * sr + tap] : 0.f;
        }
      }
    }
  }
}

/* ---------------------------------------------------------------------------------------- */
/* direct */

typedef struct {
  geom g;
  qgeom q;
  const float* x;
  float* y;
  const int* tab;
  const float* wp;
  const float* bp;
  int band, nbands, OP;
} direct_args;

static void direct_task(const void* p, int t, int tid) {
  const direct_args* a = (const direct_args*)p;
  const geom* g = &a->g;
  int band = t % a->nbands, gi = (t / a->nbands) % g->G, n = t / (a->nbands * g->G);
  int oy0 = band * a->band, rows = MIN(a->band, g->Ho - oy0);
  float* xq = scratch(tid);
  build_xq(g, &a->q, a->x, n, gi, oy0, xq);
  int J = g->R * g->kh * g->kw, Wq = a->q.Wq, V = rows * Wq, plane = g->Ho * g->Wo;
  float t5[40] __attribute__((aligned(16)));
  float* ybase = a->y + (size_t)(n * g->G + gi) * g->O * plane;
  for (int op = 0; op < a->OP; op += 8) {
    const float* pb = a->wp + ((size_t)gi * a->OP + op) * J;
    const float* b8 = a->bp ? a->bp + gi * a->OP + op : 0;
    int oc = MIN(8, g->O - op);
    for (int v0 = 0; v0 < V; v0 += 5) {
      int oy = v0 / Wq, ox = v0 % Wq;
      /* five valid pixels in one row and eight channels: stored straight (transposed) */
      float* direct = oc == 8 && ox + 4 < g->Wo && v0 + 4 < V
                          ? ybase + (size_t)op * plane + (oy0 + oy) * g->Wo + ox
                          : 0;
      tile_tab(xq + v0, a->tab, J, pb, b8, direct, plane, t5);
      if (direct) continue;
      for (int r = 0; r < 5 && v0 + r < V; r++, ox++) {
        if (ox == Wq) ox = 0, oy++;
        if (ox >= g->Wo) continue;
        float* yp = ybase + (size_t)op * plane + (oy0 + oy) * g->Wo + ox;
        for (int c = 0; c < oc; c++) yp[c * plane] = t5[r * 8 + c];
      }
    }
  }
}

/*
 * y[n, gi*O + o, oy, ox] = bias[gi*O + o] + sum_{r, ky, kx} x[n, gi*R + r, oy*sh - ph + ky*dh,
 * ox*sw - pw + kx*dw] * w[gi*sg + o*so + r*sr + tap], tap = ky*kw + kx (mirrored when flip).
 * Ho, Wo are given (any size: pixels outside x read zeros). `work` holds `work_bytes` bytes;
 * returns 0 when done, or the bytes of work memory needed (call again with that much), or -1
 * when one output row does not fit the scratch memory. 3x3 stride-1 convs with enough channels
 * go to winograd.c.
 */
int EXPORT(conv_direct)(const float* x, const float* w, const float* bias, float* y, int N, int G,
                        int R, int O, int H, int W, int Ho, int Wo, int kh, int kw, int sh, int sw,
                        int ph, int pw, int dh, int dw, int sg, int so, int sr, int flip,
                        char* work, int work_bytes) {
  int wr = winograd_conv(x, w, bias, y, N, G, R, O, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw,
                         sg, so, sr, flip, work, work_bytes);
  if (wr != 1) return wr;
  direct_args a;
  geom g = {N, G, R, O, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw};
  a.g = g;
  a.OP = (O + 7) & ~7;
  int J = R * kh * kw;
  int need = 64 + J * 4 + G * a.OP * J * 4 + G * a.OP * 4;
  if (need > work_bytes) return need;
  a.band = band_rows(&g, 0, &a.nbands);
  if (a.band == 0) return -1;
  a.q = qgeom_of(&g, a.band);
  int* tab = (int*)(((uintptr_t)work + 15) & ~(uintptr_t)15);
  float* wp = (float*)(tab + ((J + 3) & ~3));
  float* bp = bias ? wp + G * a.OP * J : 0;
  make_tab(&g, &a.q, tab);
  pack_weights(&g, w, sg, so, sr, flip, wp);
  if (bp) {
    for (int gi = 0; gi < G; gi++) {
      for (int o = 0; o < a.OP; o++) bp[gi * a.OP + o] = o < O ? bias[gi * O + o] : 0.f;
    }
  }
  a.x = x, a.y = y, a.tab = tab, a.wp = wp, a.bp = bp;
  parallel_for(direct_task, &a, N * G * a.nbands);
  return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* weight gradient */

typedef struct {
  geom g;
  qgeom q;
  const float* x;
  const float* dy;
  float* part; /* [G][chunks][J][O] */
  const int* tab;
  int band, nbands, chunks, items, Vp, O2;
} wgrad_args;

static inline float hsum4(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
         wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

#define WROW(j)                                                       \
  x = wasm_v128_load(q##j + v);                                       \
  s0##j = MADD(d0, x, s0##j);                                         \
  s1##j = MADD(d1, x, s1##j);

#define WSTEP                                                         \
  {                                                                   \
    v128_t d0 = wasm_v128_load(p0 + v), d1 = wasm_v128_load(p1 + v), x; \
    WROW(0) WROW(1) WROW(2) WROW(3) WROW(4)                           \
  }

/* part[j][o] += sum_{v < Vp} dq[o * ld + v] * xq[tab[j] + v] for o < O, j < J (dq has O2
 * zero-padded rows). */
void wgrad_dots(const float* xq, const float* dq, const int* tab, int J, int O, int Vp, int ld,
                float* part) {
  for (int o0 = 0; o0 < O; o0 += 2) {
    const float* p0 = dq + (size_t)o0 * ld;
    const float* p1 = p0 + ld;
    for (int j0 = 0; j0 < J; j0 += 5) {
      const float* q0 = xq + tab[j0];
      const float* q1 = xq + tab[MIN(j0 + 1, J - 1)];
      const float* q2 = xq + tab[MIN(j0 + 2, J - 1)];
      const float* q3 = xq + tab[MIN(j0 + 3, J - 1)];
      const float* q4 = xq + tab[MIN(j0 + 4, J - 1)];
      v128_t s00 = wasm_f32x4_splat(0), s01 = s00, s02 = s00, s03 = s00, s04 = s00;
      v128_t s10 = s00, s11 = s00, s12 = s00, s13 = s00, s14 = s00;
#pragma clang loop unroll(disable)
      for (int v = 0; v < Vp; v += 4) {
        WSTEP
        v += 4;
        if (v >= Vp) break;
        WSTEP
      }
      float r0[5] = {hsum4(s00), hsum4(s01), hsum4(s02), hsum4(s03), hsum4(s04)};
      float r1[5] = {hsum4(s10), hsum4(s11), hsum4(s12), hsum4(s13), hsum4(s14)};
      for (int jj = 0; jj < 5 && j0 + jj < J; jj++) {
        float* pr = part + (size_t)(j0 + jj) * O + o0;
        pr[0] += r0[jj];
        if (o0 + 1 < O) pr[1] += r1[jj];
      }
    }
  }
}

static void wgrad_task(const void* p, int t, int tid) {
  const wgrad_args* a = (const wgrad_args*)p;
  const geom* g = &a->g;
  int gi = t / a->chunks, ch = t % a->chunks;
  int i0 = (int)((long long)a->items * ch / a->chunks);
  int i1 = (int)((long long)a->items * (ch + 1) / a->chunks);
  int J = g->R * g->kh * g->kw, Wq = a->q.Wq, plane = g->Ho * g->Wo;
  float* part = a->part + ((size_t)gi * a->chunks + ch) * J * g->O;
  __builtin_memset(part, 0, (size_t)J * g->O * sizeof(float));
  float* xq = scratch(tid);
  float* dq = xq + ((a->q.floats + 15) & ~15);
  for (int it = i0; it < i1; it++) {
    int n = it / a->nbands, band = it % a->nbands;
    int oy0 = band * a->band, rows = MIN(a->band, g->Ho - oy0);
    build_xq(g, &a->q, a->x, n, gi, oy0, xq);
    /* dq[o][v] = dy[n, gi*O + o, oy0 + v / Wq, v % Wq], zero in dropped columns and padding */
    const float* dyb = a->dy + ((size_t)(n * g->G + gi) * g->O) * plane + oy0 * g->Wo;
    __builtin_memset(dq, 0, (size_t)a->O2 * a->Vp * sizeof(float));
    for (int o = 0; o < g->O; o++) {
      for (int oy = 0; oy < rows; oy++) {
        __builtin_memcpy(dq + (size_t)o * a->Vp + oy * Wq, dyb + (size_t)o * plane + oy * g->Wo,
                         g->Wo * sizeof(float));
      }
    }
    wgrad_dots(xq, dq, a->tab, J, g->O, a->Vp, a->Vp, part);
  }
}

typedef struct {
  const float* part;
  float* dw;
  int G, O, J, chunks, per;
} wsum_args;

static void wsum_task(const void* p, int t, int tid) {
  const wsum_args* a = (const wsum_args*)p;
  (void)tid;
  int total = a->G * a->O * a->J;
  for (int e = t * a->per; e < MIN(total, (t + 1) * a->per); e++) {
    int gi = e / (a->O * a->J), o = (e / a->J) % a->O, j = e % a->J;
    const float* src = a->part + ((size_t)gi * a->chunks * a->J + j) * a->O + o;
    float s = 0.f;
    for (int c = 0; c < a->chunks; c++) s += src[(size_t)c * a->J * a->O];
    a->dw[e] = s;
  }
}

/*
 * dw[gi*O + o, r, ky, kx] = sum_{n, oy, ox} dy[n, gi*O + o, oy, ox] *
 *   x[n, gi*R + r, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw]  (dy is Ho x Wo, may be a crop).
 * Returns like conv_direct. 3x3 stride-1 convs with enough channels go to winograd_wgrad.c.
 */
int EXPORT(conv_wgrad)(const float* x, const float* dy, float* dw, int N, int G, int R, int O,
                       int H, int W, int Ho, int Wo, int kh, int kw, int sh, int sw, int ph, int pw,
                       int dh, int dwl, char* work, int work_bytes) {
  int wr = winograd_wgrad(x, dy, dw, N, G, R, O, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dwl,
                          work, work_bytes);
  if (wr != 1) return wr;
  wgrad_args a;
  geom g = {N, G, R, O, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dwl};
  a.g = g;
  a.O2 = (O + 1) & ~1;
  int J = R * kh * kw;
  /* per band row: the xq band (in band_rows) plus O2 rows of dq, Wq floats each (+ padding) */
  a.band = band_rows(&g, a.O2, &a.nbands);
  if (a.band == 0) return -1;
  a.q = qgeom_of(&g, a.band);
  a.Vp = (a.band * a.q.Wq + 3) & ~3;
  a.items = N * a.nbands;
  /* A fixed number of chunks (not the thread count) keeps the summation order fixed. */
  a.chunks = MAX(1, MIN(a.items, 16));
  int need = 64 + J * 4 + G * a.chunks * J * O * 4;
  if (need > work_bytes) return need;
  if (a.items == 0) {
    __builtin_memset(dw, 0, (size_t)G * O * J * sizeof(float));
    return 0;
  }
  int* tab = (int*)(((uintptr_t)work + 15) & ~(uintptr_t)15);
  a.part = (float*)(tab + ((J + 3) & ~3));
  make_tab(&g, &a.q, tab);
  a.x = x, a.dy = dy, a.tab = tab;
  parallel_for(wgrad_task, &a, G * a.chunks);
  wsum_args s = {a.part, dw, G, O, J, a.chunks, 4096};
  parallel_for(wsum_task, &s, (G * O * J + s.per - 1) / s.per);
  return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* scatter (transposed conv) */

typedef struct {
  const float* x;
  const float* bias;
  float* y;
  const int* tab;  /* R offsets: r * H * W */
  const int* jmap; /* per output column j: o, ky*dh, kx*dw */
  const float* wp; /* [g][JP/8][r][8] */
  int N, G, R, O, H, W, Ho, Wo, kk, sh, sw, ph, pw, JP;
} scatter_args;

static void scatter_task(const void* p, int t, int tid) {
  const scatter_args* a = (const scatter_args*)p;
  (void)tid;
  int gi = t % a->G, n = t / a->G;
  int HW = a->H * a->W, plane = a->Ho * a->Wo, J = a->O * a->kk;
  float* yb = a->y + (size_t)(n * a->G + gi) * a->O * plane;
  for (int o = 0; o < a->O; o++) {
    float b = a->bias ? a->bias[gi * a->O + o] : 0.f;
    float* yo = yb + (size_t)o * plane;
    for (int i = 0; i < plane; i++) yo[i] = b;
  }
  const float* xb = a->x + (size_t)(n * a->G + gi) * a->R * HW;
  float t5[40] __attribute__((aligned(16)));
  for (int jp = 0; jp < a->JP; jp += 8) {
    const float* pb = a->wp + ((size_t)gi * a->JP + jp) * a->R;
    int jc = MIN(8, J - jp);
    for (int p0 = 0; p0 < HW; p0 += 5) {
      tile_tab(xb + p0, a->tab, a->R, pb, 0, 0, 0, t5);
      for (int r = 0; r < 5 && p0 + r < HW; r++) {
        int iy = (p0 + r) / a->W, ix = (p0 + r) % a->W;
        int by = iy * a->sh - a->ph, bx = ix * a->sw - a->pw;
        for (int c = 0; c < jc; c++) {
          const int* m = a->jmap + 3 * (jp + c);
          int oy = by + m[1], ox = bx + m[2];
          if (oy < 0 || oy >= a->Ho || ox < 0 || ox >= a->Wo) continue;
          yb[(size_t)m[0] * plane + oy * a->Wo + ox] += t5[r * 8 + c];
        }
      }
    }
  }
}

/*
 * Transposed conv: y[n, gi*O + o, iy*sh - ph + ky*dh, ix*sw - pw + kx*dw] +=
 *   x[n, gi*R + r, iy, ix] * w[(gi*R + r)*O*kh*kw + o*kh*kw + ky*kw + kx], y starting at bias
 * (or 0); y is Ho x Wo (positions outside are dropped). Returns like conv_direct.
 */
int EXPORT(conv_scatter)(const float* x, const float* w, const float* bias, float* y, int N, int G,
                         int R, int O, int H, int W, int Ho, int Wo, int kh, int kw, int sh, int sw,
                         int ph, int pw, int dh, int dw, char* work, int work_bytes) {
  scatter_args a = {x, bias, y, 0, 0, 0, N, G, R, O, H, W, Ho, Wo, kh * kw, sh, sw, ph, pw, 0};
  int kk = kh * kw, J = O * kk;
  a.JP = (J + 7) & ~7;
  int need = 64 + R * 4 + a.JP * 12 + G * a.JP * R * 4;
  if (need > work_bytes) return need;
  int* tab = (int*)(((uintptr_t)work + 15) & ~(uintptr_t)15);
  int* jmap = tab + ((R + 3) & ~3);
  float* wp = (float*)(jmap + ((3 * a.JP + 3) & ~3));
  for (int r = 0; r < R; r++) tab[r] = r * H * W;
  for (int j = 0; j < a.JP; j++) {
    int o = j / kk, tap = j % kk;
    jmap[3 * j] = o;
    jmap[3 * j + 1] = (tap / kw) * dh;
    jmap[3 * j + 2] = (tap % kw) * dw;
  }
  float* q = wp;
  for (int gi = 0; gi < G; gi++) {
    for (int jp = 0; jp < a.JP; jp += 8) {
      for (int r = 0; r < R; r++) {
        for (int c = 0; c < 8; c++) {
          int j = jp + c;
          *q++ = j < J ? w[(size_t)(gi * R + r) * J + j] : 0.f;
        }
      }
    }
  }
  a.tab = tab, a.jmap = jmap, a.wp = wp;
  parallel_for(scatter_task, &a, N * G);
  return 0;
}
