#!/usr/bin/env python3
"""Writes the CMYK JPEG fixture of Tests/DataPipelineTests/Fixtures with PIL.

    python Scripts/make-cmyk-fixture.py [OUTPUT_DIR]

Outputs (about 2 KB):
  cmyk.jpg       a 10×14 CMYK JPEG as PIL saves it (Adobe marker, inverted CMYK values)
  cmyk-rgb.json  {"height", "width", "pixels"}: PIL's `Image.open("cmyk.jpg").convert("RGB")`,
                 row-major RGB — the oracle for JPEG.decode's CMYK → RGB conversion
Needs Pillow and numpy (e.g. `python3 -m venv .venv-ref && .venv-ref/bin/pip install pillow numpy`).
"""
import json
import os
import sys

import numpy as np
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DataPipelineTests", "Fixtures")
os.makedirs(out, exist_ok=True)
height, width = 10, 14
y, x = np.mgrid[0:height, 0:width].astype(np.float64)
# Smooth ramps in every channel (the key plate too), so the conversion is exercised across its range.
cmyk = np.stack([255 * x / (width - 1), 255 * y / (height - 1),
                 127 + 120 * np.sin(x / 3 + y / 4), 200 * (x + y) / (width + height - 2)], axis=-1)
image = Image.fromarray(np.clip(cmyk.round(), 0, 255).astype(np.uint8), mode="CMYK")
path = os.path.join(out, "cmyk.jpg")
image.save(path, "JPEG", quality=95)
decoded = Image.open(path)
assert decoded.mode == "CMYK", decoded.mode
rgb = np.asarray(decoded.convert("RGB"), dtype=np.uint8)
with open(os.path.join(out, "cmyk-rgb.json"), "w") as f:
    json.dump({"height": height, "width": width, "pixels": rgb.reshape(-1).tolist()}, f)
print(f"wrote {path} ({os.path.getsize(path)} bytes) and cmyk-rgb.json")
