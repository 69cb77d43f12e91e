"""How far NIQE can move at ×2 without inventing detail: NIQE on the dev VSR frames of the ground truth, bicubic, an
×2 model, that model moved part of the way towards the ground truth (pred + a·(gt − pred), a fidelity gain no real
model makes), and that model sharpened (unsharp mask) or with added grain.

    python benchmarks/niqe_headroom.py [--data ../shared/data/dev/vimeo_septuplet] [--model srunet.x2]

The frames are made as `stvsr evaluate --task vsr --scale 2` makes them (MATLAB bicubic ×1/2, LR rounded to 8 bits,
all seven frames of each clip, mean per clip then over clips), so the bicubic and model rows match its NIQE column.
It answers whether a feature-matching (perceptual) loss, which pulls the output towards the ground truth, can be
expected to beat bicubic on NIQE at ×2 at all, or whether only synthesised texture (a GAN) does.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from stvsr.data.clips import open_clips
from stvsr.evaluate.tasks import Task, run_task
from stvsr.inference import prepare
from stvsr.metrics.niqe import niqe
from stvsr.ops.filters import gaussian_blur


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/dev/vimeo_septuplet")
    parser.add_argument("--model", default="srunet.x2")
    args = parser.parse_args()
    start = time.perf_counter()
    task, device = Task("vsr", 2), torch.device("cpu")
    methods = {name: prepare(name, scale=2, time_factor=1, device=device, precision="fp32")
               for name in ("bicubic", args.model)}
    rows: dict[str, list[float]] = {}
    for clip in open_clips(args.data, "vimeo"):
        runs = {name: run_task(model, clip, task, device) for name, model in methods.items()}
        gt, pred = runs[args.model].target, runs[args.model].prediction.clamp(0, 1)
        variants = {"ground truth": gt, "bicubic": runs["bicubic"].prediction, args.model: pred}
        for a in (0.25, 0.5, 0.75):
            variants[f"{args.model} + {a} x (gt - {args.model})"] = pred + a * (gt - pred)
        blurred = gaussian_blur(pred, 7, 1.0)
        for amount in (0.5, 1.0):
            variants[f"{args.model}, unsharp mask {amount} (sigma 1)"] = pred + amount * (pred - blurred)
        noise = torch.randn(pred.shape, generator=torch.Generator().manual_seed(0))
        for sigma in (1, 2):
            variants[f"{args.model} + grain sigma {sigma}/255"] = pred + noise * sigma / 255
        for name, frames in variants.items():
            rows.setdefault(name, []).append(float(np.mean([niqe(f.clamp(0, 1)) for f in frames])))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
          f"{len(rows['bicubic'])} clips, {time.perf_counter() - start:.0f} s\n")
    print("| frames | NIQE (lower = more natural) |\n|---|---:|")
    for name, values in rows.items():
        print(f"| {name} | {np.mean(values):.3f} |")


if __name__ == "__main__":
    main()
