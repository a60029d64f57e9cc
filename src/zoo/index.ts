/**
 * The model zoo: every model by name, with its builder, its input shape and a description.
 * Builders seed the global generator (`seed`, default 0) before drawing weights, so a model
 * built twice with the same options has identical weights. Widths and classes are options so
 * tests can build scaled-down versions.
 *
 * @example
 * ```ts
 * const { build, inputShape } = zoo["resnet18"];
 * const model = build({ seed: 1 });
 * ```
 */
import type { AnyModule } from "../nn/module.ts";
import type { ModelOptions } from "./common.ts";
import { vgg16, vgg16bn } from "./vgg.ts";
import { resnet18, resnet50 } from "./resnet.ts";
import { densenet121 } from "./densenet.ts";
import { convnextTiny } from "./convnext.ts";
import { mobilenetV2 } from "./mobilenet.ts";
import { carn, carnSmall } from "./carn.ts";
import { stackedUnets } from "./unet.ts";
import { resnetSmall, smallCnn, vggSmall } from "./small.ts";
import {
  caseConcatBn,
  caseConvTranspose,
  caseFlattenLinear,
  caseGroupedConv,
  caseInstanceNorm,
  caseWeightSharing,
} from "./cases.ts";
import {
  caseBnNoAffine,
  caseCbam,
  caseChannelsLast,
  caseChannelSplit,
  caseCrop,
  caseMobile,
  caseMultiInputOutput,
  caseReductions,
  caseShuffle,
  caseSqueezeExcite,
  caseTwoScaleDetector,
  caseVit,
} from "./cases_zig.ts";

export * from "./common.ts";
export * from "./vgg.ts";
export * from "./resnet.ts";
export * from "./densenet.ts";
export * from "./convnext.ts";
export * from "./mobilenet.ts";
export * from "./carn.ts";
export * from "./unet.ts";
export * from "./small.ts";
export * from "./cases.ts";
export * from "./cases_zig.ts";

/**
 * What a model's output is: class logits, an upscaled image, per-pixel class logits, or several
 * detection outputs (the multi-output cases; the train CLI does not train these).
 */
export type ZooTask = "classification" | "super-resolution" | "segmentation" | "detection";

/** One zoo model. */
export interface ZooEntry {
  /** Build the model (seeded; see {@link ModelOptions}). */
  build: (opts?: ModelOptions) => AnyModule;
  /** The input shape the model is published for, batch 1 (the first input's). */
  inputShape: number[];
  /** Every input's shape, for models with several inputs (default: [inputShape]). */
  inputShapes?: number[][];
  /** What it is and where it comes from. */
  description: string;
  /** The task its output is for. */
  task: ZooTask;
}

