/**
 * Conformance samples of the normalisations: each variant on NCHW and other ranks, planes whose
 * length is and is not a multiple of 4 (the vec4 paths), many small groups (the thread-per-group
 * path), and the backward op with batch and fixed statistics.
 */
import type { OpSample, SampleInput } from "./spec.ts";
import type { Core, NormBackwardAttrs } from "./norm_plan.ts";
import { fixed, rand } from "./samples.ts";

type Eps = { eps: number };

/** x, gamma, beta for normalising x of `shape` with affine parameters of `param` shape. */
const xgb = (shape: number[], param: number[]): SampleInput[] => [
  rand(shape, -2, 2),
  rand(param, 0.5, 1.5),
  rand(param),
];

export const batchNormSamples: OpSample<{ training: boolean; momentum: number; eps: number }>[] = [
  ["training, NCHW, plane a multiple of 4", [3, 2, 2, 4], true],
  ["training, [N, C], odd sizes", [5, 3], true],
  ["training, 8 planes of 15 (threads' counters wrap mid-plane)", [8, 2, 3, 5], true],
  ["eval, NCHW, odd plane", [2, 3, 3, 3], false],
].map(([name, shape, training]) => {
  const x = shape as number[], c = [x[1]];
  const attrs = { training: training as boolean, momentum: 0.1, eps: 1e-5 };
  return {
    name: name as string,
    ins: [...xgb(x, c), fixed(rand(c, -0.5, 0.5)), fixed(rand(c, 0.5, 2))],
    attrs,
    // The exported graph is the inference graph: it normalises with the running statistics.
    onnx: { attrs: { ...attrs, training: false } },
  };
});

export const instanceNormSamples: OpSample<Eps>[] = [
  { name: "NCHW, plane a multiple of 4", ins: xgb([2, 3, 4, 5], [3]), attrs: { eps: 1e-5 } },
  { name: "rank 3, odd length", ins: xgb([2, 2, 7], [2]), attrs: { eps: 1e-3 } },
];

export const groupNormSamples: OpSample<{ groups: number; eps: number }>[] = [
  {
    name: "3 groups of 2 channels, NCHW",
    ins: xgb([2, 6, 3, 3], [6]),
    attrs: { groups: 3, eps: 1e-5 },
  },
  {
    name: "2 groups, rank 3, length a multiple of 4",
    ins: xgb([2, 4, 8], [4]),
    attrs: { groups: 2, eps: 1e-5 },
  },
  { name: "one group", ins: xgb([1, 3, 2, 3], [3]), attrs: { groups: 1, eps: 1e-5 } },
];

export const layerNormSamples: OpSample<{ normalizedShape: number[]; eps: number }>[] = [
  { name: "last axis", ins: xgb([3, 4, 5], [5]), attrs: { normalizedShape: [5], eps: 1e-5 } },
  {
    name: "two trailing axes",
    ins: xgb([2, 3, 4], [3, 4]),
    attrs: { normalizedShape: [3, 4], eps: 1e-5 },
  },
  {
    name: "many short rows (a thread per row)",
    ins: xgb([600, 6], [6]),
    attrs: { normalizedShape: [6], eps: 1e-5 },
  },
];

export const layerNorm2dSamples: OpSample<{ eps: number; normCount: number }>[] = [
  { name: "NCHW, normCount = C", ins: xgb([2, 5, 3, 3], [5]), attrs: { eps: 1e-6, normCount: 5 } },
  {
    name: "pruned: normCount > C",
    ins: xgb([2, 3, 2, 4], [3]),
    attrs: { eps: 1e-6, normCount: 7 },
  },
];

const back = (name: string, core: Core, x: number[], param: number[], params: boolean) => ({
  name,
  ins: [fixed(rand(x, -2, 2)), rand(x), fixed(rand(param, 0.5, 1.5))],
  attrs: { core, eps: 1e-5, center: true, params } satisfies NormBackwardAttrs,
});

export const normBackwardSamples: OpSample<NormBackwardAttrs>[] = [
  back("batch, NCHW, with dgamma and dbeta", { kind: "batch" }, [3, 2, 2, 4], [2], true),
  back(
    "batch, 8 planes of 9 (threads' counters wrap mid-plane)",
    { kind: "batch" },
    [8, 2, 3, 3],
    [2],
    true,
  ),
  back("instance, dx only", { kind: "instance" }, [2, 3, 5], [3], false),
  back("group", { kind: "group", groups: 2 }, [2, 4, 3, 3], [4], true),
  back("layer over two axes", { kind: "layer", normDims: 2 }, [2, 3, 4], [3, 4], true),
  back("layer2d with normCount > C", { kind: "layer2d", normCount: 5 }, [2, 3, 2, 2], [3], true),
  {
    name: "batch with fixed statistics (eval)",
    ins: [
      fixed(rand([2, 3, 3, 3], -2, 2)),
      rand([2, 3, 3, 3]),
      fixed(rand([3], 0.5, 1.5)),
      fixed(rand([3], -0.5, 0.5)),
      fixed(rand([3], 0.5, 2)),
    ],
    attrs: { core: { kind: "batch" }, eps: 1e-5, center: false, params: true },
  },
];
