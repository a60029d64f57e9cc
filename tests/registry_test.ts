/**
 * The op registry: every op carries all its facets; every GPU facet runs a WGSL kernel from
 * kernels/; dispatches are batched into one submit; channel rules resolve per application; the
 * ONNX facets of the movement/softmax ops match onnxruntime.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import {
  type AliasOp,
  apply,
  type KernelOp,
  type OpSpec,
  withPatchedOp,
  withPatchedOps,
} from "../src/ops/registry.ts";
import { bakeUniforms, dispatchCount, flushCount, specialize } from "../src/backend/webgpu.ts";
import { profileKernels } from "../src/backend/profile.ts";
import { resolveRule } from "../src/zig/rules.ts";
import { opsToOnnx, recordOps } from "../src/onnx/record.ts";
import { gpuTest, hostRand } from "./helpers.ts";
import { checkOnnx } from "./onnx_check.ts";

const RULE_KINDS = [
  "stem",
  "accessory",
  "passthrough",
  "map",
  "joint",
  "concat",
  "split",
  "flatten",
  "permute",
  "reduce",
  "slice",
  "pixelShuffle",
  "block",
  "byAttrs",
];

/** What is missing or malformed in every registered op's facets. */
function facetProblems(): string[] {
  const problems: string[] = [];
  for (const [name, op] of o.allOps()) {
    const need = (ok: boolean, what: string) => ok || problems.push(`${name}: ${what}`);
    need(op.name === name, "registered under another name");
    need(typeof op.shape === "function", "no shape rule");
    need(Object.isFrozen(op), "spec is not frozen");
    if (op.alias) need(!("cpu" in op) && !("gpu" in op), "an alias op runs no kernel");
    else {
      need(typeof op.cpu === "function", "no cpu facet");
      need(typeof op.gpu === "function", "no gpu facet");
    }
    const fnOrNone = (f: unknown) =>
      typeof f === "function" ||
      (typeof f === "object" && f !== null && typeof (f as { none: string }).none === "string" &&
        (f as { none: string }).none.length > 0);
    need(fnOrNone(op.grad), "grad must be a function or { none: reason }");
    need(!!op.channels && RULE_KINDS.includes(op.channels.kind), "no (valid) channel rule");
    if (op.channels?.kind === "block") need(op.channels.reason.length > 0, "block without reason");
    if (op.channels?.kind === "byAttrs") need(typeof op.channels.rule === "function", "byAttrs");
    need(typeof op.cost === "function", "no cost facet");
    need(fnOrNone(op.onnx), "onnx must be a function or { none: reason }");
    // The conformance harness (tests/conformance_test.ts) runs every sample.
    const samples = op.samples as readonly { name: string }[] | { none: string } | undefined;
    if (Array.isArray(samples)) {
      need(samples.length > 0, "no samples (add some for tests/conformance_test.ts)");
      const names = samples.map((x) => x.name);
      need(new Set(names).size === names.length, "two samples share a name");
    } else need(fnOrNone(samples), "samples must be a list or { none: reason }");
    if (op.inputNames) need(op.inputNames.every((s) => s.length > 0), "empty input name");
  }
  return problems;
}

Deno.test("every registered op has every facet", () => {
  assert.deepEqual(facetProblems(), []);
  assert.ok(o.allOps().size >= 50, `${o.allOps().size} ops registered`);
  // An op without samples (or with an empty list) is caught.
  withPatchedOps({ tanh: { samples: undefined }, relu: { samples: [] } }, () => {
    assert.deepEqual(facetProblems(), [
      "relu: no samples (add some for tests/conformance_test.ts)",
      "tanh: samples must be a list or { none: reason }",
    ]);
  });
});

