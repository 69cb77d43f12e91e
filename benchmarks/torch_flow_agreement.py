"""How closely DIS as torch ops (the GPU-resident path's flow) matches OpenCV's DIS, measured where it matters:
frame interpolation with each backend, the middle frame of three from the outer two (RGB PSNR, rounded to 8 bits).

    python benchmarks/torch_flow_agreement.py                        # dev: Vimeo septuplets, frame 2 from 1 and 3
    python benchmarks/torch_flow_agreement.py --davis ../shared/data/train/davis2016_val_480p   # training footage
    python benchmarks/torch_flow_agreement.py --device cuda          # the same on a GPU (timings too)

Prints the mean PSNR of each backend against the truth, the PSNR between the two backends' frames, the worst
clip's difference, and seconds per frame pair (both directions, as `dis` computes them).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stvsr.data.clips import open_clips
from stvsr.io import VideoReader
from stvsr.models import create_model


def triplets(args, device):
    """(a, truth, b) frames (1, 3, H, W) of each clip: Vimeo frames 1-3, or DAVIS frames 10-12 at half size."""
    if args.davis:
        for sequence in sorted(p for p in Path(args.davis).iterdir() if p.is_dir()):
            with VideoReader(sequence) as reader:
                frames = [f for _, f in zip(range(13), reader)]
            if len(frames) == 13:
                yield [F.interpolate(f[None].to(device), scale_factor=0.5, mode="area") for f in frames[10:13]]
    else:
        for clip in open_clips(args.data, "vimeo"):
            yield [f[None].to(device) for f in clip.float_frames()[:3]]


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    return float(-10 * torch.log10(((x - y) ** 2).mean().clamp_min(1e-12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/dev/vimeo_septuplet")
    parser.add_argument("--davis", help="a DAVIS-style folder of frame folders instead (training footage)")
    parser.add_argument("--preset", default="medium", choices=("ultrafast", "fast", "medium"))
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    models = {b: create_model("dis", preset=args.preset, backend=b) for b in ("opencv", "torch")}
    scores = {b: [] for b in models}
    seconds = {b: 0.0 for b in models}
    between = []
    for a, truth, b in triplets(args, device):
        frames = {}
        for backend, model in models.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            with torch.inference_mode():
                frames[backend] = model.interpolate(a, b, [0.5])[0].clamp(0, 1).mul(255).round().div(255)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds[backend] += time.perf_counter() - started
            scores[backend].append(psnr(frames[backend], truth))
        between.append(psnr(frames["opencv"], frames["torch"]))
    n = len(between)
    worst = min(t - o for t, o in zip(scores["torch"], scores["opencv"]))
    print(f"{n} triplets, preset {args.preset}, {device}: PSNR-RGB opencv {np.mean(scores['opencv']):.2f} dB, "
          f"torch {np.mean(scores['torch']):.2f} dB; between the two {np.mean(between):.2f} dB; worst clip "
          f"{worst:+.2f} dB; s/pair opencv {seconds['opencv'] / n:.3f}, torch {seconds['torch'] / n:.3f}")


if __name__ == "__main__":
    main()
