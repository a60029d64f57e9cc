/*
 * Single-precision GEMM: packing into micro-panels, cache blocking (KC x NC panels of B, MR x KC
 * slivers of A) and a 5x8 register tile.
 *
 * Shaped by the code V8 (Deno 2.9) generates: without a trap handler every wasm load carries an
 * explicit bounds check (lea + cmp + jae), a load32_splat one more lea, and x64 code gets 15
 * xmm registers. So loads are the cost to cut. Per step of K the tile does 4 loads (two B
 * vectors, four A values as one vector, the fifth A value pre-broadcast at packing), 4 shuffles
 * and 10 fused multiply-adds in 14 registers. Tried on the same machine, per CPU-second (see
 * bench/README.md): 6x8 with six broadcast loads ~30 GFLOP/s, 6x8 with pre-broadcast A ~31,
 * 6x8 with A shuffles spills (~23), 4x8 shuffles ~31, this 5x8 ~36-44. K is unrolled by hand by 2
 * (the loop's interrupt and memory-size checks run once per two steps); the compiler's own
 * unrolling hoists every B load first and spills accumulators.
 */
#include "oto.h"

#define MR 5
#define NR 8
#define KC 256
#define MC 95
#define NC 1024

int gemm_work_floats(int m, int n, int k) {
  int kc = MIN(k, KC), mc = MIN(m, MC), nc = MIN(n, NC);
  int mp = (mc + MR - 1) / MR * MR, np = (nc + NR - 1) / NR * NR;
  return kc * (4 * mp + np) + 16;
}

/* A(i, k) -> pa[(i / MR) * kc * 8 + k * 8 + 0..7] = A rows 0-3 of the sliver, then row 4 four
 * times; zero-padded to a multiple of MR rows. */
static void pack_a(int mc, int kc, const float* A, int rsa, int csa, float* pa) {
  for (int i = 0; i < mc; i += MR) {
    int mr = MIN(MR, mc - i);
    const float* a = A + i * rsa;
    for (int k = 0; k < kc; k++, pa += 8) {
      const float* s = a + k * csa;
      for (int r = 0; r < 4; r++) pa[r] = r < mr ? s[r * rsa] : 0.f;
      wasm_v128_store(pa + 4, wasm_f32x4_splat(4 < mr ? s[4 * rsa] : 0.f));
    }
  }
}

/* B(k, j) -> pb[(j / NR) * kc * NR + k * NR + j % NR], zero-padded to a multiple of NR columns. */
static void pack_b(int kc, int nc, const float* B, int rsb, int csb, float* pb) {
  for (int j = 0; j < nc; j += NR) {
    int nr = MIN(NR, nc - j);
    const float* b = B + j * csb;
    if (nr == NR && csb == 1) {
      for (int k = 0; k < kc; k++) {
        wasm_v128_store(pb, wasm_v128_load(b + k * rsb));
        wasm_v128_store(pb + 4, wasm_v128_load(b + k * rsb + 4));
        pb += NR;
      }
    } else if (nr == NR && rsb == 1) {
      for (int k = 0; k < kc; k++) {
        const float* s = b + k;
        for (int c = 0; c < NR; c++) pb[c] = s[c * csb];
        pb += NR;
      }
    } else {
      for (int k = 0; k < kc; k++) {
        for (int c = 0; c < nr; c++) pb[c] = b[k * rsb + c * csb];
        for (int c = nr; c < NR; c++) pb[c] = 0;
        pb += NR;
      }
    }
  }
}

#define ROW(r)                                                    \
  a = r < 4 ? wasm_i32x4_shuffle(al, al, r & 3, r & 3, r & 3, r & 3) : wasm_v128_load(pa + 4); \
  c##r##0 = MADD(a, b0, c##r##0);                                 \
  c##r##1 = MADD(a, b1, c##r##1);

