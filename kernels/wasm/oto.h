/*
 * Shared declarations of oto's wasm kernels (built by tools/build_wasm.ts).
 *
 * All kernels run on one shared WebAssembly.Memory. The main thread calls an exported kernel;
 * the kernel splits its output into tasks and calls parallel_for, which the worker threads
 * (each with its own instance of this module on the same memory) join.
 */
#ifndef OTO_H
#define OTO_H
#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name))) name
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MAX_THREADS 64

typedef void (*task_fn)(const void* args, int task, int tid);

/* Run fn(args, t, tid) for t in [0, ntasks) on all threads; returns when every task is done.
 * Called from a task (nested), it runs the tasks inline. */
void parallel_for(task_fn fn, const void* args, int ntasks);
/* Threads that take part in parallel_for (main + live workers). */
int thread_count(void);
/* Per-thread scratch memory (at least scratch_bytes(), 64-byte aligned). */
float* scratch(int tid);
int scratch_bytes(void);

/* f32x4 fused multiply-add a*b + c. clang 14 spells relaxed_madd as the prototype "fma"
 * instruction; tools/build_wasm.ts rewrites its opcode to the standard one. */
#ifdef OTO_NO_FMA
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul(a, b), c)
#else
#define MADD(a, b, c) __builtin_wasm_fma_f32x4(a, b, c)
#endif

/* GEMM over strided operands: C[m,n] (+)= sum_k A[m,k] B[k,n], A(i,k) = A[i*rsa + k*csa],
 * B(k,j) = B[k*rsb + j*csb], C(i,j) = C[i*ldc + j]. Single-threaded (callers parallelise). */
void gemm_serial(int m, int n, int k, const float* A, int rsa, int csa, const float* B, int rsb,
                 int csb, float* C, int ldc, int accumulate, float* work);
/* Scratch floats gemm_serial needs for its packing buffers. */
int gemm_work_floats(int m, int n, int k);

#endif
