#!/usr/bin/env python3
"""Writes Tests/Fixtures/openclip-hub-resize/: OpenCLIP's preprocessing and image embeddings of PNGs
that need resizing, for a hub folder of the vit-gelu-a fixture model.

    python3 Scripts/make-hub-resize-fixture.py [--output-dir Tests/Fixtures/openclip-hub-resize]

(creates/uses .venv-ref, see Scripts/reference_env.py; run Scripts/make-model-fixtures.py first if
Tests/Fixtures/models/vit-gelu-a.safetensors is missing.) Deterministic: rerunning gives identical files
with the same package versions.

For each preprocess_cfg below, the script writes a hub folder exactly as OpenCLIP reads one
(open_clip_config.json with model_cfg = the vit-gelu-a config and that preprocess_cfg, and
open_clip_model.safetensors with vit-gelu-a's state dict), loads it as a user would with
open_clip.create_model_and_transforms("local-dir:DIR"), opens each PNG with PIL and applies the
returned evaluation transform (torchvision Resize / CenterCrop, or OpenCLIP's ResizeKeepRatio /
CenterCropOrPad, on PIL images: PIL's Image.resize), then embeds with encode_image(normalize=True).

Files:
  image-<i>.png              the inputs, RGB, 20–90 pixels a side (one 32 × 32: no resizing)
  preprocessed-<cfg>.png     the transform's PIL output before ToTensor/Normalize, the N images of
                             32 × 32 side by side ([32, 32·N, 3]): the 8-bit pixels the model sees
  expected.safetensors       expected.<cfg>.image_embeddings [N, E] (F32, L2-normalized);
                             metadata: format, version, base_model, image_count, preprocess_cfgs (JSON,
                             cfg name → preprocess_cfg), pillow_version, torchvision_version and the
                             reference_env versions
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import REPO_ROOT, ensure_reference_venv, json_string, save_fixture, versions  # noqa: E402

ensure_reference_venv()

import numpy as np  # noqa: E402
import PIL  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402
from safetensors import safe_open  # noqa: E402
import open_clip  # noqa: E402

BASE_MODEL = "vit-gelu-a"   # image_size 32
# (height, width): shrink both ways, enlarge, near-square odd sizes, wide and tall, and one that fits.
SIZES = [(40, 90), (57, 41), (33, 33), (90, 64), (45, 47), (32, 77), (20, 27), (32, 32)]
PREPROCESS_CFGS = {
    "bicubic-shortest": {},   # OpenCLIP's defaults: OpenAI mean/std, bicubic, shortest side + center crop
    "bilinear-shortest": {"interpolation": "bilinear"},
    "bicubic-longest": {"resize_mode": "longest", "fill_color": 40},
    "bilinear-squash": {"interpolation": "bilinear", "resize_mode": "squash",
                        "mean": [0.5, 0.4, 0.3], "std": [0.25, 0.5, 1.0]},
}


def synthetic_photo(h, w, seed):
    """Smooth gradients, hard edges at 0 and 255 and a little noise: resizing changes every pixel."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([60 + 150 * x / w, 220 - 170 * y / h, 128 + 100 * np.sin(0.3 * x - 0.45 * y + seed)], -1)
    img[h // 4: h // 2, w // 5: w // 2] = rng.integers(0, 256, 3)
    img[(x - 0.65 * w) ** 2 + (y - 0.6 * h) ** 2 < (0.2 * min(h, w)) ** 2] = [255, 250, 0]
    img[:, w - max(1, w // 8):] = [0, 0, 0]
    img += rng.normal(0, 3, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "Tests" / "Fixtures" / "openclip-hub-resize")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)

    model_file = REPO_ROOT / "Tests" / "Fixtures" / "models" / f"{BASE_MODEL}.safetensors"
    with safe_open(str(model_file), "np") as f:
        model_cfg = json.loads(f.metadata()["model_config"])
    state = {k: v for k, v in load_file(str(model_file)).items() if not k.startswith(("input.", "expected."))}

    paths = []
    for i, (h, w) in enumerate(SIZES):
        path = out / f"image-{i}.png"
        Image.fromarray(synthetic_photo(h, w, 100 + i), "RGB").save(path, optimize=False)
        paths.append(path)

    tensors = {}
    for name, cfg in PREPROCESS_CFGS.items():
        with tempfile.TemporaryDirectory() as hub:
            json.dump({"model_cfg": model_cfg, "preprocess_cfg": cfg}, open(f"{hub}/open_clip_config.json", "w"))
            save_file(state, f"{hub}/open_clip_model.safetensors")
            model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{hub}")
        model.eval()
        *to_pil, to_tensor, normalize = preprocess.transforms
        assert isinstance(to_tensor, torchvision.transforms.ToTensor), preprocess
        assert isinstance(normalize, torchvision.transforms.Normalize), preprocess
        print(f"{name}: {preprocess}")
        inputs = [Image.open(p) for p in paths]
        eight_bit = [torchvision.transforms.Compose(to_pil)(img) for img in inputs]
        Image.fromarray(np.concatenate([np.asarray(e) for e in eight_bit], axis=1), "RGB").save(
            out / f"preprocessed-{name}.png", optimize=False)
        pixels = torch.stack([preprocess(img) for img in inputs])   # the whole transform, as users run it
        assert torch.equal(pixels, torch.stack([normalize(to_tensor(e)) for e in eight_bit]))
        with torch.no_grad():
            tensors[f"expected.{name}.image_embeddings"] = model.encode_image(pixels, normalize=True)

    metadata = {
        "format": "swiftclip-preprocessing-fixture",
        "version": "1",
        "base_model": BASE_MODEL,
        "image_count": str(len(SIZES)),
        "preprocess_cfgs": json_string(PREPROCESS_CFGS),
        "pillow_version": PIL.__version__,
        "torchvision_version": torchvision.__version__,
        "description": (
            "OpenCLIP image embeddings (encode_image, normalize=True) of image-<i>.png under each "
            "preprocess_cfg, loaded from a local-dir: hub folder of the base model's weights."),
        **versions(),
    }
    size = save_fixture(out / "expected.safetensors", tensors, metadata)
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out}: expected.safetensors {size} bytes, {total} bytes in all")
    assert total < 120_000, "keep the fixture folder small (under 120 KB)"


if __name__ == "__main__":
    main()
