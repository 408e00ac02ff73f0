#!/usr/bin/env python3
"""Generates the image positional-embedding resize fixture: Tests/Fixtures/pos-embed/resize.safetensors.

Usage (from the repository root):
    python3 Scripts/make-pos-embed-fixtures.py [--output Tests/Fixtures/pos-embed/resize.safetensors]

Creates/uses the reference virtualenv `.venv-ref` (see Scripts/reference_env.py).
Deterministic: fixed seeds, torch.set_num_threads(1); rerunning produces a byte-identical file with
the same package versions.

Each case is a ViT positional embedding [1 + h*w, W] (the class-token row first, then the h×w grid
row-major), resized by OpenCLIP's own `open_clip.model.resize_pos_embed(state_dict, model)` (default
arguments: interpolation='bicubic', antialias=True) to the grid (H, W') of a stand-in model whose
`visual.grid_size` is that grid. OpenCLIP reads the old grid as square (sqrt of the row count), so
every input grid is square; target grids may be rectangular. The script also checks that OpenCLIP's
result equals a direct call of

    F.interpolate(grid [1, W, h, w], size=(H, W'), mode='bicubic', antialias=True, align_corners=False)

with the class token concatenated back unchanged, and prints how far the non-antialiased bicubic
(the a = -0.75 kernel with clamped borders) is from it, which is why the antialiased kernel (PIL's,
a = -0.5, window cut at the borders and renormalized) must be matched even when enlarging.

Tensors (all float32):
    <case>.input     [1 + h*w, W]  N(0, 1) values (stricter than the W^-0.5 scale of a real embedding)
    <case>.expected  [1 + H*W', W] resize_pos_embed's result
`__metadata__` (all strings): format = swiftclip-pos-embed-fixture, version, cases (JSON list of
{name, from: [h, w], to: [H, W'], width}), description, seed, and the four `*_version` keys.
"""
import argparse
import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import REPO_ROOT, save_fixture, versions  # noqa: E402
from reference_env import ensure_reference_venv  # noqa: E402

ensure_reference_venv()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from open_clip.model import resize_pos_embed  # noqa: E402

SEED = 2400
WIDTH = 16
# name → (old grid side (square, as OpenCLIP assumes), new grid (h, w))
CASES = {
    "7x7-to-14x14": (7, (14, 14)),   # ViT-B/16 224 → 448 in miniature: enlarge ×2
    "2x2-to-4x4": (2, (4, 4)),       # the end-to-end test's 16 px / patch 8 → 32 px
    "2x2-to-3x3": (2, (3, 3)),       # enlarge by a non-integer ratio
    "7x7-to-10x10": (7, (10, 10)),
    "14x14-to-7x7": (14, (7, 7)),    # shrink ×2: the antialiased window spans 9 inputs
    "5x5-to-3x3": (5, (3, 3)),       # shrink by a non-integer ratio
    "16x16-to-3x3": (16, (3, 3)),    # shrink by more than 5: wide window, cut at the borders
    "4x4-to-3x5": (4, (3, 5)),       # rectangular target: shrink one axis, enlarge the other
    "4x4-to-6x4": (4, (6, 4)),       # one axis unchanged (torch skips that pass)
}


def openclip_resize(pos_embed: torch.Tensor, grid: tuple) -> torch.Tensor:
    """OpenCLIP's resize_pos_embed on a one-entry state dict, for a model whose grid is `grid`."""
    state_dict = {"visual.positional_embedding": pos_embed.clone()}
    model = SimpleNamespace(visual=SimpleNamespace(grid_size=grid))
    resize_pos_embed(state_dict, model)
    return state_dict["visual.positional_embedding"]


def direct_resize(pos_embed: torch.Tensor, old: int, grid: tuple, antialias: bool) -> torch.Tensor:
    """The same computation written out: class token kept, [h, w, W] → [1, W, h, w] → interpolate → back."""
    token, image = pos_embed[:1], pos_embed[1:]
    image = image.reshape(1, old, old, -1).permute(0, 3, 1, 2)
    image = F.interpolate(image, size=grid, mode="bicubic", antialias=antialias, align_corners=False)
    image = image.permute(0, 2, 3, 1).reshape(grid[0] * grid[1], -1)
    return torch.cat([token, image], dim=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "Tests/Fixtures/pos-embed/resize.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(SEED)
    tensors, cases = {}, []
    for name, (old, grid) in CASES.items():
        pos_embed = torch.randn(1 + old * old, WIDTH, generator=generator, dtype=torch.float32)
        resized = openclip_resize(pos_embed, grid)
        assert resized.shape == (1 + grid[0] * grid[1], WIDTH), resized.shape
        assert torch.equal(resized, direct_resize(pos_embed, old, grid, antialias=True)), name
        assert torch.equal(resized[0], pos_embed[0]), name
        plain = direct_resize(pos_embed, old, grid, antialias=False)
        print(f"{name}: max |antialias=True - antialias=False| = {(resized - plain).abs().max().item():.4g}")
        tensors[f"{name}.input"] = pos_embed
        tensors[f"{name}.expected"] = resized
        cases.append({"name": name, "from": [old, old], "to": list(grid), "width": WIDTH})
    metadata = {
        "format": "swiftclip-pos-embed-fixture", "version": "1", "seed": str(SEED),
        "cases": json.dumps(cases, sort_keys=True, separators=(",", ":")),
        "description": ("open_clip.model.resize_pos_embed (bicubic, antialias=True, align_corners=False, "
                        "class token kept) of N(0,1) embeddings [1+h*w, W] to each case's grid"),
        **versions(),
    }
    size = save_fixture(args.output, tensors, metadata)
    print(f"wrote {args.output} ({size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
