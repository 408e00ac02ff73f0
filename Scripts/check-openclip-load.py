#!/usr/bin/env python3
"""Checks that a SwiftCLIP checkpoint loads into OpenCLIP with strict=True and computes the same embeddings.

Usage (from the repository root):
    python3 Scripts/check-openclip-load.py CHECKPOINT CONFIG.json [--expected FILE.safetensors] [--tolerance 1e-4]

CHECKPOINT   a model.safetensors written by SwiftCLIP, or a checkpoint folder holding one
             (runs/NAME/checkpoints/step-XXXXXXXX/). Keys must be OpenCLIP state_dict names.
             Keys starting with `input.` or `expected.` are not weights (model fixtures under
             Tests/Fixtures/models/ carry them) and are set aside.
CONFIG.json  OpenCLIP model-config JSON (embed_dim, quick_gelu, vision_cfg, text_cfg, and
             optionally init_logit_bias).
--expected   a safetensors file with `input.images` [N,3,H,W] and `input.tokens` [M,ctx]
             (integer ids, any float/int dtype) and any of `expected.image_features` [N,E],
             `expected.text_features` [M,E] (unnormalized), `expected.image_tokens`
             [N,g*g,W], `expected.logits_per_image` [N,M]. OpenCLIP recomputes each and the
             script prints the max |difference|. Without --expected, the checkpoint's own
             input./expected. tensors are used when present.

Scalars: OpenCLIP's `logit_scale` (and `logit_bias`) are 0-d; a checkpoint that stores them
as [1] (or 0-d where the model wants [1]) is reshaped, and the script says so.

Exit status 0 when loading succeeds and every difference is ≤ tolerance, 1 otherwise.
Computation is float32 on CPU with torch.set_num_threads(1).
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import ensure_reference_venv  # noqa: E402

ensure_reference_venv()

import torch  # noqa: E402
import open_clip  # noqa: E402
from open_clip.model import CLIP  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

FIXTURE_PREFIXES = ("input.", "expected.")


def build_model(config: dict) -> CLIP:
    known = {"embed_dim", "quick_gelu", "vision_cfg", "text_cfg", "init_logit_scale", "init_logit_bias"}
    ignored = sorted(set(config) - known)
    if ignored:
        print(f"note: config keys not used by open_clip.model.CLIP: {ignored}")
    kwargs = {key: config[key] for key in known if key in config}
    return CLIP(**kwargs).eval()


def match_scalar_shapes(state: dict, model: CLIP) -> dict:
    """Reshapes tensors whose element count matches but whose shape differs only by size-1 axes ([1] vs [])."""
    expected_shapes = {key: value.shape for key, value in model.state_dict().items()}
    fixed = {}
    for key, value in state.items():
        want = expected_shapes.get(key)
        if want is not None and value.shape != want and value.numel() == 1 and torch.Size(want).numel() == 1:
            print(f"note: {key}: reshaped {list(value.shape)} -> {list(want)}")
            value = value.reshape(want)
        fixed[key] = value.to(torch.float32).contiguous()
    return fixed


def max_abs_difference(name: str, ours: torch.Tensor, theirs: torch.Tensor) -> float:
    if ours.shape != theirs.shape:
        print(f"{name}: shape mismatch, OpenCLIP {list(ours.shape)} vs file {list(theirs.shape)}")
        return float("inf")
    difference = (ours - theirs).abs().max().item()
    scale = theirs.abs().max().item()
    print(f"{name}: max |diff| = {difference:.3e}  (max |value| = {scale:.3e}, shape {list(theirs.shape)})")
    return difference


def main() -> int:
    parser = argparse.ArgumentParser(description="Load a SwiftCLIP checkpoint into OpenCLIP (strict) and compare embeddings.")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("config", type=Path)
    parser.add_argument("--expected", type=Path, default=None)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    torch.set_num_threads(1)

    checkpoint = args.checkpoint / "model.safetensors" if args.checkpoint.is_dir() else args.checkpoint
    tensors = load_file(str(checkpoint))
    weights = {k: v for k, v in tensors.items() if not k.startswith(FIXTURE_PREFIXES)}
    extras = {k: v for k, v in tensors.items() if k.startswith(FIXTURE_PREFIXES)}
    config = json.loads(args.config.read_text())
    if "logit_bias" in weights and "init_logit_bias" not in config:
        config["init_logit_bias"] = 0.0  # creates the parameter so strict loading can fill it
    model = build_model(config)

    try:
        model.load_state_dict(match_scalar_shapes(weights, model), strict=True)
    except RuntimeError as error:
        print(f"FAIL: load_state_dict(strict=True) into open_clip {open_clip.__version__}:\n{error}")
        return 1
    print(f"OK: {len(weights)} tensors from {checkpoint} loaded with strict=True (open_clip {open_clip.__version__})")

    reference = load_file(str(args.expected)) if args.expected else extras
    if "input.images" not in reference and "input.tokens" not in reference:
        if args.expected:
            print(f"FAIL: {args.expected} has neither input.images nor input.tokens")
            return 1
        return 0

    worst = 0.0
    with torch.no_grad():
        if "input.images" in reference:
            images = reference["input.images"].to(torch.float32)
            model.visual.output_tokens = True
            image_features, image_tokens = model.visual(images)
            model.visual.output_tokens = False
            if "expected.image_features" in reference:
                worst = max(worst, max_abs_difference("image_features", image_features, reference["expected.image_features"]))
            if "expected.image_tokens" in reference:
                worst = max(worst, max_abs_difference("image_tokens", image_tokens, reference["expected.image_tokens"]))
        if "input.tokens" in reference:
            tokens = reference["input.tokens"].round().to(torch.long)
            text_features = model.encode_text(tokens, normalize=False)
            if "expected.text_features" in reference:
                worst = max(worst, max_abs_difference("text_features", text_features, reference["expected.text_features"]))
        if "expected.logits_per_image" in reference and "input.images" in reference and "input.tokens" in reference:
            logits_per_image, _ = model.get_logits(images, tokens)
            worst = max(worst, max_abs_difference("logits_per_image", logits_per_image, reference["expected.logits_per_image"]))

    verdict = "OK" if worst <= args.tolerance else "FAIL"
    print(f"{verdict}: worst max |diff| {worst:.3e} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
