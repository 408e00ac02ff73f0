#!/usr/bin/env python3
"""Counts how many noisy pairs a filter removed, from the sample keys of the shards before and after.

    .venv-ref/bin/python Scripts/count-filtered-noise.py NOISY_KEYS.txt ALL_SHARDS KEPT_SHARDS [--scores CSV] [--json OUT]

NOISY_KEYS.txt lists the keys whose caption is wrong (Scripts/make-noisy-webdataset.py writes it);
ALL_SHARDS and KEPT_SHARDS are shard folders (every `*.h5` in them) with `/keys`, as
`make-shards webdataset` writes them and `filter` copies them. The filter's task, seen as detecting
the noisy pairs: removed = ALL − KEPT; precision = noisy removed / removed, recall = noisy removed /
noisy. `--scores` (the CSV `filter --scores` writes) adds the mean score of the noisy and of the
other pairs. Prints one line per number and writes them as one JSON object with `--json`.
Needs h5py (the .venv-ref environment: `pip install h5py`).
"""
import argparse
import csv
import glob
import json
import os
import sys

import h5py


def keys(folder):
    paths = sorted(glob.glob(os.path.join(folder, "*.h5")))
    if not paths:
        sys.exit(f"{folder}: no .h5 shards")
    found = []
    for path in paths:
        with h5py.File(path, "r") as f:
            if "keys" not in f:
                sys.exit(f"{path}: no /keys dataset (build the shards with make-shards webdataset)")
            found.extend(k.decode() if isinstance(k, bytes) else k for k in f["keys"][()])
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("noisy_keys")
    parser.add_argument("all_shards")
    parser.add_argument("kept_shards")
    parser.add_argument("--scores", help="filter's --scores CSV (shard,index,key,score)")
    parser.add_argument("--json")
    args = parser.parse_args()
    with open(args.noisy_keys, encoding="utf-8") as f:
        noisy = {line.strip() for line in f if line.strip()}
    every = keys(args.all_shards)
    kept = keys(args.kept_shards)
    if len(set(every)) != len(every):
        sys.exit(f"{args.all_shards}: duplicate keys")
    unknown = set(kept) - set(every)
    if unknown:
        sys.exit(f"{args.kept_shards}: {len(unknown)} keys not in {args.all_shards} (e.g. {sorted(unknown)[0]})")
    removed = set(every) - set(kept)
    noisy_in_data = noisy & set(every)
    noisy_removed = len(noisy_in_data & removed)
    result = {
        "pairs": len(every),
        "noisy": len(noisy_in_data),
        "kept": len(kept),
        "removed": len(removed),
        "noisy_removed": noisy_removed,
        "noisy_kept": len(noisy_in_data) - noisy_removed,
        "precision": noisy_removed / len(removed) if removed else None,
        "recall": noisy_removed / len(noisy_in_data) if noisy_in_data else None,
        "noise_rate_before": len(noisy_in_data) / len(every),
        "noise_rate_after": (len(noisy_in_data) - noisy_removed) / len(kept) if kept else None,
    }
    if args.scores:
        with open(args.scores, encoding="utf-8", newline="") as f:
            scores = [(row["key"], float(row["score"])) for row in csv.DictReader(f) if row["score"]]
        noisy_scores = [s for k, s in scores if k in noisy]
        clean_scores = [s for k, s in scores if k not in noisy]
        result["mean_score_noisy"] = sum(noisy_scores) / len(noisy_scores) if noisy_scores else None
        result["mean_score_clean"] = sum(clean_scores) / len(clean_scores) if clean_scores else None
    for name, value in result.items():
        print(f"{name:18} {value:.4f}" if isinstance(value, float) else f"{name:18} {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
