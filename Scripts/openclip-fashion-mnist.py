#!/usr/bin/env python3
"""OpenCLIP (PyTorch) baseline for the SwiftCLIP quickstart: same recipe, same wall-clock budget.

Trains open_clip.model.CLIP, built from Configs/models/vit-fashion.json, on Fashion-MNIST with the
recipe of Configs/quickstart.yaml, and reports the zero-shot top-1 accuracy on the test images at the
minute marks given by --eval-at, so the README can put OpenCLIP's number next to SwiftCLIP's.

    Scripts/openclip-fashion-mnist.py [--minutes 10] [--steps 1400] [--eval-at 5,10] [--eval-limit N] [--patch-dropout P]
                                      [--seed 0] [--threads 2] [--data DIR]

Recipe (mirrors Configs/quickstart.yaml):
  data       the IDX gz files of /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist);
             28x28 gray -> 3 channels, /255, OpenAI mean/std. Each training image gets one caption, a
             template of Configs/templates/fashion-train.txt drawn once per image from the seed, filled
             with its lowercase class name. Shuffled epochs, incomplete last batch dropped.
  augment    none by default (as the quickstart); --augment crop: random resized crop to 28x28, scale (0.85, 1.0), ratio (3/4, 4/3) (torchvision's box
             sampling: 10 tries, then a central crop), bicubic, clamped to [0, 1]. The resampling is a
             batched grid_sample (cubic a = -0.75, as torch) instead of PIL's (a = -0.5); crops are never
             larger than the image, so there is no downscaling and no antialiasing to differ.
  model      open_clip.model.CLIP(embed_dim, vision_cfg, text_cfg, quick_gelu) from the JSON (vision_cfg's
             patch_dropout from --patch-dropout: random patches kept per image in training only), its own
             initialization after torch.manual_seed(seed); open_clip.tokenize with text_cfg.context_length.
  optimizer  AdamW lr --lr, betas (0.9, 0.98), eps 1e-6, weight decay 0.1, none on parameters with < 2
             dims, biases, norm gains, logit_scale and positional/class embeddings (open_clip_train's
             exclusion rule plus model.no_weight_decay()); batch 256; ClipLoss's symmetric cross-entropy with
             label smoothing --label-smoothing (0.1, as the quickstart); logit_scale clamped to
             [0, ln 100] after each step.
  schedule   linear warmup lr*(step+1)/100 for 100 steps, then cosine to 0 at step --steps.
  budget     training stops when --steps are done or when --minutes of training time are used up. The
             clock counts only the training loop (batch assembly, augmentation, forward, backward,
             optimizer): data preparation and the evaluations are outside it. At each --eval-at minute
             the clock is paused and the model is evaluated; marks not reached because the planned steps
             finished earlier are evaluated on the final model.
  zero-shot  the first --eval-limit (default all 10,000) test images, templates of
             Configs/templates/fashion.txt (none is a training template); per class: encode each prompt,
             L2-normalize, average over templates, renormalize; logits = 100 * image @ W; top-1.

Output: one line per evaluation, `minute 5: step 612, zero-shot top-1 79.8%`, then one JSON line
{"steps", "images_per_second", "evals": [{"minutes", "step", "top1"}], "torch", "open_clip"} (top1 in
percent). Progress goes to stderr. Given the seed, the run is deterministic step for step as far as
torch allows (torch.use_deterministic_algorithms); how many steps fit in the budget depends on the machine.

Runs under the reference virtualenv .venv-ref at the repository root: when started with another
interpreter it creates the venv if missing (python3 -m venv .venv-ref; pip install torch open-clip-torch)
and re-executes itself with it. Only the standard library is imported before that.
"""
import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / ".venv-ref"
VENV_PACKAGES = ["torch", "open-clip-torch"]

CLASSNAMES = ["t-shirt", "trouser", "pullover", "dress", "coat",
              "sandal", "shirt", "sneaker", "bag", "ankle boot"]
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

# Configs/quickstart.yaml
BATCH_SIZE = 256
LEARNING_RATE = 3e-3
PATCH_DROPOUT = 0.5
BETAS = (0.9, 0.98)
EPS = 1e-6
WEIGHT_DECAY = 0.1
WARMUP_STEPS = 100
CROP_SCALE = (0.85, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)


