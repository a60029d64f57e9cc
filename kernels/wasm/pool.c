/*
 * 2-D pooling (max, average, adaptive average), forward and backward, one plane (n, c) per
 * task chunk. Same window rules as src/ops/pool.ts: padded taps never win a max, ties keep the
 * first tap; average divisors per count_include_pad; adaptive bins floor(i*H/oh)..ceil.
 * Max pooling 2x2 stride 2 without padding (the common case) has its own loop.
 */
#include "oto.h"

enum { P_MAX, P_AVG, P_ADAPTIVE };

typedef struct {
  int mode, cip, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
} pool_geo;

typedef struct {
  const float* x;
  const float* dy;
  float* y;
  const pool_geo* g;
  int planes, per, backward;
} pool_args;

typedef struct {
  int h0, w0, kh, kw, dh, dw;
} window_t;

static inline window_t window_of(const pool_geo* g, int oy, int ox) {
  window_t wd;
  if (g->mode == P_ADAPTIVE) {
    wd.h0 = oy * g->h / g->oh;
    wd.w0 = ox * g->w / g->ow;
    wd.kh = ((oy + 1) * g->h + g->oh - 1) / g->oh - wd.h0;
    wd.kw = ((ox + 1) * g->w + g->ow - 1) / g->ow - wd.w0;
    wd.dh = wd.dw = 1;
  } else {
    wd.h0 = oy * g->sh - g->ph;
    wd.w0 = ox * g->sw - g->pw;
    wd.kh = g->kh, wd.kw = g->kw, wd.dh = g->dh, wd.dw = g->dw;
  }
  return wd;
}

static void plane_generic(const pool_geo* g, const float* x, float* y, const float* dy, float* dx) {
  for (int oy = 0; oy < g->oh; oy++) {
    for (int ox = 0; ox < g->ow; ox++) {
      window_t wd = window_of(g, oy, ox);
      float best = -__builtin_inff();
      int arg = -1, valid = 0;
      float acc = 0;
      for (int a = 0; a < wd.kh; a++) {
        int hh = wd.h0 + a * wd.dh;
        if (hh < 0 || hh >= g->h) continue;
        for (int b = 0; b < wd.kw; b++) {
          int ww = wd.w0 + b * wd.dw;
          if (ww < 0 || ww >= g->w) continue;
          float v = x[hh * g->w + ww];
          if (v > best || arg < 0) best = v, arg = hh * g->w + ww;
          acc += v;
          valid++;
        }
      }
      int div = valid;
      if (g->mode == P_AVG && g->cip) {
        int he = MIN(wd.h0 + wd.kh, g->h + g->ph), we = MIN(wd.w0 + wd.kw, g->w + g->pw);
        div = (he - wd.h0) * (we - wd.w0);
      }
      int o = oy * g->ow + ox;
      if (dx) {
        if (g->mode == P_MAX) {
          if (arg >= 0) dx[arg] += dy[o];
        } else {
          float v = dy[o] / div;
          for (int a = 0; a < wd.kh; a++) {
            int hh = wd.h0 + a * wd.dh;
            if (hh < 0 || hh >= g->h) continue;
            for (int b = 0; b < wd.kw; b++) {
              int ww = wd.w0 + b * wd.dw;
              if (ww >= 0 && ww < g->w) dx[hh * g->w + ww] += v;
            }
          }
        }
      } else {
        y[o] = g->mode == P_MAX ? best : acc / div;
      }
    }
  }
}

/* Max pooling 2x2 / stride 2, no padding or dilation: forward and backward, four windows at a
 * time (even/odd columns split by shuffles). Same rule as the reference: the first of a, b, c,
 * d (row-major) wins ties, and a later tap wins only when strictly greater (so NaN never wins
 * from behind, and a NaN in front stays). */
