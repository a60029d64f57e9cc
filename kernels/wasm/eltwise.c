/*
 * Elementwise kernels: unary maps, binary maps with NumPy broadcasting (f32), fill. Work is
 * split into chunks of CHUNK elements; broadcasting iterates the output as [outer, inner] with
 * the innermost run contiguous (or broadcast) in each operand, so the inner loop vectorises.
 */
#include "oto.h"

#define CHUNK 32768

enum {
  U_NEG, U_ABS, U_SIGN, U_SQRT, U_SQUARE, U_RECIP, U_RELU, U_STEP, U_LEAKY, U_AFFINE
};

typedef struct {
  const float* x;
  float* y;
  int n, op;
  float alpha, beta;
} unary_args;

static inline v128_t unary_vec(int op, v128_t x, v128_t al, v128_t be) {
  v128_t zero = wasm_f32x4_splat(0), one = wasm_f32x4_splat(1);
  switch (op) {
    case U_NEG: return wasm_f32x4_neg(x);
    case U_ABS: return wasm_f32x4_abs(x);
    case U_SIGN: {
      /* Math.sign: ±1, and x itself for ±0 and NaN */
      v128_t s = wasm_v128_or(wasm_v128_and(wasm_f32x4_gt(x, zero), one),
                              wasm_v128_and(wasm_f32x4_lt(x, zero), wasm_f32x4_splat(-1)));
      return wasm_v128_bitselect(x, s, wasm_v128_or(wasm_f32x4_eq(x, zero), wasm_f32x4_ne(x, x)));
    }
    case U_SQRT: return wasm_f32x4_sqrt(x);
    case U_SQUARE: return wasm_f32x4_mul(x, x);
    case U_RECIP: return wasm_f32x4_div(one, x);
    /* relu as the reference's `x > 0 ? x : 0` (NaN -> 0) */
    case U_RELU: return wasm_v128_and(x, wasm_f32x4_gt(x, zero));
    case U_STEP: return wasm_v128_and(wasm_f32x4_gt(x, zero), one);
    case U_LEAKY: return wasm_v128_bitselect(x, wasm_f32x4_mul(x, al), wasm_f32x4_gt(x, zero));
    default: return wasm_f32x4_add(wasm_f32x4_mul(x, al), be); /* U_AFFINE */
  }
}

static inline float unary_scalar(int op, float x, float al, float be) {
  v128_t v = unary_vec(op, wasm_f32x4_splat(x), wasm_f32x4_splat(al), wasm_f32x4_splat(be));
  return wasm_f32x4_extract_lane(v, 0);
}

static void unary_task(const void* p, int t, int tid) {
  const unary_args* a = (const unary_args*)p;
  (void)tid;
  int i0 = t * CHUNK, i1 = MIN(a->n, i0 + CHUNK), i = i0;
  v128_t al = wasm_f32x4_splat(a->alpha), be = wasm_f32x4_splat(a->beta);
  const float* x = a->x;
  float* y = a->y;
  switch (a->op) {
#define LOOP(OP)                                                                  \
  case OP:                                                                        \
    for (; i + 4 <= i1; i += 4)                                                   \
      wasm_v128_store(y + i, unary_vec(OP, wasm_v128_load(x + i), al, be));       \
    break;
    LOOP(U_NEG) LOOP(U_ABS) LOOP(U_SIGN) LOOP(U_SQRT) LOOP(U_SQUARE) LOOP(U_RECIP)
    LOOP(U_RELU) LOOP(U_STEP) LOOP(U_LEAKY) LOOP(U_AFFINE)
#undef LOOP
  }
  for (; i < i1; i++) y[i] = unary_scalar(a->op, x[i], a->alpha, a->beta);
}

void EXPORT(unary_f32)(int op, const float* x, float* y, int n, float alpha, float beta) {
  unary_args a = {x, y, n, op, alpha, beta};
  parallel_for(unary_task, &a, (n + CHUNK - 1) / CHUNK);
}

/* ---- binary ---- */

enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_EQ, B_LT, B_LE, B_GT, B_GE };

static inline v128_t binary_vec(int op, v128_t a, v128_t b) {
  v128_t one = wasm_f32x4_splat(1);
  switch (op) {
    case B_ADD: return wasm_f32x4_add(a, b);
    case B_SUB: return wasm_f32x4_sub(a, b);
    case B_MUL: return wasm_f32x4_mul(a, b);
    case B_DIV: return wasm_f32x4_div(a, b);
    case B_MAX: return wasm_f32x4_max(a, b); /* NaN-propagating, as Math.max */
    case B_MIN: return wasm_f32x4_min(a, b);
    case B_EQ: return wasm_v128_and(wasm_f32x4_eq(a, b), one);
    case B_LT: return wasm_v128_and(wasm_f32x4_lt(a, b), one);
    case B_LE: return wasm_v128_and(wasm_f32x4_le(a, b), one);
    case B_GT: return wasm_v128_and(wasm_f32x4_gt(a, b), one);
    default: return wasm_v128_and(wasm_f32x4_ge(a, b), one);
  }
}