def run_in_reference_venv() -> None:
    """Re-executes this script with .venv-ref's interpreter (creating the venv first if missing)."""
    venv_python = VENV_DIR / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV_DIR.resolve():
        try:
            import numpy  # noqa: F401
            import open_clip  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            print(f"installing {' '.join(VENV_PACKAGES)} into {VENV_DIR}", file=sys.stderr)
            subprocess.check_call([str(venv_python), "-m", "pip", "install", "-q", *VENV_PACKAGES])
        return
    if os.environ.get("SWIFTCLIP_OPENCLIP_BASELINE_REEXEC"):
        sys.exit(f"re-executed with {venv_python} but still not inside {VENV_DIR}")
    if not venv_python.exists():
        print(f"creating {VENV_DIR} and installing {' '.join(VENV_PACKAGES)}", file=sys.stderr)
        subprocess.check_call(["python3", "-m", "venv", str(VENV_DIR)])
        subprocess.check_call([str(venv_python), "-m", "pip", "install", "-q", *VENV_PACKAGES])
    env = dict(os.environ, SWIFTCLIP_OPENCLIP_BASELINE_REEXEC="1")
    os.execve(str(venv_python), [str(venv_python), os.path.abspath(__file__), *sys.argv[1:]], env)


def parse_args():
    p = argparse.ArgumentParser(description="OpenCLIP baseline for the SwiftCLIP Fashion-MNIST quickstart.")
    p.add_argument("--minutes", type=float, default=10.0, help="training-time budget in minutes (default 10)")
    p.add_argument("--steps", type=int, default=1400, help="steps the cosine schedule is planned for (default 1400, as Configs/quickstart.yaml)")
    p.add_argument("--eval-at", default="5,10", help="comma-separated minutes of training time at which to "
                   "run the zero-shot evaluation (default 5,10)")
    p.add_argument("--eval-limit", type=int, default=None, help="evaluate on the first N test images (default all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", choices=["crop", "none"], default="none",
                   help="random resized crop (scale 0.85-1.0) or none (default none, as Configs/quickstart.yaml)")
    p.add_argument("--lr", type=float, default=LEARNING_RATE, help=f"peak learning rate (default {LEARNING_RATE}, as Configs/quickstart.yaml)")
    p.add_argument("--patch-dropout", type=float, default=PATCH_DROPOUT,
                   help=f"FLIP patch dropout rate during training (OpenCLIP's vision_cfg patch_dropout; default "
                        f"{PATCH_DROPOUT}, as Configs/quickstart.yaml)")
    p.add_argument("--label-smoothing", type=float, default=0.1,
                   help="label smoothing of both cross-entropies (default 0.1, as Configs/quickstart.yaml)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2, as the quickstart's workers)")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="folder of the Fashion-MNIST IDX gz files")
    p.add_argument("--model-config", default=str(REPO_ROOT / "Configs/models/vit-fashion.json"))
    p.add_argument("--train-templates", default=str(REPO_ROOT / "Configs/templates/fashion-train.txt"))
    p.add_argument("--eval-templates", default=str(REPO_ROOT / "Configs/templates/fashion.txt"))
    a = p.parse_args()
    if not a.minutes > 0:
        p.error(f"--minutes must be positive, got {a.minutes}")
    if a.steps <= WARMUP_STEPS:
        p.error(f"--steps must exceed the {WARMUP_STEPS} warmup steps, got {a.steps}")
    try:
        a.eval_at = sorted({float(m) for m in a.eval_at.split(",") if m.strip()})
    except ValueError:
        p.error(f"--eval-at must be comma-separated numbers of minutes, got {a.eval_at!r}")
    if not a.eval_at or any(not 0 < m <= a.minutes for m in a.eval_at):
        p.error(f"--eval-at minutes must lie in (0, --minutes={a.minutes:g}], got {a.eval_at}")
    if a.eval_limit is not None and a.eval_limit <= 0:
        p.error(f"--eval-limit must be positive, got {a.eval_limit}")
    if a.threads <= 0:
        p.error(f"--threads must be positive, got {a.threads}")
    return a


def read_idx(path: Path, rank: int):
    """An unsigned-byte IDX file (gzip'ed) as a numpy uint8 array of its dimensions."""
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 + 4 * rank or data[:3] != b"\x00\x00\x08" or data[3] != rank:
        sys.exit(f"{path}: not an IDX file of rank {rank} unsigned bytes")
    dims = [int.from_bytes(data[4 + 4 * d: 8 + 4 * d], "big") for d in range(rank)]
    payload = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    if payload.size != math.prod(dims):
        sys.exit(f"{path}: {payload.size} payload bytes, dimensions {dims} need {math.prod(dims)}")
    return payload.reshape(dims)


def load_split(folder: Path, prefix: str):
    """(images [N, 28, 28] uint8, labels [N] int64) of the `train` or `t10k` split."""
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", 3)
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 1).astype("int64")
    if len(images) != len(labels) or labels.max() >= len(CLASSNAMES):
        sys.exit(f"{folder}: {prefix} split has {len(images)} images, {len(labels)} labels (max {labels.max()})")
    return images, labels


