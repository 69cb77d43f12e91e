"""How DIS interpolation should blend its two warped frames: by time alone (`average`, the default since 2026-12-07)
or trusting each warp only where a forward-backward check passes (`occlusion`, the earlier default). Scored on
ground-truth frames, so only the interpolation is measured:

- dev: the VFI protocol (frames 1, 3, 5, 7 of each septuplet in, 2, 4, 6 scored);
- held-out fast motion: triplets from folders of frames (the DAVIS validation sequences and the bedroom clip in
  `../shared/data/train`: real footage, large and non-rigid motion), frames `i`, `i + g`, `i + 2g` at gaps g = 1 and
  2 (2 doubles the motion), halved in size as the training loader does (MATLAB bicubic); four triplets
  spread over each folder.

    python benchmarks/interpolation_blend.py [--dev ../shared/data/dev/vimeo_septuplet]
        [--folders "../shared/data/train/davis2016_val_480p/*/" ../shared/data/train/sam2_bedroom/bedroom/]

PSNR on Y (BT.601), mean and worst over the scored frames, and the share of frames where `average` scores higher.
`stvsr evaluate --task stvsr` measures the same choice end to end (docs/experiments/interpolation-blend.md).
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import time

import numpy as np
import torch

from stvsr.data.clips import open_clips
from stvsr.io.probe import read_image
from stvsr.metrics.fidelity import psnr
from stvsr.models.classical import BLENDS, FlowInterpolation
from stvsr.ops.resize import imresize

TRIPLETS_PER_FOLDER = 4


def _half(array: np.ndarray) -> torch.Tensor:
    """A source frame as the training loader makes high resolution from it (train/data.py): ×0.5, MATLAB bicubic."""
    frame = torch.from_numpy(array).permute(2, 0, 1)[None].float().div_(255)
    return imresize(frame, 0.5).clamp_(0, 1)


def folder_triplets(pattern: str, gap: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    triplets = []
    for folder in sorted(glob.glob(pattern)):
        files = sorted(glob.glob(os.path.join(folder, "*.jpg")) + glob.glob(os.path.join(folder, "*.png")))
        step = max(len(files) // TRIPLETS_PER_FOLDER, 2 * gap + 1)
        for start in range(0, len(files) - 2 * gap, step):
            triplets.append(tuple(_half(read_image(files[start + k * gap])) for k in range(3)))
    return triplets


def dev_triplets(path: str) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    triplets = []
    for clip in open_clips(path, "vimeo"):
        frames = clip.float_frames()
        triplets += [(frames[i:i + 1], frames[i + 1:i + 2], frames[i + 2:i + 3]) for i in (0, 2, 4)]
    return triplets


def score(triplets) -> dict[str, np.ndarray]:
    interpolators = {blend: FlowInterpolation(blend=blend, backend="opencv") for blend in BLENDS}
    scores = {blend: [] for blend in BLENDS}
    with torch.inference_mode():
        for first, middle, last in triplets:
            pair = torch.cat([first, last])[None]
            for blend, interpolate in interpolators.items():
                scores[blend].append(float(psnr(interpolate(pair)[0, 1:2], middle)))
    return {blend: np.array(values) for blend, values in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", default="../shared/data/dev/vimeo_septuplet")
    parser.add_argument("--folders", nargs="*", default=["../shared/data/train/davis2016_val_480p/*/",
                                                          "../shared/data/train/sam2_bedroom/bedroom/"])
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    start = time.perf_counter()
    sets = [("dev VFI", dev_triplets(args.dev))]
    for gap in (1, 2):
        sets.append((f"held-out folders, gap {gap}", [t for p in args.folders for t in folder_triplets(p, gap)]))
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}\n")
    print("| frames | triplets | " + " | ".join(f"{b} PSNR-Y (worst)" for b in BLENDS) + " | average higher |")
    print("|---|---:|" + "---:|" * len(BLENDS) + "---:|")
    for name, triplets in sets:
        scores = score(triplets)
        cells = " | ".join(f"{s.mean():.2f} ({s.min():.2f})" for s in scores.values())
        share = float(np.mean(scores["average"] > scores["occlusion"]))
        print(f"| {name} | {len(triplets)} | {cells} | {share:.0%} |")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
