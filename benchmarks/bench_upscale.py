"""Throughput and peak memory of `stvsr upscale` on synthetic clips (issue: memory must not grow with length).

    python benchmarks/bench_upscale.py [--sizes 480p,1080p] [--frames 100,1000] [--preset ultrafast]

Each run is a fresh `stvsr upscale` process; peak RSS is that process's own maximum resident set (wait4).
Inputs are synthetic H.264 clips at 30000/1001 fps made once into --cache. The x264 preset is passed on:
at x4 (4K and 8K output) x264's default `medium` preset dominates the time on 2 cores, so `ultrafast` measures
stvsr's own pipeline; the README says what the default preset costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch

from stvsr.data.synthetic import translating_frames
from stvsr.data.synthetic_video import write_synthetic_video

SIZES = {"480p": (480, 854), "720p": (720, 1280), "1080p": (1080, 1920)}
CASES = [("bicubic", ["--scale", "4", "--time-factor", "1", "--method", "bicubic"]),
         ("dis x2 (time)", ["--scale", "1", "--time-factor", "2", "--method", "dis"])]


def make_input(cache: Path, size: str, frames: int) -> Path:
    path = cache / f"synthetic_{size}_{frames}.mp4"
    if not path.exists():
        height, width = SIZES[size]
        partial = path.with_suffix(".part.mp4")
        write_synthetic_video(partial, translating_frames(frames, height, width, velocity=(3, 1)),
                         fps=Fraction(30000, 1001), options={"preset": "veryfast", "crf": "18"})
        partial.rename(path)
    return path


def run_case(src: Path, args: list[str], workdir: Path, preset: str) -> tuple[float, float, int]:
    dst = workdir / "out.mp4"
    dst.unlink(missing_ok=True)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "stvsr", "upscale", str(src), str(dst), "--quiet", "--preset", preset,
                                *args])
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"stvsr upscale failed on {src} with {args}")
    from stvsr.io import probe

    frames_out = probe(dst).frame_count
    dst.unlink()
    return seconds, usage.ru_maxrss / 1024, frames_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="480p,1080p")
    parser.add_argument("--frames", default="100,1000")
    parser.add_argument("--preset", default="ultrafast", help="x264 preset for the outputs")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "stvsr-bench")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, python {platform.python_version()}, "
          f"x264 preset {args.preset}")
    print("| method | input | frames in | frames out | wall s | output frames/s | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for size in args.sizes.split(","):
        for frames in map(int, args.frames.split(",")):
            src = make_input(args.cache, size, frames)
            for name, case in CASES:
                seconds, rss, frames_out = run_case(src, case, args.cache, args.preset)
                print(f"| {name} | {size} | {frames} | {frames_out} | {seconds:.1f} | {frames_out / seconds:.2f} "
                      f"| {rss:.0f} |", flush=True)


if __name__ == "__main__":
    main()
