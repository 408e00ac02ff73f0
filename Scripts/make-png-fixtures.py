#!/usr/bin/env python3
"""Writes the PNG fixtures of Tests/DataPipelineTests/Fixtures/png and PIL's decoding of each.

    .venv-ref/bin/python Scripts/make-png-fixtures.py [OUTPUT_DIR]

Every kind of PNG a user may hold, each a few hundred bytes: 1-bit, 8-bit and 16-bit gray; gray with a
tRNS color; 8- and 16-bit gray+alpha; 4- and 8-bit palettes, one with a tRNS alpha table; 8- and
16-bit RGB and RGBA; Adam7-interlaced RGBA and palette images (odd sizes, so every pass is exercised).
Pillow writes the kinds it can; the others (16-bit color, gray+tRNS, interlaced) are written by the
small encoder below, using only zlib. Two corrupt files: one truncated inside IDAT, one with a bad IDAT
CRC. `expected.json` holds, for every good file, PIL's decoding reduced to what SwiftCLIP documents:
  - 16-bit samples keep their high byte (PIL does this itself for RGB(A) and LA; its "I;16" gray mode
    is shifted right by 8 here, where PIL's own convert("RGB") would clip instead);
  - transparency (alpha, tRNS) is composited on white: round((c*a + 255*(255-a)) / 255).
Needs Pillow and numpy (e.g. the .venv-ref environment).
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DataPipelineTests", "Fixtures", "png")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261129)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def encode_png(samples, bit_depth, color_type, interlace=False, extra=b"", palette=None):
    """samples: [H, W, C] array of integer samples (C = 1, 2, 3 or 4); filter type 0 on every row."""
    h, w = samples.shape[:2]
    dtype = ">u2" if bit_depth == 16 else "u1"

    def rows(image):
        if bit_depth >= 8:
            return b"".join(b"\x00" + image[y].astype(dtype).tobytes() for y in range(image.shape[0]))
        per_byte = 8 // bit_depth
        data = b""
        for y in range(image.shape[0]):
            values = list(image[y].reshape(-1)) + [0] * (-image.shape[1] % per_byte)
            packed = bytes(sum(int(v) << (8 - bit_depth * (k + 1)) for k, v in enumerate(values[i:i + per_byte]))
                           for i in range(0, len(values), per_byte))
            data += b"\x00" + packed
        return data

    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += rows(sub)
    else:
        raw = rows(samples)
    header = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    body = chunk(b"IHDR", header)
    if palette is not None:
        body += chunk(b"PLTE", bytes(palette.astype("u1").reshape(-1)))
    body += extra + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def random(shape, high):
    return rng.integers(0, high, size=shape, endpoint=True)


def with_partial_alpha(alpha):
    alpha = alpha.copy()
    alpha.flat[0], alpha.flat[1] = 0, alpha.max()  # fully transparent and fully opaque pixels present
    return alpha


files = {}
# Written by Pillow.
files["gray1.png"] = ("pil", Image.fromarray(random((5, 11), 1).astype(bool)))
files["gray8.png"] = ("pil", Image.fromarray(random((6, 7), 255).astype("u1"), "L"))
files["gray16.png"] = ("pil", Image.fromarray(random((5, 6), 65535).astype("<u2")))
la = np.dstack([random((5, 7), 255), with_partial_alpha(random((5, 7), 255))]).astype("u1")
files["gray-alpha8.png"] = ("pil", Image.fromarray(la, "LA"))
palette_image = Image.fromarray(random((6, 5), 15).astype("u1"), "P")
palette_image.putpalette(list(random(16 * 3, 255).astype("u1")))
files["palette4.png"] = ("pil-bits4", palette_image)
palette8 = Image.fromarray(random((7, 6), 199).astype("u1"), "P")
palette8.putpalette(list(random(200 * 3, 255).astype("u1")))
files["palette8.png"] = ("pil", palette8)
palette_trns = palette8.copy()
palette_trns.info["transparency"] = bytes(with_partial_alpha(random(200, 255)).astype("u1"))
files["palette-trns.png"] = ("pil", palette_trns)
files["rgb8.png"] = ("pil", Image.fromarray(random((6, 9, 3), 255).astype("u1"), "RGB"))
rgba = random((7, 5, 4), 255).astype("u1")
rgba[..., 3] = with_partial_alpha(rgba[..., 3])
files["rgba8.png"] = ("pil", Image.fromarray(rgba, "RGBA"))
# Written by the encoder above (Pillow cannot write these).
rgba16 = random((5, 6, 4), 65535)
rgba16[..., 3] = with_partial_alpha(rgba16[..., 3])
rgb16 = random((6, 5, 3), 65535)
files["rgb16.png"] = ("raw", encode_png(rgb16, 16, 2))
files["rgba16.png"] = ("raw", encode_png(rgba16, 16, 6))
la16 = np.dstack([random((4, 5), 65535), with_partial_alpha(random((4, 5), 65535))])
files["gray-alpha16.png"] = ("raw", encode_png(la16, 16, 4))
gray_trns = random((5, 5, 1), 3) * 85
files["gray-trns.png"] = ("raw", encode_png(gray_trns, 8, 0, extra=chunk(b"tRNS", struct.pack(">H", 85))))
interlaced = random((11, 13, 4), 255)
interlaced[..., 3] = with_partial_alpha(interlaced[..., 3])
files["rgba8-interlaced.png"] = ("raw", encode_png(interlaced, 8, 6, interlace=True))
lace_palette = random((16, 3), 255)
files["palette4-interlaced.png"] = ("raw", encode_png(random((9, 10, 1), 15), 4, 3, interlace=True,
                                                       palette=lace_palette))

expected = {}
for name, (kind, payload) in files.items():
    path = os.path.join(out, name)
    if kind == "raw":
        with open(path, "wb") as f:
            f.write(payload)
    else:
        payload.save(path, optimize=False, **({"bits": 4} if kind == "pil-bits4" else {}))
    image = Image.open(path)
    image.load()
    if image.mode in ("I;16", "I;16B", "I"):
        rgb = np.repeat((np.asarray(image).astype(np.int64) >> 8)[..., None], 3, axis=2)
    else:
        rgba = np.asarray(image.convert("RGBA")).astype(np.int64)
        a = rgba[..., 3:4]
        rgb = (rgba[..., :3] * a + 255 * (255 - a) + 127) // 255
    expected[name] = {"height": image.height, "width": image.width, "mode": image.mode,
                      "interlaced": bool(image.info.get("interlace")), "rgb": rgb.astype(int).reshape(-1).tolist()}

# 16-bit color: PIL keeps the high byte of each sample, which is what the expected pixels rely on.
assert (np.asarray(Image.open(os.path.join(out, "rgb16.png"))) == rgb16 >> 8).all()

good = open(os.path.join(out, "rgb8.png"), "rb").read()
idat = good.index(b"IDAT")
with open(os.path.join(out, "corrupt-truncated.png"), "wb") as f:
    f.write(good[:idat + 20])
bad_crc = bytearray(good)
length = struct.unpack(">I", good[idat - 4:idat])[0]
bad_crc[idat + 4 + length] ^= 0xFF
with open(os.path.join(out, "corrupt-crc.png"), "wb") as f:
    f.write(bytes(bad_crc))
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, separators=(",", ":"))
print("wrote", len(files) + 2, "PNGs and expected.json to", out)
