/**
 * Single-line mutation campaign: each mutation changes one line of the source (a gradient, a
 * kernel's index arithmetic, a channel rule, a DHSPG default, a compression index, an ONNX
 * attribute), runs the test files that should notice, and restores the file. A mutation is
 * caught when any of those tests fails. The list is the project's own campaign for issue 15's
 * bar (the reviewer runs a held-back set of the same kind).
 *
 * Usage: `deno run -A tools/mutate.ts [--only id,id] [--category name] [--list] [--full]`
 * `--full` runs every test file for the mutations the listed tests do not catch (slow).
 * Restores every file on exit, also on Ctrl-C; run it on a clean work tree.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

/** One single-line change and the tests that should notice it. */
export interface Mutation {
  id: string;
  category: "gradient" | "kernel" | "channel" | "dhspg" | "compress" | "onnx";
  file: string;
  /** Text that occurs exactly once in `file`, on one line, and its replacement. */
  from: string;
  to: string;
  /** Test files (under tests/) to run. */
  tests: string[];
  /** Ops the conformance harness checks (OTO_CONFORM_OPS); default: all. */
  ops?: string[];
}

const C = "conformance_test.ts";

export const MUTATIONS: Mutation[] = [
  // --- gradients -------------------------------------------------------------------------
  {
    id: "grad-sigmoid-1pct",
    category: "gradient",
    file: "src/ops/elementwise.ts",
    from: "grad: (_x, y, g) => mul(g, mul(y, affine(y, -1, 1))),",
    to: "grad: (_x, y, g) => mul(g, mul(y, affine(y, -1, 1.01))),",
    tests: [C],
    ops: ["sigmoid"],
  },
  {
    id: "grad-tanh-1pct",
    category: "gradient",
    file: "src/ops/elementwise.ts",
    from: "grad: (_x, y, g) => mul(g, affine(square(y), -1, 1)),",
    to: "grad: (_x, y, g) => mul(g, affine(square(y), -0.99, 1)),",
    tests: [C],
    ops: ["tanh"],
  },
  {
    id: "grad-gelugrad-constant-1pct",
    category: "gradient",
    file: "src/ops/elementwise.ts",
    from: "const s = square(x), c = 1 / Math.sqrt(2 * Math.PI);",
    to: "const s = square(x), c = 1.01 / Math.sqrt(2 * Math.PI);",
    tests: [C],
    ops: ["geluGrad"],
  },
  {
    id: "grad-leakyrelu-slope",
    category: "gradient",
    file: "src/ops/elementwise.ts",
    from: "grad: (x, _y, g, a) => mul(g, affine(step(x), 1 - a.alpha, a.alpha)),",
    to: "grad: (x, _y, g, a) => mul(g, affine(step(x), 1 - a.alpha, 1.01 * a.alpha)),",
    tests: [C],
    ops: ["leakyRelu"],
  },
  {
    id: "grad-mean-scale-1pct",
    category: "gradient",
    file: "src/ops/reduce.ts",
    from: "return [expand(scale(gk, numel(keep) / numel(x.shape)), x.shape)];",
    to: "return [expand(scale(gk, 1.01 * numel(keep) / numel(x.shape)), x.shape)];",
    tests: [C],
    ops: ["mean"],
  },
  {
    id: "grad-max-ties-not-split",
    category: "gradient",
    file: "src/ops/reduce.ts",
    from: "return [mul(expand(gk, x.shape), div(hit, expand(count, x.shape)))];",
    to: "return [mul(expand(gk, x.shape), hit)];",
    tests: [C],
    ops: ["max", "min"],
  },
  {
    id: "grad-matmul-transpose-flag",
    category: "gradient",
    file: "src/ops/matmul.ts",
    from:
      "const dA = attrs.transA ? matmul(B, g, attrs.transB, true) : matmul(g, B, false, !attrs.transB);",
    to:
      "const dA = attrs.transA ? matmul(B, g, !attrs.transB, true) : matmul(g, B, false, !attrs.transB);",
    tests: [C, "matmul_test.ts"],
    ops: ["matmul"],
  },
  {
    id: "grad-norm-backward-divisor",
    category: "gradient",
    file: "src/ops/norm_cpu.ts",
    from: "if (s1 && s2) v -= (s1[r] + (x[i] - st.mean[r]) * rstd * s2[r]) / p.nc;",
    to: "if (s1 && s2) v -= (s1[r] + (x[i] - st.mean[r]) * rstd * s2[r]) / (p.nc + 1);",
    tests: [C, "norm_test.ts"],
    ops: ["batchNorm", "normBackward", "layerNorm"],
  },
  {
    id: "grad-prelu-dx-slope",
    category: "gradient",
    file: "src/ops/prelu.ts",
    from: "const dx = x.requiresGrad ? mul(g, add(pos, mul(neg, sb))) : null;",
    to: "const dx = x.requiresGrad ? mul(g, add(pos, sb)) : null;",
    tests: [C],
    ops: ["prelu"],
  },
  {
    id: "grad-upsample-bwd-tap",
    category: "gradient",
    file: "src/ops/resize.ts",
    from: "dx[xb + ty.i0 * geo.w + tx.i1] += ty.l0 * tx.l1 * v;",
    to: "dx[xb + ty.i0 * geo.w + tx.i1] += ty.l0 * tx.l0 * v;",
    tests: [C, "resize_test.ts"],
    ops: ["upsample", "upsampleBackward"],
  },
  {
    id: "grad-gather-scatter-assign",
    category: "gradient",
    file: "src/ops/gather.ts",
    from: "for (let k = 0; k < inner; k++) y[dst + k] += g[src + k];",
    to: "for (let k = 0; k < inner; k++) y[dst + k] = g[src + k];",
    tests: [C],
    ops: ["gather", "gatherGrad"],
  },
  {
    id: "grad-crossentropy-smoothing",
    category: "gradient",
    file: "src/ops/softmax.ts",
    from: "const q = j === label ? off + 1 - eps : off;",
    to: "const q = j === label ? off + 1 - 1.01 * eps : off;",
    tests: [C, "softmax_test.ts"],
    ops: ["crossEntropy", "crossEntropyGrad"],
  },
  {
    id: "grad-relu-at-zero",
    category: "gradient",
    file: "src/ops/elementwise.ts",
    from: "grad: (x, _y, g) => mul(g, step(x)),",
    to: "grad: (x, _y, g) => mul(g, ge(x, fill(x.shape, 0, x.backend))),",
    tests: [C],
    ops: ["relu"],
  },
  // --- kernel index arithmetic -----------------------------------------------------------
  {
    id: "kernel-conv-in-row-pad-axis",
    category: "kernel",
    file: "kernels/lib/conv_index.wgsl",
    from: "return i32(oy * p.sh + ky * p.dh) - p.ph;",
    to: "return i32(oy * p.sh + ky * p.dh) - p.pw;",
    tests: [C],
    ops: ["conv2d", "conv2dBackwardInput", "convTranspose2dBackwardInput"],
  },
  {
    id: "kernel-conv-out-row-group",
    category: "kernel",
    file: "kernels/lib/conv_index.wgsl",
    from: "return (n * p.cout + g * p.o) * p.ho * p.wo + oy * p.wo;",
    to: "return (n * p.cout + g * p.r) * p.ho * p.wo + oy * p.wo;",
    tests: [C],
    ops: ["conv2d", "convTranspose2d", "conv2dBackwardInput"],
  },
  {
    id: "kernel-conv-wgrad-tile-group",
    category: "kernel",
    file: "kernels/lib/conv_index.wgsl",
    from: "return WgradTile(rest % rbs, rest1 % obs, rest2 % p.groups, rest2 / p.groups);",
    to: "return WgradTile(rest % rbs, rest1 % obs, rest1 % p.groups, rest2 / p.groups);",
    tests: [C],
    ops: ["conv2dBackwardWeight"],
  },
  {
    id: "kernel-conv-k3-pad-axis",
    category: "kernel",
    file: "kernels/conv/fwd_k3.wgsl",
    from: "let iy = i32(oy + ky) - p.ph;",
    to: "let iy = i32(oy + ky) - p.pw;",
    tests: [C],
    ops: ["conv2d", "convTranspose2dBackwardInput"],
  },
  {
    id: "kernel-conv-wgrad-k3-rows",
    category: "kernel",
    file: "kernels/conv/wgrad_k3.wgsl",
    from: "let kk = p.kh * 3u;",
    to: "let kk = p.kw * 3u;",
    tests: [C],
    ops: ["conv2dBackwardWeight"],
  },
  {
    id: "kernel-conv-wgrad-last-column",
    category: "kernel",
    file: "kernels/conv/wgrad.wgsl",
    from: "let hiX = select(0, min(i32(p.wo), b / swi + 1), b >= 0);",
    to: "let hiX = select(0, min(i32(p.wo), b / swi + 1), b > 0);",
    tests: [C],
    ops: ["conv2dBackwardWeight"],
  },
  {
    id: "kernel-maxpool-window-argmax-width",
    category: "kernel",
    file: "kernels/pool/max_pool_bwd_window.wgsl",
    from: "if (v > best) { best = v; at = a * p.kw + b; }",
    to: "if (v > best) { best = v; at = a * p.kh + b; }",
    tests: [C],
    ops: ["maxPool2d", "pool2dBackward"],
  },
  {
    id: "kernel-pool-argmax-dilation-axis",
    category: "kernel",
    file: "kernels/pool/pool_argmax.wgsl",
    from: "let hh = h0 + i32(a * p.dh);",
    to: "let hh = h0 + i32(a * p.dw);",
    tests: [C],
    ops: ["maxPool2d", "pool2dBackward"],
  },
  {
    id: "kernel-pool-bwd-divisor-stride-axis",
    category: "kernel",
    file: "kernels/pool/pool_bwd.wgsl",
    from: "let h0 = i32(oy * p.sh) - i32(p.ph);",
    to: "let h0 = i32(oy * p.sw) - i32(p.ph);",
    tests: [C],
    ops: ["avgPool2d", "pool2dBackward"],
  },
  {
    id: "kernel-norm-bwd-counter-wrap",
    category: "kernel",
    file: "kernels/norm/norm_bwd_sums.wgsl",
    from: "    if (b >= p.B) { b -= p.B; a += 1u; }",
    to: "    if (b > p.B) { b -= p.B; a += 1u; }",
    tests: [C],
    ops: ["batchNorm", "normBackward"],
  },
  {
    id: "kernel-matmul-shared-column-quad",
    category: "kernel",
    file: "kernels/matmul/matmul_shared.wgsl",
    from: "        Bs[kk * BN + lid.x + 32u],",
    to: "        Bs[kk * BN + lid.x + 16u],",
    tests: ["matmul_kernels_test.ts"],
  },
  {
    id: "kernel-pad-off-by-one",
    category: "kernel",
    file: "kernels/movement/pad.wgsl",
    from: "if (j != q * st || q < 0 || q >= p.len[k / 4u][k % 4u]) {",
    to: "if (j != q * st || q < 0 || q > p.len[k / 4u][k % 4u]) {",
    tests: [C],
    ops: ["pad", "sliceGrad"],
  },
  {
    id: "kernel-pool-bwd-pad-axis",
    category: "kernel",
    file: "kernels/pool/pool_bwd.wgsl",
    from: "let ty = i32(xh + p.ph) - i32(a * p.dh);",
    to: "let ty = i32(xh + p.pw) - i32(a * p.dh);",
    tests: [C],
    ops: ["pool2dBackward", "maxPool2d", "avgPool2d"],
  },
  {
    id: "kernel-pool-fwd-divisor",
    category: "kernel",
    file: "kernels/pool/pool_fwd.wgsl",
    from: "let we = min(w0 + i32(kw), i32(p.w + p.pw));",
    to: "let we = min(w0 + i32(kw), i32(p.w + p.ph));",
    tests: [C],
    ops: ["avgPool2d"],
  },
  {
    id: "kernel-gather-inner",
    category: "kernel",
    file: "kernels/movement/gather.wgsl",
    from: "let o = i / (p.inner * p.count);",
    to: "let o = i / (p.inner * p.dim);",
    tests: [C],
    ops: ["gather"],
  },
  {
    id: "kernel-upsample-bilinear-half-pixel",
    category: "kernel",
    file: "kernels/resize/upsample_fwd.wgsl",
    from: "if (p.align == 0u) { src = max(r * (f32(dst) + 0.5) - 0.5, 0.0); }",
    to: "if (p.align == 0u) { src = max(r * (f32(dst) + 0.5) - 0.25, 0.0); }",
    tests: [C],
    ops: ["upsample"],
  },
  {
    id: "kernel-norm-stats-divisor",
    category: "kernel",
    file: "kernels/norm/norm_stats.wgsl",
    from: "vars[q] = max((sq + (p.nc - f32(p.A * p.B * {{W}}u)) * m * m) / p.nc, 0.0);",
    to: "vars[q] = max((sq + (p.nc - f32(p.A * p.B * {{W}}u)) * m * m) / (p.nc - 1.0), 0.0);",
    tests: [C],
    ops: ["batchNorm", "layerNorm", "groupNorm", "instanceNorm", "layerNorm2d"],
  },
  {
    id: "kernel-strided-offset",
    category: "kernel",
    file: "kernels/movement/strided.wgsl",
    from: "var at = p.offset;",
    to: "var at = 0u * p.offset;",
    tests: [C],
    ops: ["slice", "concat", "split"],
  },
  // --- channel rules ---------------------------------------------------------------------
  {
    id: "channel-sigmoid-zero-invariant",
    category: "channel",
    file: "src/ops/elementwise.ts",
    from:
      "    cpu: sigm,\n    grad: (_x, y, g) => mul(g, mul(y, affine(y, -1, 1))),\n    zeroInvariant: false,",
    to:
      "    cpu: sigm,\n    grad: (_x, y, g) => mul(g, mul(y, affine(y, -1, 1))),\n    zeroInvariant: true,",
    tests: [C],
    ops: ["sigmoid"],
  },
  {
    id: "channel-add-as-product",
    category: "channel",
    file: "src/ops/elementwise.ts",
    from: 'const joint: ChannelRule = { kind: "joint", zeroWith: (c) => c === 0 };',
    to: 'const joint: ChannelRule = { kind: "joint", product: true, zeroWith: (c) => c === 0 };',
    tests: [C],
    ops: ["add", "sub"],
  },
  {
    id: "channel-batchnorm-zero-without-beta",
    category: "channel",
    file: "src/ops/norm.ts",
    from:
      'channels: { kind: "accessory", perChannelInputs: [1, 2, 3, 4], zeroWhen: [[1, 2], [2, 3]] },',
    to: 'channels: { kind: "accessory", perChannelInputs: [1, 2, 3, 4], zeroWhen: [[1, 2], [3]] },',
    tests: [C],
    ops: ["batchNorm"],
  },
  {
    id: "channel-groupnorm-block",
    category: "channel",
    file: "src/ops/norm.ts",
    from: "blockSize: (a, info) => info.ins[0].shape[1] / a.groups,",
    to: "blockSize: () => 1,",
    tests: [C],
    ops: ["groupNorm"],
  },
  {
    id: "channel-conv-groups-ignored",
    category: "channel",
    file: "src/ops/conv.ts",
    from: 'channels: { kind: "stem", outAxis: 0, inAxis: 1, groups: (a) => a.groups },',
    to: 'channels: { kind: "stem", outAxis: 0, inAxis: 1, groups: () => 1 },',
    tests: [C],
    ops: ["conv2d"],
  },
  {
    id: "channel-convT-axes",
    category: "channel",
    file: "src/ops/conv.ts",
    from: 'channels: { kind: "stem", outAxis: 1, inAxis: 0, groups: (a) => a.groups },',
    to: 'channels: { kind: "stem", outAxis: 0, inAxis: 1, groups: (a) => a.groups },',
    tests: [C],
    ops: ["convTranspose2d"],
  },
  {
    id: "channel-pixelunshuffle-direction",
    category: "channel",
    file: "src/ops/resize.ts",
    from: 'channels: { kind: "pixelShuffle", factor: (a) => a.factor, inverse: true },',
    to: 'channels: { kind: "pixelShuffle", factor: (a) => a.factor },',
    tests: [C],
    ops: ["pixelUnshuffle"],
  },
  {
    id: "channel-layernorm2d-no-normcount",
    category: "channel",
    file: "src/ops/norm.ts",
    from: "      get: (a) => a.normCount,",
    to: "      get: (_a, info) => info.ins[0].shape[1],",
    tests: [C],
    ops: ["layerNorm2d"],
  },
  {
    id: "channel-pad-nonzero-value",
    category: "channel",
    file: "src/ops/pad.ts",
    from: "      return a.value !== 0",
    to: "      return a.value === 12345",
    tests: [C],
    ops: ["pad"],
  },
  // --- DHSPG defaults --------------------------------------------------------------------
  {
    id: "dhspg-sgd-lambda",
    category: "dhspg",
    file: "src/optim/dhspg.ts",
    from: "    lambda: 1e-3,",
    to: "    lambda: 1e-4,",
    tests: ["dhspg_test.ts"],
  },
  {
    id: "dhspg-adam-amplify",
    category: "dhspg",
    file: "src/optim/dhspg.ts",
    from: "    lambda: 1e-2,\n    lambdaAmplify: 20,\n    hatLambdaCoeff: 1e3,\n  },\n  adamw",
    to: "    lambda: 1e-2,\n    lambdaAmplify: 2,\n    hatLambdaCoeff: 1e3,\n  },\n  adamw",
    tests: ["dhspg_test.ts"],
  },
  {
    id: "dhspg-adamw-weight-decay",
    category: "dhspg",
    file: "src/optim/dhspg.ts",
    from: "    weightDecay: 1e-2,",
    to: "    weightDecay: 1e-3,",
    tests: ["dhspg_test.ts"],
  },
  {
    id: "dhspg-tolerance",
    category: "dhspg",
    file: "src/optim/dhspg.ts",
    from: "this.tolerance = opts.tolerance ?? 0.05;",
    to: "this.tolerance = opts.tolerance ?? 0.5;",
    tests: ["dhspg_test.ts"],
  },
  {
    id: "dhspg-epsilon",
    category: "dhspg",
    file: "src/optim/dhspg.ts",
    from: "this.epsilon = opts.epsilon ?? 0;",
    to: "this.epsilon = opts.epsilon ?? 0.1;",
    tests: ["dhspg_test.ts"],
  },
  // --- compression indices ---------------------------------------------------------------
  {
    id: "compress-slice-offset",
    category: "compress",
    file: "src/zig/types.ts",
    from: "const start = s.offset + j * (s.stride ?? s.block);",
    to: "const start = j * (s.stride ?? s.block);",
    tests: [
      "compress_test.ts",
      "compress_offsets_test.ts",
      "oto_test.ts",
      "zig_test.ts",
      "zig_cases_test.ts",
    ],
  },
  {
    id: "compress-slice-stride",
    category: "compress",
    file: "src/zig/types.ts",
    from: "const start = s.offset + j * (s.stride ?? s.block);",
    to: "const start = s.offset + j * s.block;",
    tests: [
      "compress_test.ts",
      "compress_offsets_test.ts",
      "oto_test.ts",
      "zig_test.ts",
      "zig_cases_test.ts",
    ],
  },
  {
    id: "compress-removed-offset",
    category: "compress",
    file: "src/compress/compress.ts",
    from: "if (!keepSet.has(j)) { for (const i of sliceIndices(s, j)) set.add(i); }",
    to: "if (!keepSet.has(j)) { for (const i of sliceIndices(s, j)) set.add(i - s.offset); }",
    tests: ["compress_test.ts", "compress_offsets_test.ts", "oto_test.ts", "zig_test.ts"],
  },
  {
    id: "compress-gather-axes-index",
    category: "compress",
    file: "src/compress/compress.ts",
    from: "for (let d = 0; d < r; d++) at += idx[d][coord[d]] * strides[d];",
    to: "for (let d = 0; d < r; d++) at += coord[d] * strides[d];",
    tests: [
      "compress_test.ts",
      "compress_offsets_test.ts",
      "oto_test.ts",
      "zig_test.ts",
      "zig_cases_test.ts",
    ],
  },
  {
    id: "compress-zero-detect-axis",
    category: "compress",
    file: "src/compress/compress.ts",
    from: "const g = owner[Math.floor(i / inner) % dim];",
    to: "const g = owner[i % dim];",
    tests: [
      "compress_test.ts",
      "compress_offsets_test.ts",
      "oto_test.ts",
      "zig_test.ts",
      "zig_cases_test.ts",
    ],
  },
  {
    id: "compress-zero-detect-offset",
    category: "compress",
    file: "src/compress/compress.ts",
    from: "for (let j = 0; j < size; j++) for (const i of sliceIndices(s, j)) owner[i] = j;",
    to:
      "for (let j = 0; j < size; j++) for (const i of sliceIndices(s, j)) owner[i - s.offset] = j;",
    tests: ["compress_test.ts", "compress_offsets_test.ts", "oto_test.ts", "zig_test.ts"],
  },
  {
    id: "compress-zero-test-ignores-required-buffers",
    category: "compress",
    file: "src/compress/compress.ts",
    from: "    for (const m of z.members) {\n      if (!zeroTested(m)) continue;",
    to: "    for (const m of z.members) {\n      if (!m.trainable) continue;",
    tests: [
      "compress_test.ts",
      "compress_offsets_test.ts",
      "oto_test.ts",
      "zig_test.ts",
      "zig_cases_test.ts",
    ],
  },
  {
    id: "compress-zero-many-axis",
    category: "compress",
    file: "src/compress/compress.ts",
    from: "for (let i = 0; i < v.length; i++) if (hit[Math.floor(i / inner) % dim]) v[i] = 0;",
    to: "for (let i = 0; i < v.length; i++) if (hit[i % dim]) v[i] = 0;",
    tests: [
      "compress_test.ts",
      "compress_offsets_test.ts",
      "oto_test.ts",
      "zig_test.ts",
      "zig_cases_test.ts",
    ],
  },
  {
    id: "compress-zero-hit-offset",
    category: "compress",
    file: "src/compress/compress.ts",
    from: "for (const j of groups) for (const i of sliceIndices(m, j)) hit[i] = 1;",
    to: "for (const j of groups) for (const i of sliceIndices(m, j)) hit[i - m.offset] = 1;",
    tests: ["compress_test.ts", "compress_offsets_test.ts", "oto_test.ts", "zig_test.ts"],
  },
  {
    id: "compress-gather-strides",
    category: "compress",
    file: "src/compress/compress.ts",
    from: "for (let i = r - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];",
    to: "for (let i = r - 2; i >= 0; i--) strides[i] = strides[i + 1] * newShape[i + 1];",
    tests: [
      "compress_test.ts",
      "compress_offsets_test.ts",
      "oto_test.ts",
      "zig_test.ts",
      "zig_cases_test.ts",
    ],
  },
  // --- ZIG partition and compaction (issue 14) ---------------------------------------------
  {
    id: "zig-gate-joins-zero-class",
    category: "channel",
    file: "src/zig/partition.ts",
    from: "        else this.ch.couple(lead, x.ids[p]);",
    to: "        else this.ch.union(lead, x.ids[p]);",
    tests: ["zig_cases_test.ts"],
  },
  {
    id: "zig-bn-running-mean-not-required",
    category: "channel",
    file: "src/zig/partition.ts",
    from: "      const required = !x.view.trainable && !!way?.includes(i);",
    to: "      const required = false && !!way?.includes(i);",
    tests: ["zig_cases_test.ts"],
  },
  {
    id: "zig-grid-by-raw-ids",
    category: "channel",
    file: "src/zig/layout.ts",
    from: "  const groups = depends(root);",
    to: "  const groups = depends((c) => c);",
    tests: ["zig_cases_test.ts"],
  },
  {
    id: "compact-channel-slice-start",
    category: "compress",
    file: "src/compress/compact.ts",
    from: "      starts[a] = count(before);",
    to: "      starts[a] = count(before) + 0 * starts[a] + (before.length > 0 ? 1 : 0);",
    tests: ["zig_cases_test.ts"],
  },
  {
    id: "dhspg-required-buffer-kept",
    category: "dhspg",
    file: "src/optim/dhspg_cpu.ts",
    from:
      "        if (g !== NONE && (this.gstate[g * 4 + 1] > 0.5 || this.gstate[g * 4 + 3] > 0.5)) v[i] = 0;",
    to: "        if (g !== NONE && this.gstate[g * 4 + 1] > 0.5 && v[i] === 0) v[i] = 0;",
    tests: ["zig_cases_test.ts"],
  },
  // --- ONNX attributes -------------------------------------------------------------------
  {
    id: "onnx-conv-pads-order",
    category: "onnx",
    file: "src/ops/conv.ts",
    from: "pads: [a.padding[0], a.padding[1], a.padding[0], a.padding[1]],",
    to: "pads: [a.padding[0], a.padding[1], a.padding[1], a.padding[0]],",
    tests: [C],
    ops: ["conv2d", "convTranspose2d"],
  },
  {
    id: "onnx-maxpool-dilations",
    category: "onnx",
    file: "src/ops/pool.ts",
    from: "attrs.dilations = [...a.dilation];",
    to: "attrs.dilations = [1, 1];",
    tests: [C],
    ops: ["maxPool2d"],
  },
  {
    id: "onnx-avgpool-count-include-pad",
    category: "onnx",
    file: "src/ops/pool.ts",
    from: "attrs.count_include_pad = a.countIncludePad ? 1 : 0;",
    to: "attrs.count_include_pad = a.countIncludePad ? 1 : 1;",
    tests: [C],
    ops: ["avgPool2d"],
  },
  {
    id: "onnx-layernorm-axis",
    category: "onnx",
    file: "src/ops/norm.ts",
    from: "        axis: -a.normalizedShape.length,",
    to: "        axis: -1,",
    tests: [C],
    ops: ["layerNorm"],
  },
  {
    id: "onnx-batchnorm-epsilon",
    category: "onnx",
    file: "src/ops/norm.ts",
    from: "      epsilon: { float: io.attrs.eps },\n      momentum:",
    to: "      epsilon: { float: 1e-3 },\n      momentum:",
    tests: [C],
    ops: ["batchNorm"],
  },
  {
    id: "onnx-batchnorm-momentum",
    category: "onnx",
    file: "src/ops/norm.ts",
    from: "momentum: { float: 1 - io.attrs.momentum },",
    to: "momentum: { float: io.attrs.momentum },",
    tests: [C, "onnx_batchnorm_training_test.ts"],
    ops: ["batchNorm"],
  },
  {
    id: "onnx-leakyrelu-alpha",
    category: "onnx",
    file: "src/ops/elementwise.ts",
    from: 'e.node("LeakyRelu", io.inputs, io.outputs, { alpha: { float: io.attrs.alpha } }),',
    to: 'e.node("LeakyRelu", io.inputs, io.outputs, { alpha: { float: 0.01 } }),',
    tests: [C],
    ops: ["leakyRelu"],
  },
  {
    id: "onnx-reduce-keepdims",
    category: "onnx",
    file: "src/ops/reduce.ts",
    from: "const keepdims = io.attrs.keepDims ? 1 : 0;",
    to: "const keepdims = io.attrs.keepDims ? 1 : 1;",
    tests: [C],
    ops: ["sum", "mean", "max"],
  },
  {
    id: "onnx-upsample-nearest-mode",
    category: "onnx",
    file: "src/ops/resize.ts",
    from:
      '? { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" }',
    to:
      '? { mode: "nearest", coordinate_transformation_mode: "half_pixel", nearest_mode: "floor" }',
    tests: [C],
    ops: ["upsample"],
  },
  {
    id: "onnx-pixelunshuffle-perm",
    category: "onnx",
    file: "src/ops/resize.ts",
    from: 'e.node("Transpose", [a], [t], { perm: [0, 1, 3, 5, 2, 4] });',
    to: 'e.node("Transpose", [a], [t], { perm: [0, 1, 5, 3, 2, 4] });',
    tests: [C],
    ops: ["pixelUnshuffle"],
  },
  {
    id: "onnx-groupnorm-reshape",
    category: "onnx",
    file: "src/ops/norm.ts",
    from: 'e.node("Reshape", [io.inputs[0], e.constant([0, G, -1], [3], "i64")], [r]);',
    to: 'e.node("Reshape", [io.inputs[0], e.constant([0, -1, G], [3], "i64")], [r]);',
    tests: [C],
    ops: ["groupNorm"],
  },
  {
    id: "onnx-crossentropy-smoothing-sign",
    category: "onnx",
    file: "src/ops/softmax.ts",
    from: 'e.node("Mul", [reduced, e.constant([-eps], [])], [smooth]);',
    to: 'e.node("Mul", [reduced, e.constant([eps], [])], [smooth]);',
    tests: [C],
    ops: ["crossEntropy"],
  },
];

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const originals = new Map<string, string>();

