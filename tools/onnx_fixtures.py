#!/usr/bin/python3
"""Regenerate the ONNX import fixtures in tests/fixtures/onnx/ from torchvision.

Needs Debian's PyTorch (apt-get install python3-torch python3-torchvision; run with
/usr/bin/python3). Every model is a torchvision classification architecture built from
torchvision's own classes, with widths and class counts reduced so the files stay small
(the test suite runs them without Python). Weights are random (no download); BatchNorm
running statistics and affine parameters, and ConvNeXt's layer scales, are randomized
before export as after training: fresh BatchNorm (mean 0, var 1, gamma 1, beta 0) would
hide a missing group member, and torch deduplicates equal initializers.

  /usr/bin/python3 tools/onnx_fixtures.py              # the committed fixtures
  /usr/bin/python3 tools/onnx_fixtures.py --bar DIR    # full-width resnet18 / mobilenet_v2
                                                      # at 64x64, 10 classes (not committed)
  /usr/bin/python3 tools/onnx_fixtures.py --resnet50 DIR  # full resnet50 (timing check)
  /usr/bin/python3 tools/onnx_fixtures.py --torchvision DIR [--opset N]
                                  # every torchvision classifier at full width, 64x64 input,
                                  # 10 classes (checked with tools/onnx_check.ts)
  /usr/bin/python3 tools/onnx_fixtures.py --more DIR   # Swin-T, segmentation models, a small
                                  # ViT, a CNN of other operators (bench/results/onnx-import)

Each fixture is exported with a dynamic batch axis unless marked fixed; the manifest
(tests/fixtures/onnx/manifest.json) records the input shape, opset and export mode.
"""
import argparse
import io
import json
import os
import sys
import warnings
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision import models as M
from torchvision.models import segmentation as S
from torchvision.models import convnext, densenet, efficientnet, mnasnet, mobilenetv2
from torchvision.models import mobilenetv3, regnet, resnet, shufflenetv2, squeezenet
from torchvision.ops.misc import Conv2dNormActivation

# `torchvision.models.googlenet` is the builder function; the module holds the classes.
googlenet = sys.modules["torchvision.models.googlenet"]

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "onnx")


def randomize(model, seed, biases=True):
    """Trained-looking BatchNorm statistics/affine parameters, layer scales, zero-initialized
    weights and (unless `biases` is false) conv/linear biases, which torchvision initializes
    to zero."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if biases and isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            # A zero-initialized weight (ViT's classifier head) would make the output a constant
            # that any import reproduces.
            if isinstance(m, (nn.Conv2d, nn.Linear)) and not m.weight.any():
                m.weight.copy_(0.05 * torch.randn(m.weight.shape, generator=g))
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(0.2 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                if m.affine:
                    m.weight.copy_(0.5 + torch.rand(c, generator=g))
                    m.bias.copy_(0.2 * torch.randn(c, generator=g))
            if isinstance(m, convnext.CNBlock):
                m.layer_scale.copy_(0.5 + torch.rand(m.layer_scale.shape, generator=g))
            if isinstance(m, nn.LayerNorm) and m.elementwise_affine:
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))


def small_resnet(block, layers, widths):
    """torchvision ResNet with stage widths `widths` (the stem keeps 64 channels)."""
    make = resnet.ResNet._make_layer
    it = iter(widths)

    def scaled(self, block, planes, blocks, stride=1, dilate=False):
        return make(self, block, next(it), blocks, stride, dilate)

    resnet.ResNet._make_layer = scaled
    try:
        m = resnet.ResNet(block, layers, num_classes=10)
    finally:
        resnet.ResNet._make_layer = make
    m.fc = nn.Linear(widths[-1] * block.expansion, 10)
    return m


def fmnist_resnet():
    """A small torchvision ResNet for 1x28x28 inputs (the embedded Fashion-MNIST sample)."""
    m = small_resnet(resnet.BasicBlock, [1, 1, 1, 1], [8, 8, 16, 16])
    m.conv1 = nn.Conv2d(1, 64, kernel_size=3, stride=2, padding=1, bias=False)
    return m


class LayersMix(nn.Module):
    """torch.nn layers the classification models above do not use: GroupNorm, PReLU,
    LeakyReLU, ConvTranspose2d, InstanceNorm2d, GELU, PixelShuffle, nearest and bilinear
    upsampling, SiLU, Mish, Hardswish, channel concat, a spatial mean and a softmax head."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.prelu = nn.PReLU(8)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.lrelu = nn.LeakyReLU(0.1)
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.gelu = nn.GELU()
        self.c3 = nn.Conv2d(8, 16, 1)
        self.shuffle = nn.PixelShuffle(2)
        self.c4 = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.silu = nn.SiLU()
        self.c5 = nn.Conv2d(24, 12, 3, stride=2, padding=1)
        self.mish = nn.Mish()
        self.hs = nn.Hardswish()
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        a = self.prelu(self.gn(self.c1(x)))
        b = self.lrelu(self.bn(self.c2(a)))
        c = self.gelu(self.inorm(self.up(b)))
        d = self.silu(self.c4(self.shuffle(self.c3(c))))
        e = nn.functional.interpolate(b[:, :8], scale_factor=2, mode="bilinear")
        g = nn.functional.interpolate(b[:, 8:], scale_factor=2, mode="nearest")
        f = self.hs(self.mish(self.c5(torch.cat([d, e, g], 1))))
        return torch.softmax(self.fc(f.mean((2, 3))), 1)


