#!/usr/bin/env python3
"""Generates OpenCLIP model fixtures: Tests/Fixtures/models/<name>.safetensors + <name>.json.

Usage (from the repository root):
    python3 Scripts/make-model-fixtures.py [--output-dir Tests/Fixtures/models]

Creates/uses the reference virtualenv `.venv-ref` (see Scripts/reference_env.py).
Deterministic: fixed seeds, torch.set_num_threads(1), float32 computation as in
OpenCLIP; rerunning produces byte-identical files with the same package versions.

Each fixture is a small randomly initialised `open_clip.model.CLIP` (ViT image
tower, causal text transformer) and holds, all float32:

    <every state_dict key>   exactly OpenCLIP's names and shapes; `logit_scale` is 0-d []
    input.images             [N=3, 3, H, W]  standard normal ("already normalized" pixels)
    input.tokens             [M=4, ctx]      token ids stored as float32 (exact integers)
    expected.image_features  [N, E]  model.encode_image(images, normalize=False)
    expected.text_features   [M, E]  model.encode_text(tokens, normalize=False)
    expected.image_tokens    [N, g*g, W]  ViT patch tokens after ln_post, before `proj`
                                          (class token excluded; VisionTransformer output_tokens)
    expected.logits_per_image [N, M] exp(logit_scale) * l2norm(img) @ l2norm(txt)^T (model.get_logits)

`__metadata__` (all strings): format, version, name, model_config (OpenCLIP
model-config JSON), openclip_version, torch_version, numpy_version,
safetensors_version, seed, sot_token_id, eot_token_id, pad_token_id,
eot_positions (JSON list, one per token row), description.

Token rows: [SOT, random ids in 1...vocab-3, EOT, 0, 0, ...] with SOT = vocab-2 and
EOT = vocab-1 (the largest id, once per row, like 49406/49407 in the real
vocabulary), so OpenCLIP's argmax pooling picks the EOT position. The EOT sits at
varied positions: 1 (right after SOT), an early one, a middle one and ctx-1
(the last slot, no padding).

Random init is OpenCLIP's own, under torch.manual_seed(seed); afterwards every
bias and LayerNorm parameter (zero or one at init) is perturbed with
N(0, 0.1) so that a Swift implementation that drops a bias or a LayerNorm gain
cannot pass, and `logit_scale` is set to a per-model value.
"""
import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import REPO_ROOT, as_float32, ensure_reference_venv, json_string, save_fixture, versions  # noqa: E402

ensure_reference_venv()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from open_clip.model import CLIP  # noqa: E402

VOCAB_SIZE = 128  # reduced vocabulary keeps the files small; ids 0 ... 127
NUM_IMAGES = 3
NUM_TEXTS = 4

# name → (seed, logit_scale value, OpenCLIP model-config)
MODELS = {
    # a. exact GELU; 4x4 grid, 2 vision heads of width 32; 2 text heads of width 32.
    "vit-gelu-a": (1001, math.log(1 / 0.07), {
        "embed_dim": 32,
        "quick_gelu": False,
        "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "head_width": 32, "mlp_ratio": 4.0},
        "text_cfg": {"context_length": 16, "vocab_size": VOCAB_SIZE, "width": 64, "heads": 2, "layers": 2},
    }),
    # b. QuickGELU; 4x4 grid, 3 vision heads of width 16; 4 text heads of width 8, full 77 context.
    "vit-quickgelu-b": (1002, 3.0, {
        "embed_dim": 24,
        "quick_gelu": True,
        "vision_cfg": {"image_size": 24, "patch_size": 6, "width": 48, "layers": 3, "head_width": 16, "mlp_ratio": 4.0},
        "text_cfg": {"context_length": 77, "vocab_size": VOCAB_SIZE, "width": 32, "heads": 4, "layers": 1},
    }),
    # c. exact GELU; 4x4 grid, 1 vision layer with 2 heads of width 16; 3 text heads of width 16.
    "vit-gelu-c": (1003, 4.2, {
        "embed_dim": 16,
        "quick_gelu": False,
        "vision_cfg": {"image_size": 16, "patch_size": 4, "width": 32, "layers": 1, "head_width": 16, "mlp_ratio": 4.0},
        "text_cfg": {"context_length": 20, "vocab_size": VOCAB_SIZE, "width": 48, "heads": 3, "layers": 3},
    }),
}


