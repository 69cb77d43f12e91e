"""How much detail the dev clips and the training sources hold: the PSNR-Y of a bicubic ×4 round trip (downscale,
upscale, compare), the lower the more fine detail. It says how far dev's clips are from what the models train on.

    python scripts/data_difficulty.py                 # dev's middle frames and ../shared/data/train at ×0.5
    python scripts/data_difficulty.py --downscale 0.5 0.4

Training sources are read at the `data.hr_downscale` a recipe uses (through the training cache, runs/cache), four
frames of each, so the numbers describe what a training crop is drawn from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from stvsr.errors import InputError, StvsrError
from stvsr.io.probe import read_image
from stvsr.metrics.fidelity import psnr
from stvsr.ops.resize import imresize
from stvsr.train.data import FrameStore, find_sources


def round_trip_psnr(frames: torch.Tensor) -> float:
    """frames: (N, 3, H, W) in [0, 1]; the mean PSNR-Y of bicubic ×1/4 then ×4 against them."""
    h, w = frames.shape[-2] // 4 * 4, frames.shape[-1] // 4 * 4
    hr = frames[..., :h, :w]
    up = imresize(imresize(hr, 0.25), 4.0).clamp(0, 1)
    return psnr(up, hr, crop_border=4).mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=Path("../shared/data/dev/vimeo_septuplet"))
    parser.add_argument("--train", type=Path, default=Path("../shared/data/train"))
    parser.add_argument("--downscale", type=float, nargs="+", default=[0.5])
    parser.add_argument("--cache", default="runs/cache")
    args = parser.parse_args()
    try:
        report(args)
    except StvsrError as error:
        sys.exit(f"data_difficulty: {error}")


def report(args: argparse.Namespace) -> None:
    frames = sorted(args.dev.glob("sequences/*/*/im4.png"))
    if not frames:
        raise InputError(f"no Vimeo-90K septuplets (sequences/*/*/im4.png) in {args.dev}")
    dev = [round_trip_psnr(torch.from_numpy(read_image(p)).permute(2, 0, 1)[None].float() / 255)
           for p in frames]
    print(f"dev ({len(dev)} clips, frame 4): mean {np.mean(dev):.2f} dB, median {np.median(dev):.2f}, "
          f"min {np.min(dev):.2f}, max {np.max(dev):.2f}")
    sources = find_sources([str(args.train)], exclude=[str(args.train / "photos")])
    if not sources:
        raise InputError(f"no video files or frame folders in {args.train}")
    for factor in args.downscale:
        store = FrameStore(sources, downscale=factor, cache=args.cache or None)
        train = [round_trip_psnr(clip[np.linspace(0, len(clip) - 1, 4).astype(int)].float() / 255)
                 for clip in store.clips]
        print(f"train at ×{factor} ({len(train)} clips, 4 frames each): mean {np.mean(train):.2f} dB, "
              f"median {np.median(train):.2f}, min {np.min(train):.2f}, max {np.max(train):.2f}")


if __name__ == "__main__":
    main()