def read_templates(path: str):
    """Caption templates: one per line with `{}`; blank lines and `#` comments skipped."""
    templates = [line.strip() for line in Path(path).read_text().splitlines()]
    templates = [t for t in templates if t and not t.startswith("#")]
    if not templates or any("{}" not in t for t in templates):
        sys.exit(f"{path}: expected one or more templates, each with {{}}")
    return templates


def learning_rate(step: int, planned_steps: int, peak: float) -> float:
    """Warmup peak*(step+1)/warmup, then cosine from peak to 0 at `planned_steps` (open_clip_train's cosine_lr)."""
    if step < WARMUP_STEPS:
        return peak * (step + 1) / WARMUP_STEPS
    e, es = step - WARMUP_STEPS, planned_steps - WARMUP_STEPS
    return 0.5 * (1 + math.cos(math.pi * e / es)) * peak


def crop_boxes(rng, n: int, size: int):
    """torchvision RandomResizedCrop boxes (top, left, h, w) for n images of size x size, as [n] arrays."""
    import numpy as np
    tries = 10
    area = size * size * rng.uniform(CROP_SCALE[0], CROP_SCALE[1], (n, tries))
    aspect = np.exp(rng.uniform(math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]), (n, tries)))
    w = np.rint(np.sqrt(area * aspect)).astype(np.int64)
    h = np.rint(np.sqrt(area / aspect)).astype(np.int64)
    ok = (w > 0) & (w <= size) & (h > 0) & (h <= size)
    first = ok.argmax(axis=1)
    rows = np.arange(n)
    w, h = w[rows, first], h[rows, first]
    # Square images are within any ratio range that contains 1: the fallback is the whole image.
    found = ok.any(axis=1)
    w, h = np.where(found, w, size), np.where(found, h, size)
    top = np.floor(rng.random(n) * (size - h + 1)).astype(np.int64)
    left = np.floor(rng.random(n) * (size - w + 1)).astype(np.int64)
    return top, left, h, w


