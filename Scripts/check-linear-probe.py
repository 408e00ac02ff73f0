#!/usr/bin/env python3
"""Checks `evaluate --task linear-probe` against scikit-learn's LogisticRegression on the same features.

Test-time only (never run in CI, never at run time). From the repository root, after `swift build`:

    python3 -m venv .venv-ref && .venv-ref/bin/pip install scikit-learn numpy h5py
    .venv-ref/bin/python Scripts/check-linear-probe.py --checkpoint runs/quickstart \
        --train Datasets/fashion-mnist/train --test Datasets/fashion-mnist/test

What it does:
  1. runs `evaluate --task linear-probe --json` (SwiftCLIP's whole protocol: its λ search on a
     validation split of the training set, the refit on all of it, the test scores);
  2. exports the same image features with `embed` (L2-normalized image embeddings, the evaluation
     transform — what the probe fits on) and reads the labels from the shards with h5py;
  3. fits scikit-learn's LogisticRegression (multinomial, L2, lbfgs, C = 1/λ, max_iter = 1000,
     tol = 1e-6 as SwiftCLIP) on those features:
       a. with SwiftCLIP's chosen λ on the whole training set → test top-1, top-5 and mean per-class recall;
       b. with the whole protocol redone in scikit-learn: the same stratified split (SwiftCLIP's
          xoshiro256** Fisher–Yates, re-implemented here), the same λ grid 10^(−6 + k/8) and the same
          parametric binary search, then the refit → its λ and test top-1;
  4. prints the numbers side by side and exits 1 when a top-1 differs by more than 0.5 points.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

MASK = (1 << 64) - 1


class Xoshiro256:
    """SwiftCLIP's RandomGenerator (Sources/TensorCore/RandomGenerator.swift): SplitMix64 seeding, xoshiro256**."""

    def __init__(self, seed):
        s, words = seed, []
        for _ in range(4):
            s = (s + 0x9E3779B97F4A7C15) & MASK
            z = s
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            words.append(z ^ (z >> 31))
        self.s = words

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result


def split(labels, classes, proportion, seed):
    """LinearProbe.split: per class, a seeded Fisher–Yates shuffle; ⌊p·n_c⌋ (at most n_c − 1) held out."""
    rng = Xoshiro256(seed)
    fit, validation = [], []
    for c in range(classes):
        rows = [i for i, y in enumerate(labels) if y == c]
        if not rows:
            continue
        for i in range(len(rows) - 1, 0, -1):
            j = rng.next() % (i + 1)
            rows[i], rows[j] = rows[j], rows[i]
        held = min(int(len(rows) * proportion), len(rows) - 1)
        validation += rows[:held]
        fit += rows[held:]
    return sorted(fit), sorted(validation)


LAMBDAS = [10 ** (-6 + k / 8) for k in range(97)]


def search(score):
    """LinearProbe.search: k = 0, 16, …, 96, then the peak's neighbours 8, 4, 2, 1 steps away; a tie keeps the larger λ."""
    cache = {}

    def peak(candidates):
        best = None
        for k in candidates:
            if k not in cache:
                cache[k] = score(k)
            if best is None or cache[k] > cache[best] or (cache[k] == cache[best] and k > best):
                best = k
        return best

    best = peak(range(0, 97, 16))
    span = 8
    while span > 0:
        best = peak([max(best - span, 0), best, min(best + span, 96)])
        span //= 2
    return best


def fit(x, y, lam):
    return LogisticRegression(C=1 / lam, max_iter=1000, tol=1e-6).fit(x, y)


def scores(model, x, y, classes):
    """top-1, top-5 (the label among the 5 highest logits) and mean per-class recall, as clip_benchmark."""
    logits = np.zeros((len(x), classes))
    logits[:, model.classes_] = model.decision_function(x)
    order = np.argsort(-logits, axis=1)
    top1 = float((order[:, 0] == y).mean())
    top5 = float((order[:, :5] == y[:, None]).any(axis=1).mean())
    return top1, top5, float(balanced_accuracy_score(y, order[:, 0]))


