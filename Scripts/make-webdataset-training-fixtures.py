#!/usr/bin/env python3
"""Writes Tests/DataPipelineTests/Fixtures/webdataset-train with Python's tarfile, gzip and Pillow.

    .venv-ref/bin/python Scripts/make-webdataset-training-fixtures.py [OUTPUT_DIR]

Tars to train from, in img2dataset's layout ({key}.jpg + {key}.txt + {key}.json, keys of 9 digits,
consecutive per sample), numbered so a brace pattern names them:
  plain/0000{0..3}.tar     4 tars x 8 samples of 16x16 pictures (a colour, a shape) with captions
                           "a red square." …; one sample of 00001 is a PNG, one of 00001 has a truncated
                           JPEG (skipped: corrupt JPEG), one of 00002 has no .txt (skipped: no .txt caption)
  gzip/0000{0..3}.tar.gz   the same tars' bytes gzip-compressed (00002 as two concatenated gzip members)
  blocks.tar.gz            20 samples of 64x64 noise JPEGs (incompressible: many deflate blocks, for
                           the gzip access points of random access)
and expected.json: per tar, the items a converter keeps (key, caption) and the samples it skips (key,
reason), in order. Deterministic: a rerun writes the same bytes (fixed mtimes, gzip mtime 0).
Needs Pillow (e.g. the .venv-ref environment).
"""
import gzip
import io
import json
import os
import sys
import tarfile

from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DataPipelineTests", "Fixtures", "webdataset-train")
colors = [("red", (220, 30, 30)), ("green", (30, 200, 40)), ("blue", (30, 40, 220)), ("yellow", (230, 220, 30))]
shapes = ["square", "stripe"]


def picture(n, kind):
    name, rgb = colors[n % 4]
    shape = shapes[(n // 4) % 2]
    state = n * 7919 + 17
    pixels = bytearray()
    for y in range(16):
        for x in range(16):
            state = (state * 1103515245 + 12345) % 2**31
            noise = state % 20
            on = (3 < x < 12 and 3 < y < 12) if shape == "square" else (y % 4 < 2)
            pixels += bytes((c - noise) % 256 if on else noise for c in rgb)
    image = Image.frombytes("RGB", (16, 16), bytes(pixels))
    buffer = io.BytesIO()
    image.save(buffer, "PNG" if kind == "png" else "JPEG", quality=92)
    return buffer.getvalue(), f"a {name} {shape}."


def add(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1700000000
    info.uname = info.gname = "img2dataset"
    archive.addfile(info, io.BytesIO(data))


os.makedirs(os.path.join(out, "plain"), exist_ok=True)
os.makedirs(os.path.join(out, "gzip"), exist_ok=True)
expected = {}
for t in range(4):
    name = f"{t:05d}.tar"
    items, skipped = [], []
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for s in range(8):
            n = t * 8 + s
            key = f"{t:05d}{s:04d}"
            kind = "png" if (t, s) == (1, 2) else "jpg"
            image, caption = picture(n, kind)
            files = {kind: image, "txt": caption.encode(), "json": json.dumps({"key": key, "caption": caption}).encode()}
            if (t, s) == (1, 5):
                files["jpg"] = image[:len(image) // 2]
                skipped.append({"key": key, "reason": "corrupt JPEG"})
            elif (t, s) == (2, 3):
                del files["txt"]
                skipped.append({"key": key, "reason": "no .txt caption"})
            else:
                items.append({"key": key, "caption": caption})
            for extension, data in files.items():
                add(archive, f"{key}.{extension}", data)
    data = buffer.getvalue()
    with open(os.path.join(out, "plain", name), "wb") as f:
        f.write(data)
    with open(os.path.join(out, "gzip", name + ".gz"), "wb") as f:
        if t == 2:
            cut = len(data) // 3 + 5
            f.write(gzip.compress(data[:cut], mtime=0) + gzip.compress(data[cut:], mtime=0))
        else:
            f.write(gzip.compress(data, mtime=0))
    expected[name] = {"items": items, "skipped": skipped}

noise = io.BytesIO()
with tarfile.open(fileobj=noise, mode="w", format=tarfile.GNU_FORMAT) as archive:
    state = 5
    for s in range(20):
        pixels = bytearray()
        for _ in range(64 * 64 * 3):
            state = (state * 1103515245 + 12345) % 2**31
            pixels.append(state >> 16 & 255)
        buffer = io.BytesIO()
        Image.frombytes("RGB", (64, 64), bytes(pixels)).save(buffer, "JPEG", quality=95)
        add(archive, f"noise{s:04d}.jpg", buffer.getvalue())
        add(archive, f"noise{s:04d}.txt", f"noise number {s}".encode())
with open(os.path.join(out, "blocks.tar.gz"), "wb") as f:
    f.write(gzip.compress(noise.getvalue(), mtime=0))

with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
    json.dump(expected, f, indent=1)
print("wrote plain/, gzip/ and expected.json to", os.path.normpath(out))
