#!/usr/bin/python3
"""Build the embedded super-resolution sample in src/data/sr_sample/ from the public-domain and
CC0 photographs that Debian's python3-skimage ships (skimage.data; sources and licences in
src/data/sr_sample/README.md).

Each photograph is downscaled with PIL's Lanczos filter (which also removes most of the
original JPEG artefacts), then 192x192 crops (divisible by 2, 3 and 4) are saved as JPEG,
quality 95 without chroma subsampling, to keep the repository small. Training and test images
come from different photographs.

Usage: /usr/bin/python3 tools/make_sr_sample.py   (apt-get install python3-skimage)
"""
import os

from PIL import Image
from skimage import data

OUT = os.path.join(os.path.dirname(__file__), "..", "src", "data", "sr_sample")
S = 192

# name: (photograph, downscale factor, [(left, top) of each crop after downscaling])
PLAN = {
    "train": {
        "astronaut": (data.astronaut, 0.75, [(60, 0), (180, 190)]),
        "rocket": (data.rocket, 0.6, [(0, 40), (192, 40)]),
        "hubble": (data.hubble_deep_field, 0.45, [(20, 20), (230, 190)]),
        "retina": (data.retina, 0.3, [(40, 60), (200, 170)]),
    },
    "test": {
        "chelsea": (data.chelsea, 0.85, [(0, 40), (190, 40)]),
        "coffee": (data.coffee, 0.5, [(54, 4)]),
    },
}

for split, photos in PLAN.items():
    os.makedirs(os.path.join(OUT, split), exist_ok=True)
    for name, (load, factor, crops) in photos.items():
        im = Image.fromarray(load())
        w, h = round(im.width * factor), round(im.height * factor)
        im = im.resize((w, h), Image.LANCZOS)
        for k, (x, y) in enumerate(crops):
            assert x + S <= w and y + S <= h, (name, k, w, h)
            path = os.path.join(OUT, split, f"{name}{k + 1}.jpg")
            im.crop((x, y, x + S, y + S)).save(path, "JPEG", quality=95, subsampling=0)
            print(path, os.path.getsize(path))
