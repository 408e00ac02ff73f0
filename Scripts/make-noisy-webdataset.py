#!/usr/bin/env python3
"""Writes a Fashion-MNIST split as img2dataset-style WebDataset tars with a known fraction of wrong captions.

    .venv-ref/bin/python Scripts/make-noisy-webdataset.py OUTPUT_DIR [--split train|test] [--noise 0.3]
                         [--tars 10] [--seed 0] [--clean] [--idx-dir /usr/share/datasets/fashion-mnist]

Reads the IDX files Debian's `dataset-fashion-mnist` package installs (Scripts/bootstrap) and writes
`OUTPUT_DIR/00000.tar …` (the items in their IDX order, split evenly over `--tars` tars), each sample
as img2dataset writes it: `{key}.png` (the 28×28 grayscale image, PNG), `{key}.txt` (the caption) and
`{key}.json`. Keys are the 9-digit item index (`000012345`). The caption is one of the training
templates (Configs/templates/fashion-train.txt) filled with a class name; for exactly
round(noise·N) items, drawn with the seed, that class name is another class than the image's (drawn
uniformly among the other nine). The .json records the truth:
`{"key": …, "label": L, "caption_label": C, "noisy": C != L}`, and `OUTPUT_DIR/noisy-keys.txt`
lists the noisy keys, one a line. `--clean` writes the same tars with every caption correct (the
same templates drawn), a control. The output is byte-identical for the same arguments (fixed seed,
fixed tar headers). Needs Pillow (the .venv-ref environment: `pip install pillow`).
"""
import argparse
import gzip
import io
import json
import os
import random
import struct
import sys
import tarfile

from PIL import Image

CLASSNAMES = ["t-shirt", "trouser", "pullover", "dress", "coat",
              "sandal", "shirt", "sneaker", "bag", "ankle boot"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def read_idx(path, rank):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic != 0x0800 + rank:
        sys.exit(f"{path}: not an IDX file of rank {rank} unsigned bytes (magic {magic:#x})")
    dims = struct.unpack(f">{rank}I", data[4:4 + 4 * rank])
    return dims, data[4 + 4 * rank:]


def read_templates(path):
    with open(path, encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    return [line for line in lines if line and not line.startswith("#")]


def add(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1700000000
    info.mode = 0o644
    info.uname = info.gname = ""
    archive.addfile(info, io.BytesIO(data))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output")
    parser.add_argument("--split", choices=["train", "test"], default="train")
    parser.add_argument("--noise", type=float, default=0.3, help="fraction of captions naming a wrong class")
    parser.add_argument("--tars", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="only the first N items")
    parser.add_argument("--clean", action="store_true", help="every caption correct (the control)")
    parser.add_argument("--idx-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--templates", default=os.path.join(ROOT, "Configs", "templates", "fashion-train.txt"))
    args = parser.parse_args()
    if not 0 <= args.noise < 1:
        sys.exit(f"--noise must be in [0, 1), got {args.noise}")
    if args.tars <= 0:
        sys.exit(f"--tars must be positive, got {args.tars}")

    prefix = "train" if args.split == "train" else "t10k"
    (n, height, width), pixels = read_idx(os.path.join(args.idx_dir, f"{prefix}-images-idx3-ubyte.gz"), 3)
    (n_labels,), labels = read_idx(os.path.join(args.idx_dir, f"{prefix}-labels-idx1-ubyte.gz"), 1)
    if n != n_labels:
        sys.exit(f"{args.idx_dir}: {n_labels} labels for {n} images")
    if args.limit:
        n = min(n, args.limit)
    templates = read_templates(args.templates)

    rng = random.Random(args.seed)
    noisy = set() if args.clean else set(rng.sample(range(n), round(args.noise * n)))
    template_rng = random.Random(args.seed + 1)          # the same templates with or without --clean
    swap_rng = random.Random(args.seed + 2)
    os.makedirs(args.output, exist_ok=True)
    per_tar = -(-n // args.tars)
    size = height * width
    noisy_keys = []
    for t in range(args.tars):
        items = range(t * per_tar, min(n, (t + 1) * per_tar))
        if not items:
            break
        path = os.path.join(args.output, f"{t:05d}.tar")
        with tarfile.open(path + ".partial", "w", format=tarfile.USTAR_FORMAT) as archive:
            for i in items:
                key = f"{i:09d}"
                label = labels[i]
                template = template_rng.choice(templates)
                caption_label = label
                if i in noisy:
                    caption_label = swap_rng.choice([c for c in range(len(CLASSNAMES)) if c != label])
                    noisy_keys.append(key)
                buffer = io.BytesIO()
                Image.frombytes("L", (width, height), pixels[i * size:(i + 1) * size]).save(buffer, "PNG")
                add(archive, key + ".png", buffer.getvalue())
                add(archive, key + ".txt", template.replace("{}", CLASSNAMES[caption_label]).encode())
                add(archive, key + ".json", json.dumps({"key": key, "label": label, "caption_label": caption_label,
                                                        "noisy": caption_label != label}).encode())
        os.replace(path + ".partial", path)
    with open(os.path.join(args.output, "noisy-keys.txt"), "w") as f:
        f.writelines(k + "\n" for k in noisy_keys)
    print(f"make-noisy-webdataset: {n} items in {min(args.tars, -(-n // per_tar))} tars in {args.output}, "
          f"{len(noisy_keys)} noisy captions ({len(noisy_keys) / n:.1%})")


if __name__ == "__main__":
    main()
