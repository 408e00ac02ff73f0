#!/usr/bin/env python3
"""Checks that a SwiftCLIP model is interchangeable with OpenCLIP.

Checkpoint mode: loads SwiftCLIP's model.safetensors into OpenCLIP's CLIP with
load_state_dict(strict=True), embeds the first images of a shard and a few captions with
OpenCLIP, and compares them with the embeddings SwiftCLIP's `embed` command wrote:

  .venv-ref/bin/python Scripts/check-openclip-export.py CHECKPOINT_FOLDER MODEL_CONFIG.json SHARD.h5 TEXTS.txt EMBED_OUT.safetensors

Hub mode: loads a hub folder written by SwiftCLIP's `export` exactly as a user would, with
open_clip.create_model_and_transforms("local-dir:DIR") and get_tokenizer("local-dir:DIR")
(OpenCLIP's own preprocessing from the folder's preprocess_cfg, PIL images), and compares with
what `embed --checkpoint DIR` wrote for the same shard and captions:

  .venv-ref/bin/python Scripts/check-openclip-export.py --hub HUB_DIR SHARD.h5 TEXTS.txt EMBED_OUT.safetensors

(Scripts/check-openclip-export [--hub] runs the whole round trip.) Exits 1 when a difference exceeds
the tolerance, 1e-4 (also for images that OpenCLIP's transform resizes: SwiftCLIP's resampler gives
Pillow's 8-bit pixels).
"""
import io
import json
import os
import sys

import h5py
import numpy as np
import torch
import open_clip
from safetensors.torch import load_file

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def shard_images(shard, n):
    """The first n images of a SwiftCLIP shard as uint8 [H, W, 3] arrays (/images or /jpeg)."""
    from PIL import Image
    with h5py.File(shard, "r") as f:
        if "images" in f:
            return [np.asarray(a) for a in f["images"][:n]]
        return [np.asarray(Image.open(io.BytesIO(bytes(b))).convert("RGB")) for b in f["jpeg"][:n]]


def read_texts(path):
    return [l.rstrip("\n").rstrip("\r") for l in open(path, encoding="utf-8")]


def compare(img, txt, ours, image_tolerance, label):
    di = (img - ours["image_embeddings"]).abs().max().item()
    dt = (txt - ours["text_embeddings"]).abs().max().item()
    print(f"OpenCLIP {open_clip.__version__}: {label}; max |Δ| image embeddings {di:.2e} over {img.shape[0]} images, "
          f"text embeddings {dt:.2e} over {txt.shape[0]} captions")
    return 0 if di <= image_tolerance and dt <= 1e-4 else 1


def check_checkpoint(ckpt, config_path, shard, texts_path, embed_path):
    if os.path.isfile(config_path):
        cfg = json.load(open(config_path))
    else:   # a built-in name (model.config: ViT-B-32): the config SwiftCLIP recorded in the weights' metadata
        from safetensors import safe_open
        with safe_open(f"{ckpt}/model.safetensors", "pt") as f:
            cfg = json.loads(f.metadata()["model_config"])
        for key in ("type", "convnet_widths"):   # SwiftCLIP's own keys, unknown to OpenCLIP
            cfg["vision_cfg"].pop(key, None)
    model = open_clip.model.CLIP(embed_dim=cfg["embed_dim"], vision_cfg=cfg["vision_cfg"], text_cfg=cfg["text_cfg"],
                                 quick_gelu=cfg.get("quick_gelu", False))
    state = load_file(f"{ckpt}/model.safetensors")
    model.load_state_dict(state, strict=True)
    model.eval()
    ours = load_file(embed_path)
    pixels = np.stack(shard_images(shard, ours["image_embeddings"].shape[0])).astype(np.float32) / 255.0
    images = torch.from_numpy(((pixels - MEAN) / STD).transpose(0, 3, 1, 2).copy())
    tokens = open_clip.tokenize(read_texts(texts_path), context_length=cfg["text_cfg"]["context_length"])
    with torch.no_grad():
        img = model.encode_image(images, normalize=True)
        txt = model.encode_text(tokens, normalize=True)
    return compare(img, txt, ours, 1e-4, f"load_state_dict(strict=True) ok ({len(state)} tensors)")


def check_hub(hub, shard, texts_path, embed_path):
    from PIL import Image
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{hub}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{hub}")
    model.eval()
    ours = load_file(embed_path)
    arrays = shard_images(shard, ours["image_embeddings"].shape[0])
    images = torch.stack([preprocess(Image.fromarray(a)) for a in arrays])
    with torch.no_grad():
        img = model.encode_image(images, normalize=True)
        txt = model.encode_text(tokenizer(read_texts(texts_path)), normalize=True)
    return compare(img, txt, ours, 1e-4,
                   f"create_model_and_transforms('local-dir:{hub}') ok, transform {preprocess.transforms[:2]}")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--hub"] and len(args) == 5:
        return check_hub(*args[1:])
    if len(args) == 5:
        return check_checkpoint(*args)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
