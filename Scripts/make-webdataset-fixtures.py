#!/usr/bin/env python3
"""Writes the WebDataset fixtures of Tests/DataPipelineTests/Fixtures/webdataset with Python's tarfile.

    .venv-ref/bin/python Scripts/make-webdataset-fixtures.py [OUTPUT_DIR]

Three tars in img2dataset's layout ({key}.jpg|.jpeg|.png + {key}.txt + optional {key}.json), one per
header format Python writes, so the Swift tar reader meets what users' tools produce:
  a-gnu.tar     GNU format: a member path over 100 bytes (a ././@LongLink entry), a directory, a symlink
  b-pax.tar     pax format: a non-ASCII member path (a pax `path` record), an upper-case extension
  c-ustar.tar   POSIX ustar: a 150-byte path stored in the `prefix` and `name` fields
and samples to skip: one without a caption, one without an image, one with a corrupt (truncated)
JPEG, one with an empty caption. `expected.json` lists, per tar, every regular member (name and size,
in order, from tarfile), the items a converter must keep (key, caption, image bytes in base64) and the
samples it must skip (key and reason). Images are tiny JPEGs and PNGs written by Pillow.
Needs Pillow (e.g. the .venv-ref environment).
"""
import base64
import io
import json
import os
import sys
import tarfile

from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DataPipelineTests", "Fixtures", "webdataset")
os.makedirs(out, exist_ok=True)


def image(kind, seed):
    pixels = bytes((seed * 37 + i * 11) % 256 for i in range(6 * 5 * 3))
    buffer = io.BytesIO()
    picture = Image.frombytes("RGB", (6, 5), pixels)
    if kind == "png":
        picture.putalpha(200)
        picture.save(buffer, "PNG")
    else:
        picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def add(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1700000000
    archive.addfile(info, io.BytesIO(data))


long_dir = "long/" + "x" * 110
ustar_dir = "p" * 80 + "/" + "q" * 50
tars = {
    "a-gnu.tar": (tarfile.GNU_FORMAT, [
        ("000000000", {"jpg": image("jpg", 0), "txt": "a red square on grass", "json": '{"url": "http://x/0"}'}),
        ("000000001", {"png": image("png", 1), "txt": "  a translucent png  \n"}),
        ("000000002", {"jpg": image("jpg", 2)}),                                    # no caption
        ("000000003", {"jpg": image("jpg", 3)[:60], "txt": "truncated jpeg"}),     # corrupt image
        ("000000004", {"txt": "a caption without an image", "json": "{}"}),        # no image
        (long_dir + "/000000005", {"jpg": image("jpg", 5), "txt": "a sample with a long path"}),
    ]),
    "b-pax.tar": (tarfile.PAX_FORMAT, [
        ("000000006", {"png": image("png", 6), "txt": "café, naïve — ünïcode"}),
        ("ünïcode/000000007", {"jpg": image("jpg", 7), "txt": "a non-ASCII path"}),
        ("000000008", {"JPEG": image("jpg", 8), "txt": "an upper-case extension"}),
        ("000000009", {"jpg": image("jpg", 9), "txt": " \n"}),                     # empty caption
    ]),
    "c-ustar.tar": (tarfile.USTAR_FORMAT, [
        (ustar_dir + "/000000010", {"jpg": image("jpg", 10), "txt": "a path in the prefix field"}),
    ]),
}
reasons = {"000000002": "no .txt caption", "000000003": "corrupt JPEG", "000000004": "no .jpg, .jpeg or .png image",
           "000000009": "empty caption"}

expected = {}
for tar_name, (format, samples) in tars.items():
    path = os.path.join(out, tar_name)
    with tarfile.open(path, "w", format=format) as archive:
        if format == tarfile.GNU_FORMAT:
            directory = tarfile.TarInfo("long")
            directory.type = tarfile.DIRTYPE
            archive.addfile(directory)
            link = tarfile.TarInfo("000000000.link.jpg")
            link.type = tarfile.SYMTYPE
            link.linkname = "000000000.jpg"
            archive.addfile(link)
        for key, files in samples:
            for extension, data in files.items():
                add(archive, f"{key}.{extension}", data.encode() if isinstance(data, str) else data)
    with tarfile.open(path) as archive:
        members = [{"name": m.name, "size": m.size} for m in archive.getmembers() if m.isfile()]
    items, skipped = [], []
    for key, files in samples:
        short = key.rsplit("/", 1)[-1]
        if short in reasons:
            skipped.append({"key": key, "reason": reasons[short]})
        else:
            picture = files.get("jpg") or files.get("JPEG") or files.get("png")
            items.append({"key": key, "caption": files["txt"].strip(), "image": base64.b64encode(picture).decode()})
    expected[tar_name] = {"members": members, "items": items, "skipped": skipped}

assert any(len(m["name"]) > 100 for m in expected["a-gnu.tar"]["members"])
with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
    json.dump(expected, f, ensure_ascii=False, indent=1)
print("wrote", ", ".join(tars), "and expected.json to", out)
