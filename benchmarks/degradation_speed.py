"""What a degradation chain costs the training loader: milliseconds per sample (a clip of 5 frames at 192x192, x4,
as the compressed recipes' 48-pixel crops) for each chain, on one thread as one loader worker runs it, and the
samples per second one worker can therefore supply. Samples are synthetic texture clips (moving, so codecs see
motion); each chain is drawn afresh per sample from its own seed, as in training.

    python benchmarks/degradation_speed.py [--samples 40] [--chains "BI" "second_order+jpeg:q=30..95" ...]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from stvsr.data.synthetic import translating_clip
from stvsr.degrade import degrade

CHAINS = (
    "BI",
    "BI+noise:sigma=0..3,grey=0.5,p=0.3+h264:crf=16..36,preset=veryfast|faster|fast|medium,p=0.9",
    "BI+jpeg:q=30..90",
    "BI+mpeg4:q=2..20",
    "second_order",
    "second_order+jpeg:q=30..95",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--size", type=int, default=192, help="ground-truth crop side in pixels")
    parser.add_argument("--chains", nargs="+", default=list(CHAINS))
    args = parser.parse_args()
    torch.set_num_threads(1)  # one loader worker
    clips = [translating_clip(args.frames, args.size, args.size, seed=i) for i in range(args.samples)]
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread; "
          f"{args.samples} samples of {args.frames}x{args.size}x{args.size}, x4")
    print("| chain | ms a sample | samples/s a worker |\n|---|---:|---:|")
    for chain in args.chains:
        degrade(clips[0], chain, 4, np.random.default_rng(0))  # warm-up: codec and kernel set-up
        start = time.perf_counter()
        for i, clip in enumerate(clips):
            degrade(clip, chain, 4, np.random.default_rng([7, i]))
        ms = (time.perf_counter() - start) / len(clips) * 1000
        cell = chain.replace("|", "\\|")  # a table cell: the chain's own bars escaped
        print(f"| `{cell}` | {ms:.0f} | {1000 / ms:.0f} |")


if __name__ == "__main__":
    main()