def read_safetensors(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    entry = header[name]
    start, end = entry["data_offsets"]
    return np.frombuffer(data[start:end], dtype=np.float32).reshape(entry["shape"])


def labels_of(dataset):
    paths = sorted(Path(dataset).glob("*.h5")) if Path(dataset).is_dir() else [Path(dataset)]
    return np.concatenate([h5py.File(p, "r")["labels"][:] for p in paths]).astype(np.int64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--train", required=True, help="shard folder or .h5 (the probe's training set)")
    parser.add_argument("--test", required=True, help="shard folder or .h5 (the test set)")
    parser.add_argument("--bin", default=None, help="folder of the built executables (default: swift build --show-bin-path)")
    parser.add_argument("--threads", default=None)
    args = parser.parse_args()
    bin_dir = Path(args.bin or subprocess.check_output(["swift", "build", "--show-bin-path"], text=True).strip())
    threads = ["--threads", args.threads] if args.threads else []

    with tempfile.TemporaryDirectory() as tmp:
        ours_json = os.path.join(tmp, "probe.json")
        subprocess.run([str(bin_dir / "evaluate"), "--checkpoint", args.checkpoint, "--task", "linear-probe",
                        "--train-dataset", args.train, "--dataset", args.test, "--json", ours_json] + threads, check=True)
        ours = json.load(open(ours_json))
        empty = os.path.join(tmp, "empty.txt")
        Path(empty).write_text("")
        features = {}
        for part, dataset in (("train", args.train), ("test", args.test)):
            out = os.path.join(tmp, f"{part}.safetensors")
            subprocess.run([str(bin_dir / "embed"), "--checkpoint", args.checkpoint, "--images", dataset,
                            "--texts", empty, "--output", out] + threads, check=True, stdout=subprocess.DEVNULL)
            features[part] = read_safetensors(out, "image_embeddings").astype(np.float64)

    x_train, x_test = features["train"], features["test"]
    y_train, y_test = labels_of(args.train), labels_of(args.test)
    assert len(x_train) == len(y_train) and len(x_test) == len(y_test), "one feature row per labelled item"
    classes = len(ours["classnames"])

    # a. SwiftCLIP's λ, scikit-learn's fit.
    lam = ours["lambda"]
    sk_a = scores(fit(x_train, y_train, lam), x_test, y_test, classes)

    # b. The whole protocol in scikit-learn (same split, grid and search).
    fit_rows, val_rows = split(list(y_train), classes, 0.2, 0)
    assert len(val_rows) == ours["validation_count"], (len(val_rows), ours["validation_count"])

    def validation_top1(k):
        m = fit(x_train[fit_rows], y_train[fit_rows], LAMBDAS[k])
        return scores(m, x_train[val_rows], y_train[val_rows], classes)[0]

    k = search(validation_top1)
    sk_b = scores(fit(x_train, y_train, LAMBDAS[k]), x_test, y_test, classes)

    ours_scores = (ours["top1"], ours["top5"], ours["mean_per_class_recall"])
    print(f"features: train {x_train.shape}, test {x_test.shape}, {classes} classes")
    print(f"{'':34}{'top-1':>9}{'top-5':>9}{'mean/class':>12}   λ")
    row = "{:34}{:>8.2f}%{:>8.2f}%{:>11.2f}%   {:.4g}"
    print(row.format("SwiftCLIP (its search)", *[100 * v for v in ours_scores], lam))
    print(row.format("scikit-learn, SwiftCLIP's λ", *[100 * v for v in sk_a], lam))
    print(row.format("scikit-learn, its own search", *[100 * v for v in sk_b], LAMBDAS[k]))
    sweep = {round(p["lambda"], 12): p["validation_top1"] for p in ours["sweep"]}
    print("validation top-1 by λ (SwiftCLIP): " + ", ".join(f"{l:.3g}: {100 * a:.2f}%" for l, a in sorted(sweep.items())))
    worst = max(abs(ours_scores[0] - sk_a[0]), abs(ours_scores[0] - sk_b[0]))
    print(f"largest top-1 difference: {100 * worst:.2f} points (limit 0.5)")
    sys.exit(0 if worst <= 0.005 else 1)


if __name__ == "__main__":
    main()
