/**
 * The wasm backend against the cpu oracle where the other op tests do not reach: shapes large
 * enough to cross the kernels' blocks, tiles, bands and task splits (GEMM K and M blocks,
 * conv bands when a row of the padded input fills the scratch memory), the worker pool (results
 * bit-identical with one thread and with several), whole training steps of the zoo's small
 * models, the heap staying flat across steps, and the automatic backend choice.
 *
 * Every op test's compareBackends/gradCheck (tests/helpers.ts) also runs wasm against cpu.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { autoChoice } from "../src/init.ts";
import { isSoftwareAdapter } from "../src/backend/device.ts";
import { wasmRuntime, wasmThreads } from "../src/backend/wasm/runtime.ts";
import { setWasmConvPath } from "../src/ops/conv_wasm.ts";
import { setWasmWinograd } from "../src/backend/wasm/conv.ts";
import { assertClose, hostRand } from "./helpers.ts";

type Fn = (...xs: o.Tensor[]) => o.Tensor | o.Tensor[];

/** Outputs of `fn` on `backend` for host inputs, as plain arrays. */
async function run(fn: Fn, inputs: ReturnType<typeof hostRand>[], backend: o.BackendName) {
  const outs = o.tidy(() => {
    const xs = inputs.map((i) => o.fromHost(Float32Array.from(i.data), i.shape, "f32", backend));
    const r = fn(...xs);
    return Array.isArray(r) ? r : [r];
  });
  const res: Float32Array[] = [];
  for (const t of outs) res.push((await t.data()) as Float32Array);
  outs.forEach((t) => t.dispose());
  return res;
}

/**
 * Each case: a function of f32 inputs, their shapes, and an absolute tolerance (default 2e-5;
 * convs 1e-4: weight gradients sum thousands of products in f32, the oracle in f64).
 */
interface Case {
  what: string;
  fn: Fn;
  shapes: number[][];
  atol?: number;
}

const convGrads = (opts: o.Conv2dOptions) => (x: o.Tensor, w: o.Tensor): o.Tensor[] => {
  const y = o.conv2d(x, w, null, opts);
  const dy = o.affine(y, 0.5, 0.25); // any fixed function of y as the output gradient
  return [
    y,
    o.conv2dBackwardInput(dy, w, [x.shape[2], x.shape[3]], opts),
    o.conv2dBackwardWeight(x, dy, [w.shape[2], w.shape[3]], opts),
  ];
};

