#!/usr/bin/env python3
"""Writes TensorBoard event-file fixtures with the reference writers (Tests/Fixtures/tensorboard/).

Usage (from the repository root, with tensorboard installed in .venv-ref):
    .venv-ref/bin/python Scripts/make-tensorboard-fixtures.py [--out Tests/Fixtures/tensorboard]

  * `fixed.tfevents` — byte-exact oracle for SwiftCLIP's encoder: `Event` protobufs built with
    tensorboard's own event.proto classes (the file version first, then scalar summaries made by
    `torch.utils.tensorboard.summary.scalar`, the function `SummaryWriter.add_scalar` calls), with the
    fixed wall times and steps in `fixed.json`, framed by tensorboard's `RecordWriter` (TFRecord,
    masked CRC-32C). Deterministic: rerunning gives the same bytes.
  * `summary-writer.tfevents` — a file written end to end by `torch.utils.tensorboard.SummaryWriter`
    (real wall times); `summary-writer.json` lists its (tag, step, value) triples for the reader test.
"""
import argparse, glob, io, json, os, shutil, tempfile

from tensorboard.compat.proto import event_pb2
from tensorboard.summary.writer.record_writer import RecordWriter
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import scalar

# (wall_time, step, [(tag, value)]): values chosen to cover zero, negatives, tiny and huge floats,
# step 0 (omitted by proto3) and a multi-byte varint step, one- and several-value summaries.
EVENTS = [
    (1764650000.25, 1, [("train/loss", 2.3025851249694824)]),
    (1764650001.5, 2, [("train/loss", 2.1), ("train/lr", 5e-4), ("train/scale", 14.285714149475098)]),
    (1764650002.0, 0, [("train/data_time", 0.0)]),
    (1764650003.125, 300, [("train/samples_per_second", 1234.5), ("train/batch_time", 0.0517)]),
    (1764650004.0, 123456789, [("val/zeroshot-n2000-top1", 0.8125), ("val/zeroshot-n2000-top5", -1e-30)]),
    (0.0, 7, [("train/lr", 3.4e38)]),
]
FILE_VERSION_TIME = 1764649999.75


def write_fixed(out):
    path = os.path.join(out, "fixed.tfevents")
    with open(path, "wb") as f:
        writer = RecordWriter(f)
        writer.write(event_pb2.Event(wall_time=FILE_VERSION_TIME, file_version="brain.Event:2").SerializeToString())
        for wall, step, values in EVENTS:
            summary = scalar(values[0][0], values[0][1])
            for tag, value in values[1:]:
                summary.value.extend(scalar(tag, value).value)
            writer.write(event_pb2.Event(wall_time=wall, step=step, summary=summary).SerializeToString())
        writer.flush()
    with open(os.path.join(out, "fixed.json"), "w") as f:
        json.dump({"file_version_wall_time": FILE_VERSION_TIME,
                   "events": [{"wall_time": w, "step": s, "scalars": [[t, v] for t, v in vals]} for w, s, vals in EVENTS]},
                  f, indent=1)


def write_summary_writer(out):
    tmp = tempfile.mkdtemp()
    triples = []
    w = SummaryWriter(tmp)
    for step in range(1, 6):
        for tag, value in [("train/loss", 3.0 / step), ("train/lr", 1e-3 * step)]:
            w.add_scalar(tag, value, step)
            triples.append([tag, step, value])
    w.close()
    (src,) = glob.glob(os.path.join(tmp, "events.out.tfevents.*"))
    shutil.copy(src, os.path.join(out, "summary-writer.tfevents"))
    shutil.rmtree(tmp)
    with open(os.path.join(out, "summary-writer.json"), "w") as f:
        json.dump(triples, f, indent=1)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/Fixtures/tensorboard")
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    write_fixed(out)
    write_summary_writer(out)
