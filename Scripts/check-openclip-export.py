#!/usr/bin/env python3
"""Checks that a SwiftCLIP checkpoint is interchangeable with OpenCLIP.

Loads SwiftCLIP's model.safetensors into OpenCLIP's CLIP with load_state_dict(strict=True),
embeds the first images of a shard and a few captions with OpenCLIP, and compares them with the
embeddings SwiftCLIP's `embed` command wrote for the same inputs.

  .venv-ref/bin/python Scripts/check-openclip-export.py CHECKPOINT_FOLDER MODEL_CONFIG.json SHARD.h5 TEXTS.txt EMBED_OUT.safetensors

(Scripts/check-openclip-export runs the whole round trip.) Exits 1 when the difference exceeds 1e-4.
"""
import json, sys

import h5py
import numpy as np
import torch
import open_clip
from safetensors.torch import load_file

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def main():
    ckpt, config_path, shard, texts_path, embed_path = sys.argv[1:6]
    cfg = json.load(open(config_path))
    model = open_clip.model.CLIP(embed_dim=cfg["embed_dim"], vision_cfg=cfg["vision_cfg"], text_cfg=cfg["text_cfg"],
                                 quick_gelu=cfg.get("quick_gelu", False))
    state = load_file(f"{ckpt}/model.safetensors")
    missing, unexpected = model.load_state_dict(state, strict=True)
    model.eval()
    ours = load_file(embed_path)
    n = ours["image_embeddings"].shape[0]
    with h5py.File(shard, "r") as f:
        pixels = f["images"][:n].astype(np.float32) / 255.0          # [N, H, W, 3]
    images = torch.from_numpy(((pixels - MEAN) / STD).transpose(0, 3, 1, 2).copy())
    texts = [l.rstrip("\n") for l in open(texts_path) if l.strip()]
    tokens = open_clip.tokenize(texts, context_length=cfg["text_cfg"]["context_length"])
    with torch.no_grad():
        img = model.encode_image(images, normalize=True)
        txt = model.encode_text(tokens, normalize=True)
    di = (img - ours["image_embeddings"]).abs().max().item()
    dt = (txt - ours["text_embeddings"]).abs().max().item()
    print(f"OpenCLIP {open_clip.__version__}: load_state_dict(strict=True) ok ({len(state)} tensors); "
          f"max |Δ| image embeddings {di:.2e} over {n} images, text embeddings {dt:.2e} over {len(texts)} captions")
    return 0 if max(di, dt) <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