#define OUT(r)                                                    \
  if (r < mr) {                                                   \
    float* cr = C + r * ldc;                                      \
    if (accumulate) {                                             \
      c##r##0 = wasm_f32x4_add(c##r##0, wasm_v128_load(cr));      \
      c##r##1 = wasm_f32x4_add(c##r##1, wasm_v128_load(cr + 4));  \
    }                                                             \
    wasm_v128_store(cr, c##r##0);                                 \
    wasm_v128_store(cr + 4, c##r##1);                             \
  }

/* C[0:mr, 0:nr] (+)= packed A sliver (MR x kc) times packed B sliver (kc x NR). */
static void micro(int kc, const float* pa, const float* pb, float* C, int ldc, int mr, int nr,
                  int accumulate) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  v128_t c30 = c00, c31 = c00, c40 = c00, c41 = c00;
#pragma clang loop unroll(disable)
  for (int k = 0; k < kc; k++) {
    v128_t b0 = wasm_v128_load(pb), b1 = wasm_v128_load(pb + 4), a, al = wasm_v128_load(pa);
    ROW(0) ROW(1) ROW(2) ROW(3) ROW(4)
    pa += 8;
    pb += NR;
    if (++k >= kc) break;
    b0 = wasm_v128_load(pb), b1 = wasm_v128_load(pb + 4), al = wasm_v128_load(pa);
    ROW(0) ROW(1) ROW(2) ROW(3) ROW(4)
    pa += 8;
    pb += NR;
  }
  if (nr == NR) {
    OUT(0) OUT(1) OUT(2) OUT(3) OUT(4)
    return;
  }
  float t[MR * NR] __attribute__((aligned(16)));
  wasm_v128_store(t + 0, c00), wasm_v128_store(t + 4, c01);
  wasm_v128_store(t + 8, c10), wasm_v128_store(t + 12, c11);
  wasm_v128_store(t + 16, c20), wasm_v128_store(t + 20, c21);
  wasm_v128_store(t + 24, c30), wasm_v128_store(t + 28, c31);
  wasm_v128_store(t + 32, c40), wasm_v128_store(t + 36, c41);

  for (int r = 0; r < mr; r++) {
    float* cr = C + r * ldc;
    if (accumulate) {
      for (int c = 0; c < nr; c++) cr[c] += t[r * NR + c];
    } else {
      for (int c = 0; c < nr; c++) cr[c] = t[r * NR + c];
    }
  }
}

void gemm_serial(int m, int n, int k, const float* A, int rsa, int csa, const float* B, int rsb,
                 int csb, float* C, int ldc, int accumulate, float* work) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) C[i * ldc + j] = 0;
    }
    return;
  }
  int kcmax = MIN(k, KC);
  float* pa = work;
  float* pb = work + 8 * kcmax * ((MIN(m, MC) + MR - 1) / MR);
  pb = (float*)(((uintptr_t)pb + 15) & ~(uintptr_t)15);
  for (int jc = 0; jc < n; jc += NC) {
    int nc = MIN(NC, n - jc);
    for (int pc = 0; pc < k; pc += KC) {
      int kc = MIN(KC, k - pc);
      int acc = accumulate || pc > 0;
      pack_b(kc, nc, B + pc * rsb + jc * csb, rsb, csb, pb);
      for (int ic = 0; ic < m; ic += MC) {
        int mc = MIN(MC, m - ic);
        pack_a(mc, kc, A + ic * rsa + pc * csa, rsa, csa, pa);
        for (int jr = 0; jr < nc; jr += NR) {
          for (int ir = 0; ir < mc; ir += MR) {
            micro(kc, pa + 8 * (ir / MR) * kc, pb + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc,
                  MIN(MR, mc - ir), MIN(NR, nc - jr), acc);
          }
        }
      }
    }
  }
}

/* ---- exported batched GEMM, parallel over (batch, row block, column block) tasks ---- */

typedef struct {
  int m, n, k;
  const float* A;
  int sa, rsa, csa;
  const float* B;
  int sb, rsb, csb;
  float* C;
  int sc, ldc, accumulate;
  int bm, bn, tm, tn; /* block sizes and block counts */
} gemm_args;

static void gemm_task(const void* p, int t, int tid) {
  const gemm_args* g = (const gemm_args*)p;
  int per = g->tm * g->tn;
  int b = t / per, r = t % per, i = r / g->tn, j = r % g->tn;
  int i0 = i * g->bm, j0 = j * g->bn;
  gemm_serial(MIN(g->bm, g->m - i0), MIN(g->bn, g->n - j0), g->k,
              g->A + b * g->sa + i0 * g->rsa, g->rsa, g->csa, g->B + b * g->sb + j0 * g->csb,
              g->rsb, g->csb, g->C + b * g->sc + i0 * g->ldc + j0, g->ldc, g->accumulate,
              scratch(tid));
}

/* Split an m x n output (times batch) into blocks: enough tasks to keep every thread busy and
 * to balance load when a core is taken by another process, but blocks large enough that packing
 * stays a small fraction of the multiply-adds. */
