#!/usr/bin/env python3
"""Generates objective fixtures (Tests/Fixtures/objectives/*.safetensors) and metric fixtures
(Tests/Fixtures/metrics/retrieval.json) for SwiftCLIP's tests.

Usage (from the repository root):
    python3 Scripts/make-objective-fixtures.py [--fixtures-dir Tests/Fixtures]

Creates/uses the reference virtualenv `.venv-ref` (see Scripts/reference_env.py).
Deterministic: every case has its own fixed seed (numpy PCG64); rerunning gives
byte-identical files with the same package versions.

Conventions shared by every objective fixture (safetensors, all tensors float32):
  * Inputs are drawn in float64, L2-normalized where stated, then ROUNDED TO
    FLOAT32 and stored; the loss and gradients are computed in float64 from
    exactly the stored (float32) values, with no re-normalization. So "normalized"
    rows have norm 1 only up to float32 rounding.
  * `expected.loss` is 0-d []. `expected.grad.<input>` has the shape of `<input>`
    and is d(loss)/d(input) from torch float64 autograd, rounded to float32.
    Scalar inputs (`logit_scale_param`, `logit_bias`, `temperature`) are 0-d [].
  * `__metadata__` (all strings): format = "swiftclip-objective-fixture",
    version = "1", objective, case, options (a JSON object), formula (plain
    text), seed, openclip_version, torch_version, numpy_version,
    safetensors_version.
  * Rows of image/text matrices are aligned: image i and text i are a pair.
  * Text features are correlated with their paired image (text = l2norm(0.8·u + n)
    with u the image's raw vector), so losses are in a realistic range.

The cases and their formulas are documented beside each `make_*` function.
"""
import argparse
import json
import math
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_env import (  # noqa: E402
    REPO_ROOT, ensure_reference_venv, json_string, l2_normalize_rows, rounded_float64, save_fixture, versions)

ensure_reference_venv()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from open_clip.loss import ClipLoss, SigLipLoss  # noqa: E402

BATCH_SIZES = (1, 3, 8, 13)
FEATURE_DIM = {1: 6, 3: 10, 8: 12, 13: 16}          # D per B: distinct so transposes cannot hide
LOGIT_SCALE_PARAM = {1: math.log(1 / 0.07), 3: 1.0, 8: 3.5, 13: math.log(100.0)}
MAX_FIXTURE_BYTES = 100_000


# MARK: - helpers

def paired_features(rng: np.random.Generator, batch: int, dim: int, captions: int = 1):
    """Image rows x [B, D] and `captions` text sets [captions, B, D], L2-normalized, float32-rounded."""
    raw = rng.standard_normal((batch, dim))
    images = rounded_float64(l2_normalize_rows(raw))
    texts = np.stack([
        rounded_float64(l2_normalize_rows(0.8 * raw + rng.standard_normal((batch, dim))))
        for _ in range(captions)
    ])
    return images, texts


def scalar(value: float) -> float:
    """`value` rounded to float32 (as stored), as a Python float."""
    return float(rounded_float64(value))


def leaf(array) -> torch.Tensor:
    """A float64 leaf tensor that collects gradients."""
    return torch.tensor(np.asarray(array, dtype=np.float64), dtype=torch.float64, requires_grad=True)