Deno.test("the spec type requires every facet (deno check fails on a missing one)", () => {
  // Type-level checks: each literal below lacks one facet, and `deno check` (deno task check
  // runs it on tests/) fails if the type stops requiring it, because the directive goes unused.
  const full: KernelOp<Record<string, never>> = {
    name: "t",
    shape: (ins) => [ins[0]],
    cpu: () => {},
    gpu: () => {},
    grad: { none: "test" },
    channels: { kind: "block", reason: "test" },
    cost: () => ({ macs: 0, flops: 0 }),
    onnx: { none: "test" },
    samples: { none: "test" },
  };
  const { shape, cpu, gpu, grad, channels, cost, onnx, samples } = full;
  // @ts-expect-error: no shape rule
  const noShape: KernelOp<Record<string, never>> = {
    name: "t",
    cpu,
    gpu,
    grad,
    channels,
    cost,
    onnx,
    samples,
  };
  // @ts-expect-error: no cpu facet
  const noCpu: KernelOp<Record<string, never>> = {
    name: "t",
    shape,
    gpu,
    grad,
    channels,
    cost,
    onnx,
    samples,
  };
  // @ts-expect-error: no gpu facet
  const noGpu: KernelOp<Record<string, never>> = {
    name: "t",
    shape,
    cpu,
    grad,
    channels,
    cost,
    onnx,
    samples,
  };
  // @ts-expect-error: no gradient (or { none })
  const noGrad: KernelOp<Record<string, never>> = {
    name: "t",
    shape,
    cpu,
    gpu,
    channels,
    cost,
    onnx,
    samples,
  };
  // @ts-expect-error: no channel rule
  const noRule: KernelOp<Record<string, never>> = {
    name: "t",
    shape,
    cpu,
    gpu,
    grad,
    cost,
    onnx,
    samples,
  };
  // @ts-expect-error: no cost
  const noCost: KernelOp<Record<string, never>> = {
    name: "t",
    shape,
    cpu,
    gpu,
    grad,
    channels,
    onnx,
    samples,
  };
  // @ts-expect-error: no ONNX facet (or { none })
  const noOnnx: KernelOp<Record<string, never>> = {
    name: "t",
    shape,
    cpu,
    gpu,
    grad,
    channels,
    cost,
    samples,
  };
  // @ts-expect-error: no samples (or { none })
  const noSamples: KernelOp<Record<string, never>> = {
    name: "t",
    shape,
    cpu,
    gpu,
    grad,
    channels,
    cost,
    onnx,
  };
  // @ts-expect-error: an alias op has no kernels
  const aliasWithKernel: AliasOp<Record<string, never>> = { ...full, alias: true };
  const all = [
    noShape,
    noCpu,
    noGpu,
    noGrad,
    noRule,
    noCost,
    noOnnx,
    noSamples,
    aliasWithKernel,
  ];
  assert.equal(all.length, 9);
});

Deno.test("specs are frozen; withPatchedOp swaps a facet for one scope and restores it", async () => {
  const spec = o.getOp("tanh");
  assert.throws(() => {
    (spec as { channels: unknown }).channels = { kind: "passthrough" };
  }, TypeError);
  assert.throws(() => {
    (spec.channels as { kind: string }).kind = "block";
  }, TypeError);
  const x = o.tensor([0.5, -1], [2], { backend: "cpu" });
  const cpu = (v: number) => (_ins: unknown, outs: o.HostArray[]) => void outs[0].fill(v);
  const seen = withPatchedOp("tanh", { cpu: cpu(7) }, () => {
    assert.notEqual(o.getOp("tanh"), spec);
    assert.ok(Object.isFrozen(o.getOp("tanh")));
    assert.equal(o.allOps().get("tanh"), o.getOp("tanh"));
    return Array.from(o.tanh(x).hostData());
  });
  assert.deepEqual(seen, [7, 7], "apply runs the patched facet");
  assert.equal(o.getOp("tanh"), spec, "restored after the scope");
  assert.deepEqual(
    Array.from(o.tanh(x).hostData()),
    [Math.tanh(0.5), Math.tanh(-1)].map(Math.fround),
  );
  assert.throws(() =>
    withPatchedOp("tanh", { cpu: cpu(1) }, () => {
      throw new Error("boom");
    }), /boom/);
  assert.equal(o.getOp("tanh"), spec, "restored after a throw");
  const p = withPatchedOp("tanh", { cpu: cpu(3) }, async () => {
    await Promise.resolve();
    return Array.from(o.tanh(x).hostData());
  });
  assert.deepEqual(await p, [3, 3], "an async scope keeps the patch until it settles");
  assert.equal(o.getOp("tanh"), spec, "restored after the promise");
  assert.throws(() => withPatchedOp("nope", {}, () => 0), /unknown op "nope"/);
  assert.throws(
    () => withPatchedOp("tanh", {}, () => withPatchedOp("tanh", {}, () => 0)),
    /already patched/,
  );
  assert.equal(o.getOp("tanh"), spec);
});

/** Every *.wgsl file under kernels/, relative to the repository root. */
async function walk(dir: URL, ext: string, out: string[] = []): Promise<string[]> {
  for await (const e of Deno.readDir(dir)) {
    const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) await walk(u, ext, out);
    else if (e.name.endsWith(ext)) out.push(u.pathname);
  }
  return out;
}

