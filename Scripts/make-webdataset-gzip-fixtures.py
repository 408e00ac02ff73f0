#!/usr/bin/env python3
"""Writes Tests/DataPipelineTests/Fixtures/webdataset-more with Python's tarfile and gzip (standard library only).

    python3 Scripts/make-webdataset-gzip-fixtures.py [OUTPUT_DIR]

From the tars of Fixtures/webdataset (Scripts/make-webdataset-fixtures.py):
  a-gnu.tar.gz       a-gnu.tar's entries rewritten by tarfile.open(..., "w:gz") (GNU format, one gzip member)
  b-pax.tgz          b-pax.tar's bytes as two concatenated gzip members (what `cat x.gz y.gz` or pigz make)
  captions.tar       samples whose .txt captions hold a NUL byte or are not valid UTF-8, between good ones
and expected.json: per file, every regular member (name and size, in order, as tarfile reads it back), the
items a converter keeps (key, caption) and the samples it skips (key, reason). A rerun changes only the
gzip header's timestamp of a-gnu.tar.gz.
"""
import gzip
import io
import json
import os
import sys
import tarfile

here = os.path.dirname(os.path.abspath(__file__))
source = os.path.join(here, "..", "Tests", "DataPipelineTests", "Fixtures", "webdataset")
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(source, "..", "webdataset-more")
os.makedirs(out, exist_ok=True)

with tarfile.open(os.path.join(source, "a-gnu.tar")) as plain, \
        tarfile.open(os.path.join(out, "a-gnu.tar.gz"), "w:gz", format=tarfile.GNU_FORMAT) as packed:
    for member in plain.getmembers():
        packed.addfile(member, plain.extractfile(member) if member.isfile() else None)

with open(os.path.join(source, "b-pax.tar"), "rb") as f:
    pax = f.read()
cut = len(pax) // 2 + 7   # inside a member: the reader must not care where a gzip member ends
with open(os.path.join(out, "b-pax.tgz"), "wb") as f:
    f.write(gzip.compress(pax[:cut], mtime=0) + gzip.compress(pax[cut:], mtime=0))

with tarfile.open(os.path.join(source, "c-ustar.tar")) as plain:
    jpeg = plain.extractfile(next(m for m in plain.getmembers() if m.name.endswith(".jpg"))).read()
samples = [
    ("000", b"a good caption", None),
    ("001", b"line2\x00nul", "caption holds a NUL byte"),
    ("002", b"caf\xe9 latin-1", "caption not valid UTF-8"),
    ("003", "café, ünïcode".encode(), None),
    ("004", b"\xff\xfe", "caption not valid UTF-8"),
]
with tarfile.open(os.path.join(out, "captions.tar"), "w", format=tarfile.USTAR_FORMAT) as archive:
    for key, caption, _ in samples:
        for extension, data in (("jpg", jpeg), ("txt", caption)):
            info = tarfile.TarInfo(f"{key}.{extension}")
            info.size = len(data)
            info.mtime = 1700000000
            archive.addfile(info, io.BytesIO(data))

expected = {}
for name in ("a-gnu.tar.gz", "b-pax.tgz", "captions.tar"):
    with tarfile.open(os.path.join(out, name)) as archive:   # mode "r": tarfile detects the compression
        expected[name] = {"members": [{"name": m.name, "size": m.size} for m in archive.getmembers() if m.isfile()]}
expected["captions.tar"]["items"] = [{"key": k, "caption": c.decode()} for k, c, r in samples if r is None]
expected["captions.tar"]["skipped"] = [{"key": k, "reason": r} for k, _, r in samples if r is not None]
with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
    json.dump(expected, f, ensure_ascii=False, indent=1)
print("wrote a-gnu.tar.gz, b-pax.tgz, captions.tar and expected.json to", os.path.normpath(out))
