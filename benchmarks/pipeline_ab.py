"""Whole-pipeline speed of `stvsr upscale`, this checkout against another one, and whether their outputs agree.

    python benchmarks/pipeline_ab.py [--input samples/dog.mp4] [--methods imdn.x4+dis_fast,bicubic+dis]
                                     [--before ../other-checkout] [--repeat 2] [--equal [--fp32]]
                                     [--precision fp32]

Each run is a fresh `stvsr upscale IN OUT --scale 4 --time-factor 2 --method M --quiet` process (imports, decode,
scene detection, encode with libx264 CRF 18 medium: what a user waits for); the best of `--repeat` wall times is
reported as output frames/s. `--before DIR` runs the same commands from the checkout at DIR (its `src/` put first
on PYTHONPATH, this venv's packages). `--equal` then writes both outputs losslessly (FFV1, BGR) and reports the
PSNR between them (RGB, 8 bits; inf where bit-exact); `--fp32` also writes this checkout's output with `--precision
fp32` (the reference of reduced-precision runs) and reports each one's PSNR against it. `--precision P` runs every
command at P (fp32: what a CPU without native bf16 runs). Nothing else should run meanwhile.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def upscale(src: Path, dst: Path, method: str, checkout: Path, extra: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(checkout / "src"))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "stvsr", "upscale", str(src), str(dst), "--scale", "4",
                           "--time-factor", "2", "--method", method, "--quiet", "--overwrite", *extra], env=env,
                          stdout=subprocess.DEVNULL)
    if done.returncode != 0:  # stvsr has printed its own one-line reason
        raise SystemExit(f"pipeline_ab: stvsr upscale --method {method} failed in {checkout}")
    return time.perf_counter() - started


def psnr_between(a: Path, b: Path) -> tuple[float, int]:
    import av

    squared, count = 0.0, 0
    with av.open(str(a)) as ca, av.open(str(b)) as cb:
        for fa, fb in zip(ca.decode(video=0), cb.decode(video=0), strict=True):
            x = fa.to_ndarray(format="rgb24").astype(np.float64)
            y = fb.to_ndarray(format="rgb24").astype(np.float64)
            squared += float(((x - y) ** 2).mean())
            count += 1
    mse = squared / max(count, 1)
    return (math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)), count


def agreement(a: Path, b: Path) -> str:
    value, count = psnr_between(a, b)
    return f"{value:.1f} dB over {count} frames" if math.isfinite(value) else f"bit-exact ({count} frames)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=ROOT / "samples" / "dog.mp4")
    parser.add_argument("--methods", default="imdn.x4+dis_fast,bicubic+dis")
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--equal", action="store_true", help="also compare lossless outputs")
    parser.add_argument("--fp32", action="store_true", help="with --equal: PSNR of each against an fp32 run")
    parser.add_argument("--precision", help="run every command at this --precision (default: stvsr's own)")
    args = parser.parse_args()
    from stvsr.io import probe

    frames_out = probe(args.input).frame_count * 2
    precision = ["--precision", args.precision] if args.precision else []
    checkouts = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; input {args.input} -> {frames_out} frames"
          + (f"; --precision {args.precision}" if args.precision else ""))
    print("| method | " + " | ".join(f"{name} frames/s" for name in checkouts) +
          (" | speed-up" if args.before else "") + (" | PSNR after vs before" if args.equal and args.before else "")
          + (" | after vs fp32 | before vs fp32" if args.equal and args.before and args.fp32 else "") + " |")
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            rates = {}
            for name, checkout in checkouts.items():
                best = min(upscale(args.input, Path(tmp) / f"{name}.mp4", method, checkout, precision)
                           for _ in range(args.repeat))
                rates[name] = frames_out / best
            row = [method] + [f"{rates[name]:.2f}" for name in checkouts]
            if args.before:
                row.append(f"{rates['after'] / rates['before']:.2f}x")
            if args.equal and args.before:
                lossless = ["--codec", "ffv1", "--pix-fmt", "bgr0", "--no-audio"]
                for name, checkout in checkouts.items():
                    upscale(args.input, Path(tmp) / f"{name}.mkv", method, checkout, lossless + precision)
                row.append(agreement(Path(tmp) / "after.mkv", Path(tmp) / "before.mkv"))
                if args.fp32:
                    upscale(args.input, Path(tmp) / "fp32.mkv", method, ROOT, lossless + ["--precision", "fp32"])
                    row += [agreement(Path(tmp) / f"{name}.mkv", Path(tmp) / "fp32.mkv") for name in checkouts]
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
