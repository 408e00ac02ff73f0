"""Shared helpers for the scripts that generate SwiftCLIP's test fixtures.

The fixture scripts run under a Python virtualenv, `.venv-ref` at the repository
root, that holds the reference implementation (PyTorch + OpenCLIP). Call
`ensure_reference_venv()` before importing torch: when the running interpreter
lacks the packages it creates `.venv-ref` if missing (python3 -m venv, then pip
install of REFERENCE_PACKAGES) and re-executes the calling script with the
venv's interpreter, with the same arguments.

Everything else here is small and numeric: float32 rounding, row L2
normalization, and a safetensors writer that stores every tensor as contiguous
little-endian float32 with string-valued `__metadata__`.

Only the standard library is imported at module level, so importing this file
works before the venv exists.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / ".venv-ref"
REFERENCE_PACKAGES = ["torch", "open-clip-torch", "ftfy", "regex", "h5py", "safetensors", "numpy", "pillow"]


def _reference_packages_importable() -> bool:
    try:
        import numpy  # noqa: F401
        import open_clip  # noqa: F401
        import safetensors  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def ensure_reference_venv() -> None:
    """Makes sure torch/open_clip/safetensors import; otherwise creates `.venv-ref` and re-executes."""
    if _reference_packages_importable():
        return
    attempt = int(os.environ.get("SWIFTCLIP_VENV_ATTEMPT", "0"))
    venv_python = VENV_DIR / "bin" / "python"
    if attempt >= 2:
        sys.exit(f"cannot import torch/open_clip/safetensors even with {venv_python}; see pip's output above")
    install = [str(venv_python), "-m", "pip", "install", "-q", *REFERENCE_PACKAGES]
    if not venv_python.exists():
        print(f"creating {VENV_DIR} and installing {' '.join(REFERENCE_PACKAGES)}", file=sys.stderr)
        subprocess.check_call(["python3", "-m", "venv", str(VENV_DIR)])
        subprocess.check_call(install)
    elif attempt == 1:
        # Re-executed inside .venv-ref and the packages are still missing: install them.
        print(f"installing {' '.join(REFERENCE_PACKAGES)} into {VENV_DIR}", file=sys.stderr)
        subprocess.check_call(install)
    env = dict(os.environ, SWIFTCLIP_VENV_ATTEMPT=str(attempt + 1))
    script = os.path.abspath(sys.argv[0])
    os.execve(str(venv_python), [str(venv_python), script, *sys.argv[1:]], env)


def versions() -> dict:
    """Versions of the reference stack, for fixture metadata."""
    import numpy
    import open_clip
    import safetensors
    import torch
    return {
        "openclip_version": open_clip.__version__,
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "safetensors_version": safetensors.__version__,
    }


def as_float32(array):
    """Any torch tensor / numpy array / float → contiguous little-endian float32 numpy array."""
    import numpy as np
    import torch
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().double().numpy()
    # np.array (not np.ascontiguousarray, which turns 0-d into [1]) keeps 0-d scalars 0-d.
    return np.array(np.asarray(array, dtype=np.float64), dtype="<f4", order="C")


def rounded_float64(array):
    """The float64 value of `array` after rounding it to float32: what a Swift test reads back."""
    import numpy as np
    return as_float32(array).astype(np.float64)


def l2_normalize_rows(array):
    """x / ‖x‖₂ along the last axis, in float64."""
    import numpy as np
    array = np.asarray(array, dtype=np.float64)
    return array / np.linalg.norm(array, axis=-1, keepdims=True)


def save_fixture(path: Path, tensors: dict, metadata: dict) -> int:
    """Writes `tensors` (all as float32) and `metadata` (values must be str) to a safetensors file.

    The writer is our own, so that the bytes are deterministic (the safetensors
    package orders `__metadata__` keys by hash): 8-byte little-endian header
    length, JSON header with `__metadata__` first and tensors sorted by name
    (keys sorted, no spaces), padded with spaces to a multiple of 8, then the raw
    float32 data in the same order. The file is read back with the safetensors
    package to check it. Writes go to a temporary file that is renamed into place.
    Returns the file size in bytes.
    """
    import numpy as np
    from safetensors.numpy import load_file
    for key, value in metadata.items():
        assert isinstance(value, str), f"metadata {key!r} must be a string, got {type(value)}"
    arrays = {name: as_float32(tensors[name]) for name in sorted(tensors)}
    header = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    for name, array in arrays.items():
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as file:
        file.write(len(header_bytes).to_bytes(8, "little"))
        file.write(header_bytes)
        for array in arrays.values():
            file.write(array.tobytes())
    reread = load_file(str(tmp))
    assert reread.keys() == arrays.keys() and all(np.array_equal(reread[k], arrays[k]) for k in arrays)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path.stat().st_size


def json_string(value) -> str:
    """Compact, key-sorted JSON text (deterministic), for `__metadata__` values."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