def random_resized_crop(images, rng):
    """Random resized crops of a [B, 1, S, S] float batch in [0, 1], back to S x S (bicubic, clamped)."""
    import torch
    import torch.nn.functional as F
    b, _, size, _ = images.shape
    top, left, h, w = (torch.from_numpy(x).double() for x in crop_boxes(rng, b, size))
    # Output pixel centre (x_out in (-1, 1), align_corners=False) -> input coordinate in the box.
    theta = torch.zeros(b, 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = w / size
    theta[:, 0, 2] = (2 * left + w) / size - 1
    theta[:, 1, 1] = h / size
    theta[:, 1, 2] = (2 * top + h) / size - 1
    grid = F.affine_grid(theta.float(), [b, 1, size, size], align_corners=False)
    out = F.grid_sample(images, grid, mode="bicubic", padding_mode="border", align_corners=False)
    return out.clamp_(0, 1)


def to_model_input(gray, mean, std):
    """[B, 1, S, S] in [0, 1] -> [B, 3, S, S] normalized with the OpenAI mean/std."""
    return (gray.expand(-1, 3, -1, -1) - mean) / std


def main():
    run_in_reference_venv()
    args = parse_args()

    import numpy as np
    import open_clip
    import torch

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(args.seed)

    # ---- data preparation (outside the clock) ----
    cfg = json.loads(Path(args.model_config).read_text())
    context_length = cfg["text_cfg"]["context_length"]
    image_size = cfg["vision_cfg"]["image_size"]
    data_dir = Path(args.data)
    train_images, train_labels = load_split(data_dir, "train")
    test_images, test_labels = load_split(data_dir, "t10k")
    if train_images.shape[1:] != (image_size, image_size):
        sys.exit(f"images are {train_images.shape[1:]}, the model expects {image_size}x{image_size}")
    if args.eval_limit is not None:
        test_images, test_labels = test_images[:args.eval_limit], test_labels[:args.eval_limit]

    train_templates = read_templates(args.train_templates)
    eval_templates = read_templates(args.eval_templates)
    caption_rng = np.random.default_rng([args.seed, 1])
    template_of = caption_rng.integers(0, len(train_templates), size=len(train_labels))
    # Only len(templates) * 10 distinct captions: tokenize those and index them per image.
    captions = [t.format(c) for c in CLASSNAMES for t in train_templates]
    caption_tokens = open_clip.tokenize(captions, context_length=context_length)
    train_tokens = caption_tokens[torch.from_numpy(train_labels * len(train_templates) + template_of)]

    train_gray = torch.from_numpy(train_images.astype(np.float32) / 255).unsqueeze(1)
    test_gray = torch.from_numpy(test_images.astype(np.float32) / 255).unsqueeze(1)
    test_labels_t = torch.from_numpy(test_labels)
    mean = torch.tensor(OPENAI_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_STD).view(1, 3, 1, 1)
    eval_prompts = open_clip.tokenize([t.format(c) for c in CLASSNAMES for t in eval_templates],
                                      context_length=context_length)

    vision_cfg = dict(cfg["vision_cfg"], patch_dropout=args.patch_dropout)
    model = open_clip.model.CLIP(embed_dim=cfg["embed_dim"], vision_cfg=vision_cfg, text_cfg=cfg["text_cfg"],
                                 quick_gelu=cfg.get("quick_gelu", False))
    no_wd_names = model.no_weight_decay()

    def excluded(name, p):
        return (p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
                or name in no_wd_names)

    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": [p for n, p in params if excluded(n, p)], "weight_decay": 0.0},
         {"params": [p for n, p in params if not excluded(n, p)], "weight_decay": WEIGHT_DECAY}],
        lr=args.lr, betas=BETAS, eps=EPS)
    def loss_fn(image_features, text_features, logit_scale):
        """OpenCLIP's ClipLoss, with optional label smoothing (PyTorch's convention)."""
        logits = logit_scale * image_features @ text_features.T
        labels = torch.arange(logits.shape[0])
        ce = torch.nn.functional.cross_entropy
        return 0.5 * (ce(logits, labels, label_smoothing=args.label_smoothing)
                      + ce(logits.T, labels, label_smoothing=args.label_smoothing))
    shuffle_gen = torch.Generator().manual_seed(args.seed)
    crop_rng = np.random.default_rng([args.seed, 2])
    batches_per_epoch = len(train_labels) // BATCH_SIZE  # incomplete last batch dropped

    @torch.no_grad()
    def zero_shot_top1() -> float:
        model.eval()
        text = model.encode_text(eval_prompts, normalize=True).view(len(CLASSNAMES), len(eval_templates), -1)
        classifier = torch.nn.functional.normalize(text.mean(dim=1), dim=-1)
        correct = 0
        for start in range(0, len(test_gray), 1000):
            images = to_model_input(test_gray[start:start + 1000], mean, std)
            logits = 100.0 * model.encode_image(images, normalize=True) @ classifier.T
            correct += (logits.argmax(dim=1) == test_labels_t[start:start + 1000]).sum().item()
        model.train()
        return 100.0 * correct / len(test_gray)

    print(f"OpenCLIP baseline: torch {torch.__version__}, open_clip {open_clip.__version__}, {args.threads} threads, "
          f"{sum(p.numel() for _, p in params):,} parameters, {len(train_labels)} train / {len(test_gray)} test images, "
          f"budget {args.minutes:g} min, schedule {args.steps} steps", file=sys.stderr)

    # ---- training (clocked) ----
    budget = args.minutes * 60
    pending = list(args.eval_at)
    evals = []
    trained = 0.0          # seconds of training time
    step = 0
    order = None
    model.train()

    def evaluate_marks(marks):
        top1 = zero_shot_top1()
        for m in marks:
            evals.append({"minutes": m, "step": step, "top1": round(top1, 2)})
            print(f"minute {m:g}: step {step}, zero-shot top-1 {top1:.1f}%", flush=True)

    while step < args.steps and trained < budget:
        due = [m for m in pending if trained >= m * 60]
        if due:
            pending = [m for m in pending if m not in due]
            evaluate_marks(due)
        started = time.perf_counter()
        position = step % batches_per_epoch
        if position == 0:
            order = torch.randperm(len(train_labels), generator=shuffle_gen)
        index = order[position * BATCH_SIZE:(position + 1) * BATCH_SIZE]
        batch = train_gray[index]
        images = to_model_input(random_resized_crop(batch, crop_rng) if args.augment == "crop" else batch, mean, std)
        tokens = train_tokens[index]
        lr = learning_rate(step, args.steps, args.lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        image_features, text_features, logit_scale = model(images, tokens)
        loss = loss_fn(image_features, text_features, logit_scale)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        step += 1
        trained += time.perf_counter() - started
        if step % 50 == 0:
            print(f"step {step}: loss {loss.item():.4f}, lr {lr:.2e}, logit scale {logit_scale.item():.1f}, "
                  f"{trained:.0f} s, {step * BATCH_SIZE / trained:.0f} images/s", file=sys.stderr, flush=True)

    if pending:  # the budget's end, or marks the planned steps did not reach
        evaluate_marks(pending)
    print(json.dumps({"steps": step, "images_per_second": round(step * BATCH_SIZE / trained, 1), "evals": evals,
                      "torch": torch.__version__, "open_clip": open_clip.__version__}), flush=True)


if __name__ == "__main__":
    main()