Deno.test("every WGSL kernel file is imported by the source, and every import exists", async () => {
  const root = new URL("../", import.meta.url);
  const kernels = await walk(new URL("kernels/", root), ".wgsl");
  const sources = await walk(new URL("src/", root), ".ts");
  const imported = new Set<string>();
  const broken: string[] = [];
  for (const file of sources) {
    const text = await Deno.readTextFile(file);
    for (const m of text.matchAll(/from\s+"([^"]+\.wgsl)"\s+with\s*\{\s*type:\s*"text"\s*\}/g)) {
      const path = new URL(m[1], `file://${file}`).pathname;
      imported.add(path);
      try {
        await Deno.stat(path);
      } catch {
        broken.push(`${file} imports missing ${m[1]}`);
      }
    }
  }
  assert.deepEqual(broken, []);
  const unused = kernels.filter((k) => !imported.has(k));
  assert.deepEqual(unused, [], "kernel files no op imports");
  assert.ok(kernels.length >= 20, `${kernels.length} kernels found`);
});

gpuTest("a chain of 100 elementwise ops and one readback cause exactly one submit", async () => {
  const x = o.randn([1000], { seed: 4, backend: "webgpu" }).keep();
  await x.data(); // settle the upload and any earlier work
  const before = flushCount(), d0 = dispatchCount();
  const y = o.tidy(() => {
    let h = x;
    for (let i = 0; i < 25; i++) h = o.tanh(o.add(o.scale(o.mul(h, x), 0.5), x));
    return h;
  });
  assert.equal(dispatchCount() - d0, 100, "100 kernels recorded");
  assert.equal(flushCount(), before, "nothing submitted before the readback");
  const v = await y.data();
  assert.equal(flushCount() - before, 1, "one submit for the chain and its readback");
  assert.ok(v.every(Number.isFinite));
  y.dispose();
  x.dispose();
});

Deno.test("bakeUniforms turns the named uniform fields into literals, nothing else", () => {
  const k = specialize("t", "let a = p.w + p.ph * p.wide; let b = q.w; let c = p.n;");
  const b = bakeUniforms(k, { w: 28, ph: -1, wide: 3 });
  assert.equal(b.source, "let a = 28u + (-1) * 3u; let b = q.w; let c = p.n;");
  assert.notEqual(b.key, k.key, "a baked kernel is its own pipeline");
  assert.notEqual(bakeUniforms(k, { w: 14, ph: -1, wide: 3 }).key, b.key);
  assert.throws(() => bakeUniforms(k, { w: 0.5 }), /field w = 0.5 is not whole/);
});

gpuTest("profileKernels times each kernel of a conv and its gradients", async () => {
  const x = o.randn([2, 4, 6, 6], { seed: 1, backend: "webgpu" }).keep();
  const w = o.randn([8, 4, 3, 3], { seed: 2, backend: "webgpu" }).keep();
  x.requiresGrad = w.requiresGrad = true;
  const times = await profileKernels(() =>
    o.tidy(() => o.backward(o.sum(o.conv2d(x, w, null, { padding: 1 }))))
  );
  const names = times.map((t) => t.kernel);
  for (const k of ["conv_fwd_k3", "conv_wgrad_k3", "conv_pack"]) assert.ok(names.includes(k), k);
  assert.ok(times.every((t) => t.calls >= 1 && t.ms >= 0), JSON.stringify(times));
  assert.ok(times.some((t) => t.ms > 0), "timestamps advance");
  // More dispatches than one batch holds timestamps for: every one is still timed.
  const y = o.randn([64], { seed: 3, backend: "webgpu" }).keep();
  const many = await profileKernels(() =>
    o.tidy(() => {
      let h = y;
      for (let i = 0; i < 2500; i++) h = o.neg(h);
    })
  );
  assert.equal(many.find((t) => t.kernel === "neg")?.calls, 2500);
  y.dispose();
  // Profiling is off afterwards: dispatches share one pass again and nothing is timed.
  const after = await profileKernels(() => {});
  assert.deepEqual(after, []);
  for (const t of [x, w, x.grad!, w.grad!]) t.dispose();
});

