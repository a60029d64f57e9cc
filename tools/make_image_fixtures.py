#!/usr/bin/python3
"""Regenerate the image fixtures of tests/image_test.ts and tests/sr_metrics_test.ts.

References computed here, independently of oto's TypeScript:
- resize: MATLAB imresize (bicubic / bilinear, antialiasing, symmetric padding) ported to NumPy
  from MATLAB's documented algorithm (`contributions` below), checked in this script against
  PIL's float resize away from the borders; PIL-style (taps dropped at the borders) from
  torch.nn.functional.interpolate(antialias=True).
- PSNR / SSIM on the Y channel: skimage.color.rgb2ycbcr, skimage.metrics (Gaussian SSIM, sigma
  1.5, 11x11 window, K1 0.01, K2 0.03, data range 255, population covariance: the settings of
  Wang et al.'s MATLAB ssim_index), with the usual border crop.
- decoding: tiny PNG/JPEG variants written and decoded by PIL.

Usage: /usr/bin/python3 tools/make_image_fixtures.py   (Debian: python3-pil python3-skimage
python3-torch). Writes tests/fixtures/images/.
"""
import base64
import io
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data as skdata
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "images")
os.makedirs(OUT, exist_ok=True)


def cubic(x):
    a = np.abs(x)
    return ((1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1)
            + (-0.5 * a**3 + 2.5 * a**2 - 4 * a + 2) * ((a > 1) & (a <= 2)))


def triangle(x):
    return np.maximum(0.0, 1 - np.abs(x))


def contributions(in_len, out_len, kernel, kernel_width):
    """MATLAB imresize's contributions(), 1-based as in MATLAB, antialiasing on."""
    scale = out_len / in_len
    if scale < 1:
        h = lambda x: scale * kernel(scale * x)
        kernel_width = kernel_width / scale
    else:
        h = kernel
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    p = int(math.ceil(kernel_width)) + 2
    ind = left[:, None] + np.arange(p)[None, :]
    w = h(u[:, None] - ind)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    ind = aux[np.mod(ind - 1, len(aux)).astype(int)] - 1  # back to 0-based
    return w, ind


def matlab_resize(img, out_h, out_w, kernel="cubic"):
    """img: (C, H, W) float64."""
    k, kw = (cubic, 4.0) if kernel == "cubic" else (triangle, 2.0)
    wh, ih = contributions(img.shape[1], out_h, k, kw)
    ww, iw = contributions(img.shape[2], out_w, k, kw)
    c, h, w = img.shape
    tmp = np.zeros((c, out_h, w))
    for i in range(out_h):
        for t in range(wh.shape[1]):
            tmp[:, i, :] += wh[i, t] * img[:, ih[i, t], :]
    out = np.zeros((c, out_h, out_w))
    for j in range(out_w):
        for t in range(ww.shape[1]):
            out[:, :, j] += ww[j, t] * tmp[:, :, iw[j, t]]
    return out


def pil_resize(img, out_h, out_w, kernel):
    """PIL float ('F' mode) resize of each plane."""
    f = Image.BICUBIC if kernel == "cubic" else Image.BILINEAR
    return np.stack([np.asarray(Image.fromarray(p.astype(np.float32), mode="F")
                                .resize((out_w, out_h), f), dtype=np.float64) for p in img])


def torch_aa(img, out_h, out_w, kernel):
    mode = "bicubic" if kernel == "cubic" else "bilinear"
    t = torch.from_numpy(img[None]).double()
    return F.interpolate(t, size=(out_h, out_w), mode=mode, align_corners=False,
                         antialias=True)[0].numpy()


def b64(a, dtype):
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode()


rng = np.random.default_rng(20240518)
astro = skdata.astronaut().astype(np.float64)  # (512, 512, 3) uint8, public domain
src = astro[200:229, 180:211, 1:2].transpose(2, 0, 1).copy()  # (1, 29, 31), green

