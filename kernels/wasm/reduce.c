/*
 * Reductions (sum, mean, max, min) over any set of axes. The caller merges adjacent axes that
 * are all kept or all reduced, so the input is a short list of runs. If the innermost run is
 * reduced, every output reduces contiguous runs (vector partial sums, added in double); if it
 * is kept, every output row of that run accumulates whole contiguous rows (vector adds).
 */
#include "oto.h"

enum { R_SUM, R_MEAN, R_MAX, R_MIN };

typedef struct {
  const float* x;
  float* y;
  int kind, nd, nout, inner, red_inner;
  int dims[8], red[8], stride[8];
  int outer_per_task;
  double scale;
} reduce_args;

static inline v128_t vop(int kind, v128_t a, v128_t b) {
  return kind == R_MAX ? wasm_f32x4_max(a, b) : kind == R_MIN ? wasm_f32x4_min(a, b)
                                                               : wasm_f32x4_add(a, b);
}
static inline float sop(int kind, float a, float b) {
  return wasm_f32x4_extract_lane(vop(kind, wasm_f32x4_splat(a), wasm_f32x4_splat(b)), 0);
}
static inline float init_of(int kind) {
  return kind == R_MAX ? -__builtin_inff() : kind == R_MIN ? __builtin_inff() : 0.f;
}

/* Offsets: kept index k (over kept dims, innermost run excluded in case B) -> input offset of
 * its first element; reduced index r (over reduced dims, innermost run excluded in case A). */
static int offset_of(const reduce_args* a, int idx, int want_red, int skip_last) {
  int off = 0;
  for (int d = a->nd - 1 - skip_last; d >= 0; d--) {
    if (a->red[d] != want_red) continue;
    int c = idx % a->dims[d];
    idx /= a->dims[d];
    off += c * a->stride[d];
  }
  return off;
}

/* Case A: innermost run reduced (length L contiguous). */
static void reduce_inner_task(const void* p, int t, int tid) {
  const reduce_args* a = (const reduce_args*)p;
  (void)tid;
  int L = a->inner, nred = a->red_inner;
  int o0 = t * a->outer_per_task, o1 = MIN(a->nout, o0 + a->outer_per_task);
  for (int o = o0; o < o1; o++) {
    int base = offset_of(a, o, 0, 0);
    double total = a->kind == R_SUM || a->kind == R_MEAN ? 0 : init_of(a->kind);
    float m = init_of(a->kind);
    for (int r = 0; r < nred; r++) {
      const float* x = a->x + base + offset_of(a, r, 1, 1);
      int j = 0;
      if (a->kind == R_SUM || a->kind == R_MEAN) {
        while (j < L) {
          int e = MIN(L, j + 256);
          v128_t acc = wasm_f32x4_splat(0);
          for (; j + 4 <= e; j += 4) acc = wasm_f32x4_add(acc, wasm_v128_load(x + j));
          float s = wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) +
                    wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3);
          for (; j < e; j++) s += x[j];
          total += s;
        }
      } else {
        v128_t acc = wasm_f32x4_splat(m);
        for (; j + 4 <= L; j += 4) acc = vop(a->kind, acc, wasm_v128_load(x + j));
        m = sop(a->kind, m, wasm_f32x4_extract_lane(acc, 0));
        m = sop(a->kind, m, wasm_f32x4_extract_lane(acc, 1));
        m = sop(a->kind, m, wasm_f32x4_extract_lane(acc, 2));
        m = sop(a->kind, m, wasm_f32x4_extract_lane(acc, 3));
        for (; j < L; j++) m = sop(a->kind, m, x[j]);
      }
    }
    a->y[o] = a->kind == R_SUM || a->kind == R_MEAN ? (float)(total * a->scale) : m;
  }
}

/* Case B: innermost run kept (length L): output rows of L accumulate input rows. */
static void reduce_rows_task(const void* p, int t, int tid) {
  const reduce_args* a = (const reduce_args*)p;
  (void)tid;
  int L = a->inner, rows = a->nout / MAX(L, 1), nred = a->red_inner;
  int o0 = t * a->outer_per_task, o1 = MIN(rows, o0 + a->outer_per_task);
  float init = init_of(a->kind);
  for (int o = o0; o < o1; o++) {
    int base = offset_of(a, o, 0, 1);
    float* y = a->y + (size_t)o * L;
    for (int j = 0; j < L; j++) y[j] = init;
    for (int r = 0; r < nred; r++) {
      const float* x = a->x + base + offset_of(a, r, 1, 0);
      int j = 0;
      for (; j + 4 <= L; j += 4)
        wasm_v128_store(y + j, vop(a->kind, wasm_v128_load(y + j), wasm_v128_load(x + j)));
      for (; j < L; j++) y[j] = sop(a->kind, y[j], x[j]);
    }
    if (a->kind == R_MEAN) {
      for (int j = 0; j < L; j++) y[j] = (float)(y[j] * a->scale);
    }
  }
}

/* `desc`: nd, then nd merged dims, then nd flags (1 = reduced). Input is contiguous. */
void EXPORT(reduce_f32)(int kind, const float* x, float* y, const int* desc) {
  reduce_args a;
  a.x = x, a.y = y, a.kind = kind, a.nd = desc[0];
  int nout = 1, nred = 1, s = 1;
  for (int d = a.nd - 1; d >= 0; d--) {
    a.dims[d] = desc[1 + d];
    a.red[d] = desc[1 + a.nd + d];
    a.stride[d] = s;
    s *= a.dims[d];
    if (a.red[d]) nred *= a.dims[d];
    else nout *= a.dims[d];
  }
  a.nout = nout;
  a.scale = kind == R_MEAN ? 1.0 / nred : 1.0;
  int last = a.nd - 1;
  a.inner = a.dims[last];
  if (a.red[last]) {
    a.red_inner = nred / MAX(a.inner, 1);
    int work = MAX(1, nred);
    a.outer_per_task = MAX(1, 65536 / work);
    parallel_for(reduce_inner_task, &a, (nout + a.outer_per_task - 1) / a.outer_per_task);
  } else {
    a.red_inner = nred;
    int rows = nout / MAX(a.inner, 1);
    a.outer_per_task = MAX(1, 65536 / MAX(1, nred * a.inner));
    parallel_for(reduce_rows_task, &a, (rows + a.outer_per_task - 1) / a.outer_per_task);
  }
}