/** Put back every file a mutation changed. */
export function restoreAll(): void {
  for (const [path, text] of originals) Deno.writeTextFileSync(path, text);
  originals.clear();
}

/** Apply `m` to its file (restored by {@link restoreAll}). */
export function applyMutation(m: Mutation): void {
  const path = join(root, m.file);
  const text = Deno.readTextFileSync(path);
  const at = text.indexOf(m.from);
  if (at < 0 || text.indexOf(m.from, at + 1) >= 0) {
    throw new Error(`${m.id}: the text to mutate must occur exactly once in ${m.file}`);
  }
  const lines = (s: string) => s.split("\n").length;
  const changed = m.from.split("\n").filter((l, i) => l !== m.to.split("\n")[i]).length;
  if (lines(m.from) !== lines(m.to) || changed !== 1) {
    throw new Error(`${m.id}: a mutation changes exactly one line`);
  }
  originals.set(path, text);
  Deno.writeTextFileSync(path, text.slice(0, at) + m.to + text.slice(at + m.from.length));
}

/** Run test files (under tests/); `ops` narrows the conformance harness to those ops. */
export async function runTests(
  files: string[],
  ops?: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ failed: boolean; why: string }> {
  const env: Record<string, string> = { NO_COLOR: "1", ...extraEnv };
  if (ops && files.includes(C)) env.OTO_CONFORM_OPS = ops.join(",");
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check", "--parallel", ...files.map((f) => join("tests", f))],
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  // The first failure: the line after "N problem(s):" (conformance) or the first error line.
  const lines = text.split("\n");
  const at = lines.findIndex((l) => /problem\(s\):$/.test(l));
  const why = at >= 0
    ? lines[at + 1]
    : lines.find((l) =>
      /AssertionError|^error:|element \d+ is/.test(l) && !/^error: Test failed/.test(l)
    ) ?? "";
  return { failed: out.code !== 0, why: why.trim().slice(0, 160) };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      only: { type: "string" },
      category: { type: "string" },
      list: { type: "boolean" },
      full: { type: "boolean" },
    },
  });
  const only = values.only?.split(",");
  const chosen = MUTATIONS.filter((m) =>
    (!only || only.includes(m.id)) && (!values.category || m.category === values.category)
  );
  if (values.list) {
    for (const m of chosen) console.log(`${m.category.padEnd(9)} ${m.id}  (${m.file})`);
    Deno.exit(0);
  }
  const stop = () => (restoreAll(), Deno.exit(130));
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const results: { m: Mutation; caught: boolean; why: string }[] = [];
  try {
    for (const m of chosen) {
      applyMutation(m);
      let r = await runTests(m.tests, m.ops);
      if (!r.failed && values.full) r = await runTests(["."]);
      restoreAll();
      results.push({ m, caught: r.failed, why: r.why });
      console.log(`${r.failed ? "caught " : "MISSED "} ${m.category.padEnd(9)} ${m.id}  ${r.why}`);
    }
  } finally {
    restoreAll();
  }
  const cats = [...new Set(results.map((r) => r.m.category))];
  console.log("\ncategory   caught / run");
  for (const c of cats) {
    const rs = results.filter((r) => r.m.category === c);
    console.log(`${c.padEnd(10)} ${rs.filter((r) => r.caught).length} / ${rs.length}`);
  }
  const caught = results.filter((r) => r.caught).length;
  console.log(`total      ${caught} / ${results.length}`);
}