resize_cases = []
for (oh, ow) in [(15, 16), (10, 11), (8, 8), (35, 38), (29, 31), (20, 13)]:
    for kernel in ["cubic", "linear"]:
        m = matlab_resize(src, oh, ow, kernel)
        p = torch_aa(src, oh, ow, kernel)
        # Independent check of the NumPy port: away from the borders (where only the padding
        # convention differs) MATLAB style equals PIL's and torch's antialiased resize.
        pil = pil_resize(src, oh, ow, kernel)
        bh, bw = max(3, int(math.ceil(3 * 29 / oh))), max(3, int(math.ceil(3 * 31 / ow)))
        mh, mw = int(math.ceil(bh * oh / 29)) + 1, int(math.ceil(bw * ow / 31)) + 1
        if oh > 2 * mh and ow > 2 * mw:
            inner = (slice(None), slice(mh, oh - mh), slice(mw, ow - mw))
            assert np.abs(m[inner] - pil[inner]).max() < 2e-3, (oh, ow, kernel)
        assert np.abs(p - pil).max() < 2e-3, (oh, ow, kernel, np.abs(p - pil).max())
        resize_cases.append({"outH": oh, "outW": ow, "kernel": kernel,
                             "matlab": b64(m, "<f4"), "pil": b64(p, "<f4")})

json.dump({"source": "skimage.data.astronaut()[200:229, 180:211, 1] (public domain)",
           "channels": 1, "height": 29, "width": 31, "src": b64(src, "<f8"),
           "cases": resize_cases}, open(os.path.join(OUT, "resize.json"), "w"))

# PSNR / SSIM on Y with the border crop.
metric_cases = []
coffee = skdata.coffee()  # CC0
for k, (img, scale, noise) in enumerate([(astro.astype(np.uint8)[100:148, 260:300], 2, 8.0),
                                         (coffee[150:183, 300:345], 3, 20.0),
                                         (coffee[40:80, 100:140], 4, 3.0)]):
    hr = img.astype(np.float64)
    sr = np.clip(np.round(hr + rng.normal(0, noise, hr.shape)), 0, 255)
    b = scale
    y_hr = rgb2ycbcr(hr.astype(np.uint8))[b:-b, b:-b, 0]
    y_sr = rgb2ycbcr(sr.astype(np.uint8))[b:-b, b:-b, 0]
    psnr = peak_signal_noise_ratio(y_hr, y_sr, data_range=255)
    ssim = structural_similarity(y_hr, y_sr, data_range=255, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)
    rgb_psnr = peak_signal_noise_ratio(hr[b:-b, b:-b], sr[b:-b, b:-b], data_range=255)
    metric_cases.append({"height": hr.shape[0], "width": hr.shape[1], "scale": scale,
                         "hr": b64(hr.transpose(2, 0, 1), "u1"),
                         "sr": b64(sr.transpose(2, 0, 1), "u1"),
                         "psnrY": psnr, "ssimY": ssim, "psnrRgb": rgb_psnr})
json.dump({"note": "skimage.metrics on skimage.color.rgb2ycbcr Y, border crop = scale",
           "cases": metric_cases}, open(os.path.join(OUT, "metrics.json"), "w"))

# Decoding variants, each with PIL's decoded pixels (converted to RGB and to L).
small = Image.fromarray(skdata.coffee()[120:136, 200:220])  # 20x16 RGB
files = {}


def save(name, im, **kw):
    buf = io.BytesIO()
    im.save(buf, **kw)
    open(os.path.join(OUT, name), "wb").write(buf.getvalue())
    back = Image.open(io.BytesIO(buf.getvalue()))
    files[name] = {"mode": back.mode,
                   "rgb": b64(np.asarray(back.convert("RGB")).transpose(2, 0, 1), "u1"),
                   "width": back.width, "height": back.height}
    if back.mode == "I;16" or back.mode == "I":
        files[name]["raw16"] = b64(np.asarray(back), "<u2")


save("rgb.png", small, format="PNG")
save("gray.png", small.convert("L"), format="PNG")
save("gray_alpha.png", small.convert("LA"), format="PNG")
save("rgba.png", small.convert("RGBA"), format="PNG")
save("palette.png", small.convert("P", palette=Image.ADAPTIVE, colors=16), format="PNG")
g16 = (np.asarray(small.convert("L")).astype(np.uint16) * 257
       + rng.integers(0, 257, (16, 20))).astype(np.uint16)
save("gray16.png", Image.fromarray(g16), format="PNG")
# 4:4:4 and 4:2:0 chroma.
save("baseline.jpg", small, format="JPEG", quality=95, subsampling=0)
save("progressive.jpg", small, format="JPEG", quality=95, progressive=True, subsampling=0)
save("subsampled.jpg", small, format="JPEG", quality=95, subsampling=2)
save("gray.jpg", small.convert("L"), format="JPEG", quality=95)
save("cmyk.jpg", small.convert("CMYK"), format="JPEG", quality=95, subsampling=0)
json.dump(files, open(os.path.join(OUT, "decode.json"), "w"), indent=1)
print("wrote", OUT)
