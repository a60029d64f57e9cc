/*
 * Fork-join over shared memory. One job at a time: the main thread publishes (fn, args, ntasks)
 * and every thread claims task indices with a compare-and-swap on a word that also holds the job's
 * generation, so a worker that wakes late can never run a task of a job that has been replaced.
 * Workers spin briefly after a job (the next op usually follows within microseconds), then sleep
 * on a futex. Nothing here allocates: JS owns the heap and hands each thread its stack and scratch.
 */
#include "oto.h"

__asm__(".globaltype __stack_pointer, i32\n");

#define CLOSED 0xffffffffu
#define SPIN 20000

typedef struct {
  uint64_t state; /* generation << 32 | next task index (CLOSED while fields are written) */
  task_fn fn;
  const void* args;
  int ntasks;
  int completed;
} job_t;

static job_t job;
static int gen;          /* futex the workers sleep on */
static int sleepers;     /* workers inside the futex wait */
static int live;         /* workers inside worker_loop */
static int main_waiting; /* the main thread sleeps on job.completed */
static int shutdown_flag;
static int in_job;
static int worker_tasks; /* tasks run by worker threads (tests check the pool takes part) */
static int failed;       /* a worker trapped: its task never completes, the heap may be damaged */
static float* scratch_ptr[MAX_THREADS];
static int scratch_size;

void* memset(void* d, int c, unsigned long n) {
  __builtin_memset(d, c, n);
  return d;
}
void* memcpy(void* d, const void* s, unsigned long n) {
  __builtin_memcpy(d, s, n);
  return d;
}
void* memmove(void* d, const void* s, unsigned long n) {
  __builtin_memmove(d, s, n);
  return d;
}

void EXPORT(set_stack_pointer)(int sp) {
  __asm__ volatile("local.get %0\nglobal.set __stack_pointer" ::"r"(sp));
}

void EXPORT(set_scratch)(int tid, float* p, int bytes) {
  scratch_ptr[tid] = p;
  scratch_size = bytes;
}
float* scratch(int tid) { return scratch_ptr[tid]; }
int scratch_bytes(void) { return scratch_size; }

int EXPORT(thread_count)(void) { return 1 + __atomic_load_n(&live, __ATOMIC_SEQ_CST); }

int EXPORT(worker_task_count)(void) { return __atomic_load_n(&worker_tasks, __ATOMIC_SEQ_CST); }

/* Claim and run tasks of generation g until none is left. */
static void run_tasks(uint32_t g, int tid) {
  for (;;) {
    uint64_t v = __atomic_load_n(&job.state, __ATOMIC_SEQ_CST);
    uint32_t idx = (uint32_t)v;
    if ((uint32_t)(v >> 32) != g || idx == CLOSED) return;
    /* Read before claiming: if the CAS succeeds the job was not closed in between, so these
     * fields belong to generation g (the main thread closes the word before rewriting them). */
    int n = job.ntasks;
    task_fn fn = job.fn;
    const void* args = job.args;
    if ((int)idx >= n) return;
    if (!__atomic_compare_exchange_n(&job.state, &v, v + 1, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST)) {
      continue;
    }
    fn(args, (int)idx, tid);
    if (tid != 0) __atomic_add_fetch(&worker_tasks, 1, __ATOMIC_RELAXED);
    if (__atomic_add_fetch(&job.completed, 1, __ATOMIC_SEQ_CST) == n &&
        __atomic_load_n(&main_waiting, __ATOMIC_SEQ_CST)) {
      __builtin_wasm_memory_atomic_notify(&job.completed, 1);
    }
  }
}

void parallel_for(task_fn fn, const void* args, int ntasks) {
  /* After a worker trapped nothing may run on (the job it died in never completes and the heap
   * may be damaged): every later kernel traps too, so JS throws instead of waiting forever. */
  if (__atomic_load_n(&failed, __ATOMIC_SEQ_CST)) __builtin_trap();
  if (ntasks <= 0) return;
  if (in_job || ntasks == 1 || __atomic_load_n(&live, __ATOMIC_SEQ_CST) == 0) {
    for (int t = 0; t < ntasks; t++) fn(args, t, 0);
    return;
  }
  in_job = 1;
  uint32_t g = (uint32_t)__atomic_load_n(&gen, __ATOMIC_SEQ_CST) + 1;
  __atomic_store_n(&job.state, ((uint64_t)g << 32) | CLOSED, __ATOMIC_SEQ_CST);
  job.fn = fn;
  job.args = args;
  job.ntasks = ntasks;
  __atomic_store_n(&job.completed, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&job.state, (uint64_t)g << 32, __ATOMIC_SEQ_CST);
  __atomic_store_n(&gen, (int)g, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&sleepers, __ATOMIC_SEQ_CST) > 0) {
    __builtin_wasm_memory_atomic_notify(&gen, MAX_THREADS);
  }
  run_tasks(g, 0);
  for (int spin = 0;; spin++) {
    int c = __atomic_load_n(&job.completed, __ATOMIC_SEQ_CST);
    if (c >= ntasks) break;
    if (__atomic_load_n(&failed, __ATOMIC_SEQ_CST)) {
      in_job = 0;
      __builtin_trap();
    }
    if (spin < SPIN) continue;
    __atomic_store_n(&main_waiting, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&job.completed, __ATOMIC_SEQ_CST) == c) {
      __builtin_wasm_memory_atomic_wait32(&job.completed, c, 1000000);
    }
    __atomic_store_n(&main_waiting, 0, __ATOMIC_SEQ_CST);
  }
  in_job = 0;
}