/** Every zoo model by name. */
export const zoo: Record<string, ZooEntry> = {
  "vgg16": {
    build: vgg16,
    inputShape: [1, 3, 32, 32],
    description: "CIFAR-10 VGG16: 13 3x3 convs with bias + ReLU, 5 max-pools, " +
      "classifier 512-512-512-10; 15,245,130 parameters",
    task: "classification",
  },
  "vgg16-bn": {
    build: vgg16bn,
    inputShape: [1, 3, 32, 32],
    description: "CIFAR-10 VGG16 with BatchNorm after every conv; 15,253,578 parameters",
    task: "classification",
  },
  "resnet18": {
    build: resnet18,
    inputShape: [1, 3, 32, 32],
    description: "CIFAR-10 ResNet18 (3x3 stem, no max-pool, BasicBlocks [2,2,2,2]); " +
      "11,173,962 parameters",
    task: "classification",
  },
  "resnet50": {
    build: resnet50,
    inputShape: [1, 3, 224, 224],
    description: "torchvision ImageNet ResNet50 (7x7/2 stem, max-pool, Bottlenecks [3,4,6,3], " +
      "stride on the 3x3); 25,557,032 parameters",
    task: "classification",
  },
  "densenet121": {
    build: densenet121,
    inputShape: [1, 3, 32, 32],
    description: "CIFAR-100 DenseNet121 (kuangliu): growth 32, blocks [6,12,24,16], " +
      "bottleneck 4, compression 0.5, 3x3 stem; 7,048,548 parameters",
    task: "classification",
  },
  "convnext-tiny": {
    build: convnextTiny,
    inputShape: [1, 3, 224, 224],
    description: "ConvNeXt-T (depths [3,3,9,3], dims [96,192,384,768]) without layer scale, " +
      "1x1 convs for the pointwise layers; 28,582,504 parameters",
    task: "classification",
  },
  "mobilenet-v2": {
    build: mobilenetV2,
    inputShape: [1, 3, 224, 224],
    description: "torchvision MobileNetV2 (width 1.0: inverted residuals with ReLU6, " +
      "depthwise convs, last conv 1280); 3,504,872 parameters",
    task: "classification",
  },
  "carn": {
    build: carn,
    inputShape: [1, 3, 32, 32],
    description: "CARN super-resolution (Ahn et al. 2018), x2 (scale 3 and 4 by option): 3 " +
      "cascading blocks of 3 residual blocks with 1x1 fusion convs; 964,163 parameters at x2; " +
      "output [1,3,64,64]",
    task: "super-resolution",
  },
  "carn-small": {
    build: carnSmall,
    inputShape: [1, 3, 32, 32],
    description: "CARN at width 16 with a global residual (bilinearly upscaled input added to " +
      "the output); x2 (scale 3 and 4 by option): 61,331 parameters, sized to train in minutes " +
      "on a CPU",
    task: "super-resolution",
  },
  "stacked-unets": {
    build: stackedUnets,
    inputShape: [1, 3, 64, 64],
    description: "Two 3-level U-Nets in sequence (base width 16: 16/32/64 channels, " +
      "ConvTranspose2d upsampling, skip concats), 3 -> 3 -> 2 channels",
    task: "segmentation",
  },
  "small-cnn": {
    build: smallCnn,
    inputShape: [1, 1, 28, 28],
    description: "Fashion-MNIST: 2x (3x3 conv, BN, ReLU, max-pool) 1->16->32, " +
      "Linear 32*7*7->10; 1,031,744 MACs",
    task: "classification",
  },
  "vgg-small": {
    build: vggSmall,
    inputShape: [1, 1, 28, 28],
    description: "Fashion-MNIST VGG-style: convs [16,16,M,32,32,M] with BN, " +
      "Linear 1568->64->10; 4,729,728 MACs",
    task: "classification",
  },
  "resnet-small": {
    build: resnetSmall,
    inputShape: [1, 1, 28, 28],
    description: "Fashion-MNIST ResNet-style: stem + pool, BasicBlocks 16, 32/2, 64/2 " +
      "with projection shortcuts; 2,636,672 MACs",
    task: "classification",
  },
  "case-concat-bn": {
    build: caseConcatBn,
    inputShape: [1, 3, 8, 8],
    description: "OTOv2 DemoNet concat case: summed BatchNorms, concat into BatchNorm",
    task: "classification",
  },
  "case-weight-sharing": {
    build: caseWeightSharing,
    inputShape: [1, 3, 8, 8],
    description: "one conv applied twice",
    task: "classification",
  },
  "case-grouped-conv": {
    build: caseGroupedConv,
    inputShape: [1, 3, 8, 8],
    description: "groups=2 conv, then a depthwise + pointwise pair",
    task: "classification",
  },
  "case-conv-transpose": {
    build: caseConvTranspose,
    inputShape: [1, 3, 8, 8],
    description: "strided conv then ConvTranspose2d (output padding) and 2x2/2 ConvTranspose2d",
    task: "classification",
  },
  "case-instance-norm": {
    build: caseInstanceNorm,
    inputShape: [1, 3, 8, 8],
    description: "conv-InstanceNorm-LeakyReLU, conv-InstanceNorm-PReLU, conv",
    task: "classification",
  },
  "case-flatten-linear": {
    build: caseFlattenLinear,
    inputShape: [1, 3, 8, 8],
    description: "strided conv to [8,4,4], Flatten, Linear 128->16->10",
    task: "classification",
  },
  "case-bn-no-affine": {
    build: caseBnNoAffine,
    inputShape: [1, 3, 8, 8],
    task: "classification",
    description: "conv-BatchNorm(affine false)-ReLU twice: eval mode keeps -mean/sd",
  },
  "case-crop": {
    build: caseCrop,
    inputShape: [1, 3, 8, 8],
    task: "classification",
    description: "input border crop, U-Net style cropped skip concat, 1x1 conv, mean over H, W",
  },
  "case-channel-split": {
    build: caseChannelSplit,
    inputShape: [1, 3, 8, 8],
    task: "classification",
    description: "YOLOv8 C2f: split into halves, residual bottleneck on one, concat of three",
  },
  "case-mobile": {
    build: caseMobile,
    inputShape: [1, 3, 8, 8],
    task: "classification",
    description: "min(relu, 6) stem, MobileNetV2 inverted residual (ReLU6), MobileNetV3 block " +
      "(hard swish, SE with hard sigmoid), SiLU and Mish",
  },
  "case-reductions": {
    build: caseReductions,
    inputShape: [1, 3, 8, 8],
    task: "classification",
    description: "global pooling as mean/max over H and W and as a global max pool",
  },
  "case-squeeze-excite": {
    build: caseSqueezeExcite,
    inputShape: [1, 3, 8, 8],
    task: "classification",
    description: "SE-ResNet basic block: Linear squeeze-excitation gate on the residual branch",
  },
  "case-cbam": {
    build: caseCbam,
    inputShape: [1, 3, 8, 8],
    task: "classification",
    description: "CBAM: shared-MLP channel attention, channel mean/max spatial attention",
  },
  "case-channels-last": {
    build: caseChannelsLast,
    inputShape: [1, 3, 8, 8],
    task: "classification",
    description: "ConvNeXt blocks as the official code: permute, LayerNorm, Linear, GELU, " +
      "Linear, layer scale, permute back",
  },
  "case-shuffle": {
    build: caseShuffle,
    inputShape: [1, 3, 8, 8],
    task: "classification",
    description: "ShuffleNetV2 units: two-branch concat and split-half units with channel " +
      "shuffles (reshape, permute, reshape)",
  },
  "case-vit": {
    build: caseVit,
    inputShape: [1, 3, 8, 8],
    task: "classification",
    description: "ViT-style block on patch tokens: attention (matmuls) and MLP over [N, T, C]",
  },
  "case-multi-io": {
    build: caseMultiInputOutput,
    inputShape: [1, 3, 8, 8],
    inputShapes: [[1, 3, 8, 8], [1, 5]],
    task: "detection",
    description: "two inputs (image, features), record output { logits, boxes }",
  },
  "case-two-scale-detector": {
    build: caseTwoScaleDetector,
    inputShape: [1, 3, 16, 16],
    task: "detection",
    description: "YOLO-style: strided backbone, SPPF, upsample + concat, two heads (array output)",
  },
};
