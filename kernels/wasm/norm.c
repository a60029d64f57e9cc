/*
 * Normalisations (batch, instance, group, layer, layer2d), forward and backward, on the plan of
 * src/ops/norm.ts: "groups" of elements described by strides (statistics groups, parameter
 * groups) and an elementwise view [planes = N*C, S]. One thread handles whole groups; sums run
 * in f32x4 over blocks of 256 elements, accumulated in double.
 */
#include "oto.h"

typedef struct {
  int count, qd, bh, bl, rh, rl, ph, pl, A, B, oa, ob, ra, rb, pa, pb;
} groups_t;

typedef struct {
  int planes, C, S, cg, rn, rc, rs, pc, ps;
} elem_t;

static inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
         wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

/* Sum over a contiguous run of f(i) accumulated in double, f32x4 inside blocks of 256. */
#define RUN_SUM(total, n, VEXPR, SEXPR)                                  \
  for (int j = 0; j < (n);) {                                           \
    int e = MIN((n), j + 256);                                          \
    v128_t acc = wasm_f32x4_splat(0);                                   \
    for (; j + 4 <= e; j += 4) acc = wasm_f32x4_add(acc, VEXPR);        \
    float s_ = hsum(acc);                                               \
    for (; j < e; j++) s_ += SEXPR;                                     \
    total += s_;                                                        \
  }

/* ---- statistics: mean and biased variance per statistics group (two passes) ---- */

typedef struct {
  const float* x;
  float* mean;
  float* var;
  const groups_t* L;
  double nc;
  int per;
} stats_args;

static void stats_task(const void* p, int t, int tid) {
  const stats_args* a = (const stats_args*)p;
  const groups_t* L = a->L;
  (void)tid;
  for (int q = t * a->per; q < MIN(L->count, (t + 1) * a->per); q++) {
    int hi = q / L->qd, lo = q % L->qd, base = hi * L->bh + lo * L->bl;
    double s = 0;
    for (int i = 0; i < L->A; i++) {
      const float* x = a->x + base + i * L->oa;
      if (L->ob == 1) {
        RUN_SUM(s, L->B, wasm_v128_load(x + j), x[j])
      } else {
        for (int b = 0; b < L->B; b++) s += x[b * L->ob];
      }
    }
    double m = s / a->nc;
    float mf = (float)m;
    v128_t mv = wasm_f32x4_splat(mf);
    double sq = 0;
    for (int i = 0; i < L->A; i++) {
      const float* x = a->x + base + i * L->oa;
      if (L->ob == 1) {
        RUN_SUM(sq, L->B,
                wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + j), mv),
                               wasm_f32x4_sub(wasm_v128_load(x + j), mv)),
                (x[j] - mf) * (x[j] - mf))
      } else {
        for (int b = 0; b < L->B; b++) {
          double d = x[b * L->ob] - m;
          sq += d * d;
        }
      }
    }
    /* sum of squares about the f32-rounded mean, moved to the exact mean m */
    double dm = (double)mf - m, cnt = (double)L->A * L->B;
    sq += 2 * dm * (s - cnt * mf) + cnt * dm * dm;
    double v = (sq + (a->nc - cnt) * m * m) / a->nc;
    a->mean[q] = (float)m;
    a->var[q] = (float)(v > 0 ? v : 0);
  }
}

/* Mean and variance of each statistics group (`L` in memory, see groups_t). */
void EXPORT(norm_stats)(const float* x, float* mean, float* var, const groups_t* L, float nc) {
  int per = MAX(1, 65536 / MAX(1, L->A * L->B));
  stats_args a = {x, mean, var, L, nc, per};
  parallel_for(stats_task, &a, (L->count + per - 1) / per);
}

/* ---- backward sums: s1 = sum a, s2 = sum a * xhat per group, a = g * gamma (or g) ---- */

typedef struct {
  const float* x;
  const float* g;
  const float* mean;
  const float* var;
  const float* gamma;
  float* s1;
  float* s2;
  const groups_t* L;
  float eps;
  int per;
} sums_args;