const CASES: Case[] = [
  // GEMM: K > one block (256), M > one row block (95) and not a multiple of the 5-row tile, N
  // not a multiple of the 8-wide tile, transposes through strides, a broadcast batch.
  {
    what: "matmul 203x517 @ 517x75",
    fn: (a, b) => o.matmul(a, b),
    shapes: [[203, 517], [517, 75]],
  },
  {
    what: "matmul transA transB 97x300 @ 300x1030",
    fn: (a, b) => o.matmul(a, b, true, true),
    shapes: [[300, 97], [1030, 300]],
  },
  {
    // Tall enough for the threads to share one packed B (gemm_shared) once the pool runs.
    what: "matmul 1203x300 @ 300x70",
    fn: (a, b) => o.matmul(a, b),
    shapes: [[1203, 300], [300, 70]],
  },
  {
    what: "batched matmul, B shared",
    fn: (a, b) => o.matmul(a, b),
    shapes: [[3, 33, 41], [41, 19]],
  },
  {
    what: "linear with bias, 70 rows",
    fn: (x, w, b) => o.linear(x, w, b),
    shapes: [[70, 300], [37, 300], [37]],
  },
  // Conv forward and both gradients, edge geometries and many tasks.
  {
    what: "conv 3x3 s1 p1, 16->24 channels, 29x31",
    fn: convGrads({ padding: 1 }),
    shapes: [[5, 16, 29, 31], [24, 16, 3, 3]],
    atol: 1e-4,
  },
  {
    what: "conv 3x3 s2 p1 (scatter input gradient), 17x18",
    fn: convGrads({ stride: 2, padding: 1 }),
    shapes: [[3, 8, 17, 18], [13, 8, 3, 3]],
    atol: 1e-4,
  },
  {
    what: "conv 5x3 stride [2,1] dilation [1,2] pad [2,0] groups 2",
    fn: convGrads({ stride: [2, 1], dilation: [1, 2], padding: [2, 0], groups: 2 }),
    shapes: [[2, 6, 15, 16], [10, 3, 5, 3]],
    atol: 1e-4,
  },
  {
    what: "conv 1x1 stride 2, 40 channels",
    fn: convGrads({ stride: 2 }),
    shapes: [[4, 40, 9, 9], [36, 40, 1, 1]],
    atol: 1e-4,
  },
  {
    what: "depthwise 3x3",
    fn: convGrads({ padding: 1, groups: 12 }),
    shapes: [[2, 12, 10, 11], [12, 1, 3, 3]],
  },
  {
    // A band of two output rows (4 padded rows of 64 channels x 4103 columns) exceeds the 4 MiB
    // scratch: rows go one per band. Weight-gradient entries sum 24,600 products in f32 (the
    // oracle in f64): |error| ~ 3e-4 on values ~1.
    what: "conv on a 4100-wide input (banded)",
    fn: convGrads({ padding: 1 }),
    shapes: [[1, 64, 6, 4100], [9, 64, 3, 3]],
    atol: 1e-3,
  },
  {
    what: "convTranspose2d stride 2 outputPadding 1 with bias",
    fn: (x, w, b) => o.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }),
    shapes: [[3, 10, 7, 9], [10, 6, 3, 3], [6]],
  },
  {
    what: "batch norm forward and backward, 64 x 16 x 28 x 28",
    fn: (x, g, b) => {
      const rm = o.zeros([16], { backend: x.backend }), rv = o.ones([16], { backend: x.backend });
      const y = o.batchNorm(x, g, b, rm, rv, { training: true });
      return [y, rm, rv];
    },
    shapes: [[64, 16, 28, 28], [16], [16]],
  },
  {
    what: "max pool 2x2 and 3x3 s2 p1 ceil",
    fn: (x) => [
      o.maxPool2d(x, { kernel: 2 }),
      o.maxPool2d(x, { kernel: 3, stride: 2, padding: 1, ceilMode: true }),
      o.avgPool2d(x, { kernel: 3, stride: 2, padding: 1 }),
    ],
    shapes: [[6, 5, 15, 14]],
  },
  {
    what: "reductions over mixed axes",
    fn: (x) => [o.sum(x, [0, 2, 3]), o.mean(x, [1]), o.max(x, [0, 3]), o.sum(x)],
    shapes: [[9, 7, 13, 11]],
  },
  {
    what: "broadcast binary ops over 4 axes",
    fn: (a, b) => [o.add(a, b), o.mul(b, a), o.maximum(a, b), o.gt(a, b)],
    shapes: [[7, 1, 5, 33], [3, 1, 33]],
  },
];

let singleThreaded: Float32Array[][] = [];

Deno.test("wasm kernels match the cpu oracle on large and edge shapes (one thread)", async () => {
  // Before init(): the runtime exists on first use, with the main thread only.
  assert.equal(wasmThreads(), 1);
  singleThreaded = [];
  for (const [i, c] of CASES.entries()) {
    const inputs = c.shapes.map((s, j) => hostRand(s, 31 * i + j + 1));
    const want = await run(c.fn, inputs, "cpu");
    const got = await run(c.fn, inputs, "wasm");
    got.forEach((g, k) => assertClose(g, want[k], `${c.what} (output ${k})`, c.atol ?? 2e-5, 1e-4));
    singleThreaded.push(got);
  }
});

Deno.test("both wasm conv families (implicit, im2col + GEMM) match the cpu oracle", async () => {
  const convs = CASES.filter((c) => c.what.startsWith("conv ") && !c.what.includes("banded"));
  assert.ok(convs.length >= 4);
  try {
    for (const path of ["implicit", "gemm"] as const) {
      setWasmConvPath(path);
      for (const [i, c] of convs.entries()) {
        const inputs = c.shapes.map((s, j) => hostRand(s, 7 * i + j + 3));
        const want = await run(c.fn, inputs, "cpu");
        const got = await run(c.fn, inputs, "wasm");
        got.forEach((g, k) =>
          assertClose(g, want[k], `${c.what} via ${path} (output ${k})`, c.atol ?? 2e-5, 1e-4)
        );
      }
    }
  } finally {
    setWasmConvPath("auto");
  }
});

