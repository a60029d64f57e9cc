/**
 * A worker thread of the wasm backend that traps inside a kernel task must not leave the main
 * thread waiting for that task forever: the kernel call throws, and so does every later one
 * (the heap may be damaged). Its own file: the backend of this test's isolate stays broken.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { wasmRuntime, wasmThreads } from "../src/backend/wasm/runtime.ts";

Deno.test("wasm: a worker that traps makes the kernel call throw instead of hanging", async () => {
  const r = await o.init({ backend: "wasm", threads: 2 });
  assert.equal(r.backend, "wasm");
  assert.equal(wasmThreads(), 2, "a worker thread started");
  const k = wasmRuntime().kernels;
  assert.throws(() => k.debug_fault_in_worker(), WebAssembly.RuntimeError);
  assert.equal(wasmThreads(), 1, "the failed worker no longer counts as live");
  // Later kernels refuse to run rather than compute on a pool that lost a task.
  const a = o.randn([96, 96], { seed: 1 });
  await assert.rejects(async () => await o.matmul(a, a).data(), WebAssembly.RuntimeError);
});
