"""Throughput of every shipped model as `stvsr upscale` runs it: the streaming window runner, tiling as
`--tile auto` chooses, on 180x144 input (x4 models -> 720x576 output; the VFI model at 720x576).

    python benchmarks/bench_shipped.py [--frames 48] [--threads N]

Frames come from the bundled real clip (samples/dog.mp4), resized to the input size. Reported: output frames per
second of the model (decoding and encoding excluded; `bench_upscale.py` measures the whole command).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from stvsr.io import VideoReader
from stvsr.models import build_method, read_metadata
from stvsr.inference import resolve_tile
from stvsr.models.shipped import SHIPPED
from stvsr.ops.resize import imresize
from stvsr.inference import run_windows

ROOT = Path(__file__).resolve().parents[1]


def frames_at(size: tuple[int, int], count: int) -> list[torch.Tensor]:
    out = []
    with VideoReader(ROOT / "samples/dog.mp4") as reader:
        for frame in reader:
            out.append(imresize(frame[None], size=size)[0].clamp(0, 1))
            if len(out) == count:
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--methods", default="imdn.x4+dis,imdn.x4+dis_fast,dis+imdn.x4",
                        help="more x4 x2 methods (cascades of shipped models) to time, comma-separated")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}")
    print("| model | task | input | output | output frames/s | s per output frame |")
    print("|---|---|---|---:|---:|---:|")
    runs = [(e.name, read_metadata(e.path)) for e in SHIPPED.values() if e.available]
    runs += [(m, {"scale": 4, "time_factor": 2, "task": "stvsr (cascade)"}) for m in args.methods.split(",") if m]
    for name, meta in runs:
        scale, k = meta["scale"], meta["time_factor"]
        size = (576, 720) if scale == 1 else (144, 180)
        frames = frames_at(size, args.frames)
        model = build_method(name, scale=scale, time_factor=k, tile=resolve_tile("auto", scale)).eval()
        list(run_windows(model, iter(frames[:8]), device=torch.device("cpu")))  # warm-up
        started = time.perf_counter()
        count = sum(1 for _ in run_windows(model, iter(frames), device=torch.device("cpu")))
        seconds = time.perf_counter() - started
        made = count if k == 1 else count - len(frames)  # an interpolator's new frames
        if scale == 1:
            label, fps = "new frames", made / seconds
        else:
            label, fps = "frames", count / seconds
        print(f"| {name} | {meta['task']} | {size[1]}x{size[0]} x{args.frames} | {made if scale == 1 else count} {label}"
              f" | {fps:.2f} | {1 / fps:.3f} |")


if __name__ == "__main__":
    main()