/**
 * 3x3 stride-1 convs (forward, input and weight gradients): odd and partial tiles, bands, groups,
 * bias, crops, padding beyond the kernel. Tolerance 1e-4 as for the other convs: weight gradients
 * sum many products in f32 (Winograd's transformed values, larger than the inputs, round more).
 */
const WINOGRAD: Case[] = [
  {
    what: "conv 3x3 p1 5->11 channels, 13x9, bias",
    fn: (x, w, b) => {
      const y = o.conv2d(x, w, b, { padding: 1 });
      const dy = o.mul(y, y);
      return [
        y,
        o.conv2dBackwardInput(dy, w, [13, 9], { padding: 1 }),
        o.conv2dBackwardWeight(x, dy, [3, 3], { padding: 1 }),
      ];
    },
    shapes: [[3, 5, 13, 9], [11, 5, 3, 3], [11]],
  },
  {
    what: "conv 3x3 p0 groups 2, 8->12 channels, 10x7",
    fn: (x, w) => {
      const y = o.conv2d(x, w, null, { groups: 2 });
      return [
        y,
        o.conv2dBackwardInput(y, w, [10, 7], { groups: 2 }),
        o.conv2dBackwardWeight(x, y, [3, 3], { groups: 2 }),
      ];
    },
    shapes: [[2, 8, 10, 7], [12, 4, 3, 3]],
  },
  {
    what: "conv 3x3 p2 (output larger than the input), 4->6 channels, 5x6",
    fn: (x, w) => {
      const y = o.conv2d(x, w, null, { padding: 2 });
      return [y, o.conv2dBackwardWeight(x, y, [3, 3], { padding: 2 })];
    },
    shapes: [[2, 4, 5, 6], [6, 4, 3, 3]],
  },
  {
    what: "convTranspose2d stride 1, padding 0 and 3 (a crop), with bias",
    fn: (x, w, b) => [
      o.convTranspose2d(x, w, b, { padding: 0 }),
      o.convTranspose2d(x, w, b, { padding: 3 }),
    ],
    shapes: [[2, 6, 9, 11], [6, 5, 3, 3], [5]],
  },
  {
    what: "conv 3x3 p1 on 70x66 in bands of tile rows, 8->8 channels",
    fn: (x, w) => {
      const y = o.conv2d(x, w, null, { padding: 1 });
      return [y, o.conv2dBackwardWeight(x, y, [3, 3], { padding: 1 })];
    },
    shapes: [[2, 8, 70, 66], [8, 8, 3, 3]],
  },
];

Deno.test("Winograd F(2x2, 3x3) and the direct kernel both match the cpu oracle", async () => {
  const k = wasmRuntime().kernels;
  try {
    for (const on of [true, false]) {
      setWasmWinograd(on);
      for (const [i, c] of WINOGRAD.entries()) {
        const inputs = c.shapes.map((s, j) => hostRand(s, 5 * i + j + 11));
        const want = await run(c.fn, inputs, "cpu");
        const calls = k.winograd_count();
        const got = await run(c.fn, inputs, "wasm");
        assert.equal(k.winograd_count() > calls, on, `${c.what}: Winograd ${on ? "not " : ""}used`);
        got.forEach((g, j) =>
          assertClose(g, want[j], `${c.what}, Winograd ${on} (output ${j})`, 1e-4, 1e-4)
        );
      }
    }
  } finally {
    setWasmWinograd(true);
  }
});

Deno.test("wasm kernels give bit-identical results with worker threads", async () => {
  const r = await o.init({ backend: "wasm", threads: 3 });
  assert.equal(r.backend, "wasm");
  assert.equal(wasmThreads(), 3, `adapter ${r.adapter}`);
  const tasks0 = wasmRuntime().kernels.worker_task_count();
  for (const [i, c] of CASES.entries()) {
    const inputs = c.shapes.map((s, j) => hostRand(s, 31 * i + j + 1));
    const got = await run(c.fn, inputs, "wasm");
    got.forEach((g, k) =>
      assert.deepEqual(g, singleThreaded[i][k], `${c.what} (output ${k}): threads change bits`)
    );
  }
  assert.ok(wasmRuntime().kernels.worker_task_count() > tasks0, "the workers ran tasks");
});

