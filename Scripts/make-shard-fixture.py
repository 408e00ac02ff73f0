#!/usr/bin/env python3
"""Writes the small reference fixtures of Tests/DataPipelineTests/Fixtures with h5py and PIL.

    python Scripts/make-shard-fixture.py [OUTPUT_DIR]

Outputs (a few KB in all):
  h5py-raw.h5     a version-1 shard with /images [4, 6, 5, 3], /captions, /long_captions, /labels,
                  classnames — written by h5py exactly as DESIGN.md describes the format
  h5py-jpeg.h5    a version-1 shard with /jpeg (3 JPEGs encoded by PIL, one grayscale) and /captions,
                  plus /reference_pixels: PIL's decoding of each JPEG, as [3, 10, 12, 3] uint8
  gray.jpg        an 8×12 grayscale JPEG (PIL)
  pil-resize.json a 7×9 RGB image and PIL's Image.resize of it (bilinear and bicubic, shrinking and
                  enlarging), the oracle for the Swift resampler
Needs h5py, numpy and Pillow (e.g. the .venv-ref environment).
"""
import io
import json
import os
import sys

import h5py
import numpy as np
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DataPipelineTests", "Fixtures")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20240601)
string = h5py.string_dtype(encoding="utf-8")

# A raw shard.
images = rng.integers(0, 256, size=(4, 6, 5, 3), dtype=np.uint8)
captions = ["a photo of a cat.", "a dog on grass", "café crème ☕", "the last one"]
with h5py.File(os.path.join(out, "h5py-raw.h5"), "w") as f:
    f.attrs["format"] = "swiftclip-shard"
    f.attrs["version"] = 1
    f.attrs["classnames"] = json.dumps(["cat", "dog", "coffee"])
    f.create_dataset("images", data=images)
    f.create_dataset("captions", data=captions, dtype=string)
    f.create_dataset("long_captions", data=[c + " A longer description follows." for c in captions], dtype=string)
    f.create_dataset("labels", data=np.array([0, 1, 2, 1], dtype=np.int64))


def smooth(h, w, seed):
    y, x = np.mgrid[0:h, 0:w]
    r = 127 + 100 * np.sin(0.5 * x + seed)
    g = 127 + 100 * np.cos(0.4 * y - seed)
    b = 127 + 80 * np.sin(0.3 * (x + y))
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


# A JPEG shard, with PIL's decoding as the reference.
jpegs, decoded = [], []
for i, mode in enumerate(["RGB", "RGB", "L"]):
    img = Image.fromarray(smooth(10, 12, i))
    if mode == "L":
        img = img.convert("L")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    data = buf.getvalue()
    jpegs.append(np.frombuffer(data, dtype=np.uint8))
    decoded.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
with h5py.File(os.path.join(out, "h5py-jpeg.h5"), "w") as f:
    f.attrs["format"] = "swiftclip-shard"
    f.attrs["version"] = 1
    d = f.create_dataset("jpeg", (len(jpegs),), dtype=h5py.vlen_dtype(np.uint8))
    for i, j in enumerate(jpegs):
        d[i] = j
    f.create_dataset("captions", data=["first jpeg", "second jpeg", "a grayscale jpeg"], dtype=string)
    f.create_dataset("reference_pixels", data=np.stack(decoded))

# A grayscale JPEG file.
Image.fromarray(smooth(8, 12, 7)[..., 0]).save(os.path.join(out, "gray.jpg"), format="JPEG", quality=90)

# PIL resize reference.
source = rng.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
cases = []
for name, flt in [("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC)]:
    for (h, w) in [(4, 5), (3, 3), (11, 13), (7, 4)]:
        resized = np.asarray(Image.fromarray(source).resize((w, h), flt))
        cases.append({"filter": name, "height": h, "width": w, "pixels": resized.reshape(-1).tolist()})
with open(os.path.join(out, "pil-resize.json"), "w") as f:
    json.dump({"height": 7, "width": 9, "pixels": source.reshape(-1).tolist(), "cases": cases}, f)
print("wrote fixtures to", os.path.abspath(out))
