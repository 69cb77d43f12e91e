"""Local sub-pixel patterns on real compressed footage: where the whole-frame checkerboard measure averages them away.

A GAN-trained sub-pixel model can draw a zig-zag hatching along a few high-contrast edges while its whole-frame
`periodic_amplitude` stays under the test's 0.5 levels (runs.md, session of 2026-12-07, fifth: 0.08 whole, 3.3 on
the worst tile). This re-encodes the bundled sample's first frames with libx264 at each CRF (preset medium, one GOP:
`io.compress.video_roundtrip`), enlarges
them ×4 with each method, and scores `periodic_amplitude` without a ground truth (a real clip has none) on 96×96
tiles of three middle output frames, stride 48: the worst tile, and how many tiles pass 0.5 and 1 level. Bicubic
scores under 0.1 everywhere; natural content at the upsampling period counts too, so compare methods with each other
rather than with zero. `--save DIR` writes each method's worst tile beside the others' (×3, nearest neighbour).

    python benchmarks/compressed_edge_pattern.py bicubic,propstvsr.x4_real,RUN/last.safetensors [--crf 26 --crf 32]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from stvsr.inference import prepare, run_windows
from stvsr.io import VideoReader
from stvsr.io.compress import video_roundtrip
from stvsr.io.frames import tensor_to_array
from stvsr.metrics import periodic_amplitude

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "dog.mp4"
TILE, STRIDE = 96, 48


def tile_scores(frames: torch.Tensor) -> tuple[list[tuple[int, int]], list[float]]:
    """Every TILE×TILE tile's periodic amplitude (levels), with its top-left corner."""
    corners = [(i, j) for i in range(0, frames.shape[-2] - TILE + 1, STRIDE)
               for j in range(0, frames.shape[-1] - TILE + 1, STRIDE)]
    return corners, [periodic_amplitude(frames[..., i:i + TILE, j:j + TILE]) for i, j in corners]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("methods", help="comma-separated methods or weights files (x4)")
    parser.add_argument("--crf", type=int, action="append", help="x264 CRF of the re-encoded input (repeatable)")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--save", type=Path, help="folder for the worst tiles, side by side")
    args = parser.parse_args()
    methods = args.methods.split(",")
    with VideoReader(SAMPLE) as reader:
        frames = torch.stack([f for _, f in zip(range(args.frames), reader)])
    middle = slice(args.frames // 2 - 1, args.frames // 2 + 2)
    for crf in args.crf or [26, 32]:
        low = list(video_roundtrip(frames, crf=crf))
        outputs = {}
        for method in methods:
            model = prepare(method, scale=4, time_factor=1, device=torch.device("cpu"), precision="fp32")
            with torch.inference_mode():
                out = torch.stack(list(run_windows(model, iter(low), device=torch.device("cpu")))[middle])
            outputs[method] = out.clamp(0, 1)
        for k, (method, out) in enumerate(outputs.items()):
            corners, scores = tile_scores(out)
            worst = int(np.argmax(scores))
            print(f"CRF {crf} {method}: whole frame {periodic_amplitude(out):.3f}, worst tile {scores[worst]:.2f} "
                  f"at {corners[worst]}, tiles above 0.5 / 1 level: {sum(s > 0.5 for s in scores)} / "
                  f"{sum(s > 1 for s in scores)} of {len(scores)}", flush=True)
            if args.save is not None:  # this method's worst tile, every method's output there, in the given order
                i, j = corners[worst]
                row = [cv2.resize(tensor_to_array(o[1, :, i:i + TILE, j:j + TILE])[:, :, ::-1], None, fx=3, fy=3,
                                  interpolation=cv2.INTER_NEAREST) for o in outputs.values()]
                args.save.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(args.save / f"crf{crf}_worst_tile_of_method{k + 1}.png"), np.hstack(row))


if __name__ == "__main__":
    main()