def build_model(seed: int, logit_scale: float, config: dict) -> CLIP:
    """OpenCLIP's CLIP with its own random init, then biases/LayerNorms perturbed (see header)."""
    torch.manual_seed(seed)
    model = CLIP(
        embed_dim=config["embed_dim"],
        vision_cfg=dict(config["vision_cfg"]),
        text_cfg=dict(config["text_cfg"]),
        quick_gelu=config["quick_gelu"],
    )
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            is_norm = ".ln_" in name or name.startswith("ln_")
            if name.endswith("bias") or is_norm:
                param.add_(0.1 * torch.randn(param.shape, generator=generator))
        model.logit_scale.fill_(logit_scale)
    return model.eval()


def make_tokens(rng: np.random.Generator, context_length: int) -> tuple[np.ndarray, list[int]]:
    """[M, ctx] int64 rows [SOT, ids..., EOT, 0...]; EOT positions 1, early, middle, ctx-1."""
    sot, eot = VOCAB_SIZE - 2, VOCAB_SIZE - 1
    positions = [1, min(3, context_length - 1), context_length // 2, context_length - 1]
    tokens = np.zeros((NUM_TEXTS, context_length), dtype=np.int64)
    for row, eot_position in enumerate(positions):
        tokens[row, 0] = sot
        tokens[row, 1:eot_position] = rng.integers(1, VOCAB_SIZE - 2, size=eot_position - 1)
        tokens[row, eot_position] = eot
    return tokens, positions


def make_fixture(name: str, output_dir: Path) -> int:
    seed, logit_scale, config = MODELS[name]
    model = build_model(seed, logit_scale, config)
    rng = np.random.default_rng(seed)
    vision, text = config["vision_cfg"], config["text_cfg"]

    images = torch.from_numpy(
        rng.standard_normal((NUM_IMAGES, 3, vision["image_size"], vision["image_size"])).astype(np.float32))
    token_ids, eot_positions = make_tokens(rng, text["context_length"])
    tokens = torch.from_numpy(token_ids)

    with torch.no_grad():
        image_features = model.encode_image(images, normalize=False)  # [N, E]
        text_features = model.encode_text(tokens, normalize=False)  # [M, E]
        logits_per_image, _ = model.get_logits(images, tokens)  # [N, M]
        model.visual.output_tokens = True
        pooled, image_tokens = model.visual(images)  # [N, E], [N, g*g, W] (after ln_post, before proj)
        model.visual.output_tokens = False
        assert torch.equal(pooled, image_features)

    tensors = {}
    for key, value in model.state_dict().items():
        tensors[key] = value
    tensors["input.images"] = images
    tensors["input.tokens"] = tokens.to(torch.float32)
    tensors["expected.image_features"] = image_features
    tensors["expected.text_features"] = text_features
    tensors["expected.image_tokens"] = image_tokens
    tensors["expected.logits_per_image"] = logits_per_image

    config_text = json.dumps(config, indent=2) + "\n"
    metadata = {
        "format": "swiftclip-model-fixture",
        "version": "1",
        "name": name,
        "model_config": json.dumps(config),
        "seed": str(seed),
        "sot_token_id": str(VOCAB_SIZE - 2),
        "eot_token_id": str(VOCAB_SIZE - 1),
        "pad_token_id": "0",
        "eot_positions": json_string(eot_positions),
        "description": (
            "Random-init OpenCLIP CLIP (float32, torch.set_num_threads(1)); biases and LayerNorm "
            "parameters perturbed by N(0,0.1). expected.image_features/text_features are "
            "encode_image/encode_text with normalize=False; expected.image_tokens are ViT patch "
            "tokens after ln_post before proj (class token excluded); expected.logits_per_image = "
            "exp(logit_scale) * l2norm(image_features) @ l2norm(text_features)^T. Text pooling: "
            "argmax of token ids (EOT is the largest id)."
        ),
        **versions(),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{name}.json").write_text(config_text)
    size = save_fixture(output_dir / f"{name}.safetensors", tensors, metadata)
    print(f"{name}: {size} bytes, {sum(p.numel() for p in model.parameters())} parameters")
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "Tests" / "Fixtures" / "models")
    args = parser.parse_args()
    torch.set_num_threads(1)
    total = sum(make_fixture(name, args.output_dir) for name in MODELS)
    print(f"total: {total} bytes")
    assert total < 2_000_000, "model fixtures must stay under 2 MB in total"


if __name__ == "__main__":
    main()
