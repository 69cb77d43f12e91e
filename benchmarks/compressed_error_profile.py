"""Where does the compressed-input model's error sit? Three questions a next lever for x264 CRF 26 would rest on:

- **On the codec's block grid?** Squared error (PSNR-Y's) averaged by low-resolution position modulo 16 (H.264's
  macroblock; its transforms are 4x4 and 8x8), relative to the mean. If the model's error piled up on block edges,
  a model told where the grid lies (position channels, a deblocking prior) could remove it.
- **On some frames of the GOP?** PSNR-Y per frame index (x264 codes frame 0 as an I frame), model and bicubic.
- **In the direction of propagation?** The model run on the clip and on the clip reversed in time, and their mean
  (a time-reversal self-ensemble).

    python benchmarks/compressed_error_profile.py [--model propstvsr.x4_real] [--degradation BI+h264:crf=26]
        [--dev ../shared/data/dev/vimeo_septuplet]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from stvsr.data.clips import open_clips
from stvsr.degrade import degrade
from stvsr.inference import prepare
from stvsr.metrics.fidelity import psnr
from stvsr.ops.color import rgb_to_y
from stvsr.ops.resize import imresize

GRID = 16  # LR pixels: a macroblock


def grid_profile(out: torch.Tensor, hr: torch.Tensor, scale: int) -> np.ndarray:
    """(GRID, GRID) mean squared Y error of each LR position modulo GRID (its scale x scale output pixels pooled)."""
    err = (rgb_to_y(out) - rgb_to_y(hr)).pow(2)[:, 0]  # (T, H, W)
    t, h, w = err.shape
    per_lr = err.reshape(t, h // scale, scale, w // scale, scale).mean((2, 4))
    rows, cols = (n // GRID * GRID for n in per_lr.shape[1:])
    per_lr = per_lr[:, :rows, :cols]
    return per_lr.reshape(t, rows // GRID, GRID, cols // GRID, GRID).mean((0, 1, 3)).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="propstvsr.x4_real")
    parser.add_argument("--degradation", default="BI+h264:crf=26")
    parser.add_argument("--dev", default="../shared/data/dev/vimeo_septuplet")
    parser.add_argument("--scale", type=int, default=4)
    args = parser.parse_args()
    model = prepare(args.model, scale=args.scale, time_factor=1, device=torch.device("cpu"))
    profiles = {"model": np.zeros((GRID, GRID)), "bicubic": np.zeros((GRID, GRID))}
    frames = {"model": [], "bicubic": []}
    ensemble = {"forward": [], "reversed": [], "mean of both": []}
    started = time.perf_counter()
    for clip in open_clips(args.dev, "vimeo"):
        hr = clip.float_frames()
        lr = degrade(hr, args.degradation, args.scale)
        with torch.no_grad():
            forward = model(lr[None])[0].clamp(0, 1)
            backward = model(lr.flip(0)[None])[0].flip(0).clamp(0, 1)
        bicubic = imresize(lr, args.scale).clamp(0, 1)
        for name, out in (("model", forward), ("bicubic", bicubic)):
            profiles[name] += grid_profile(out, hr, args.scale)
            frames[name].append(psnr(out, hr).numpy())
        for name, out in zip(ensemble, (forward, backward, (forward + backward) / 2)):
            ensemble[name].append(psnr(out, hr).mean().item())
    clips = len(ensemble["forward"])
    print(f"{args.model} on dev through {args.degradation} ({clips} clips, {time.perf_counter() - started:.0f} s; "
          f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    print(f"\nsquared error by LR position modulo {GRID}, relative to its mean (1.00: none above the rest)")
    for name, grid in profiles.items():
        grid = grid / grid.mean()
        print(f"{name:>8} rows    {' '.join(f'{v:.2f}' for v in grid.mean(1))}")
        print(f"{name:>8} columns {' '.join(f'{v:.2f}' for v in grid.mean(0))}")
        edges = np.zeros((GRID, GRID), bool)
        edges[[0, 7, 8, GRID - 1], :] = edges[:, [0, 7, 8, GRID - 1]] = True  # either side of an 8-pixel edge
        print(f"{name:>8} on 8-pixel block edges {grid[edges].mean():.3f}, inside blocks {grid[~edges].mean():.3f}")
    print("\nPSNR-Y by frame index (mean over clips)")
    for name, rows in frames.items():
        print(f"{name:>8} {' '.join(f'{v:.2f}' for v in np.mean(rows, axis=0))}")
    gain = np.mean(frames["model"], axis=0) - np.mean(frames["bicubic"], axis=0)
    print(f"{'gain':>8} {' '.join(f'{v:.2f}' for v in gain)}")
    print("\ntime-reversal self-ensemble | PSNR-Y | worst clip")
    for name, scores in ensemble.items():
        print(f"{name} | {np.mean(scores):.3f} | {np.min(scores):.3f}")


if __name__ == "__main__":
    main()