/** Losses and parameters after each of two SGD-momentum steps of a zoo model on `backend`. */
async function train(model: "small-cnn" | "vgg-small" | "resnet-small", backend: o.BackendName) {
  const m = o.zoo[model].build({ seed: 3 });
  const moved = new Map<string, o.Tensor>();
  for (const [name, t] of m.stateDict()) {
    moved.set(name, o.fromHost(await t.data(), t.shape, t.dtype, backend));
  }
  for (const [name, t] of moved) m.setTensor(name, t.keep());
  const x = o.fromHost(
    Float32Array.from(hostRand([6, 1, 28, 28], 7).data),
    [6, 1, 28, 28],
    "f32",
    backend,
  );
  const y = o.fromHost(Int32Array.from([3, 1, 4, 1, 5, 9]), [6], "i32", backend);
  const opt = new o.SGD(m.parameters(), { lr: 0.05, momentum: 0.9 });
  const losses: number[] = [];
  const states: Map<string, number[]>[] = [];
  for (let s = 0; s < 2; s++) {
    const loss = o.tidy(() => {
      const l = o.crossEntropyLoss(m.call(x), y);
      o.backward(l);
      return l;
    });
    opt.step();
    opt.zeroGrad();
    losses.push(await loss.item());
    loss.dispose();
    const state = new Map<string, number[]>();
    for (const [name, t] of m.stateDict()) state.set(name, Array.from(await t.data()));
    states.push(state);
  }
  opt.dispose();
  m.dispose();
  x.dispose();
  y.dispose();
  return { losses, states };
}

for (const model of ["small-cnn", "vgg-small", "resnet-small"] as const) {
  Deno.test(`${model}: two training steps on wasm equal the cpu oracle's`, async () => {
    await o.init({ backend: "wasm", threads: 3 });
    const cpu = await train(model, "cpu");
    const wasm = await train(model, "wasm");
    assertClose(wasm.losses, cpu.losses, `${model} losses`, 1e-5, 1e-5);
    // After the second step, absolute 5e-4: that step's forward pass runs on weights that already
    // differ in the last bits, and an activation within rounding of zero can land on the other
    // side of a ReLU on one backend (resnet-small with Winograd convs: one pixel of one channel,
    // which moves that channel's 144 weights of layer1.conv1 by up to 1.2e-4, and the stem's by
    // 2.5e-5; with either Winograd path alone, or neither, all within 2e-5). A wrong kernel is
    // off by far more, and in the first step too.
    for (const [step, atol] of [[0, 2e-5], [1, 5e-4]]) {
      for (const [name, v] of cpu.states[step]) {
        const got = wasm.states[step].get(name)!;
        assertClose(got, v, `${model} ${name} after step ${step + 1}`, atol, 2e-4);
      }
    }
  });
}

Deno.test("wasm heap: a training step's memory returns to the pool", async () => {
  await o.init({ backend: "wasm", threads: 3 });
  const m = o.zoo["resnet-small"].build({ seed: 1, width: 8 });
  const x = o.randn([4, 1, 28, 28], { seed: 2, backend: "wasm" }).keep();
  const y = o.tensor([1, 2, 3, 4], [4], { dtype: "i32", backend: "wasm" }).keep();
  const opt = new o.SGD(m.parameters(), { lr: 0.01, momentum: 0.9 });
  const step = () => {
    o.tidy(() => o.backward(o.crossEntropyLoss(m.call(x), y)));
    opt.step();
    opt.zeroGrad();
  };
  // Warm-up: momentum buffers and work blocks appear, the pool settles into its size classes.
  step();
  step();
  const before = o.wasmMemory();
  for (let i = 0; i < 3; i++) step();
  const after = o.wasmMemory();
  assert.equal(after.liveBytes, before.liveBytes, "live bytes are flat across steps");
  assert.equal(after.allocatedBytes, before.allocatedBytes, "steps reuse the pooled blocks");
  opt.dispose();
  m.dispose();
  x.dispose();
  y.dispose();
});

