/**
 * The kernels module's exports (kernels/wasm/*.c), typed. Pointers are byte offsets into the
 * shared memory; `accumulate` flags are 0/1.
 */
export interface KernelExports {
  __heap_base: WebAssembly.Global;
  set_stack_pointer(sp: number): void;
  set_scratch(tid: number, ptr: number, bytes: number): void;
  thread_count(): number;
  /** Tasks run by worker threads so far (the main thread's not counted). */
  worker_task_count(): number;
  worker_loop(tid: number): void;
  stop_workers(): void;
  /** A worker's JS reports that its worker_loop trapped (later kernels trap instead of waiting). */
  worker_failed(): void;
  /** Test support: a job whose worker tasks trap; the call traps once a worker has reported. */
  debug_fault_in_worker(): void;
  /** A barrier every worker passes in a loop (so each handles pending interrupts: memory grows). */
  sync_threads(): void;
  /** C[b] (+)= A[b] B[b] with A(i,k) = A[b*sa + i*rsa + k*csa], B(k,j) = B[b*sb + k*rsb + j*csb]. */
  sgemm(
    batch: number,
    m: number,
    n: number,
    k: number,
    a: number,
    sa: number,
    rsa: number,
    csa: number,
    b: number,
    sb: number,
    rsb: number,
    csb: number,
    c: number,
    sc: number,
    ldc: number,
    accumulate: number,
  ): void;
  /** Direct conv (see kernels/wasm/conv.c); returns 0, the work bytes needed, or -1. */
  conv_direct(
    x: number,
    w: number,
    bias: number,
    y: number,
    ...geomStridesFlipWork: number[]
  ): number;
  /** 1: conv_direct takes 3x3 stride-1 convs to Winograd F(2x2, 3x3) (the default); 0: never. */
  set_winograd(on: number): void;
  /** Convs computed by Winograd so far. */
  winograd_count(): number;
  /** Conv weight gradient; returns like conv_direct. */
  conv_wgrad(x: number, dy: number, dw: number, ...geomWork: number[]): number;
  /** im2col + GEMM conv: mode 0 forward, 1 input gradient, 2 weight gradient. */
  conv_gemm(
    mode: number,
    x: number,
    w: number,
    bias: number,
    y: number,
    ...geomWork: number[]
  ): number;
  /** Transposed conv by scatter; returns like conv_direct. */
  conv_scatter(x: number, w: number, bias: number, y: number, ...geomWork: number[]): number;
  unary_f32(op: number, x: number, y: number, n: number, alpha: number, beta: number): void;
  binary_f32(
    op: number,
    a: number,
    b: number,
    y: number,
    rows: number,
    inner: number,
    desc: number,
  ): void;
  fill32(y: number, n: number, bits: number): void;
  fill_rows(y: number, v: number, rows: number, n: number): void;
  reduce_f32(kind: number, x: number, y: number, desc: number): void;
  norm_stats(x: number, mean: number, vars: number, groups: number, nc: number): void;
  norm_sums(
    x: number,
    g: number,
    mean: number,
    vars: number,
    gamma: number,
    s1: number,
    s2: number,
    groups: number,
    eps: number,
  ): void;
  norm_stats_sums(
    x: number,
    g: number,
    mean: number,
    vars: number,
    s1: number,
    s2: number,
    groups: number,
    nc: number,
    eps: number,
  ): void;
  norm_apply(
    x: number,
    mean: number,
    vars: number,
    gamma: number,
    beta: number,
    y: number,
    elem: number,
    eps: number,
  ): void;
  norm_backward(
    x: number,
    g: number,
    mean: number,
    vars: number,
    gamma: number,
    s1: number,
    s2: number,
    dx: number,
    elem: number,
    eps: number,
    nc: number,
  ): void;
  pool2d(x: number, dy: number, y: number, geo: number, planes: number): void;
  optim_update(
    kind: number,
    w: number,
    g: number,
    b1: number,
    b2: number,
    n: number,
    flag1: number,
    flag2: number,
    ...floats: number[]
  ): void;
}