void gemm_blocks(int batch, int m, int n, int k, int* bm, int* bn) {
  int threads = thread_count();
  int want = threads == 1 ? 1 : threads * 4;
  *bm = m;
  *bn = n;
  while (batch * ((m + *bm - 1) / *bm) * ((n + *bn - 1) / *bn) < want) {
    if (*bn >= *bm && *bn > 64) *bn = (*bn / 2 + NR - 1) / NR * NR;
    else if (*bm > 2 * MR * 4) *bm = (*bm / 2 + MR - 1) / MR * MR;
    else if (*bn > 2 * NR) *bn = (*bn / 2 + NR - 1) / NR * NR;
    else break;
  }
  (void)k;
}

/* ---- one large GEMM on several threads: B packed once per (jc, pc) block and shared ---- */

typedef struct {
  int m, n, k, jc, nc, pc, kc;
  const float* A;
  int rsa, csa;
  const float* B;
  int rsb, csb;
  float* C;
  int ldc, accumulate;
  float* pb;
  int panels_per_task;
} shared_args;

static void pack_b_task(const void* p, int t, int tid) {
  const shared_args* g = (const shared_args*)p;
  (void)tid;
  int j0 = t * g->panels_per_task * NR, j1 = MIN(g->nc, j0 + g->panels_per_task * NR);
  pack_b(g->kc, j1 - j0, g->B + g->pc * g->rsb + (g->jc + j0) * g->csb, g->rsb, g->csb,
         g->pb + j0 * g->kc);
}

static void rows_task(const void* p, int t, int tid) {
  const shared_args* g = (const shared_args*)p;
  int ic = t * MC, mc = MIN(MC, g->m - ic);
  float* pa = scratch(tid) + (tid == 0 ? ((NC * KC + 15) & ~15) : 0);
  pack_a(mc, g->kc, g->A + ic * g->rsa + g->pc * g->csa, g->rsa, g->csa, pa);
  int acc = g->accumulate || g->pc > 0;
  for (int jr = 0; jr < g->nc; jr += NR) {
    for (int ir = 0; ir < mc; ir += MR) {
      micro(g->kc, pa + 8 * (ir / MR) * g->kc, g->pb + jr * g->kc,
            g->C + (ic + ir) * g->ldc + g->jc + jr, g->ldc, MIN(MR, mc - ir), MIN(NR, g->nc - jr),
            acc);
    }
  }
}

/* The threads first pack a KC x NC panel of B together (into the main thread's scratch), then
 * split the rows of C by MC blocks, each packing only its own A block: packing stays O(m k +
 * k n) in all, where independent output blocks would pack A once per column block. */
static void gemm_shared(int m, int n, int k, const float* A, int rsa, int csa, const float* B,
                        int rsb, int csb, float* C, int ldc, int accumulate) {
  shared_args g = {m, n, k, 0, 0, 0, 0, A, rsa, csa, B, rsb, csb, C, ldc, accumulate, scratch(0),
                   0};
  for (g.jc = 0; g.jc < n; g.jc += NC) {
    g.nc = MIN(NC, n - g.jc);
    for (g.pc = 0; g.pc < k; g.pc += KC) {
      g.kc = MIN(KC, k - g.pc);
      int panels = (g.nc + NR - 1) / NR;
      g.panels_per_task = MAX(1, panels / (4 * thread_count()));
      parallel_for(pack_b_task, &g, (panels + g.panels_per_task - 1) / g.panels_per_task);
      parallel_for(rows_task, &g, (m + MC - 1) / MC);
    }
  }
}

void EXPORT(sgemm)(int batch, int m, int n, int k, const float* A, int sa, int rsa, int csa,
                   const float* B, int sb, int rsb, int csb, float* C, int sc, int ldc,
                   int accumulate) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  /* one product big enough for every thread to get row blocks: share the packed B */
  if (batch == 1 && k > 0 && thread_count() > 1 && m >= 4 * MC * thread_count() &&
      (long long)m * n * k >= (1 << 24)) {
    gemm_shared(m, n, k, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
    return;
  }
  gemm_args g = {m, n, k, A, sa, rsa, csa, B, sb, rsb, csb, C, sc, ldc, accumulate, 0, 0, 0, 0};
  gemm_blocks(batch, m, n, k, &g.bm, &g.bn);
  g.tm = (m + g.bm - 1) / g.bm;
  g.tn = (n + g.bn - 1) / g.bn;
  parallel_for(gemm_task, &g, batch * g.tm * g.tn);
}

