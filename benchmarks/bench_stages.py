"""Where the time goes: each stage of `stvsr upscale` timed on its own, for the default x4 x2 path and the
classical one, on the bundled sample (320x180 -> 1280x720) and a 480x270 -> 1920x1080 synthetic clip.

    python benchmarks/bench_stages.py [--frames 30] [--sizes 720p,1080p] [--device cpu]

Stages: decode (PyAV decode + YUV->RGB), to tensor (uint8 -> float), network (the SR model), resize (bicubic x4),
flow (DIS, both directions, per frame pair), warp/blend (the rest of DIS interpolation), to uint8 (float -> uint8
RGB) and encode (RGB->YUV + libx264 CRF 18 medium, as `stvsr upscale` writes). Milliseconds per input frame (each
input frame makes two output frames). Runs unchanged on CPU and CUDA.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch

from stvsr.data.synthetic import translating_frames
from stvsr.io import VideoReader, VideoWriter
from stvsr.io.frames import tensor_to_array
from stvsr.data.synthetic_video import write_synthetic_video
from stvsr.models import build_method
from stvsr.inference import resolve_tile
from stvsr.models.base import streaming_window
from stvsr.models.classical import FlowInterpolation
try:
    from stvsr.ops.flow import dis_flows
except ImportError:  # before dis_flows existed: the same two flows, one call each (for before/after runs)
    from stvsr.ops.flow import dis_flow

    def dis_flows(a, b, preset):
        return dis_flow(a, b, preset), dis_flow(b, a, preset)
from stvsr.ops.resize import imresize
from stvsr.runtime import pick_device

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "dog.mp4"


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    """Seconds per call of fn() after a warm-up (CUDA graphs captured, kernels loaded), in inference mode as
    `stvsr upscale` runs, the device synchronised before the clock is read."""
    with torch.inference_mode():
        fn()
        sync()
        started = time.perf_counter()
        for _ in range(repeat):
            result = fn()
        sync()
    return (time.perf_counter() - started) / repeat, result


def sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def source(size: str, frames: int, cache: Path) -> Path:
    if size == "720p":
        return SAMPLE
    path = cache / f"stages_{size}_{frames}.mp4"
    if not path.exists():
        write_synthetic_video(path, translating_frames(frames, 270, 480, velocity=(3, 1)), fps=Fraction(30000, 1001))
    return path


def profile(path: Path, frames: int, device: torch.device, precision: str) -> dict[str, float]:
    with VideoReader(path) as reader:
        t_decode, arrays = timed(lambda: [f for _, f in zip(range(frames), reader)])
    clip = torch.stack(arrays)
    n = len(clip)
    stages = {"decode + to tensor": t_decode}
    sr = build_method("imdn.x4", scale=4, time_factor=1, tile=resolve_tile("auto", 4), precision=precision)
    sr = sr.to(device).eval()
    x = clip.to(device)

    # As `stvsr upscale` streams them: per-frame networks a frame a call on a CPU and 4 off it, interpolation a pair
    # a call on a CPU and 8 off it (`models.base.streaming_window`)
    per_call = streaming_window(sr, device)
    interp = FlowInterpolation(time_factor=2, preset="fast")
    pairs_per_call = streaming_window(interp, device) - 1
    stages["network (imdn.x4)"], hr = timed(lambda: torch.cat([sr(x[c][None])[0] for c in chunks(n, per_call)]))
    stages["resize (bicubic x4)"], _ = timed(lambda: imresize(x, 4))
    hr = hr.float()
    a, b = hr[:-1], hr[1:]
    pairs = chunks(n - 1, pairs_per_call)
    stages["flow (DIS fast, 2 ways)"], _ = timed(lambda: [dis_flows(a[c], b[c], "fast") for c in pairs])
    whole, middles = timed(lambda: [interp.interpolate(a[c], b[c], [0.5])[0] for c in pairs])
    stages["warp/blend"] = max(whole - stages["flow (DIS fast, 2 ways)"], 0.0)
    frames_out = [f for pair in zip(hr[:-1], torch.cat(middles)) for f in pair] + [hr[-1]] * 2
    # rounded where the frames are, then to the host, as the writer does (a quarter of the bytes cross from a GPU)
    stages["to uint8 (+ to host)"], _ = timed(lambda: [tensor_to_array(f) for f in frames_out])
    cpu_frames = [f.cpu() for f in frames_out]
    with tempfile.TemporaryDirectory() as tmp:
        def encode():
            out = Path(tmp) / f"out{time.perf_counter_ns()}.mp4"
            with VideoWriter(out, fps=Fraction(60000, 1001)) as writer:
                for f in cpu_frames:
                    writer.write(f)
        stages["encode (x264 medium)"], _ = timed(encode)
    return {k: 1000 * v / n for k, v in stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--sizes", default="720p,1080p")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"device {device}, precision {args.precision}")
    with tempfile.TemporaryDirectory() as cache:
        for size in args.sizes.split(","):
            stages = profile(source(size, args.frames, Path(cache)), args.frames, device, args.precision)
            total = sum(stages.values())
            print(f"\n{size} output, ms per input frame (2 output frames):")
            for name, ms in stages.items():
                print(f"| {name} | {ms:.1f} | {100 * ms / total:.0f} % |")
            print(f"| total | {total:.1f} | {2000 / total:.1f} output frames/s if run one after another |")


if __name__ == "__main__":
    main()
