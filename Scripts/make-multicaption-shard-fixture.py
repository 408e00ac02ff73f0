#!/usr/bin/env python3
"""Writes Tests/DataPipelineTests/Fixtures/h5py-multicaption.h5 with h5py: a version-2 shard with
several captions per item, exactly as README.md ("Several captions per image") tells a user to write one.

    .venv-ref/bin/python Scripts/make-multicaption-shard-fixture.py [OUTPUT_DIR]

Layout: /images uint8 [5, 4, 6, 3]; /captions vlen UTF-8 [M] holding item 0's captions, then item 1's, …;
/caption_counts int32 [5] (h5py's choice of integer width is free: any integer type is read);
/keys vlen UTF-8 [5]; root attributes format = "swiftclip-shard", version = 2, and, for the test only,
expected_captions = JSON list of each item's captions (readers ignore other attributes).
Needs h5py and numpy (e.g. the .venv-ref environment).
"""
import json
import os
import sys

import h5py
import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DataPipelineTests", "Fixtures")
rng = np.random.default_rng(20261202)
captions = [
    ["A man riding a wave on top of a surfboard.", "a surfer on a big wave", "Someone surfing.",
     "A person surfs in the ocean.", "surfing at noon"],
    ["a single caption"],
    ["Zwei Hunde spielen im Schnee.", "two dogs play in snow ❄"],
    ["A man riding a wave on top of a surfboard.", "the same text as item 0's first caption", "x"],
    ["last", "item", "has", "five", "captions"],
]
string = h5py.string_dtype(encoding="utf-8")
with h5py.File(os.path.join(out, "h5py-multicaption.h5"), "w") as f:
    f.attrs["format"] = "swiftclip-shard"
    f.attrs["version"] = 2
    f.attrs["expected_captions"] = json.dumps(captions)
    f.create_dataset("images", data=rng.integers(0, 256, size=(len(captions), 4, 6, 3), dtype=np.uint8))
    f.create_dataset("captions", data=[c for item in captions for c in item], dtype=string)
    f.create_dataset("caption_counts", data=np.array([len(item) for item in captions], dtype=np.int32))
    f.create_dataset("keys", data=[f"{i:06d}" for i in range(len(captions))], dtype=string)
print("wrote", os.path.abspath(os.path.join(out, "h5py-multicaption.h5")))