class TwoHeads(nn.Module):
    """Two inputs (an image and a feature vector) and two outputs (class scores and a
    per-pixel map), as detection or multi-task models have."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        )
        self.meta = nn.Linear(5, 16)
        self.cls = nn.Linear(16, 10)
        self.seg = nn.Conv2d(16, 2, 1)

    def forward(self, x, m):
        f = self.body(x)
        g = f.mean((2, 3)) + torch.relu(self.meta(m))
        return self.cls(g), self.seg(f)


def small_squeezenet():
    """SqueezeNet 1.1 layout with narrow Fire modules."""
    m = squeezenet.SqueezeNet("1_1", num_classes=10)
    F = squeezenet.Fire
    m.features = nn.Sequential(
        nn.Conv2d(3, 16, kernel_size=3, stride=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        F(16, 4, 8, 8),
        F(16, 4, 8, 8),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        F(16, 8, 12, 12),
        F(24, 8, 12, 12),
    )
    final = nn.Conv2d(24, 10, kernel_size=1)
    m.classifier = nn.Sequential(
        nn.Dropout(p=0.5), final, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
    )
    return m


class SmallGoogLeNet(nn.Module):
    """GoogLeNet's stem and Inception modules (torchvision classes) at small widths."""

    def __init__(self):
        super().__init__()
        B, I = googlenet.BasicConv2d, googlenet.Inception
        self.conv1 = B(3, 16, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = B(16, 16, kernel_size=1)
        self.conv3 = B(16, 24, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = I(24, 8, 8, 12, 4, 6, 6)
        self.inception3b = I(32, 12, 8, 12, 4, 6, 6)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = I(36, 12, 8, 16, 4, 6, 8)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(42, 10)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x))


def small_mbv2():
    """MobileNetV2 at width 0.5 with fewer stages and a 64-channel last conv (torchvision fixes
    1280): a t=1 block, expansion blocks with stride 2, residual adds."""
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 48, 1, 1]]
    m = M.mobilenet_v2(num_classes=10, width_mult=0.5, inverted_residual_setting=setting)
    inp = m.features[-1][0].in_channels
    m.features[-1] = Conv2dNormActivation(inp, 64, kernel_size=1, norm_layer=nn.BatchNorm2d,
                                          activation_layer=nn.ReLU6)
    m.classifier[1] = nn.Linear(64, 10)
    return m


def mbv3_small():
    setting, _ = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.25)
    setting = setting[:5]  # ReLU and HardSwish blocks, with and without SE
    return mobilenetv3.MobileNetV3(setting, 64, num_classes=10)


def effnet_b0():
    setting, _ = efficientnet._efficientnet_conf(
        "efficientnet_b0", width_mult=0.25, depth_mult=0.25
    )
    setting = setting[:4]
    return efficientnet.EfficientNet(setting, 0.2, last_channel=64, num_classes=10)


