/**
 * Seeded random numbers. Values are generated on the host and uploaded, so the same seed gives
 * bit-identical tensors on every backend.
 */

/** What {@link Rng.state} returns. */
export interface RngState {
  /** The xoshiro128** state words. */
  s: number[];
  /** A second normal draw kept from the last Box-Muller pair. */
  spare: number | null;
}

/** xoshiro128** generator: fast, 128-bit state, good statistical quality. */
export class Rng {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  /** A generator whose state is derived from `seed` (any integer). */
  constructor(seed: number) {
    // splitmix32 expands the seed into the state (never all zero).
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** The generator's full state (JSON-safe), to continue the same sequence later. */
  state(): RngState {
    return { s: Array.from(this.s), spare: this.spare };
  }

  /** A generator that continues from a {@link state}. */
  static fromState(st: RngState): Rng {
    const ok = Array.isArray(st?.s) && st.s.length === 4 &&
      st.s.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) &&
      st.s.some((v) => v !== 0) && (st.spare === null || Number.isFinite(st.spare));
    if (!ok) throw new Error(`Rng.fromState: not a generator state: ${JSON.stringify(st)}`);
    const r = new Rng(0);
    r.s.set(st.s);
    r.spare = st.spare;
    return r;
  }

  /** Fisher–Yates shuffle of [0, n). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

let global = new Rng(0);

/** Seed the generator used when no explicit seed is given. */
export function manualSeed(seed: number): void {
  global = new Rng(seed);
}

/** The global generator's state (saved in mid-epoch training checkpoints). */
export function globalRngState(): RngState {
  return global.state();
}

/** Continue the global generator from a saved {@link globalRngState}. */
export function setGlobalRngState(st: RngState): void {
  global = Rng.fromState(st);
}

/** The generator for `seed`, or the global one. */
export function rngFor(seed?: number): Rng {
  return seed === undefined ? global : new Rng(seed);
}
