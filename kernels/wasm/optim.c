/*
 * Optimizer updates in place (SGD, SGD with momentum / Nesterov, Adam / AdamW), as the cpu
 * facets of src/optim/ (sgd.ts, adam.ts); chunks of CHUNK elements per task.
 */
#include "oto.h"

#define CHUNK 32768

typedef struct {
  float* w;
  const float* g;
  float* b1;
  float* b2;
  int n, kind, flag1, flag2;
  float lr, wd, c1, c2, c3, c4, c5;
} optim_args;

enum { O_SGD, O_MOMENTUM, O_ADAM };

static void optim_task(const void* p, int t, int tid) {
  const optim_args* a = (const optim_args*)p;
  (void)tid;
  int i0 = t * CHUNK, i1 = MIN(a->n, i0 + CHUNK);
  float* w = a->w;
  const float* g = a->g;
  if (a->kind == O_SGD) {
    for (int i = i0; i < i1; i++) w[i] = w[i] - a->lr * (g[i] + a->wd * w[i]);
  } else if (a->kind == O_MOMENTUM) {
    /* c1 momentum, c2 dampening; flag1 nesterov, flag2 first step */
    float* buf = a->b1;
    for (int i = i0; i < i1; i++) {
      float d = g[i] + a->wd * w[i];
      float b = a->flag2 ? d : a->c1 * buf[i] + (1 - a->c2) * d;
      buf[i] = b;
      w[i] = w[i] - a->lr * (a->flag1 ? d + a->c1 * b : b);
    }
  } else {
    /* c1 beta1, c2 beta2, c3 eps, c4 step size, c5 1/sqrt(bias correction 2); flag1 decoupled */
    float* m = a->b1;
    float* v = a->b2;
    for (int i = i0; i < i1; i++) {
      float pw = w[i], gi = g[i];
      if (a->flag1) pw = pw * (1 - a->lr * a->wd);
      else gi = gi + a->wd * pw;
      float m1 = a->c1 * m[i] + (1 - a->c1) * gi;
      float v1 = a->c2 * v[i] + (1 - a->c2) * gi * gi;
      m[i] = m1;
      v[i] = v1;
      w[i] = pw - a->c4 * m1 / (__builtin_sqrtf(v1) * a->c5 + a->c3);
    }
  }
}

void EXPORT(optim_update)(int kind, float* w, const float* g, float* b1, float* b2, int n,
                          int flag1, int flag2, float lr, float wd, float c1, float c2, float c3,
                          float c4, float c5) {
  optim_args a = {w, g, b1, b2, n, kind, flag1, flag2, lr, wd, c1, c2, c3, c4, c5};
  parallel_for(optim_task, &a, (n + CHUNK - 1) / CHUNK);
}