/* A worker's life: wait for a generation change, join the job, repeat until shutdown. */
void EXPORT(worker_loop)(int tid) {
  __atomic_add_fetch(&live, 1, __ATOMIC_SEQ_CST);
  int seen = __atomic_load_n(&gen, __ATOMIC_SEQ_CST);
  while (!__atomic_load_n(&shutdown_flag, __ATOMIC_SEQ_CST)) {
    int g = __atomic_load_n(&gen, __ATOMIC_SEQ_CST);
    if (g == seen) {
      int spin = 0;
      while (spin < SPIN && __atomic_load_n(&gen, __ATOMIC_SEQ_CST) == seen) spin++;
      if (spin < SPIN) continue;
      __atomic_add_fetch(&sleepers, 1, __ATOMIC_SEQ_CST);
      __builtin_wasm_memory_atomic_wait32(&gen, seen, -1);
      __atomic_sub_fetch(&sleepers, 1, __ATOMIC_SEQ_CST);
      continue;
    }
    seen = g;
    run_tasks((uint32_t)g, tid);
  }
  __atomic_sub_fetch(&live, 1, __ATOMIC_SEQ_CST);
}

/*
 * A barrier with one task per thread: each waits in a loop until all have arrived, so every
 * worker takes exactly one task and passes loop back-edges, where V8 handles interrupts. JS
 * calls it after growing the memory: V8 tells the other threads' instances about a grow of a
 * shared memory by an interrupt, and a worker that ran a task before handling it would check
 * accesses against the old size.
 */
static int arrived;

static void barrier_task(const void* p, int t, int tid) {
  int n = *(const int*)p;
  (void)t, (void)tid;
  __atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
  /* at least two iterations: the last thread to arrive passes a back-edge too */
  for (volatile int i = 0; i < 2 || __atomic_load_n(&arrived, __ATOMIC_SEQ_CST) < n; i++) {
  }
}

void EXPORT(sync_threads)(void) {
  int n = 1 + __atomic_load_n(&live, __ATOMIC_SEQ_CST);
  if (n == 1 || in_job) return;
  __atomic_store_n(&arrived, 0, __ATOMIC_SEQ_CST);
  parallel_for(barrier_task, &n, n);
}

/* Called by a worker's JS after its worker_loop trapped: the main thread stops waiting for it. */
void EXPORT(worker_failed)(void) {
  __atomic_sub_fetch(&live, 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
  __builtin_wasm_memory_atomic_notify(&job.completed, 1);
}

/*
 * Test support: a job of one task per thread whose worker tasks trap, while the main thread's task
 * waits (up to 10 s) until a worker has reported its failure, so a worker, not the main thread,
 * is the one that dies. The call itself then traps (the job cannot complete).
 */
static void fault_task(const void* p, int t, int tid) {
  (void)p, (void)t;
  if (tid != 0) __builtin_trap();
  for (int i = 0; i < 10000 && !__atomic_load_n(&failed, __ATOMIC_SEQ_CST); i++) {
    __builtin_wasm_memory_atomic_wait32(&failed, 0, 1000000);
  }
}

void EXPORT(debug_fault_in_worker)(void) {
  int n = 1 + __atomic_load_n(&live, __ATOMIC_SEQ_CST);
  parallel_for(fault_task, 0, n);
}

/* Ask every worker to leave worker_loop (they return to JS and can be terminated). */
void EXPORT(stop_workers)(void) {
  __atomic_store_n(&shutdown_flag, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&gen, 1, __ATOMIC_SEQ_CST);
  __builtin_wasm_memory_atomic_notify(&gen, MAX_THREADS);
}
