"""`stvsr bench`: what each shipped model costs on this machine, so a user picks one knowing the price.

Every method runs in its own process (so its peak memory is its own) on a short synthetic clip sized for the
chosen output, at the precision `stvsr upscale` would use, and reports output frames per second of the model
itself, each frame delivered to the host as the 8-bit RGB the encoder takes (decoding and encoding excluded:
`BENCHMARKS.md` has whole-pipeline figures), and peak memory.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass

from ..errors import UsageError

OUTPUT_SIZES = {"720p": (720, 1280), "1080p": (1080, 1920), "576p": (576, 720), "4k": (2160, 3840)}


@dataclass
class BenchRow:
    method: str
    scale: int
    time_factor: int
    fps: float | None
    peak_mb: float | None
    error: str = ""


def default_methods() -> list[tuple[str, int, int]]:
    """(method, scale, time factor): each shipped model at its own factors, and the classical references."""
    from ..models.checkpoint import read_metadata
    from ..models.shipped import SHIPPED

    rows = [("bicubic", 4, 1), ("bicubic+dis", 4, 2), ("dis", 1, 2)]
    for entry in SHIPPED.values():
        if entry.available:
            meta = read_metadata(entry.path)
            rows.append((entry.name, meta.get("scale") or 1, meta.get("time_factor") or 1))
    from ..inference import QUALITY_MODELS

    for (scale, time_factor), levels in QUALITY_MODELS.items():  # the cascades `--quality` picks
        for method in dict.fromkeys(m for pair in levels.values() for m in pair if "+" in m):
            rows.append((method, scale, time_factor))
    return rows


def _measure(method: str, scale: int, time_factor: int, height: int, width: int, frames: int, device: str,
             precision: str) -> dict:
    """Runs in the child process: build, warm up, time `frames` input frames; returns the row as a dict."""
    import torch

    from ..data.synthetic import translating_clip
    from ..inference import prepare
    from ..runtime import pick_device

    target = pick_device(device)
    model = prepare(method, scale=scale, time_factor=time_factor, device=target, tile="auto", precision=precision)
    clip = translating_clip(frames, height // scale, width // scale, velocity=(2, 1))
    # Warm-up: allocations, kernels; on a GPU the whole clip, so that the CUDA graphs of every window length the
    # timed run meets are captured (once per video in `stvsr upscale`)
    list(handed_over(model, clip if target.type == "cuda" else clip[: max(2, model.window)], target))
    if target.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    count = sum(1 for _ in handed_over(model, clip, target))
    if target.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    # This process's own peak resident memory (Linux reports kB); on CUDA, the device's peak too.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if target.type == "cuda":
        peak = max(peak, torch.cuda.max_memory_allocated() / 2**20)
    return {"fps": count / seconds, "peak_mb": peak}


def handed_over(model, frames, device):
    """The output frames of `model` on `frames` as `stvsr upscale` hands them to its encoder: streamed on `device`
    and rounded to 8-bit RGB arrays (H, W, 3) where they are made, then brought to the host."""
    from ..inference import run_windows
    from ..io.frames import tensor_to_array

    for frame in run_windows(model, frames, device=device, to_host=False):
        yield tensor_to_array(frame)


def bench(methods: list[tuple[str, int, int]], *, output: str = "720p", frames: int = 12, device: str = "auto",
          precision: str = "auto") -> list[BenchRow]:
    if output not in OUTPUT_SIZES:
        raise UsageError(f"--output must be one of {', '.join(OUTPUT_SIZES)}")
    if frames < 2:
        raise UsageError("--frames must be at least 2")
    from ..models import build_method
    from ..runtime import pick_device

    # A wrong name or a missing GPU is the user's one line (exit 2) here, before any worker process starts.
    pick_device(device)
    for method, scale, time_factor in methods:
        build_method(method, scale=scale, time_factor=time_factor)
    height, width = OUTPUT_SIZES[output]
    rows = []
    for method, scale, time_factor in methods:
        code = ("import json, sys\nfrom stvsr.jobs.bench import _measure\n"
                f"print(json.dumps(_measure({method!r}, {scale}, {time_factor}, {height}, {width}, {frames}, "
                f"{device!r}, {precision!r})))\n")
        process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if process.returncode != 0:
            last = (process.stderr.strip().splitlines() or ["failed"])[-1]
            rows.append(BenchRow(method, scale, time_factor, None, None, last))
            continue
        result = json.loads(process.stdout.strip().splitlines()[-1])
        rows.append(BenchRow(method, scale, time_factor, result["fps"], result["peak_mb"]))
    return rows


def table(rows: list[BenchRow], output: str) -> str:
    width = max(len(r.method) for r in rows)
    lines = [f"{'method':<{width}}  {'x':>2} {'t':>2}  {'frames/s':>9}  {'peak MB':>8}   ({output} output)"]
    for r in rows:
        if r.fps is None:
            lines.append(f"{r.method:<{width}}  {r.scale:>2} {r.time_factor:>2}  {'-':>9}  {'-':>8}   {r.error}")
        else:
            lines.append(f"{r.method:<{width}}  {r.scale:>2} {r.time_factor:>2}  {r.fps:>9.1f}  {r.peak_mb:>8.0f}")
    return "\n".join(lines)