Deno.test("channel rules resolve per application (pad, gather, clamp, layerNorm, softmax)", () => {
  const kind = (fn: () => unknown) => {
    const { ops } = recordOps(fn);
    const last = ops[ops.length - 1];
    return resolveRule(last.op.channels, last.attrs as never, {
      ins: last.ins,
      outs: last.outs,
    }).kind;
  };
  const a = o.zeros([2, 3, 4], { backend: "meta" }), b = o.zeros([2, 5, 4], { backend: "meta" });
  assert.equal(kind(() => o.concat([a, b], 1)), "concat");
  assert.equal(kind(() => o.split(b, [2, 3], 1)), "split");
  assert.equal(kind(() => o.slice(a, [0, 1], [2, 3])), "slice");
  assert.equal(kind(() => o.pad(a, [[0, 0], [0, 0], [1, 1]])), "pad");
  assert.equal(kind(() => o.pad(a, [[0, 0], [0, 0], [1, 1]], 1)), "map");
  const i = o.zeros([2], { backend: "meta", dtype: "i32" });
  assert.equal(kind(() => o.gather(a, 2, i)), "passthrough");
  assert.equal(
    kind(() => o.gather(a, 1, o.zeros([2, 2], { backend: "meta", dtype: "i32" }))),
    "block",
  );
  assert.equal(kind(() => o.softmax(a, 2)), "map");
  assert.equal(kind(() => o.relu6(a)), "passthrough");
  assert.equal(kind(() => o.clamp(a, 1, 6)), "map");
  assert.equal(kind(() => o.layerNorm(a, null, null, { normalizedShape: [4] })), "accessory");
  assert.equal(kind(() => o.layerNorm(a, null, null, { normalizedShape: [3, 4] })), "block");
  assert.equal(kind(() => o.permute(a, [0, 2, 1])), "permute");
  assert.equal(kind(() => o.mean(a, 2)), "reduce");
});

Deno.test("ONNX facets of slice, concat, split, pad, gather, oneHot, softmax, crossEntropy", async () => {
  const f = (shape: number[], seed: number) => {
    const h = hostRand(shape, seed, -2, 2);
    return o.fromHost(Float32Array.from(h.data), shape, "f32", "cpu");
  };
  const i32 = (data: number[]) => o.tensor(data, [data.length], { dtype: "i32", backend: "cpu" });
  const x = f([3, 4, 5], 1);
  const cases: [string, (...t: o.Tensor[]) => o.Tensor, o.Tensor[]][] = [
    ["slice", (a) => o.slice(a, [1, -1, 0], [3, -Infinity, 5], [1, -2, 2]), [x]],
    ["slice reverse all", (a) => o.slice(a, [-1], [-Infinity], [-1]), [x]],
    ["slice empty", (a) => o.slice(a, [2], [1]), [x]],
    ["concat/split", (a) => {
      const [p, q] = o.split(a, [1, 3], 1);
      return o.concat([q, p, q], 1);
    }, [x]],
    ["pad", (a) => o.pad(a, [[0, 1], [2, 0], [1, 1]], 0.5), [x]],
    ["gather", (a, i) => o.gather(a, 2, i), [x, i32([4, 0, -1])]],
    ["oneHot", (y) => o.oneHot(y, 5), [i32([3, 0, 4])]],
    ["softmax", (a) => o.add(o.softmax(a, 1), o.logSoftmax(a, -1)), [x]],
  ];
  const logits = f([4, 5], 2), labels = i32([4, 0, 2, 2]);
  for (const reduction of ["mean", "sum", "none"] as const) {
    for (const eps of [0, 0.1]) {
      cases.push([
        `crossEntropy ${reduction} eps=${eps}`,
        (a, b) => o.crossEntropy(a, b, { reduction, labelSmoothing: eps }),
        [logits, labels],
      ]);
    }
  }
  for (const [what, fn, ins] of cases) await checkOnnx(what, fn, ins);
  // Training-only ops say so instead of writing a wrong graph.
  const g = f([1, 2], 3);
  for (
    const [name, ins, attrs] of [
      ["sliceGrad", [g], { inShape: [2, 2], starts: [1, 0], steps: [1, 1] }],
      ["gatherGrad", [g, i32([1, 0])], { axis: 1, dim: 3 }],
      ["crossEntropyGrad", [g, i32([1]), f([], 4)], { labelSmoothing: 0, reduction: "mean" }],
    ] as const
  ) {
    const { result, ops } = recordOps(() =>
      apply(o.getOp(name) as unknown as OpSpec<unknown>, ins, attrs)[0]
    );
    const inputs = ins.map((t, k) => ({ name: `in${k}`, tensor: t }));
    await assert.rejects(
      () => opsToOnnx(ops, inputs, [{ name: "out", tensor: result }]),
      new RegExp(`onnx: op ${name} has no ONNX mapping \\(${name} is a training-only op`),
    );
  }
});