def cross_entropy(logits: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean over rows of softmax cross-entropy with target = row index (diagonal), written out.

    With smoothing ε over C classes the target is (1−ε)·onehot + ε/C (PyTorch's convention).
    """
    rows, classes = logits.shape
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    target = (1 - label_smoothing) * torch.eye(rows, classes, dtype=logits.dtype) + label_smoothing / classes
    return -(target * log_probs).sum(dim=1).mean()


def clip_loss(x: torch.Tensor, y: torch.Tensor, scale: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """½[CE(s·x@yᵀ) + CE(s·y@xᵀ)], independent of OpenCLIP (used where OpenCLIP has no smoothing)."""
    logits = scale * x @ y.T
    return 0.5 * (cross_entropy(logits, label_smoothing) + cross_entropy(logits.T, label_smoothing))


def finish(name: str, objective: str, seed: int, inputs: dict, loss: torch.Tensor, options: dict,
           formula: str, extra: dict | None = None) -> dict:
    """Backpropagates `loss`, collects grads of every leaf input, and returns the fixture dict."""
    loss.backward()
    tensors = {}
    for key, value in inputs.items():
        tensors[key] = value.detach()
        if isinstance(value, torch.Tensor) and value.requires_grad:
            assert value.grad is not None, f"{name}: no gradient for {key}"
            tensors[f"expected.grad.{key}"] = value.grad
    tensors["expected.loss"] = loss.detach()
    for key, value in (extra or {}).items():
        tensors[key] = value.detach() if isinstance(value, torch.Tensor) else value
    metadata = {
        "format": "swiftclip-objective-fixture",
        "version": "1",
        "objective": objective,
        "case": name,
        "options": json_string(options),
        "formula": formula,
        "seed": str(seed),
        **versions(),
    }
    return {"name": name, "tensors": tensors, "metadata": metadata}


# MARK: - CLIP

CLIP_FORMULA = (
    "s = exp(logit_scale_param); L = s * image_features @ text_features^T [B,B]; "
    "loss = (CE(L, arange(B)) + CE(L^T, arange(B))) / 2 with CE the mean over rows of softmax "
    "cross-entropy. Computed by open_clip.loss.ClipLoss in float64.")


def make_clip(batch: int) -> dict:
    """CLIP (OpenCLIP ClipLoss): ½[CE(s·x@yᵀ) + CE(s·y@xᵀ)], s = exp(t)."""
    seed = 100 + batch
    rng = np.random.default_rng(seed)
    images, texts = paired_features(rng, batch, FEATURE_DIM[batch])
    x, y, t = leaf(images), leaf(texts[0]), leaf(scalar(LOGIT_SCALE_PARAM[batch]))
    loss = ClipLoss()(x, y, logit_scale=t.exp())
    assert torch.allclose(loss, clip_loss(x, y, t.exp()), rtol=1e-12, atol=1e-12)
    return finish(f"clip-b{batch}", "clip", seed,
                  {"image_features": x, "text_features": y, "logit_scale_param": t},
                  loss, {"label_smoothing": 0.0}, CLIP_FORMULA)


# MARK: - SigLIP

SIGLIP_LOGIT_BIAS = {1: -10.0, 3: -2.0, 8: 0.5, 13: -5.0}
SIGLIP_LOGIT_SCALE_PARAM = {1: math.log(10.0), 3: 1.0, 8: 2.0, 13: 3.0}


def make_siglip(batch: int) -> dict:
    """SigLIP (OpenCLIP SigLipLoss): −(1/B) Σ_ij log σ(z_ij·(exp(t′)·x_i·y_j + b)), z = 2I − 1."""
    seed = 200 + batch
    rng = np.random.default_rng(seed)
    images, texts = paired_features(rng, batch, FEATURE_DIM[batch])
    x, y = leaf(images), leaf(texts[0])
    t, b = leaf(scalar(SIGLIP_LOGIT_SCALE_PARAM[batch])), leaf(scalar(SIGLIP_LOGIT_BIAS[batch]))
    loss = SigLipLoss()(x, y, t.exp(), b)
    z = 2 * torch.eye(batch, dtype=torch.float64) - 1
    independent = -F.logsigmoid(z * (t.exp() * x @ y.T + b)).sum() / batch
    assert torch.allclose(loss, independent, rtol=1e-12, atol=1e-12)
    formula = ("logits = exp(logit_scale_param) * image_features @ text_features^T + logit_bias [B,B]; "
               "z = 2*I - 1 (+1 on the diagonal, -1 elsewhere); "
               "loss = -(1/B) * sum_ij log sigmoid(z_ij * logits_ij) — a sum over all B*B pairs divided by B "
               "(not by B*B). Computed by open_clip.loss.SigLipLoss (world_size 1) in float64.")
    return finish(f"siglip-b{batch}", "siglip", seed,
                  {"image_features": x, "text_features": y, "logit_scale_param": t, "logit_bias": b},
                  loss, {}, formula)


# MARK: - ALIGN

ALIGN_TEMPERATURE = {1: 1.0, 3: 0.05, 8: 0.2, 13: 0.1}


def make_align(batch: int) -> dict:
    """ALIGN: CE_ε(x@yᵀ/σ) + CE_ε(y@xᵀ/σ) — a sum, ε = 0.1 over the B classes, σ the learnable divisor."""
    seed = 300 + batch
    rng = np.random.default_rng(seed)
    images, texts = paired_features(rng, batch, FEATURE_DIM[batch])
    x, y, sigma = leaf(images), leaf(texts[0]), leaf(scalar(ALIGN_TEMPERATURE[batch]))
    logits = x @ y.T / sigma
    loss = cross_entropy(logits, 0.1) + cross_entropy(logits.T, 0.1)
    target = torch.arange(batch)
    torch_loss = F.cross_entropy(logits, target, label_smoothing=0.1) + F.cross_entropy(logits.T, target, label_smoothing=0.1)
    assert torch.allclose(loss, torch_loss, rtol=1e-12, atol=1e-12)
    formula = ("L = image_features @ text_features^T / temperature [B,B] (temperature = sigma, the raw learnable "
               "divisor, no exp); loss = CE_eps(L) + CE_eps(L^T) (a sum, not a mean); CE_eps = mean over rows of "
               "-sum_c q_c log softmax(row)_c with q = (1-eps)*onehot(row index) + eps/B, eps = 0.1.")
    return finish(f"align-b{batch}", "align", seed,
                  {"image_features": x, "text_features": y, "temperature": sigma},
                  loss, {"label_smoothing": 0.1}, formula)


# MARK: - ConVIRT

def make_convirt(batch: int) -> dict:
    """ConVIRT: λ·CE(x@yᵀ/τ) + (1−λ)·CE(y@xᵀ/τ), λ = 0.75 on the image→text term, τ = 0.1 fixed."""
    seed = 400 + batch
    rng = np.random.default_rng(seed)
    images, texts = paired_features(rng, batch, FEATURE_DIM[batch])
    x, y = leaf(images), leaf(texts[0])
    lam, tau = 0.75, 0.1
    logits = x @ y.T / tau
    loss = lam * cross_entropy(logits) + (1 - lam) * cross_entropy(logits.T)
    formula = ("L = image_features @ text_features^T / tau [B,B], tau = 0.1 fixed; "
               "loss = lambda * CE(L) + (1 - lambda) * CE(L^T), lambda = 0.75 weighting the image->text term "
               "(rows of L: each image over all texts).")
    return finish(f"convirt-b{batch}", "convirt", seed,
                  {"image_features": x, "text_features": y},
                  loss, {"lambda": lam, "temperature": tau}, formula)


# MARK: - FILIP

FILIP_TOKENS = (5, 7, 8)  # n1 image tokens, n2 text tokens, d
FILIP_TEXT_LENGTHS = {1: [4], 3: [7, 1, 4], 8: [7, 1, 3, 5, 2, 7, 6, 4]}


def filip_similarities(image_tokens: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor):
    """Token-wise late interaction. Returns (s_I, s_T), both [B_images, B_texts] indexed [i, j].

    s_I[i,j] = (1/n1) Σ_k max_{r valid in j} ⟨X_ik, Y_jr⟩
    s_T[i,j] = (1/n2_j) Σ_{r valid in j} max_k ⟨X_ik, Y_jr⟩
    """
    sim = torch.einsum("ikd,jrd->ijkr", image_tokens, text_tokens)  # [B, B, n1, n2]
    valid = text_mask.bool()[None, :, None, :]  # [1, B, 1, n2]
    s_image = sim.masked_fill(~valid, float("-inf")).amax(dim=3).mean(dim=2)
    per_text_token = sim.amax(dim=2)  # [B, B, n2]: max over image tokens
    s_text = (per_text_token * text_mask[None]).sum(dim=2) / text_mask.sum(dim=1)[None]
    return s_image, s_text


def filip_similarities_by_loops(image_tokens: np.ndarray, text_tokens: np.ndarray, text_mask: np.ndarray):
    """The same two matrices with explicit loops, as an independent check."""
    batch, n1, _ = image_tokens.shape
    s_image = np.zeros((batch, batch))
    s_text = np.zeros((batch, batch))
    for i in range(batch):
        for j in range(batch):
            valid = [r for r in range(text_tokens.shape[1]) if text_mask[j, r] == 1]
            dots = np.array([[image_tokens[i, k] @ text_tokens[j, r] for r in valid] for k in range(n1)])
            s_image[i, j] = dots.max(axis=1).mean()
            s_text[i, j] = dots.max(axis=0).mean()
    return s_image, s_text


def make_filip(batch: int) -> dict:
    """FILIP: ½[CE(s·s_I) + CE(s·s_Tᵀ)], s = exp(t); text padding excluded from max and mean."""
    seed = 500 + batch
    rng = np.random.default_rng(seed)
    n1, n2, dim = FILIP_TOKENS
    lengths = FILIP_TEXT_LENGTHS.get(batch)
    if lengths is None:
        lengths = [1, n2] + list(rng.integers(1, n2 + 1, size=batch - 2))
    mask = np.array([[1.0] * n + [0.0] * (n2 - n) for n in lengths])  # [B, n2], valid tokens first
    raw = rng.standard_normal((batch, n1, dim))
    image_tokens = rounded_float64(l2_normalize_rows(raw))
    # each text token loosely follows one of its image's tokens; padded slots hold random unit vectors too
    picks = rng.integers(0, n1, size=(batch, n2))
    text_raw = 0.8 * raw[np.arange(batch)[:, None], picks] + rng.standard_normal((batch, n2, dim))
    text_tokens = rounded_float64(l2_normalize_rows(text_raw))

    X, Y, M = leaf(image_tokens), leaf(text_tokens), torch.tensor(mask, dtype=torch.float64)
    t = leaf(scalar(LOGIT_SCALE_PARAM[batch]))
    s_image, s_text = filip_similarities(X, Y, M)
    loop_image, loop_text = filip_similarities_by_loops(image_tokens, text_tokens, mask)
    assert np.allclose(s_image.detach().numpy(), loop_image, rtol=1e-12, atol=1e-12)
    assert np.allclose(s_text.detach().numpy(), loop_text, rtol=1e-12, atol=1e-12)
    scale = t.exp()
    loss = 0.5 * (cross_entropy(scale * s_image) + cross_entropy(scale * s_text.T))
    formula = (
        "sim[i,j,k,r] = <image_tokens[i,k], text_tokens[j,r]>; valid(j,r) = text_mask[j,r] == 1. "
        "s_I[i,j] = (1/n1) sum_k max_{r valid} sim[i,j,k,r]; "
        "s_T[i,j] = (1/n2_j) sum_{r valid} max_k sim[i,j,k,r], n2_j = sum_r text_mask[j,r]. "
        "Both indexed [image i, text j]. s = exp(logit_scale_param). "
        "loss = (CE(s * s_I) + CE(s * s_T^T)) / 2: the image->text term is a softmax over texts j for each image i "
        "(rows of s_I); the text->image term is a softmax over images i for each text j (rows of s_T^T = "
        "columns of s_T). Padded text tokens get zero gradient.")
    inputs = {"image_tokens": X, "text_tokens": Y, "text_mask": M, "logit_scale_param": t}
    extra = {"expected.image_to_text_similarity": s_image, "expected.text_to_image_similarity": s_text}
    return finish(f"filip-b{batch}", "filip", seed, inputs, loss, {},
                  formula, extra)


# MARK: - Long-CLIP

def make_longclip(short_weight: float) -> dict:
    """Long-CLIP: CLIP_ε(xL, yL) + w·CLIP_ε(xS, yS), xS = (xL−μ)PPᵀ + μ, P = top-32 right singular vectors (constant)."""
    batch, dim, components = 48, 40, 32
    seed = 600 + int(round(short_weight * 10))
    rng = np.random.default_rng(seed)
    images, texts = paired_features(rng, batch, dim, captions=2)
    x, y_long, y_short = leaf(images), leaf(texts[0]), leaf(texts[1])
    t = leaf(scalar(LOGIT_SCALE_PARAM[8]))

    centered = images - images.mean(axis=0, keepdims=True)
    _, singular_values, vt = np.linalg.svd(centered, full_matrices=False)
    assert singular_values[components - 1] > 1.01 * singular_values[components], "no spectral gap at k"
    P = torch.tensor(vt[:components].T)  # [D, k], constant (stop-gradient)
    mu = x.mean(dim=0, keepdim=True)  # [1, D], differentiable
    x_short = (x - mu) @ P @ P.T + mu  # [B, D], not re-normalized

    scale = t.exp()
    loss_long = clip_loss(x, y_long, scale, label_smoothing=0.1)
    loss_short = clip_loss(x_short, y_short, scale, label_smoothing=0.1)
    loss = loss_long + short_weight * loss_short
    formula = (
        "xL = image_features [B,D]; mu = mean over rows of xL; P [D,32] = first 32 right singular vectors of "
        "(xL - mu) (np.linalg.svd, float64); xS = (xL - mu) P P^T + mu (not re-normalized). "
        "CLIP_eps(x, y) = (CE_eps(s x y^T) + CE_eps(s y x^T)) / 2, s = exp(logit_scale_param), eps = 0.1 "
        "(q = (1-eps) onehot + eps/B). loss = CLIP_eps(xL, long_text_features) + "
        "short_weight * CLIP_eps(xS, short_text_features). Gradient: P is a constant (stop-gradient); "
        "gradient flows through mu and through the projection: xS = xL P P^T + 1 mu (I - P P^T), so with "
        "g = dloss/dxS the contribution to dloss/dxL[b] is g[b] P P^T + (1/B) sum_b' g[b'] (I - P P^T).")
    inputs = {"image_features": x, "long_text_features": y_long, "short_text_features": y_short, "logit_scale_param": t}
    extra = {"expected.short_image_features": x_short, "expected.loss_long": loss_long,
             "expected.loss_short": loss_short}
    options = {"components": components, "label_smoothing": 0.1, "short_weight": short_weight}
    return finish(f"longclip-b{batch}-w{short_weight:g}", "longclip", seed, inputs, loss, options, formula, extra)


def stretch_positional_embedding(pe: np.ndarray) -> np.ndarray:
    """Long-CLIP's 77 → 248 interpolation (REFERENCE.md), written as the table says."""
    assert pe.shape[0] == 77
    out = np.zeros((248, pe.shape[1]))
    out[:20] = pe[:20]
    for i in range(56):
        for k in range(4):
            out[20 + 4 * i + k] = (1 - k / 4) * pe[20 + i] + (k / 4) * pe[21 + i]
    for k in range(4):
        out[244 + k] = pe[76] + (k / 4) * (pe[76] - pe[75])
    return out


def make_longclip_stretch() -> dict:
    """Long-CLIP positional-embedding stretch: [77, W] → [248, W]."""
    seed = 700
    rng = np.random.default_rng(seed)
    pe = rounded_float64(0.01 * rng.standard_normal((77, 16)))
    stretched = stretch_positional_embedding(pe)
    formula = ("out[0..<20] = pe[0..<20]; for i in 0..<56, k in 0..<4: out[20+4i+k] = (1-k/4) pe[20+i] + (k/4) pe[21+i]; "
               "for k in 0..<4: out[244+k] = pe[76] + (k/4)(pe[76] - pe[75]). Computed in float64.")
    metadata = {
        "format": "swiftclip-objective-fixture", "version": "1", "objective": "longclip_stretch",
        "case": "longclip-stretch", "formula": formula, "seed": str(seed),
        "options": json_string({"source_length": 77, "target_length": 248, "kept_positions": 20, "ratio": 4}),
        **versions(),
    }
    return {"name": "longclip-stretch", "metadata": metadata,
            "tensors": {"positional_embedding": pe, "expected.stretched": stretched}}


# MARK: - Multi-positive

MULTIPOS_CAPTIONS = {1: 2, 3: 4, 8: 3, 13: 5}  # K+1 caption sets per batch size


def make_multipos(batch: int) -> dict:
    """Multi-positive: (1/(K+1)) Σ_k ClipLoss(x, y_k, exp(t))."""
    seed = 800 + batch
    rng = np.random.default_rng(seed)
    sets = MULTIPOS_CAPTIONS[batch]
    images, texts = paired_features(rng, batch, FEATURE_DIM[batch], captions=sets)
    x, y, t = leaf(images), leaf(texts), leaf(scalar(LOGIT_SCALE_PARAM[batch]))
    criterion = ClipLoss()
    loss = sum(criterion(x, y[k], logit_scale=t.exp()) for k in range(sets)) / sets
    formula = ("caption_features [K+1, B, D]: caption set k holds one caption per image; "
               "loss = (1/(K+1)) sum_k ClipLoss(image_features, caption_features[k], exp(logit_scale_param)), "
               "ClipLoss = (CE(L) + CE(L^T))/2, L = s x y_k^T. Each ClipLoss by open_clip.loss.ClipLoss in float64.")
    return finish(f"multipos-b{batch}", "multipos", seed,
                  {"image_features": x, "caption_features": y, "logit_scale_param": t},
                  loss, {"num_caption_sets": sets}, formula)


# MARK: - Retrieval and zero-shot metrics

def ranks_higher_or_equal(scores: np.ndarray) -> np.ndarray:
    """rank[q] = number of OTHER candidates scoring higher than or equal to the correct one (candidate q), 0-based."""
    correct = np.diag(scores)[:, None]
    return (scores >= correct).sum(axis=1) - 1


def retrieval_metrics(ranks: np.ndarray) -> dict:
    return {
        "ranks": [int(r) for r in ranks],
        "R@1": float(np.mean(ranks < 1)),
        "R@5": float(np.mean(ranks < 5)),
        "R@10": float(np.mean(ranks < 10)),
        "mean_rank": float(ranks.mean() + 1),
        "median_rank": float(np.floor(np.median(ranks)) + 1),
    }


def openclip_clip_metrics(scores: np.ndarray) -> dict:
    """OpenCLIP's own get_clip_metrics (open_clip_train.train), with logit_scale 1."""
    from open_clip_train.train import get_clip_metrics
    features = torch.eye(scores.shape[0], dtype=torch.float64)
    # image_features @ text_features^T must equal `scores`: use identity images and scores^T as texts.
    metrics = get_clip_metrics(features, torch.tensor(scores.T), 1.0)
    return {key: float(value) for key, value in metrics.items()}


def retrieval_case(scores: np.ndarray) -> dict:
    return {
        "scores": scores.tolist(),
        "image_to_text": retrieval_metrics(ranks_higher_or_equal(scores)),
        "text_to_image": retrieval_metrics(ranks_higher_or_equal(scores.T)),
        "openclip_get_clip_metrics": openclip_clip_metrics(scores),
    }


def zeroshot_case(logits: np.ndarray, labels: np.ndarray) -> dict:
    ranks = (logits >= logits[np.arange(len(labels)), labels][:, None]).sum(axis=1) - 1
    return {
        "logits": logits.tolist(),
        "labels": [int(label) for label in labels],
        "ranks": [int(r) for r in ranks],
        "top1": float(np.mean(ranks < 1)),
        "top5": float(np.mean(ranks < 5)),
    }


def make_metrics() -> dict:
    rng = np.random.default_rng(900)
    n = 20
    # integer scores 0...7, paired entries get a bonus 0...4: many ties, varied ranks
    tied = rng.integers(0, 8, size=(n, n)).astype(np.float64)
    tied[np.arange(n), np.arange(n)] += rng.integers(0, 5, size=n)
    distinct = rng.permutation(n * n).reshape(n, n).astype(np.float64) / (n * n)
    distinct[np.arange(n), np.arange(n)] += rng.uniform(0, 0.5, size=n)

    samples, classes = 30, 12
    zs_tied = rng.integers(0, 6, size=(samples, classes)).astype(np.float64)
    zs_labels = rng.integers(0, classes, size=samples)
    zs_tied[np.arange(samples), zs_labels] += rng.integers(0, 3, size=samples)
    zs_distinct = rng.standard_normal((samples, classes))
    zs_distinct[np.arange(samples), zs_labels] += 1.0

    no_ties = retrieval_case(distinct)
    for direction in ("image_to_text", "text_to_image"):  # without ties OpenCLIP's code agrees exactly
        for key in ("R@1", "R@5", "R@10", "mean_rank", "median_rank"):
            assert no_ties[direction][key] == no_ties["openclip_get_clip_metrics"][f"{direction}_{key}"], (direction, key)

    return {
        "format": "swiftclip-metrics-fixture",
        "version": 1,
        "generator": "Scripts/make-objective-fixtures.py",
        **versions(),
        "definition": (
            "Retrieval: scores[i][j] = similarity of image i and text j; pairs are aligned by index. "
            "image_to_text ranks row i (candidates = texts j), text_to_image ranks column j (candidates = images i). "
            "rank = number of OTHER candidates scoring higher than or equal to the paired one (0-based; ties count "
            "against the query, so a collapsed model scores 0) — REFERENCE.md's definition, not OpenCLIP's: OpenCLIP's get_clip_metrics ranks by "
            "torch.argsort, whose order among ties is unspecified. R@k = mean(rank < k). mean_rank = mean(rank) + 1 "
            "and median_rank = floor(median(rank)) + 1 (1-based, as OpenCLIP reports them; median of an even count "
            "is the average of the two middle ranks before the floor). "
            "Zero-shot: logits[s][c], labels[s]; rank = number of other classes with logit greater than or equal to "
            "the true class's; top1 = mean(rank < 1), top5 = mean(rank < 5) (OpenCLIP's accuracy uses topk, whose order "
            "among ties is unspecified). `openclip_get_clip_metrics` is OpenCLIP's output on the same scores, for "
            "information: on `retrieval_no_ties` it equals ours exactly; on `retrieval_ties` it depends on tie order."),
        "retrieval_ties": retrieval_case(tied),
        "retrieval_no_ties": no_ties,
        "zeroshot_ties": zeroshot_case(zs_tied, zs_labels),
        "zeroshot_no_ties": zeroshot_case(zs_distinct, zs_labels),
    }


def compact_json(value) -> str:
    """Indented JSON with every list of numbers on one line (matrices one row per line)."""
    text = json.dumps(value, indent=1)
    return re.sub(r"\[[-0-9.,\se]*\]", lambda m: re.sub(r"\s+", " ", m.group(0)).replace("[ ", "[").replace(" ]", "]"), text)


# MARK: - main

def all_cases() -> list:
    cases = []
    for batch in BATCH_SIZES:
        cases += [make_clip(batch), make_siglip(batch), make_align(batch), make_convirt(batch),
                  make_filip(batch), make_multipos(batch)]
    cases += [make_longclip(1.0), make_longclip(0.1), make_longclip_stretch()]
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures-dir", type=Path, default=REPO_ROOT / "Tests" / "Fixtures")
    args = parser.parse_args()
    torch.set_num_threads(1)

    objectives_dir = args.fixtures_dir / "objectives"
    for case in all_cases():
        size = save_fixture(objectives_dir / f"{case['name']}.safetensors", case["tensors"], case["metadata"])
        shapes = ", ".join(f"{k} {list(np.shape(v))}" for k, v in sorted(case["tensors"].items()))
        print(f"{case['name']}: {size} bytes; {shapes}")
        assert size < MAX_FIXTURE_BYTES, f"{case['name']} is {size} bytes"

    metrics_path = args.fixtures_dir / "metrics" / "retrieval.json"
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(compact_json(make_metrics()) + "\n")
    print(f"{metrics_path}: {metrics_path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