static void plane_max2(const pool_geo* g, const float* x, float* y, const float* dy, float* dx) {
  for (int oy = 0; oy < g->oh; oy++) {
    const float* r0 = x + 2 * oy * g->w;
    const float* r1 = r0 + g->w;
    int ox = 0;
    for (; ox + 4 <= g->ow; ox += 4) {
      v128_t p0 = wasm_v128_load(r0 + 2 * ox), p1 = wasm_v128_load(r0 + 2 * ox + 4);
      v128_t q0 = wasm_v128_load(r1 + 2 * ox), q1 = wasm_v128_load(r1 + 2 * ox + 4);
      v128_t a = wasm_i32x4_shuffle(p0, p1, 0, 2, 4, 6), b = wasm_i32x4_shuffle(p0, p1, 1, 3, 5, 7);
      v128_t c = wasm_i32x4_shuffle(q0, q1, 0, 2, 4, 6), d = wasm_i32x4_shuffle(q0, q1, 1, 3, 5, 7);
      v128_t best = a, mb = wasm_f32x4_gt(b, best);
      best = wasm_v128_bitselect(b, best, mb);
      v128_t mc = wasm_f32x4_gt(c, best);
      best = wasm_v128_bitselect(c, best, mc);
      v128_t md = wasm_f32x4_gt(d, best);
      best = wasm_v128_bitselect(d, best, md);
      if (!dx) {
        wasm_v128_store(y + oy * g->ow + ox, best);
        continue;
      }
      /* winner masks: d if md; else c if mc; else b if mb; else a */
      v128_t wd = md, wc = wasm_v128_andnot(mc, md);
      v128_t wb = wasm_v128_andnot(wasm_v128_andnot(mb, mc), md);
      v128_t wa = wasm_v128_not(wasm_v128_or(wasm_v128_or(mb, mc), md));
      v128_t v = wasm_v128_load(dy + oy * g->ow + ox);
      v128_t da = wasm_v128_and(v, wa), db = wasm_v128_and(v, wb);
      v128_t dc = wasm_v128_and(v, wc), dd = wasm_v128_and(v, wd);
      float* s0 = dx + 2 * oy * g->w + 2 * ox;
      wasm_v128_store(s0, wasm_i32x4_shuffle(da, db, 0, 4, 1, 5));
      wasm_v128_store(s0 + 4, wasm_i32x4_shuffle(da, db, 2, 6, 3, 7));
      wasm_v128_store(s0 + g->w, wasm_i32x4_shuffle(dc, dd, 0, 4, 1, 5));
      wasm_v128_store(s0 + g->w + 4, wasm_i32x4_shuffle(dc, dd, 2, 6, 3, 7));
    }
    for (; ox < g->ow; ox++) {
      float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
      float best = a;
      int arg = 0;
      if (b > best) best = b, arg = 1;
      if (c > best) best = c, arg = 2;
      if (d > best) best = d, arg = 3;
      if (dx) {
        float* q = dx + 2 * oy * g->w + 2 * ox;
        float v = dy[oy * g->ow + ox];
        q[0] = arg == 0 ? v : 0.f;
        q[1] = arg == 1 ? v : 0.f;
        q[g->w] = arg == 2 ? v : 0.f;
        q[g->w + 1] = arg == 3 ? v : 0.f;
      } else {
        y[oy * g->ow + ox] = best;
      }
    }
  }
}

static void pool_task(const void* p, int t, int tid) {
  const pool_args* a = (const pool_args*)p;
  const pool_geo* g = a->g;
  (void)tid;
  int hw = g->h * g->w, ohw = g->oh * g->ow;
  int max2 = g->mode == P_MAX && g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 &&
             g->ph == 0 && g->pw == 0 && g->dh == 1 && g->dw == 1 && 2 * g->oh <= g->h &&
             2 * g->ow <= g->w; /* no partial (ceil-mode) windows */
  for (int pl = t * a->per; pl < MIN(a->planes, (t + 1) * a->per); pl++) {
    const float* x = a->x + (size_t)pl * hw;
    if (!a->backward) {
      float* y = a->y + (size_t)pl * ohw;
      if (max2) plane_max2(g, x, y, 0, 0);
      else plane_generic(g, x, y, 0, 0);
      continue;
    }
    float* dx = a->y + (size_t)pl * hw;
    const float* dy = a->dy + (size_t)pl * ohw;
    /* max2 writes every covered element; rows/columns past the last window stay 0 */
    if (!max2 || g->h != 2 * g->oh || g->w != 2 * g->ow) __builtin_memset(dx, 0, hw * sizeof(float));
    if (max2) plane_max2(g, x, 0, dy, dx);
    else plane_generic(g, x, 0, dy, dx);
  }
}

/* Forward (dy = 0: y = pool(x)) or backward (dx = y accumulates dy into x's shape). */
void EXPORT(pool2d)(const float* x, const float* dy, float* y, const pool_geo* g, int planes) {
  int per = MAX(1, 16384 / MAX(1, g->h * g->w));
  pool_args a = {x, dy, y, g, planes, per, dy != 0};
  parallel_for(pool_task, &a, (planes + per - 1) / per);
}