def small_mnasnet():
    """MNASNet 0.1 with a 64-channel last conv (torchvision fixes 1280)."""
    m = mnasnet.MNASNet(0.1, num_classes=10)
    conv = m.layers[-3]
    m.layers[-3] = nn.Conv2d(conv.in_channels, 64, 1, bias=False)
    m.layers[-2] = nn.BatchNorm2d(64)
    m.classifier[1] = nn.Linear(64, 10)
    return m


def small_regnet():
    params = regnet.BlockParams.from_init_params(
        depth=4, w_0=8, w_a=8.0, w_m=2.0, group_width=4, se_ratio=0.25
    )
    return regnet.RegNet(params, num_classes=10)


def small_convnext():
    C = convnext.CNBlockConfig
    return convnext.ConvNeXt([C(16, 32, 1), C(32, None, 1)], stochastic_depth_prob=0.0,
                             num_classes=10)


# name: (builder, input [C, H, W], opset, mode, dynamic batch, note)
FIXTURES = {
    "resnet18": (lambda: small_resnet(resnet.BasicBlock, [2, 2, 2, 2], [4, 8, 8, 16]),
                 [3, 32, 32], 13, "preserve", True, "BasicBlocks, widths 4/8/8/16"),
    "resnet-bottleneck": (lambda: small_resnet(resnet.Bottleneck, [1, 1, 1, 1], [4, 8, 8, 8]),
                          [3, 32, 32], 17, "preserve", False, "Bottlenecks, fixed batch"),
    "resnet18-train": (lambda: small_resnet(resnet.BasicBlock, [1, 1, 1, 1], [8, 8, 16, 16]),
                       [3, 32, 32], 15, "training", True, "BatchNormalization training_mode=1"),
    "resnet18-folded": (lambda: small_resnet(resnet.BasicBlock, [1, 1, 1, 1], [8, 8, 16, 16]),
                        [3, 32, 32], 14, "eval", True, "BatchNorm folded into the convs"),
    "resnet-fmnist": (fmnist_resnet, [1, 28, 28], 17, "preserve", True,
                      "1x28x28 input for training on the embedded sample"),
    "mobilenet-v2": (small_mbv2, [3, 32, 32], 13, "preserve", True, "Clip(0, 6) as ReLU6"),
    "mobilenet-v3-small": (mbv3_small, [3, 32, 32], 13, "preserve", True,
                           "HardSigmoid*x as HardSwish (opset 13), SE with HardSigmoid"),
    "mobilenet-v3-small-op17": (mbv3_small, [3, 32, 32], 17, "preserve", True,
                                "native HardSwish"),
    "efficientnet-b0": (effnet_b0, [3, 32, 32], 16, "preserve", True,
                        "SiLU as x*Sigmoid(x), squeeze-excitation"),
    "regnet-y": (small_regnet, [3, 32, 32], 14, "preserve", True, "grouped convs, SE"),
    "densenet": (lambda: densenet.DenseNet(growth_rate=8, block_config=(2, 2),
                                           num_init_features=16, bn_size=2, num_classes=10),
                 [3, 32, 32], 13, "preserve", True, "dense concats, transition avg-pool"),
    "squeezenet": (small_squeezenet, [3, 32, 32], 13, "preserve", True,
                   "Fire concats, ceil-mode pools"),
    "shufflenet-v2": (lambda: shufflenetv2.ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 64],
                                                        num_classes=10),
                      [3, 32, 32], 13, "preserve", True,
                      "channel shuffle, chunk as Slice, shape arithmetic"),
    "mnasnet": (small_mnasnet, [3, 32, 32], 17, "preserve",
                True, "depthwise separable, mean over H, W"),
    "googlenet": (SmallGoogLeNet, [3, 32, 32], 13, "preserve", True, "Inception concats"),
    "layers-mix": (LayersMix, [3, 32, 32], 13, "preserve", True,
                   "GroupNorm, PReLU, ConvTranspose, InstanceNorm, PixelShuffle, Resize, Mish"),
    "two-heads": (TwoHeads, [[3, 16, 16], [5]], 17, "preserve", True,
                  "inputs image and meta, outputs logits and mask"),
    "convnext": (small_convnext, [3, 32, 32], 13, "preserve", True,
                 "LayerNorm decomposed (opset 13), GELU with Erf, channels-last MatMul"),
    "convnext-op17": (small_convnext, [3, 32, 32], 17, "preserve", True,
                      "native LayerNormalization; zero biases written once (Identity copies)"),
}


