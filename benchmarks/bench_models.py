"""Every learned model: parameters, GFLOPs and CPU time per output frame at 180×144 -> 720×576 (×4), and a
smoke run of `stvsr upscale` with freshly initialised weights on 8 frames of the bundled real clip.

    python benchmarks/bench_models.py [--repeats 2] [--no-smoke]

Spatial and space-time models run at ×4 on 180×144 input; frame interpolators on 720×576 frames (the size they
would work at after ×4 upscaling). Time is the best of `repeats` forward passes after one warm-up, divided by the
output frames of one call.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from stvsr.io import VideoReader, VideoWriter
from stvsr.models import create_model, list_models
from stvsr.models.info import describe
from stvsr.ops.resize import imresize

ROOT = Path(__file__).resolve().parents[1]


def kwargs_for(task: str) -> dict:
    return {"time_factor": 2} if task == "vfi" else {} if task == "critic" else {"scale": 4}


def time_model(name: str, task: str, repeats: int) -> tuple[float, int]:
    model = create_model(name, **kwargs_for(task)).eval()
    h, w = (576, 720) if task in ("vfi", "critic") else (144, 180)
    if task == "critic":
        x = torch.rand(1, 3, h, w)
        frames = 1
    else:
        x = torch.rand(1, max(model.window, 1), 3, h, w)
        frames = model.output_length(x.shape[1]) if task != "vfi" else 1  # an interpolator makes one new frame
    with torch.inference_mode():
        model(x)
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - started)
    return best / frames, frames


def smoke_clip(folder: Path) -> Path:
    """8 frames of samples/dog.mp4 at 180×144 (MATLAB bicubic), with its audio."""
    path = folder / "dog_180x144.mp4"
    source = ROOT / "samples" / "dog.mp4"
    with VideoReader(source) as reader, VideoWriter(path, fps=reader.fps) as writer:
        for i, frame in enumerate(reader):
            writer.write(imresize(frame, size=(144, 180)).clamp(0, 1))
            if i == 7:
                break
    return path


def smoke(name: str, task: str, clip: Path, folder: Path) -> str:
    weights = folder / f"{name}.safetensors"
    scale = {"vfi": "1"}.get(task, "4")
    time_factor = "2" if task in ("vfi", "stvsr") else "1"
    init = [sys.executable, "-m", "stvsr", "models", "--init", name, "--out", str(weights), "--overwrite"]
    if task != "vfi":
        init += ["--scale", scale]
    subprocess.run(init, check=True, capture_output=True)
    out = folder / f"{name}.mp4"
    run = subprocess.run([sys.executable, "-m", "stvsr", "upscale", str(clip), str(out), "--weights", str(weights),
                          "--scale", scale, "--time-factor", time_factor, "--overwrite", "--quiet"],
                         capture_output=True, text=True)
    return "ok" if run.returncode == 0 and out.exists() else f"FAILED: {run.stderr.strip()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-smoke", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="stvsr-models-"))
    clip = None if args.no_smoke else smoke_clip(folder)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, python {platform.python_version()}")
    print("| model | task | params | GFLOPs / output frame | CPU s / output frame | upscale smoke run |")
    print("|---|---|---:|---:|---:|---|")
    for entry in list_models(learned=True):
        if entry.name.endswith("_tiny"):
            continue
        info = describe(entry, **kwargs_for(entry.task))
        seconds, _ = time_model(entry.name, entry.task, args.repeats)
        status = "-" if clip is None or entry.task == "critic" else smoke(entry.name, entry.task, clip, folder)
        print(f"| {entry.name} | {entry.task} | {info['params']:,} | {info['gflops']:.2f} | {seconds:.3f} | "
              f"{status} |", flush=True)


if __name__ == "__main__":
    main()
