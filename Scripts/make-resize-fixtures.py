#!/usr/bin/env python3
"""Writes Tests/DataPipelineTests/Fixtures/pil-resize-cases.bin: Pillow's Image.resize over many odd sizes.

    .venv-ref/bin/python Scripts/make-resize-fixtures.py [OUTPUT_DIR]

The oracle for SwiftCLIP's resampler, which must give the same uint8 pixels. OpenCLIP's transforms
resize PIL images with torchvision, whose Resize / CenterCrop / RandomResizedCrop call PIL's
`Image.crop` and `Image.resize(size, resample)` (no `reducing_gap`), so each case here is
`source.crop(box).resize((width, height), filter)` in RGB mode. Sources are noise (every rounding
decision matters), a synthetic photo with saturated regions (bicubic overshoot clipped at 0 and 255,
in both passes) and fine stripes; targets shrink (antialiased: the filter stretches by the scale),
enlarge, shrink one axis while enlarging the other, keep a size, and go down to 1 pixel; crop boxes
as RandomResizedCrop draws them. Pillow 13 or later: it runs the vertical pass first when the height
shrinks by more than twice as many pixels as the width (earlier versions always go horizontal first,
which changes some of these pixels by a level); both orders occur here. Needs numpy and Pillow only;
deterministic (fixed seed).

File layout: 8-byte little-endian header length, a JSON header, then raw uint8 pixels ([H, W, 3],
row-major). Header: format "swiftclip-resize-fixture", version 1, pillow_version, numpy_version,
sources [{name, height, width, offset}], cases [[source, filter, top, left, box height, box width,
height, width, offset]] (source: an index into sources; offsets into the pixel data).
"""
import json
import os
import sys

import numpy as np
import PIL
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DataPipelineTests", "Fixtures")
assert int(PIL.__version__.split(".")[0]) >= 13, f"Pillow {PIL.__version__}: the fixture follows Pillow 13's pass order"
rng = np.random.default_rng(20260423)
FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


def photo(h, w):
    """Gradients, hard-edged shapes at 0 and 255, and a little noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([40 + 180 * x / w, 30 + 200 * y / h, 128 + 90 * np.sin(0.35 * x + 0.2 * y)], -1)
    img[h // 5: h // 2, w // 6: w // 2] = [255, 255, 255]
    img[h // 2: 4 * h // 5, w // 2: 5 * w // 6] = [0, 0, 0]
    img[(x - 0.7 * w) ** 2 + (y - 0.25 * h) ** 2 < (0.12 * min(h, w)) ** 2] = [255, 0, 40]
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def stripes(h, w):
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([255 * ((x // 2) % 2), 255 * ((y // 3) % 2), 255 * (((x + y) // 2) % 2)], -1)
    return np.clip(img + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


sources = [
    ("noise-29x43", rng.integers(0, 256, (29, 43, 3), dtype=np.uint8)),
    ("photo-50x38", photo(50, 38)),
    ("stripes-41x47", stripes(41, 47)),
    ("noise-3x5", rng.integers(0, 256, (3, 5, 3), dtype=np.uint8)),
    ("photo-1x29", photo(1, 29)),
    ("noise-31x1", rng.integers(0, 256, (31, 1, 3), dtype=np.uint8)),
]


def targets(h, w):
    """Fixed shapes (identity, 1 pixel, halves, near-identity, mixed) plus random odd sizes, at most
    250 output pixels each (the file stays small)."""
    fixed = [(h, w), (1, 1), (1, w), (h, 1), (max(1, h // 2), max(1, w // 2)), (h + 1, max(1, w - 1)),
             (2 * h + 1, 3 * w - 1), (max(1, h // 3), 2 * w + 3), (7, 5)]
    drawn = []
    for _ in range(11):
        th = int(rng.integers(1, min(int(2.5 * h) + 1, 30) + 1))
        drawn.append((th, int(rng.integers(1, min(int(2.5 * w) + 1, 250 // th) + 1))))
    return [(a, b) for a, b in dict.fromkeys(fixed + drawn) if a * b <= 250]


def boxes(h, w):
    """Crop boxes as RandomResizedCrop draws them (any position, area and aspect ratio)."""
    result = []
    for _ in range(5):
        bh, bw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        side = int(rng.integers(1, 21))
        result.append(((top, left, bh, bw), (side, side)))
    return result


header = {"format": "swiftclip-resize-fixture", "version": 1, "pillow_version": PIL.__version__,
          "numpy_version": np.__version__, "sources": [], "cases": []}
blobs, offset = [], 0


def add(pixels):
    global offset
    data = np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()
    blobs.append(data)
    offset += len(data)
    return offset - len(data)


for index, (name, pixels) in enumerate(sources):
    h, w = pixels.shape[:2]
    header["sources"].append({"name": name, "height": h, "width": w, "offset": add(pixels)})
    image = Image.fromarray(pixels, "RGB")
    cases = [((0, 0, h, w), size) for size in targets(h, w)] + boxes(h, w)
    for filter_name, flt in FILTERS.items():
        for (top, left, bh, bw), (th, tw) in cases:
            cropped = image.crop((left, top, left + bw, top + bh))
            resized = np.asarray(cropped.resize((tw, th), flt))
            assert resized.shape == (th, tw, 3)
            header["cases"].append([index, filter_name, top, left, bh, bw, th, tw, add(resized)])

encoded = json.dumps(header, separators=(",", ":")).encode()
path = os.path.join(out, "pil-resize-cases.bin")
os.makedirs(out, exist_ok=True)
with open(path + ".tmp", "wb") as f:
    f.write(len(encoded).to_bytes(8, "little"))
    f.write(encoded)
    for blob in blobs:
        f.write(blob)
os.replace(path + ".tmp", path)
size = os.path.getsize(path)
print(f"wrote {os.path.abspath(path)}: {len(header['cases'])} cases, {size} bytes")
assert size < 100_000, "keep the fixture under 100 KB"
