#!/usr/bin/env python3
"""OpenCLIP's training step on random inputs, timed the way `bench step` times SwiftCLIP's.

A step = forward of both towers + ClipLoss + backward + AdamW (OpenCLIP's decay groups).
`--precision amp_bf16` runs forward and loss under CPU autocast to bfloat16, as open_clip_train's
`--precision amp_bf16` does (fp32 master weights; bf16 needs no grad scaler).
Prints one JSON object: images_per_second, seconds_per_step, peak_memory_bytes (peak RSS).
Used by Scripts/compare-pytorch; run with the reference virtualenv (.venv-ref).
"""
import argparse, contextlib, json, resource, time, sys

import torch
import open_clip
from open_clip.loss import ClipLoss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True, help="model-config JSON (OpenCLIP format)")
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", choices=["fp32", "amp_bf16"], default="fp32")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = json.load(open(a.config))
    model = open_clip.model.CLIP(embed_dim=cfg["embed_dim"], vision_cfg=cfg["vision_cfg"], text_cfg=cfg["text_cfg"],
                                 quick_gelu=cfg.get("quick_gelu", False))
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "positional_embedding" not in n and "class_embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "positional_embedding" not in n and "class_embedding" not in n)]
    opt = torch.optim.AdamW([{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": 0.2}],
                            lr=1e-4, betas=(0.9, 0.98), eps=1e-6)
    loss_fn = ClipLoss()
    s = cfg["vision_cfg"]["image_size"]
    ctx = cfg["text_cfg"]["context_length"]
    images = torch.randn(a.batch, 3, s, s)
    lengths = torch.randint(2, ctx, (a.batch,))
    tokens = torch.randint(1, 49000, (a.batch, ctx))
    for i, n in enumerate(lengths.tolist()):
        tokens[i, 0] = 49406
        tokens[i, n - 1] = 49407
        tokens[i, n:] = 0

    if a.precision == "amp_bf16":
        autocast = lambda: torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    else:
        autocast = contextlib.nullcontext

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            img, txt, scale = model(images, tokens)
            loss = loss_fn(img, txt, scale)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, 4.6052)

    step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    sec = (time.perf_counter() - start) / a.steps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"images_per_second": a.batch / sec, "seconds_per_step": sec, "peak_memory_bytes": peak,
                      "precision": a.precision, "torch": torch.__version__, "open_clip": open_clip.__version__}))


if __name__ == "__main__":
    sys.exit(main())
