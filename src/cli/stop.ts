/**
 * Stopping a training run without losing it. SIGINT (Ctrl-C), SIGTERM and SIGHUP are noted by
 * a small worker in a shared flag, so a stop is seen even while the main thread computes a step
 * (the forward pass checks it between layers, the backward pass between graph nodes). While a
 * run trains, the first signal stops it at the next layer or batch boundary, with a checkpoint;
 * a second signal, or a signal outside training, exits at once (the last checkpoint, written
 * atomically, stays valid). Exit codes are 128 + the signal's number.
 * @module
 */
import { type Tensor, tidy } from "../tensor.ts";
import { copyBuffer } from "../backend/webgpu.ts";
import { copy } from "../ops/cast.ts";
import { noGrad } from "../ops/registry.ts";
import type { Module } from "../nn/module.ts";
import { globalRngState, type RngState, setGlobalRngState } from "../random.ts";

/** Exit code per signal: 128 + its number. */
export const SIGNAL_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
/** A signal that stops a run. */
export type StopSignal = keyof typeof SIGNAL_CODES;
const NAMES = Object.keys(SIGNAL_CODES) as StopSignal[];

/** A deliberate stop after a checkpoint (testing flags or a signal); `--resume` continues. */
export class StopRequested extends Error {
  constructor(what: string, readonly code: number) {
    super(`${what}; checkpoint saved, continue with --resume`);
  }
}

// The worker: one listener per signal; the first signal's index + 1 is kept, all are counted.
const WORKER_SRC = `self.onmessage = (e) => {
  const f = new Int32Array(e.data);
  ${JSON.stringify(NAMES)}.forEach((name, i) => {
    try {
      Deno.addSignalListener(name, () => {
        Atomics.compareExchange(f, 0, 0, i + 1);
        Atomics.add(f, 1, 1);
      });
    } catch { /* not supported on this platform */ }
  });
  postMessage("ready");
};`;

/**
 * The signals of one process. In "deferred" mode (a run is training) the first signal is a
 * request that the loop honours with a checkpoint; otherwise, and on the second signal, the
 * process exits at once through `exitNow`.
 */
export class StopSignals {
  private readonly flag = new Int32Array(new SharedArrayBuffer(8));
  private worker: Worker | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private deferred = false;
  private exiting = false;

  /** `exitNow(signal, code)` must end the process (it is also called from synchronous code). */
  constructor(private readonly exitNow: (signal: StopSignal, code: number) => never) {}

  /**
   * Start the worker that notes signals (the only listener: a signal is not always delivered
   * to every isolate's listener), and poll its flag whenever the main thread is free.
   */
  async start(): Promise<void> {
    const url = URL.createObjectURL(new Blob([WORKER_SRC], { type: "text/javascript" }));
    const w = new Worker(url, { type: "module" });
    await new Promise((resolve, reject) => {
      w.onmessage = resolve;
      w.onerror = (e) => (e.preventDefault(), reject(new Error(`signal watcher: ${e.message}`)));
      w.postMessage(this.flag.buffer);
    });
    URL.revokeObjectURL(url);
    this.worker = w;
    const timer = setInterval(() => this.requested(), 100);
    Deno.unrefTimer(timer);
    this.timer = timer;
  }

  /** The signal received (first one), or null. */
  get caught(): StopSignal | null {
    const i = Atomics.load(this.flag, 0);
    return i > 0 ? NAMES[i - 1] : null;
  }

  /** Signals received so far. */
  get count(): number {
    return Atomics.load(this.flag, 1);
  }

  /**
   * Whether to stop now; cheap and synchronous (the interrupt probe). A second signal exits
   * here at once, even in the middle of a step.
   */
  requested(): boolean {
    const n = this.count;
    if (n >= 2 || (n >= 1 && !this.deferred)) this.exit();
    return n > 0;
  }

  /**
   * While `fn` runs, the first signal is a request to stop with a checkpoint. A signal that
   * came too late for `fn` to act on it stops the process when `fn` returns.
   */
  async deferring<T>(fn: () => Promise<T>): Promise<T> {
    const was = this.deferred;
    this.deferred = true;
    let r: T;
    try {
      r = await fn();
    } finally {
      this.deferred = was;
    }
    if (!was) this.requested();
    return r;
  }

  /** Throw the stop, naming where the run stopped, if a signal came. */
  check(where: string): void {
    const c = this.caught;
    if (c) throw new StopRequested(`interrupted (${c}) ${where}`, SIGNAL_CODES[c]);
  }

  private exit(): never | void {
    if (this.exiting) return;
    this.exiting = true;
    const c = this.caught ?? "SIGINT";
    this.exitNow(c, SIGNAL_CODES[c]);
  }

  dispose(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.worker?.terminate();
    this.worker = null;
  }
}

/**
 * The state a training step changes before its optimizer step: buffers (BatchNorm running
 * statistics) and the global generator (dropout). Saved before a step that may be stopped
 * part-way, so that the model can be put back exactly as it was before the step.
 */
export class StepGuard {
  private readonly saved: [Tensor, Tensor][];
  readonly rng: RngState;

  constructor(model: Module) {
    this.rng = globalRngState();
    this.saved = model.namedBuffers().map(([, b]) => [b, noGrad(() => tidy(() => copy(b))).keep()]);
  }

  /** Put the buffers and the generator back as they were when the guard was made. */
  restore(): void {
    for (const [b, s] of this.saved) {
      if (b.backend === "webgpu") copyBuffer(s.storage.gpu!, b.storage.gpu!, b.size * 4);
      else if (b.backend === "cpu" || b.backend === "wasm") b.hostData().set(s.hostData());
      else throw new Error(`StepGuard: cannot restore a buffer on backend ${b.backend}`);
    }
    setGlobalRngState(this.rng);
  }

  dispose(): void {
    for (const [, s] of this.saved) s.dispose();
  }
}