static void sums_task(const void* p, int t, int tid) {
  const sums_args* a = (const sums_args*)p;
  const groups_t* L = a->L;
  (void)tid;
  for (int q = t * a->per; q < MIN(L->count, (t + 1) * a->per); q++) {
    int hi = q / L->qd, lo = q % L->qd;
    int base = hi * L->bh + lo * L->bl, r0 = hi * L->rh + lo * L->rl, p0 = hi * L->ph + lo * L->pl;
    double s1 = 0, s2 = 0;
    for (int i = 0; i < L->A; i++) {
      const float* x = a->x + base + i * L->oa;
      const float* g = a->g + base + i * L->oa;
      int r1 = r0 + i * L->ra, p1 = p0 + i * L->pa;
      if (L->ob == 1 && L->rb == 0 && L->pb == 0) {
        float m = a->mean[r1], rs = 1.f / __builtin_sqrtf(a->var[r1] + a->eps);
        float gm = a->gamma ? a->gamma[p1] : 1.f;
        v128_t mv = wasm_f32x4_splat(m), rv = wasm_f32x4_splat(rs);
        double t1 = 0, t2 = 0;
        RUN_SUM(t1, L->B, wasm_v128_load(g + j), g[j])
        RUN_SUM(t2, L->B,
                wasm_f32x4_mul(wasm_v128_load(g + j),
                               wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + j), mv), rv)),
                g[j] * ((x[j] - m) * rs))
        s1 += t1 * gm;
        s2 += t2 * gm;
      } else {
        for (int b = 0; b < L->B; b++) {
          int r = r1 + b * L->rb, pp = p1 + b * L->pb;
          float xh = (x[b * L->ob] - a->mean[r]) / __builtin_sqrtf(a->var[r] + a->eps);
          float av = a->gamma ? g[b * L->ob] * a->gamma[pp] : g[b * L->ob];
          s1 += av;
          s2 += (double)av * xh;
        }
      }
    }
    a->s1[q] = (float)s1;
    a->s2[q] = (float)s2;
  }
}

/* Per group of `L`: s1 = sum a, s2 = sum a * (x - mean) / sqrt(var + eps), a = g * gamma or g
 * (gamma = 0 for none). */
void EXPORT(norm_sums)(const float* x, const float* g, const float* mean, const float* var,
                       const float* gamma, float* s1, float* s2, const groups_t* L, float eps) {
  int per = MAX(1, 65536 / MAX(1, L->A * L->B));
  sums_args a = {x, g, mean, var, gamma, s1, s2, L, eps, per};
  parallel_for(sums_task, &a, (L->count + per - 1) / per);
}

/* ---- statistics and backward sums together (groups that are also the parameter groups) ---- */

typedef struct {
  const float* x;
  const float* g;
  float* mean;
  float* var;
  float* s1;
  float* s2;
  const groups_t* L;
  double nc;
  float eps;
  int per;
} stsum_args;

static void stsum_task(const void* p, int t, int tid) {
  const stsum_args* a = (const stsum_args*)p;
  const groups_t* L = a->L;
  (void)tid;
  for (int q = t * a->per; q < MIN(L->count, (t + 1) * a->per); q++) {
    int hi = q / L->qd, lo = q % L->qd, base = hi * L->bh + lo * L->bl;
    double sx = 0, sg = 0;
    for (int i = 0; i < L->A; i++) {
      const float* x = a->x + base + i * L->oa;
      const float* g = a->g + base + i * L->oa;
      RUN_SUM(sx, L->B, wasm_v128_load(x + j), x[j])
      RUN_SUM(sg, L->B, wasm_v128_load(g + j), g[j])
    }
    double m = sx / a->nc;
    float mf = (float)m;
    v128_t mv = wasm_f32x4_splat(mf);
    double sq = 0, sgx = 0;
    for (int i = 0; i < L->A; i++) {
      const float* x = a->x + base + i * L->oa;
      const float* g = a->g + base + i * L->oa;
      RUN_SUM(sq, L->B,
              wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + j), mv),
                             wasm_f32x4_sub(wasm_v128_load(x + j), mv)),
              (x[j] - mf) * (x[j] - mf))
      RUN_SUM(sgx, L->B, wasm_f32x4_mul(wasm_v128_load(g + j), wasm_f32x4_sub(wasm_v128_load(x + j), mv)),
              g[j] * (x[j] - mf))
    }
    double dm = (double)mf - m, cnt = (double)L->A * L->B;
    sq += 2 * dm * (sx - cnt * mf) + cnt * dm * dm;
    sgx += dm * sg; /* sum g (x - m) = sum g (x - mf) + (mf - m) sum g */
    double v = (sq + (a->nc - cnt) * m * m) / a->nc;
    if (v < 0) v = 0;
    float vf = (float)v;
    a->mean[q] = mf;
    a->var[q] = vf;
    a->s1[q] = (float)sg;
    a->s2[q] = (float)(sgx / __builtin_sqrt((double)(vf + a->eps)));
  }
}

/* Per group with unit strides along B (batch norm's channels): mean, variance, s1 = sum g and
 * s2 = sum g * (x - mean) / sqrt(var + eps), in two passes over x and g. */
void EXPORT(norm_stats_sums)(const float* x, const float* g, float* mean, float* var, float* s1,
                             float* s2, const groups_t* L, float nc, float eps) {
  int per = MAX(1, 32768 / MAX(1, L->A * L->B));
  stsum_args a = {x, g, mean, var, s1, s2, L, nc, eps, per};
  parallel_for(stsum_task, &a, (L->count + per - 1) / per);
}