class SegOut(nn.Module):
    """A torchvision segmentation model's `["out"]` (its forward returns a dict)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)["out"]


class MixedCnn(nn.Module):
    """Operators a user's CNN may hold beyond torchvision's classifiers."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=4)
        self.b2 = nn.BatchNorm2d(32)
        self.c3, self.ps = nn.Conv2d(48, 64, 1), nn.PixelShuffle(2)
        self.c4, self.pr = nn.Conv2d(16, 24, 3, padding=1), nn.PReLU(24)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        a = F.elu(self.b1(self.c1(x)))
        b = F.leaky_relu(self.b2(self.c2(a)), 0.1)
        u = F.interpolate(b, scale_factor=2, mode="bilinear", align_corners=False)
        d = self.ps(F.softplus(self.c3(torch.cat([a, u], 1))))
        e = self.pr(self.c4(F.avg_pool2d(d, 2)))
        return self.fc(torch.flatten(F.adaptive_max_pool2d(e, 1), 1))


# Exports beyond the classifiers (--more DIR): builder, input shape, opset.
MORE = {
    "swin_t": (lambda: M.swin_t(num_classes=10), [3, 64, 64], 17),
    "vit_small": (lambda: M.VisionTransformer(image_size=32, patch_size=8, num_layers=2,
                                              num_heads=2, hidden_dim=32, mlp_dim=64,
                                              num_classes=10), [3, 32, 32], 17),
    "lraspp_mbv3": (lambda: SegOut(S.lraspp_mobilenet_v3_large(
        num_classes=5, weights_backbone=None)), [3, 64, 64], 17),
    "deeplabv3_mbv3": (lambda: SegOut(S.deeplabv3_mobilenet_v3_large(
        num_classes=5, weights_backbone=None, aux_loss=False)), [3, 64, 64], 17),
    "fcn_resnet50": (lambda: SegOut(S.fcn_resnet50(
        num_classes=5, weights_backbone=None, aux_loss=False)), [3, 64, 64], 17),
    "mixed_cnn": (MixedCnn, [3, 32, 32], 17),
    "resnet18_op13": (lambda: M.resnet18(num_classes=10), [3, 64, 64], 13),
}


