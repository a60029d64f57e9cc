/**
 * Test helpers shared by every op test: run the same function on the cpu oracle, on the wasm
 * backend and on WebGPU and compare, and check gradients against central finite differences (on
 * cpu, in f32). The wasm backend needs no device, so its checks always run inline.
 *
 * Without a WebGPU adapter every webgpu check is reported by Deno as *ignored*, never as
 * passed: whole GPU tests are declared with {@link gpuTest} (`ignore` when there is no
 * adapter), and the webgpu half of a mixed test runs as a test step through
 * {@link onWebgpu} (so it needs the test to be declared with {@link test}). `.ci/run` fails
 * outright without an adapter unless OTO_ALLOW_NO_GPU=1.
 */
import assert from "node:assert/strict";
import {
  type BackendName,
  backward,
  fromHost,
  init,
  noGrad,
  type Tensor,
  tidy,
  toBackend,
} from "../mod.ts";
import { initGpu } from "../src/backend/device.ts";

/**
 * Whether a WebGPU adapter is available, probed once when the helpers load (so tests can be
 * declared ignored). The probe acquires the device but leaves the default backend alone.
 */
export const GPU: boolean = await initGpu().then(() => true, () => false);
if (!GPU) console.warn("tests: no WebGPU adapter; webgpu checks are reported as ignored");

/**
 * Set, for the calling test, the default backend a user gets from `init()` (webgpu on a
 * hardware adapter, else wasm): tests that use the default set it themselves, never relying on
 * an earlier test.
 */
export async function useDefaultBackend(): Promise<BackendName> {
  return (await init({ quiet: true })).backend;
}

/** The running test's context; "gpu" inside a gpuTest (webgpu checks then run inline). */
let current: Deno.TestContext | "gpu" | null = null;

/**
 * `Deno.test` for tests with webgpu checks inside ({@link compareBackends}, {@link gradCheck},
 * {@link onWebgpu}): those checks become test steps, ignored without an adapter.
 */
export function test(name: string, fn: (t: Deno.TestContext) => void | Promise<void>): void {
  Deno.test(name, async (t) => {
    current = t;
    try {
      await fn(t);
    } finally {
      current = null;
    }
  });
}

/** A test that only makes sense on WebGPU: ignored (not passed) without an adapter. */
export function gpuTest(name: string, fn: (t: Deno.TestContext) => void | Promise<void>): void {
  Deno.test({
    name,
    ignore: !GPU,
    fn: async (t) => {
      current = "gpu";
      try {
        await fn(t);
      } finally {
        current = null;
      }
    },
  });
}

/**
 * Run the webgpu part of a test as a step named `what`: ignored without an adapter, and a
 * failure fails the test. Must be called (and awaited) inside a {@link test}.
 */
export async function onWebgpu(what: string, fn: () => Promise<void> | void): Promise<void> {
  const t = current;
  if (t === "gpu") return await fn();
  if (!t) {
    throw new Error(
      `${what}: webgpu checks must run inside test() or gpuTest() from tests/helpers.ts, so ` +
        `that a missing adapter is reported as ignored`,
    );
  }
  const ok = await t.step({
    name: `${what} [webgpu]`,
    ignore: !GPU,
    fn: async (step) => {
      current = step; // checks nested in fn become sub-steps
      try {
        await fn();
      } finally {
        current = t;
      }
    },
  });
  if (!ok && GPU) throw new Error(`${what} [webgpu] failed (the step's error is above)`);
}

/** Run `fn` on every backend: cpu and wasm inline, webgpu as an {@link onWebgpu} step. */
export async function forBackends(
  fn: (be: BackendName) => Promise<void> | void,
  what = "the same checks",
): Promise<void> {
  await fn("cpu");
  await fn("wasm");
  await onWebgpu(what, () => fn("webgpu"));
}

/** Assert two arrays are elementwise close: |a-b| <= atol + rtol*|b|. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  atol = 1e-5,
  rtol = 1e-4,
): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: length ${actual.length} vs ${expected.length}`,
  );
  let worst = -1, worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    // NaN on one side only is a failure (as an infinite error, so it is reported).
    const e = Math.abs(actual[i] - expected[i]) || (actual[i] === expected[i] ? 0 : Infinity);
    const ok = e <= atol + rtol * Math.abs(expected[i]) ||
      (Number.isNaN(actual[i]) && Number.isNaN(expected[i])) || actual[i] === expected[i];
    if (!ok && e > worstErr) (worst = i, worstErr = e);
  }
  if (worst >= 0) {
    assert.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(|diff| ${worstErr.toExponential(2)})`,
    );
  }
}

/** A host input to a test function: values and shape (and dtype, default f32). */
export interface HostInput {
  data: ArrayLike<number>;
  shape: readonly number[];
  dtype?: "f32" | "i32" | "u32";
}

/** Seeded host data in [-1, 1) for tests (independent of the engine). */
export function hostRand(shape: readonly number[], seed: number, lo = -1, hi = 1): HostInput {
  let s = seed * 2654435761 >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s ^ (s << 13)) >>> 0;
    s = (s ^ (s >>> 17)) >>> 0;
    s = (s ^ (s << 5)) >>> 0;
    data[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return { data, shape };
}