/* ---- elementwise: forward apply and backward dx ---- */

typedef struct {
  const float* x;
  const float* g;
  const float* mean;
  const float* var;
  const float* gamma;
  const float* beta;
  const float* s1;
  const float* s2;
  float* y;
  const elem_t* e;
  float eps, nc;
  int mode; /* 0 forward, 1 backward with batch statistics, 2 backward with fixed statistics */
  int per;
} apply_args;

static void apply_task(const void* p, int t, int tid) {
  const apply_args* a = (const apply_args*)p;
  const elem_t* e = a->e;
  (void)tid;
  for (int pl = t * a->per; pl < MIN(e->planes, (t + 1) * a->per); pl++) {
    int n = pl / e->C, c = pl % e->C, cr = c / e->cg;
    int r0 = n * e->rn + cr * e->rc, p0 = c * e->pc;
    const float* x = a->x + (size_t)pl * e->S;
    float* y = a->y + (size_t)pl * e->S;
    if (e->rs == 0 && e->ps == 0) {
      /* one statistics group and one parameter per plane: y = x * k + d */
      float rs = 1.f / __builtin_sqrtf(a->var[r0] + a->eps), m = a->mean[r0];
      float k, d;
      const float* g = a->g ? a->g + (size_t)pl * e->S : 0;
      if (a->mode == 0) {
        k = rs * a->gamma[p0];
        d = a->beta[p0] - m * k;
      } else if (a->mode == 2) {
        k = 0, d = 0; /* dx = rstd * gamma * g */
      } else {
        /* dx = rstd * (gamma g - (s1 + xhat s2) / nc) = k1 g + k2 x + k3 */
        float s2 = a->s2[r0], s1 = a->s1[r0];
        k = -rs * rs * s2 / a->nc;
        d = -rs * (s1 - m * rs * s2) / a->nc;
      }
      v128_t kv = wasm_f32x4_splat(k), dv = wasm_f32x4_splat(d);
      int j = 0;
      if (a->mode == 0) {
        for (; j + 4 <= e->S; j += 4)
          wasm_v128_store(y + j, MADD(wasm_v128_load(x + j), kv, dv));
        for (; j < e->S; j++) y[j] = x[j] * k + d;
      } else {
        float kg = rs * a->gamma[p0];
        v128_t gv = wasm_f32x4_splat(kg);
        if (a->mode == 2) {
          for (; j + 4 <= e->S; j += 4) wasm_v128_store(y + j, wasm_f32x4_mul(wasm_v128_load(g + j), gv));
          for (; j < e->S; j++) y[j] = g[j] * kg;
        } else {
          for (; j + 4 <= e->S; j += 4)
            wasm_v128_store(y + j, MADD(wasm_v128_load(g + j), gv,
                                        MADD(wasm_v128_load(x + j), kv, dv)));
          for (; j < e->S; j++) y[j] = g[j] * kg + (x[j] * k + d);
        }
      }
      continue;
    }
    for (int s = 0; s < e->S; s++) {
      int r = r0 + s * e->rs, pp = p0 + s * e->ps;
      float rs = 1.f / __builtin_sqrtf(a->var[r] + a->eps);
      float xh = (x[s] - a->mean[r]) * rs;
      if (a->mode == 0) {
        y[s] = xh * a->gamma[pp] + a->beta[pp];
      } else {
        float v = a->gamma[pp] * a->g[(size_t)pl * e->S + s];
        if (a->mode == 1) v -= (a->s1[r] + xh * a->s2[r]) / a->nc;
        y[s] = rs * v;
      }
    }
  }
}

/* y = (x - mean) / sqrt(var + eps) * gamma + beta over the elementwise view `e`. */
void EXPORT(norm_apply)(const float* x, const float* mean, const float* var, const float* gamma,
                        const float* beta, float* y, const elem_t* e, float eps) {
  int per = MAX(1, 32768 / MAX(1, e->S));
  apply_args a = {x, 0, mean, var, gamma, beta, 0, 0, y, e, eps, 1, 0, per};
  parallel_for(apply_task, &a, (e->planes + per - 1) / per);
}

/* dx of a normalisation: rstd * (gamma g - (s1 + xhat s2) / nc) with batch statistics
 * (s1, s2 from norm_sums with gamma), or rstd * gamma * g with fixed ones (s1 = s2 = 0). */
void EXPORT(norm_backward)(const float* x, const float* g, const float* mean, const float* var,
                           const float* gamma, const float* s1, const float* s2, float* dx,
                           const elem_t* e, float eps, float nc) {
  int per = MAX(1, 32768 / MAX(1, e->S));
  apply_args a = {x, g, mean, var, gamma, 0, s1, s2, dx, e, eps, nc, s1 ? 1 : 2, per};
  parallel_for(apply_task, &a, (e->planes + per - 1) / per);
}
