#!/usr/bin/env python3
"""Generates Tests/Fixtures/metrics/multicaption-retrieval.json: image and caption embeddings of a
several-captions-per-image retrieval set, with the recalls clip_benchmark's `zeroshot_retrieval`
computes on them and SwiftCLIP's ranks (ties count against the query).

Usage (from the repository root):
    .venv-ref/bin/python Scripts/make-multicaption-retrieval-fixture.py [--fixtures-dir Tests/Fixtures]

Embeddings are small integers (|x| <= 100, 16 dimensions), so every dot product is an integer below
2^24 and float32 GEMM (SwiftCLIP) and float64 (here) give exactly the same scores: a tie here is a tie
there, and nothing else is.

clip_benchmark's algorithm (clip_benchmark/metrics/zeroshot_retrieval.py, restated here in torch):
    scores = texts @ images.T                     # [M captions, N images]
    positive[m, image_of[m]] = True
    recall_at_k(scores, positive, k): topk = torch.topk(scores, k, dim=1).indices;
        per query, (number of positives among topk) / (number of positives)
    image_retrieval_recall@k = mean over captions of (recall_at_k(scores,   positive,   k) > 0)
    text_retrieval_recall@k  = mean over images   of (recall_at_k(scores.T, positive.T, k) > 0)
So `image_retrieval` is SwiftCLIP's text→image and `text_retrieval` its image→text ("any caption").
torch.topk's order among equal scores is unspecified: on `no_ties` (every row and column of scores
distinct) the result is the same whatever the order, and the script asserts SwiftCLIP's rule gives
exactly clip_benchmark's numbers. On `ties` (coarse values, one caption text shared by two images,
one repeated within an image) SwiftCLIP counts ties against the query, so its recalls are at most
clip_benchmark's; both are stored.

SwiftCLIP's rule (numpy, below): image→text rank of image i = number of captions of OTHER images
scoring >= the best score among i's captions; text→image rank of caption m = number of images other
than its own scoring >= its own image. R@k = mean(rank < k); mean_rank = mean(rank) + 1;
median_rank = floor(median(rank)) + 1.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import REPO_ROOT, ensure_reference_venv, versions  # noqa: E402

ensure_reference_venv()

import numpy as np  # noqa: E402
import torch  # noqa: E402

KS = (1, 5, 10)


def clip_benchmark_recalls(images: np.ndarray, texts: np.ndarray, image_of: list) -> dict:
    scores = torch.tensor(texts, dtype=torch.float64) @ torch.tensor(images, dtype=torch.float64).T
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(scores)), torch.tensor(image_of)] = True

    def recall_at_k(s, pos, k):
        top = torch.topk(s, k, dim=1)[1]
        onehot = torch.nn.functional.one_hot(top, num_classes=s.shape[1])
        hits = (onehot * pos.view(s.shape[0], 1, s.shape[1])).sum(dim=(1, 2))
        return hits / pos.sum(dim=1)

    out = {}
    for k in KS:
        out[f"image_retrieval_recall@{k}"] = float((recall_at_k(scores, positive, k) > 0).double().mean())
        out[f"text_retrieval_recall@{k}"] = float((recall_at_k(scores.T, positive.T, k) > 0).double().mean())
    return out


def summary(ranks: np.ndarray) -> dict:
    return {"ranks": [int(r) for r in ranks],
            "R@1": float(np.mean(ranks < 1)), "R@5": float(np.mean(ranks < 5)), "R@10": float(np.mean(ranks < 10)),
            "mean_rank": float(ranks.mean() + 1), "median_rank": float(np.floor(np.median(ranks)) + 1)}


def swiftclip_ranks(images: np.ndarray, texts: np.ndarray, image_of: list) -> dict:
    scores = images @ texts.T                      # [N, M], exact integers
    image_of = np.array(image_of)
    i2t = []
    for i in range(len(images)):
        own = image_of == i
        best = scores[i, own].max()
        i2t.append(int(np.sum((scores[i] >= best) & ~own)))
    t2i = []
    for m in range(len(texts)):
        column = scores[:, m]
        t2i.append(int(np.sum(column >= column[image_of[m]]) - 1))
    return {"image_to_text": summary(np.array(i2t)), "text_to_image": summary(np.array(t2i))}


def draw(rng, n, counts, scale, noise):
    images = rng.integers(-scale, scale + 1, size=(n, 16))
    texts, image_of = [], []
    for i, c in enumerate(counts):
        for _ in range(c):
            texts.append(np.clip(np.rint(0.6 * images[i] + rng.normal(0, noise, 16)), -scale, scale))
            image_of.append(i)
    return images.astype(np.float64), np.array(texts, dtype=np.float64), image_of


def all_distinct(images, texts):
    s = images @ texts.T
    return all(len(set(row)) == len(row) for row in s) and all(len(set(col)) == len(col) for col in s.T)


def case(images, texts, image_of, expect_equal):
    ours = swiftclip_ranks(images, texts, image_of)
    theirs = clip_benchmark_recalls(images, texts, image_of)
    for k in KS:
        pairs = [(ours["text_to_image"][f"R@{k}"], theirs[f"image_retrieval_recall@{k}"]),
                 (ours["image_to_text"][f"R@{k}"], theirs[f"text_retrieval_recall@{k}"])]
        for mine, reference in pairs:
            assert (mine == reference) if expect_equal else (mine <= reference + 1e-12), (k, mine, reference)
    return {"images": images.astype(int).tolist(), "texts": texts.astype(int).tolist(), "image_of": [int(i) for i in image_of],
            **ours, "clip_benchmark": theirs}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures-dir", default=str(REPO_ROOT / "Tests" / "Fixtures"))
    args = parser.parse_args()

    # No ties: 24 images with 1–5 captions each (Flickr30k and COCO have 5), noisy enough for varied ranks.
    seed = 2300
    while True:
        rng = np.random.default_rng(seed)
        counts = rng.integers(1, 6, size=24)
        images, texts, image_of = draw(rng, 24, counts, 100, 110.0)
        if all_distinct(images, texts):
            break
        seed += 1
    no_ties = case(images, texts, image_of, expect_equal=True)
    no_ties["seed"] = seed

    # Ties: coarse values; caption 0 of image 3 repeated as a caption of image 7; image 5 has one text twice.
    rng = np.random.default_rng(2400)
    counts = [5] * 16
    images, texts, image_of = draw(rng, 16, counts, 2, 1.0)
    texts[7 * 5 + 2] = texts[3 * 5]
    texts[5 * 5 + 4] = texts[5 * 5 + 1]
    ties = case(images, texts, image_of, expect_equal=False)
    ties["seed"] = 2400

    fixture = {
        "format": "swiftclip-metrics-fixture", "version": 1,
        "generator": "Scripts/make-multicaption-retrieval-fixture.py", **versions(),
        "definition": (
            "images [N, 16] and texts [M, 16] (integers; scores = dot products, exact in float32); caption m belongs "
            "to image image_of[m]. image_to_text / text_to_image: SwiftCLIP's ranks (image→text: captions of other "
            "images scoring >= the image's best caption; text→image: other images scoring >= the caption's image; "
            "ties count against) and R@1/5/10, mean_rank, median_rank. clip_benchmark: its zeroshot_retrieval "
            "recalls (torch.topk) on the same scores; equal to ours on no_ties, at least ours on ties."),
        "multicaption_no_ties": no_ties,
        "multicaption_ties": ties,
    }
    out = Path(args.fixtures_dir) / "metrics" / "multicaption-retrieval.json"
    out.write_text(json.dumps(fixture, indent=1, sort_keys=False) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes); no_ties seed {seed}")
    for name in ("multicaption_no_ties", "multicaption_ties"):
        print(name, fixture[name]["clip_benchmark"], {d: {k: fixture[name][d][k] for k in ("R@1", "R@5", "R@10")}
                                                        for d in ("image_to_text", "text_to_image")})


if __name__ == "__main__":
    main()
