"""PyTorch CPU peer of bench/cpu.ts: one process that answers JSON commands on stdin.

Each command is one line of JSON; each answer is one line of JSON on stdout. Tensors travel as
raw little-endian files in the folder the bench gives (float32, or int32 for labels).

  {"cmd": "info"}                        -> torch version, threads, BLAS library, oneDNN
  {"cmd": "setup", "case": ..., ...}     -> builds the case from the bench's files
  {"cmd": "check", "case": ...}          -> runs it once, writes its outputs for comparison
  {"cmd": "time", "case": ..., "reps": n}-> wall seconds of each rep and CPU seconds in all

Cases: "gemm" (C = A @ B), "conv" (conv2d forward + backward: y, dx, dw), "train:<model>"
(one SGD step of a zoo model, weights and data from oto; the same layer names as oto's).
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("OTO_PEER_THREADS", "1")))


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def blas_library():
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if "blas" in os.path.basename(p).lower():
                    return os.path.realpath(p)
    except OSError:
        pass
    return "unknown"


def load(folder, name, shape, dtype=np.float32):
    a = np.fromfile(os.path.join(folder, name), dtype=dtype).reshape(shape)
    return torch.from_numpy(a.copy())


def save(folder, name, t):
    t.detach().contiguous().numpy().astype(np.float32).tofile(os.path.join(folder, name))


# ---- models: the zoo's small Fashion-MNIST models, named as oto names them ----


def small_cnn():
    m = nn.Module()
    m.features = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2, 2))
    m.fc = nn.Linear(1568, 10)
    m.forward = lambda x: m.fc(torch.flatten(m.features(x), 1))
    return m


def vgg_small():
    m = nn.Module()
    layers, c = [], 1
    for v in [16, 16, "M", 32, 32, "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
        c = v
    m.features = nn.Sequential(*layers)
    m.classifier = nn.Sequential(nn.Linear(1568, 64), nn.ReLU(), nn.Linear(64, 10))
    m.forward = lambda x: m.classifier(torch.flatten(m.features(x), 1))
    return m


class BasicBlock(nn.Module):
    def __init__(self, i, o, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(i, o, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(o)
        self.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(o)
        self.downsample = None
        if stride != 1 or i != o:
            self.downsample = nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False),
                                            nn.BatchNorm2d(o))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNetSmall(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.layer3 = BasicBlock(32, 64, 2)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2, 2)
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


MODELS = {"small-cnn": small_cnn, "vgg-small": vgg_small, "resnet-small": ResNetSmall}

# ---- cases ----


class Gemm:
    def __init__(self, folder, a):
        n = a["n"]
        self.folder = folder
        self.A = load(folder, "A", (n, n))
        self.B = load(folder, "B", (n, n))

    def run(self):
        return self.A @ self.B

    def check(self):
        save(self.folder, "C.peer", self.run())


class Conv:
    def __init__(self, folder, a):
        self.folder = folder
        self.x = load(folder, "x", a["x"]).requires_grad_()
        self.w = load(folder, "w", a["w"]).requires_grad_()
        self.dy = load(folder, "dy", a["y"])
        self.opts = dict(stride=a["stride"], padding=a["padding"])

    def run(self):
        self.x.grad = self.w.grad = None
        y = F.conv2d(self.x, self.w, None, **self.opts)
        y.backward(self.dy)
        return y

    def check(self):
        y = self.run()
        save(self.folder, "y.peer", y)
        save(self.folder, "dx.peer", self.x.grad)
        save(self.folder, "dw.peer", self.w.grad)


class Train:
    def __init__(self, folder, a):
        self.folder = folder
        self.model = MODELS[a["model"]]()
        state = dict(self.model.named_parameters())
        state.update({k: v for k, v in self.model.named_buffers() if "num_batches" not in k})
        names = [t["name"] for t in a["tensors"]]
        if sorted(names) != sorted(state):
            raise SystemExit(f"peer: layer names differ: oto {sorted(names)} torch {sorted(state)}")
        with torch.no_grad():
            for t in a["tensors"]:
                if list(state[t["name"]].shape) != t["shape"]:
                    raise SystemExit(f"peer: {t['name']} is {t['shape']} in oto")
                state[t["name"]].copy_(load(folder, "p." + t["name"], t["shape"]))
        self.x = load(folder, "x", a["x"])
        self.y = load(folder, "y", [a["x"][0]], np.int32).long()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=a["lr"], momentum=a["momentum"])
        self.model.train()

    def run(self):
        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss.item()

    def check(self):
        loss = self.run()
        for name, p in self.model.named_parameters():
            save(self.folder, "after." + name, p)
        return loss


def main():
    cases = {}
    for line in sys.stdin:
        req = json.loads(line)
        cmd, out = req["cmd"], {}
        if cmd == "info":
            out = {"torch": torch.__version__, "threads": torch.get_num_threads(),
                   "blas": blas_library(), "mkldnn": torch.backends.mkldnn.is_available()}
        elif cmd == "setup":
            kind = req["case"].split(":")[0]
            cls = {"gemm": Gemm, "conv": Conv, "train": Train}[kind]
            cases[req["case"]] = cls(req["folder"], req)
        elif cmd == "check":
            out = {"result": cases[req["case"]].check()}
        elif cmd == "time":
            case, times = cases[req["case"]], []
            c0 = cpu_seconds()
            for _ in range(req["reps"]):
                t0 = time.perf_counter()
                case.run()
                times.append(time.perf_counter() - t0)
            out = {"times": times, "cpu": cpu_seconds() - c0}
        elif cmd == "quit":
            break
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
