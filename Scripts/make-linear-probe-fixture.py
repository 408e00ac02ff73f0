#!/usr/bin/env python3
"""Generates Tests/Fixtures/metrics/linear-probe.json: scikit-learn's L2-regularized multinomial
LogisticRegression on a small, overlapping 3-class problem, for SwiftCLIP's linear-probe tests.

Usage (from the repository root; test-time only, never run in CI):
    python3 -m venv .venv-ref && .venv-ref/bin/pip install scikit-learn numpy
    .venv-ref/bin/python Scripts/make-linear-probe-fixture.py [--output Tests/Fixtures/metrics/linear-probe.json]

Deterministic (numpy PCG64, seed 7): rerunning gives the same file with the same package versions.

The file holds:
  * `train_features` [90, 6], `test_features` [45, 6]: Gaussian blobs around three random centres
    (unit noise, so the classes overlap), each row L2-normalized and then rounded to float32 — the
    values stored are exactly the values fitted, in float64;
  * `train_labels`, `test_labels`;
  * `fits`: for C in (0.1, 10): scikit-learn's `coef` [3, 6] and `intercept` [3] (fitted with
    tol = 1e-12, max_iter = 100000, so converged far below SwiftCLIP's tolerance), the test
    `predictions` (argmax), `test_accuracy`, and `objective` = mean cross-entropy + ‖W‖²/(2·C·n),
    the objective scikit-learn minimizes (the intercept is not penalized).
"""
import argparse
import json
from pathlib import Path

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression


def blobs(rng, centres, per_class):
    x = np.concatenate([c + rng.standard_normal((per_class, centres.shape[1])) for c in centres])
    y = np.repeat(np.arange(len(centres)), per_class)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32).astype(np.float64), y


def objective(model, x, y, c):
    z = x @ model.coef_.T + model.intercept_
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean() + (model.coef_ ** 2).sum() / (2 * c * len(y)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", default="Tests/Fixtures/metrics/linear-probe.json")
    args = parser.parse_args()
    rng = np.random.Generator(np.random.PCG64(7))
    centres = 1.5 * rng.standard_normal((3, 6))
    train_x, train_y = blobs(rng, centres, 30)
    test_x, test_y = blobs(rng, centres, 15)
    fits = []
    for c in (0.1, 10.0):
        model = LogisticRegression(C=c, tol=1e-12, max_iter=100000).fit(train_x, train_y)
        predictions = model.predict(test_x)
        fits.append({
            "C": c,
            "coef": model.coef_.tolist(),
            "intercept": model.intercept_.tolist(),
            "predictions": predictions.tolist(),
            "test_accuracy": float((predictions == test_y).mean()),
            "objective": objective(model, train_x, train_y, c),
        })
    out = {
        "format": "swiftclip-linear-probe-fixture", "version": "1",
        "sklearn_version": sklearn.__version__, "numpy_version": np.__version__, "seed": 7,
        "train_features": train_x.tolist(), "train_labels": train_y.tolist(),
        "test_features": test_x.tolist(), "test_labels": test_y.tolist(),
        "fits": fits,
    }
    Path(args.output).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.output}: " + ", ".join(f"C={f['C']}: test accuracy {f['test_accuracy']:.4f}" for f in fits))


if __name__ == "__main__":
    main()
