/**
 * oto: Only-Train-Once structured pruning on a WebGPU tensor engine.
 *
 * @example
 * ```ts
 * import { init, matmul, randn } from "./mod.ts";
 * await init();
 * const c = matmul(randn([64, 32], { seed: 1 }), randn([32, 16], { seed: 2 }));
 * console.log(c.shape, (await c.data()).length);
 * ```
 * @module
 */
export { init, type InitOptions, type InitResult } from "./src/init.ts";
export {
  type BackendName,
  type DType,
  fromHost,
  getDefaultBackend,
  type HostArray,
  numel,
  setDefaultBackend,
  type Storage,
  Tensor,
  type TensorInfo,
  tidy,
} from "./src/tensor.ts";
export { manualSeed, Rng, type RngState } from "./src/random.ts";
export { backward, zeroGrad } from "./src/autograd.ts";
export { allOps, getOp, type GradNode, noGrad, type OpSpec } from "./src/ops/registry.ts";
export type {
  AliasOp,
  BackendFacets,
  CostFn,
  GradFn,
  GradNode as GradNodeOf,
  KernelOp,
  NoFacet,
  OnnxAttr,
  OnnxEmitter,
  OnnxRule,
  OpFacets,
  OpInfo,
  OpSample,
  OpSpec as OpSpecOf,
  SampleInput as OpSampleInput,
  TieBreak,
  TieRule,
} from "./src/ops/spec.ts";
export type { OnnxDim } from "./src/onnx/writer.ts";
export { gpuMemory, sync } from "./src/backend/webgpu.ts";
export { wasmMemory } from "./src/backend/wasm/runtime.ts";
export type { HeapStats } from "./src/backend/wasm/heap.ts";
export { GpuError } from "./src/backend/device.ts";
export * from "./src/ops/index.ts";
export * from "./src/optim/optimizer.ts";
export type { OptimizerState } from "./src/optim/state.ts";
export * from "./src/optim/sgd.ts";
export * from "./src/optim/adam.ts";
export * from "./src/optim/schedules.ts";
export * from "./src/data/loader.ts";
export * from "./src/io/weights.ts";
export { DHSPG, type DHSPGOptions, type DHSPGStats, type DHSPGVariant } from "./src/optim/dhspg.ts";
export type { ZigLayout } from "./src/optim/dhspg_layout.ts";
export * from "./src/nn/index.ts";
export {
  Graph,
  type GraphData,
  type GraphNode,
  type GraphParam,
  type GraphTensor,
  type NodeParam,
  type OutputKind,
  type TensorKind,
} from "./src/graph/graph.ts";
export {
  metaTensor,
  type SampleInput,
  type SampleInputs,
  trace,
  type TraceOptions,
  traceWithOutput,
} from "./src/graph/trace.ts";
export { executeGraph, executeGraphAll, type ExecuteOptions } from "./src/graph/execute.ts";
export { renderSvg, toDot } from "./src/zig/dot.ts";
export { type Analysis, analyze, partition, type PartitionOptions } from "./src/zig/partition.ts";
export {
  formatPartition,
  groupWidth,
  partitionCounts,
  partitionJson,
  type ReportTotals,
} from "./src/zig/report.ts";
export type { ChannelRule } from "./src/zig/rules.ts";
export type { Blocker, ParamSlice, Partition, Zig } from "./src/zig/types.ts";
export type { TensorChannels } from "./src/zig/assemble.ts";
export {
  compress,
  type CompressOptions,
  type CompressReport,
  type CompressResult,
  formatCompression,
  zeroGroupsInPlace,
  zeroRandomGroups,
  type ZigKept,
} from "./src/compress/compress.ts";
export { type GraphCost, graphCost, type NodeCost } from "./src/compress/flops.ts";
export { GraphModule } from "./src/compress/graph_module.ts";
export { reinitialized } from "./src/compress/scratch.ts";
export { OTO, type OtoCompressed, type OtoOptions, type ZigSummary } from "./src/oto.ts";
export {
  exportOnnx,
  graphToOnnx,
  onnxBytes,
  type OnnxDeclaredShapes,
  type OnnxExportInfo,
  type OnnxExportOptions,
} from "./src/onnx/export.ts";
export { importOnnx, type ImportOnnxOptions, OnnxModule } from "./src/onnx/import.ts";
export { channelStats, DataError, type ImageDataset } from "./src/data/dataset.ts";
export { type DecodedImage, decodeImage, type FloatImage, toFloatImage } from "./src/data/image.ts";
export {
  resizeBytes,
  resizeCenterCrop,
  type ResizeKernel,
  type ResizeOptions,
  resizePlanes,
  type ResizeStyle,
} from "./src/data/resample.ts";
export {
  type BadImage,
  type ImageFolderData,
  type ImageFolderOptions,
  loadImageCsv,
  loadImageFolder,
} from "./src/data/folder.ts";
export {
  isDiv2k,
  loadDiv2k,
  loadSrFolder,
  loadSrSample,
  type SrData,
  type SrDataset,
  type SrImage,
  type SrLoadOptions,
} from "./src/data/sr.ts";
export { type SrHostBatch, SrPatchLoader, type SrPatchOptions } from "./src/data/sr_loader.ts";
export {
  makeShapesSegmentation,
  type SegmentationDataset,
  SegmentationLoader,
  type SegmentationLoaderOptions,
  type ShapesOptions,
} from "./src/data/segmentation.ts";
export {
  type IdxArray,
  type IdxDatasetOptions,
  loadFashionMnist,
  loadIdxDataset,
  loadSample,
  type PathLike,
  readIdx,
  type ReadIdxOptions,
  type Split,
} from "./src/data/idx.ts";
export {
  type Cifar100Options,
  type CifarOptions,
  loadCifar10,
  loadCifar100,
} from "./src/data/cifar.ts";
export { makeSynthetic, type SyntheticOptions } from "./src/data/synthetic.ts";
export { loadSafetensors, type SafetensorsFile, saveSafetensors } from "./src/io/safetensors.ts";
export type { NamedArray, NamedArrayDtype, SafetensorsDtype } from "./src/io/named_array.ts";
export { type ModelOptions, zoo, type ZooEntry, type ZooTask } from "./src/zoo/index.ts";
