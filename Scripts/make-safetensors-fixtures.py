#!/usr/bin/env python3
"""Safetensors interop fixtures for Tests/CheckpointingTests (uses torch + safetensors).

    make-safetensors-fixtures.py make    writes Fixtures/reference-torch.safetensors with F32, F16,
                                         BF16, I64, I32, U8 tensors, a 0-d scalar and an empty
                                         tensor (via safetensors.torch.save_file), plus
                                         reference-torch.expected.json: every value as numpy/torch
                                         convert it to float32 (bit patterns) or int64, and the
                                         file's zlib CRC-32.
    make-safetensors-fixtures.py check   loads Fixtures/written-by-swift.safetensors (made by our
                                         SafeTensorsWriter; the Swift test testGoldenFile keeps it
                                         byte-identical to the writer's output) with
                                         safetensors.torch.load_file and safetensors.numpy, and
                                         checks names, dtypes, shapes, values and metadata.
    make-safetensors-fixtures.py check FILE   the same for another Swift-written FILE.

Run with the reference virtualenv, e.g. /work/main/.venv-ref/bin/python.
"""
import json
import math
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file as load_numpy
from safetensors.torch import load_file, save_file

FIXTURES = Path(__file__).resolve().parent.parent / "Tests" / "CheckpointingTests" / "Fixtures"


def make():
    tensors = {
        "f32": torch.tensor([[0.0, -1.5, 3.25], [1e-8, 65504.0, -0.0]], dtype=torch.float32),
        # F16: normal, negative, max, min normal, min subnormal, a rounded value, inf, -0, nan
        "f16": torch.tensor([1.0, -2.5, 65504.0, 2.0**-14, 2.0**-24, 0.1, math.inf, -0.0, math.nan],
                            dtype=torch.float16),
        # BF16: exact, rounded pi, large, a subnormal, -inf, 1/3 rounded
        "bf16": torch.tensor([[1.0, math.pi, 1e30], [2.0**-133, -math.inf, 1.0 / 3.0]], dtype=torch.bfloat16),
        "i64": torch.tensor([0, -(2**63), 2**63 - 1, 49407], dtype=torch.int64),
        "i32": torch.tensor([-(2**31), 2**31 - 1, 7], dtype=torch.int32),
        "u8": torch.tensor([0, 1, 127, 255], dtype=torch.uint8),
        "logit_scale": torch.tensor(math.log(1 / 0.07), dtype=torch.float32),  # 0-d
        "empty": torch.zeros((0, 4), dtype=torch.float32),
    }
    path = FIXTURES / "reference-torch.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt", "producer": "make-safetensors-fixtures.py"})

    expected = {"file_crc32": "%08x" % zlib.crc32(path.read_bytes()), "tensors": {}}
    for name, t in tensors.items():
        entry = {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape)}
        if t.is_floating_point():
            # F16 via numpy, which keeps NaN payloads as IEEE conversion does (torch turns every
            # NaN into 0x7fffffff); numpy has no bfloat16, so BF16 goes through torch.
            as_f32 = t.numpy().astype(np.float32) if t.dtype == torch.float16 else t.to(torch.float32).numpy()
            bits = as_f32.reshape(-1).view(np.uint32)
            entry["f32_bits"] = ["%08x" % b for b in bits]
        else:
            entry["int64"] = [str(v) for v in t.to(torch.int64).reshape(-1).tolist()]
        expected["tensors"][name] = entry
    (FIXTURES / "reference-torch.expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes) and reference-torch.expected.json")


def check(path):
    # Must match goldenWriter() in Tests/CheckpointingTests/SafeTensorsRoundTripTests.swift.
    expected = {
        "empty": np.zeros((0, 5), dtype=np.float32),
        "logit_scale": np.array(2.6592600345611572, dtype=np.float32),
        "positions": np.array([0, 1, -1, 2**63 - 1, -(2**63)], dtype=np.int64),
        "text_projection": (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(3, 2),
        "token_embedding.weight": (np.arange(12, dtype=np.float32) / 8).reshape(4, 3),
        "visual.class_embedding": np.array([1.0, -2.0, 0.25, 1e-3, -7.5, 3.0e38, -0.0], dtype=np.float32),
    }
    loaded = load_file(str(path))  # the Rust loader validates the header and offsets
    assert sorted(loaded) == sorted(expected), sorted(loaded)
    for name, want in expected.items():
        got = loaded[name]
        assert tuple(got.shape) == want.shape, (name, got.shape, want.shape)
        assert str(got.dtype) == {"float32": "torch.float32", "int64": "torch.int64"}[str(want.dtype)], (name, got.dtype)
        assert got.numpy().tobytes() == want.tobytes(), (name, got, want)  # bitwise, incl. -0.0
    as_numpy = load_numpy(str(path))
    for name, want in expected.items():
        assert as_numpy[name].dtype == want.dtype and np.array_equal(as_numpy[name], want), name
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    assert metadata == {"format_version": "1", "producer": "SwiftCLIP tests"}, metadata
    print(f"ok: {path} loads with safetensors.torch.load_file and safetensors.numpy.load_file; "
          f"{len(expected)} tensors and metadata match")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "make"
    if mode == "make":
        make()
    elif mode == "check":
        check(Path(sys.argv[2]) if len(sys.argv) > 2 else FIXTURES / "written-by-swift.safetensors")
    else:
        sys.exit(__doc__)