static inline float binary_scalar(int op, float a, float b) {
  return wasm_f32x4_extract_lane(binary_vec(op, wasm_f32x4_splat(a), wasm_f32x4_splat(b)), 0);
}

/* Output viewed as [rows, inner]: row r starts at a + ra(r), b + rb(r); within the row the
 * operands advance by ia / ib (1 or 0). Row offsets come from up to 6 outer dims. */
typedef struct {
  const float* a;
  const float* b;
  float* y;
  int op, rows, inner, ia, ib, nd;
  int shape[6], sa[6], sb[6];
} binary_args;

static void binary_row(int op, const float* a, int ia, const float* b, int ib, float* y, int n) {
  int j = 0;
  if (ia && ib) {
    for (; j + 4 <= n; j += 4)
      wasm_v128_store(y + j, binary_vec(op, wasm_v128_load(a + j), wasm_v128_load(b + j)));
  } else if (ia) {
    v128_t vb = wasm_f32x4_splat(b[0]);
    for (; j + 4 <= n; j += 4) wasm_v128_store(y + j, binary_vec(op, wasm_v128_load(a + j), vb));
  } else if (ib) {
    v128_t va = wasm_f32x4_splat(a[0]);
    for (; j + 4 <= n; j += 4) wasm_v128_store(y + j, binary_vec(op, va, wasm_v128_load(b + j)));
  }
  for (; j < n; j++) y[j] = binary_scalar(op, a[j * ia], b[j * ib]);
}

static void binary_task(const void* p, int t, int tid) {
  const binary_args* g = (const binary_args*)p;
  (void)tid;
  int per = MAX(1, CHUNK / MAX(g->inner, 1));
  int r0 = t * per, r1 = MIN(g->rows, r0 + per);
  for (int r = r0; r < r1; r++) {
    int rem = r, oa = 0, ob = 0;
    for (int d = g->nd - 1; d >= 0; d--) {
      int c = rem % g->shape[d];
      rem /= g->shape[d];
      oa += c * g->sa[d];
      ob += c * g->sb[d];
    }
    binary_row(g->op, g->a + oa, g->ia, g->b + ob, g->ib, g->y + (size_t)r * g->inner, g->inner);
  }
}

/*
 * y = a op b with broadcasting, described by the caller as rows x inner: `desc` holds nd, then
 * nd outer sizes, nd strides of a, nd strides of b (in elements), then ia, ib (inner steps).
 */
void EXPORT(binary_f32)(int op, const float* a, const float* b, float* y, int rows, int inner,
                        const int* desc) {
  binary_args g;
  g.a = a, g.b = b, g.y = y, g.op = op, g.rows = rows, g.inner = inner;
  g.nd = desc[0];
  for (int d = 0; d < g.nd; d++) {
    g.shape[d] = desc[1 + d];
    g.sa[d] = desc[1 + g.nd + d];
    g.sb[d] = desc[1 + 2 * g.nd + d];
  }
  g.ia = desc[1 + 3 * g.nd];
  g.ib = desc[2 + 3 * g.nd];
  int per = MAX(1, CHUNK / MAX(inner, 1));
  parallel_for(binary_task, &g, (rows + per - 1) / per);
}

/* ---- fill ---- */

typedef struct {
  uint32_t* y;
  int n;
  uint32_t bits;
} fill_args;

static void fill_task(const void* p, int t, int tid) {
  const fill_args* a = (const fill_args*)p;
  (void)tid;
  int i0 = t * CHUNK, i1 = MIN(a->n, i0 + CHUNK), i = i0;
  v128_t v = wasm_i32x4_splat((int)a->bits);
  for (; i + 4 <= i1; i += 4) wasm_v128_store(a->y + i, v);
  for (; i < i1; i++) a->y[i] = a->bits;
}

/* y[0:n] = the 32-bit pattern `bits` (any dtype). */
void EXPORT(fill32)(uint32_t* y, int n, uint32_t bits) {
  fill_args a = {y, n, bits};
  parallel_for(fill_task, &a, (n + CHUNK - 1) / CHUNK);
}

/* ---- row broadcast: y[r, :] = v[0:n] for r < rows (bias rows before an accumulating GEMM) ---- */

typedef struct {
  float* y;
  const float* v;
  int rows, n, per;
} rows_args;

static void rows_task(const void* p, int t, int tid) {
  const rows_args* a = (const rows_args*)p;
  (void)tid;
  for (int r = t * a->per; r < MIN(a->rows, (t + 1) * a->per); r++) {
    __builtin_memcpy(a->y + (size_t)r * a->n, a->v, a->n * sizeof(float));
  }
}

void EXPORT(fill_rows)(float* y, const float* v, int rows, int n) {
  rows_args a = {y, v, rows, n, MAX(1, CHUNK / MAX(n, 1))};
  parallel_for(rows_task, &a, (rows + a.per - 1) / a.per);
}
