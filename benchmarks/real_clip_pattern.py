"""The periodic-pattern measure of tests/test_shipped.py on the bundled real clip, for any methods or weights files:
the "real clip" column of docs/experiments/per-frame-and-multi-frame.md's tables (the shipped SR models' test line is 0.5 levels).

    python benchmarks/real_clip_pattern.py srunet.x2,RUN/last.safetensors [--scale 2]

The clip is the test's: the first 7 frames of samples/dog.mp4, cropped to [20:148, 40:232], run as the VSR
protocol (MATLAB bicubic down, LR rounded to 8 bits) and scored with `periodic_amplitude` against that crop.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from stvsr.data.clips import Clip
from stvsr.evaluate.tasks import Task, run_task
from stvsr.io import VideoReader
from stvsr.metrics import periodic_amplitude
from stvsr.models import build_method

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "dog.mp4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("methods", help="comma-separated methods or weights files")
    parser.add_argument("--scale", type=int, default=2)
    args = parser.parse_args()
    with VideoReader(SAMPLE) as reader:
        frames = [frame for _, frame in zip(range(7), reader)]
    clip = Clip("dog", torch.stack(frames)[:, :, 20:148, 40:232].mul(255).round().to(torch.uint8))
    task = Task("vsr", args.scale)
    for method in args.methods.split(","):
        model = build_method(method, scale=args.scale, time_factor=1)
        run = run_task(model, clip, task, torch.device("cpu"))
        print(f"{method}: {periodic_amplitude(run.prediction, run.target):.3f} levels")


if __name__ == "__main__":
    main()
