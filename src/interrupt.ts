/**
 * Cooperative interruption of long computations. A caller that may need to stop a training
 * step part-way (a signal arrived, a deadline passed) installs a probe; the forward pass checks
 * it before every module call and the backward pass before every graph node, and throw
 * {@link Interrupted} when it says stop. With no probe installed the checks cost one comparison.
 * @module
 */

/** Thrown by {@link checkInterrupt} when the installed probe asks to stop. */
export class Interrupted extends Error {
  constructor(where: string) {
    super(`interrupted in ${where}`);
    this.name = "Interrupted";
  }
}

let probe: (() => boolean) | null = null;

/**
 * Install (or with null remove) the probe that {@link checkInterrupt} asks. It must be cheap
 * and synchronous (read a flag; a `SharedArrayBuffer` written by a worker works even while the
 * main thread computes).
 */
export function setInterruptProbe(p: (() => boolean) | null): void {
  probe = p;
}

/** Throw {@link Interrupted} (naming `where`) if the installed probe asks to stop. */
export function checkInterrupt(where: string): void {
  if (probe !== null && probe()) throw new Interrupted(where);
}