Deno.test("init: software or missing adapters pick wasm, hardware ones webgpu", () => {
  assert.equal(
    autoChoice({ name: "NVIDIA GeForce RTX 4090", isSoftware: false }).backend,
    "webgpu",
  );
  const sw = autoChoice({ name: "llvmpipe (LLVM 15.0.6, 256 bits) mesa", isSoftware: true });
  assert.deepEqual(sw.backend, "wasm");
  assert.match(sw.reason!, /software one \(llvmpipe/);
  const none = autoChoice(new Error("no WebGPU adapter found. Install Mesa's ..."));
  assert.deepEqual(none, { backend: "wasm", reason: "no WebGPU adapter found" });
  for (const d of ["llvmpipe (LLVM 15.0.6, 256 bits)", "Lavapipe", "SwiftShader Device"]) {
    assert.ok(isSoftwareAdapter({ description: d }), d);
  }
  assert.ok(isSoftwareAdapter({ vendor: "google", isFallbackAdapter: true }));
  assert.ok(!isSoftwareAdapter({ description: "AMD Radeon RX 7900 XTX", vendor: "amd" }));
});

Deno.test("init: bad backend and thread counts are errors that name them", async () => {
  await assert.rejects(
    () => o.init({ backend: "gpu" as "webgpu" }),
    /backend must be "auto", "webgpu", "wasm" or "cpu", got "gpu"/,
  );
  await assert.rejects(() => o.init({ backend: "wasm", threads: 0 }), /threads must be/);
});

Deno.test("the embedded kernels are the committed kernels.wasm", async () => {
  const { KERNELS_BASE64, KERNELS_SHA256 } = await import("../src/backend/wasm/kernels_wasm.ts");
  const file = await Deno.readFile(new URL("../src/backend/wasm/kernels.wasm", import.meta.url));
  const embedded = Uint8Array.from(atob(KERNELS_BASE64), (c) => c.charCodeAt(0));
  assert.deepEqual(embedded, file);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", file));
  assert.equal([...hash].map((b) => b.toString(16).padStart(2, "0")).join(""), KERNELS_SHA256);
});

const clang = (() => {
  try {
    return new Deno.Command("clang-14", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "kernels.wasm is reproducible from kernels/wasm/*.c (needs clang-14 and lld-14)",
  ignore: !clang,
  fn: async () => {
    const tool = new URL("../tools/build_wasm.ts", import.meta.url).pathname;
    const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", tool, "--check"] })
      .output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout));
  },
});

Deno.test("max pool 2x2 on wasm: ties go to the first tap and NaN as on the cpu oracle", async () => {
  // 2 planes of 4 x 10 (vector path for 4 windows, scalar tail for 1) with ties and NaNs.
  const v = [
    [1, 1, 2, 5, 3, 3, 0, -1, 7, 7],
    [1, 0, 5, 2, 3, 3, -1, -1, 7, 7],
    [NaN, 4, 2, NaN, -2, -2, 9, 9, 0, 0],
    [4, 4, 2, 2, -2, -1, 9, NaN, 0, 0],
  ].flat();
  const data = Float32Array.from([...v, ...v.map((a) => -a)]);
  const out = async (be: o.BackendName) => {
    const x = o.fromHost(data, [1, 2, 4, 10], "f32", be).keep();
    x.requiresGrad = true;
    const g = o.fromHost(
      Float32Array.from({ length: 20 }, (_, i) => i + 1),
      [1, 2, 2, 5],
      "f32",
      be,
    );
    const y = o.tidy(() => {
      const y = o.maxPool2d(x, { kernel: 2 });
      o.backward(y, g);
      return y;
    });
    const res = [Array.from(await y.data()), Array.from(await x.grad!.data())];
    x.grad!.dispose();
    x.dispose();
    return res;
  };
  const [yc, dc] = await out("cpu"), [yw, dw] = await out("wasm");
  assert.deepEqual(yw, yc);
  assert.deepEqual(dw, dc);
});