function make(inp: HostInput, backend: BackendName): Tensor {
  const dtype = inp.dtype ?? "f32";
  const arr = dtype === "f32"
    ? Float32Array.from(inp.data)
    : dtype === "i32"
    ? Int32Array.from(inp.data)
    : Uint32Array.from(inp.data);
  return fromHost(arr, inp.shape, dtype, backend);
}

/**
 * Run `fn` on cpu, wasm and webgpu with the same inputs and assert every output matches.
 * Returns the cpu outputs (values and shapes) so the caller can also check them by hand.
 */
export async function compareBackends(
  what: string,
  fn: (...xs: Tensor[]) => Tensor | Tensor[],
  inputs: HostInput[],
  tol: { atol?: number; rtol?: number } = {},
): Promise<{ data: number[]; shape: readonly number[] }[]> {
  const run = async (be: BackendName) => {
    const outs = tidy(() => {
      const r = fn(...inputs.map((i) => make(i, be)));
      return Array.isArray(r) ? r : [r];
    });
    const res = [];
    for (const o of outs) res.push({ data: Array.from(await o.data()), shape: o.shape });
    outs.forEach((o) => o.dispose());
    return res;
  };
  const cpu = await run("cpu");
  const wasm = await run("wasm");
  cpu.forEach((c, i) => {
    assert.deepEqual(wasm[i].shape, c.shape, `${what}: output ${i} shape (wasm)`);
    assertClose(wasm[i].data, c.data, `${what} (wasm vs cpu, output ${i})`, tol.atol, tol.rtol);
  });
  await onWebgpu(`${what}: webgpu matches cpu`, async () => {
    const gpu = await run("webgpu");
    cpu.forEach((c, i) => {
      assert.deepEqual(gpu[i].shape, c.shape, `${what}: output ${i} shape`);
      assertClose(gpu[i].data, c.data, `${what} (webgpu vs cpu, output ${i})`, tol.atol, tol.rtol);
    });
  });
  return cpu;
}

/**
 * Check the gradient of `sum(fn(...) * w)` (w fixed random weights) w.r.t. every f32 input
 * whose index is in `wrt` against central finite differences on the cpu backend, and check
 * that the wasm and webgpu backends' analytic gradients match the cpu ones.
 */
export async function gradCheck(
  what: string,
  fn: (...xs: Tensor[]) => Tensor,
  inputs: HostInput[],
  opts: { wrt?: number[]; eps?: number; atol?: number; rtol?: number } = {},
): Promise<void> {
  const wrt = opts.wrt ??
    inputs.map((_, i) => i).filter((i) => (inputs[i].dtype ?? "f32") === "f32");
  const eps = opts.eps ?? 1e-2;
  const { mul, sum } = await import("../mod.ts");
  const probe = (xs: Tensor[]) => {
    const y = fn(...xs);
    const w = make(hostRand(y.shape, 99), xs[0].backend);
    return sum(mul(y, w));
  };
  const analytic = async (be: BackendName) => {
    const xs = inputs.map((i) => make(i, be).keep());
    wrt.forEach((i) => (xs[i].requiresGrad = true));
    tidy(() => backward(probe(xs)));
    const grads = [];
    for (const i of wrt) {
      assert.ok(xs[i].grad, `${what}: no gradient reached input ${i}`);
      grads.push(Array.from(await xs[i].grad!.data()));
    }
    xs.forEach((x) => (x.grad?.dispose(), x.dispose()));
    return grads;
  };
  const cpuGrads = await analytic("cpu");
  for (const [k, i] of wrt.entries()) {
    const base = Float64Array.from(inputs[i].data);
    const numeric = new Array(base.length);
    for (let j = 0; j < base.length; j++) {
      const at = (v: number) => {
        const data = Float32Array.from(base);
        data[j] = v;
        const xs = inputs.map((inp, q) => make(q === i ? { ...inp, data } : inp, "cpu"));
        const out = noGrad(() => tidy(() => probe(xs)));
        const val = out.hostData()[0];
        out.dispose();
        xs.forEach((x) => x.dispose());
        return val;
      };
      numeric[j] = (at(base[j] + eps) - at(base[j] - eps)) / (2 * eps);
    }
    assertClose(
      cpuGrads[k],
      numeric,
      `${what}: d/d(input ${i}) vs finite differences`,
      opts.atol ?? 2e-2,
      opts.rtol ?? 2e-2,
    );
  }
  const wasmGrads = await analytic("wasm");
  wasmGrads.forEach((g, k) =>
    assertClose(g, cpuGrads[k], `${what}: wasm grad of input ${wrt[k]} vs cpu`, 1e-4, 1e-3)
  );
  await onWebgpu(`${what}: webgpu gradients match cpu`, async () => {
    const gpuGrads = await analytic("webgpu");
    gpuGrads.forEach((g, k) =>
      assertClose(g, cpuGrads[k], `${what}: webgpu grad of input ${wrt[k]} vs cpu`, 1e-4, 1e-3)
    );
  });
}

export { toBackend };
