#!/usr/bin/env python3
"""Checks a training run's TensorBoard event files with TensorBoard's own reader (test-time only).

Usage (from the repository root, tensorboard installed in .venv-ref):
    .venv-ref/bin/python Scripts/check-tensorboard.py RUN_FOLDER [RUN_FOLDER ...]

Loads every `events.out.tfevents.*` of the run folder with
`tensorboard.backend.event_processing.event_accumulator.EventAccumulator` (no sampling) and
compares with the run's `metrics.jsonl`: the tag set is exactly OpenCLIP's train tags (plus
`val/zeroshot-n<images>-top1/top5` for each evaluated subset, and OpenCLIP's retrieval metric names
from its own `get_clip_metrics` under `val/` — `val/n<images>-` for a subset — for `"kind":
"retrieval"` records), every logged step appears once per
tag (a resumed run shows no step twice), and every value equals the metrics.jsonl value rounded to
float32. Exits non-zero naming the first difference.
"""
import json, os, sys

import numpy as np
import torch
from open_clip_train.train import get_clip_metrics
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

# OpenCLIP's retrieval metric names, e.g. image_to_text_R@1, text_to_image_mean_rank: as its own code names them.
RETRIEVAL = sorted(get_clip_metrics(torch.eye(3), torch.eye(3), torch.tensor(1.0)))

TRAIN = {"train/loss": "loss", "train/lr": "lr", "train/scale": "logit_scale",
         "train/samples_per_second": "samples_per_second", "train/data_time": "data_time",
         "train/batch_time": "batch_time"}


def expected(run):
    want = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r.get("kind") == "eval":
                for k in ("top1", "top5"):
                    want.setdefault(f"val/zeroshot-n{r['images']}-{k}", []).append((r["step"], r[f"zeroshot_{k}"]))
            elif r.get("kind") == "retrieval":
                prefix = f"val/n{r['images']}-" if r["subset"] else "val/"
                for name in RETRIEVAL:
                    direction, metric = name.split("_to_")[0], name.split("_", 3)[3]
                    summary = r["image_to_text" if direction == "image" else "text_to_image"]
                    want.setdefault(prefix + name, []).append((r["step"], summary[metric]))
            elif "kind" not in r:
                for tag, key in TRAIN.items():
                    if r.get(key) is not None:
                        want.setdefault(tag, []).append((r["step"], r[key]))
    return want


def check(run):
    files = sorted(f for f in os.listdir(run) if f.startswith("events.out.tfevents."))
    acc = EventAccumulator(run, size_guidance={"scalars": 0})
    acc.Reload()
    got = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    want = expected(run)
    if set(got) != set(want):
        sys.exit(f"{run}: tags differ: TensorBoard {sorted(got)}, metrics.jsonl {sorted(want)}")
    points = 0
    for tag in sorted(want):
        g, w = got[tag], want[tag]
        if [s for s, _ in g] != [s for s, _ in w]:
            sys.exit(f"{run}: {tag}: steps differ: TensorBoard {[s for s, _ in g]}, metrics.jsonl {[s for s, _ in w]}")
        for (step, gv), (_, wv) in zip(g, w):
            if np.float32(gv) != np.float32(wv):
                sys.exit(f"{run}: {tag} at step {step}: TensorBoard {gv!r}, metrics.jsonl {wv!r}")
        points += len(g)
    steps = sorted({s for v in want.values() for s, _ in v})
    print(f"{run}: OK — {len(files)} event file(s), {len(want)} tags, {points} points, steps {steps[0]}…{steps[-1]}, "
          f"no step twice, values equal to metrics.jsonl (float32)")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for run in sys.argv[1:]:
        check(run)