def export(model, shape, opset, mode, dynamic, path, names=(["input"], ["logits"])):
    """Export `model` for inputs of `shape` ([C, H, W], or a list of shapes for several
    inputs) with the given input and output names."""
    tm = {
        "preserve": torch.onnx.TrainingMode.PRESERVE,
        "training": torch.onnx.TrainingMode.TRAINING,
        "eval": torch.onnx.TrainingMode.EVAL,
    }[mode]
    if mode == "training":
        model.train()
    else:
        model.eval()
    # Train-mode BatchNorm needs more than one value per channel at the last stage.
    batch = 2 if mode == "training" else 1
    shapes = shape if isinstance(shape[0], list) else [shape]
    xs = tuple(torch.randn(batch, *s) for s in shapes)
    kw = {}
    if dynamic:
        kw["dynamic_axes"] = {n: {0: "batch"} for n in names[0] + names[1]}
    buf = io.BytesIO()
    torch.onnx.export(model, xs, buf, opset_version=opset, training=tm, input_names=names[0],
                      output_names=names[1], do_constant_folding=mode != "training", **kw)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return len(buf.getvalue())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bar", help="write full-width resnet18 and mobilenet_v2 (64x64) to DIR")
    ap.add_argument("--resnet50", help="write a full resnet50 (224x224) to DIR")
    ap.add_argument("--torchvision", help="write every torchvision classifier to DIR")
    ap.add_argument("--opset", type=int, default=17, help="opset of --torchvision (13-17)")
    ap.add_argument("--more", help="write Swin-T, segmentation models, a small ViT, a mixed CNN to DIR")
    ap.add_argument("--only", help="comma-separated fixture names")
    a = ap.parse_args()
    if a.more:
        os.makedirs(a.more, exist_ok=True)
        for name in a.only.split(",") if a.only else MORE:
            build, shape, opset = MORE[name]
            torch.manual_seed(0)
            m = build()
            randomize(m, 1)
            n = export(m, shape, opset, "preserve", True, os.path.join(a.more, f"{name}.onnx"))
            print(f"{name}: {n} bytes", file=sys.stderr)
        return
    if a.torchvision:
        os.makedirs(a.torchvision, exist_ok=True)
        archs = ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "mobilenet_v2",
                 "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
                 "efficientnet_v2_s", "regnet_y_400mf", "regnet_x_400mf", "densenet121",
                 "squeezenet1_0", "squeezenet1_1", "shufflenet_v2_x1_0", "mnasnet1_0",
                 "googlenet", "convnext_tiny", "alexnet", "vgg11_bn", "inception_v3"]
        if a.only:
            archs = a.only.split(",")
        for name in archs:
            torch.manual_seed(0)
            kw = {"num_classes": 10}
            if name == "googlenet":
                kw.update(aux_logits=False, init_weights=False)
            if name == "inception_v3":
                kw.update(aux_logits=False, init_weights=False)
            m = getattr(M, name)(**kw)
            randomize(m, 1)
            size = 96 if name == "inception_v3" else 64
            path = os.path.join(a.torchvision, f"{name}-op{a.opset}.onnx")
            try:
                n = export(m, [3, size, size], a.opset, "preserve", True, path)
                print(f"{name}: {n} bytes", file=sys.stderr)
            except Exception as e:  # noqa: BLE001 (an export PyTorch itself cannot do)
                print(f"{name}: export failed: {str(e).splitlines()[0]}", file=sys.stderr)
        return
    if a.bar or a.resnet50:
        os.makedirs(a.bar or a.resnet50, exist_ok=True)
        jobs = []
        if a.bar:
            jobs += [("resnet18", lambda: M.resnet18(num_classes=10), [3, 64, 64], a.bar),
                     ("mobilenet_v2", lambda: M.mobilenet_v2(num_classes=10), [3, 64, 64],
                      a.bar)]
        if a.resnet50:
            jobs.append(("resnet50", lambda: M.resnet50(), [3, 224, 224], a.resnet50))
        for name, build, shape, d in jobs:
            torch.manual_seed(0)
            m = build()
            randomize(m, 1)
            n = export(m, shape, 17, "preserve", True, os.path.join(d, f"{name}.onnx"))
            print(f"{name}: {n} bytes")
        return
    os.makedirs(OUT, exist_ok=True)
    manifest = {}
    names = a.only.split(",") if a.only else list(FIXTURES)
    for name in names:
        build, shape, opset, mode, dynamic, note = FIXTURES[name]
        seed = zlib.crc32(name.encode())  # stable per fixture, whatever else is regenerated
        torch.manual_seed(seed)
        m = build()
        randomize(m, seed + 1, biases="Identity" not in note)
        names = (["image", "meta"], ["logits", "mask"]) if name == "two-heads" else (["input"],
                                                                                      ["logits"])
        n = export(m, shape, opset, mode, dynamic, os.path.join(OUT, f"{name}.onnx"), names)
        if mode == "training":
            # The same weights in inference form: the reference for eval mode.
            export(m, shape, opset, "preserve", dynamic, os.path.join(OUT, f"{name}.eval.onnx"))
        manifest[name] = {"input": shape, "opset": opset, "mode": mode, "dynamicBatch": dynamic,
                          "note": note, "bytes": n}
        print(f"{name}: {n} bytes", file=sys.stderr)
    path = os.path.join(OUT, "manifest.json")
    if a.only and os.path.exists(path):
        with open(path) as f:
            old = json.load(f)["fixtures"]
        old.update(manifest)
        manifest = {k: old[k] for k in FIXTURES if k in old}
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__,
                   "fixtures": manifest}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
