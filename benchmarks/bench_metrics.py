"""Throughput of each metric at 720p (frames/s), on synthetic frames.

    python benchmarks/bench_metrics.py [--frames 8] [--repeats 3]

Per-frame metrics score `frames` frames against a noisy copy; clip metrics (warping error, tOF) score a clip of
`frames` frames, whose ground-truth flows are computed once and shared between methods in `stvsr evaluate`: the
`(+GT flow)` rows include that one-off cost.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from stvsr.data.synthetic import translating_clip
from stvsr.metrics import METRICS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    target = translating_clip(args.frames, 720, 1280, velocity=(3, 1))
    pred = (target + 0.02 * torch.randn(target.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; 720p, {args.frames} frames, best of {args.repeats}")
    print("| metric | frames/s |")
    print("|---|---:|")
    for name, metric in METRICS.items():
        for shared in ((False, True) if not metric.per_frame else (False,)):
            best = float("inf")
            for _ in range(args.repeats):
                cache: dict = {}
                if shared:  # the ground truth's flows already computed by an earlier method
                    metric.compute(target, target, 0, cache)
                started = time.perf_counter()
                metric.compute(pred, target, 0, cache)
                best = min(best, time.perf_counter() - started)
            label = name if metric.per_frame else f"{name} ({'GT flow shared' if shared else '+GT flow'})"
            print(f"| {label} | {args.frames / best:.2f} |", flush=True)


if __name__ == "__main__":
    main()
