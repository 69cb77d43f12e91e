"""Throughput of `stvsr batch --engine ray` with 1 and 2 workers on this machine, beside the local engine.

    python benchmarks/ray_scaling.py [--copies 4] [--method bicubic+dis] [--scale 2] [--segment-seconds 1]

The bundled sample is copied `--copies` times into a folder; each engine upscales the folder (x`--scale`, x2 frame
rate) into a fresh one, `--segment-seconds` segments. Reported: wall time and output frames/s over the whole
batch (decode, scene detection, encode, join and self-check included). One embedded Ray cluster (as many CPUs as
the machine has) serves both Ray rows; its start-up is not timed. Nothing else should run meanwhile.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--method", default="bicubic+dis")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--segment-seconds", type=float, default=1.0)
    args = parser.parse_args()

    import ray

    from stvsr.jobs.batch import run_batch
    from stvsr.jobs.ray_batch import run_ray_batch
    from stvsr.jobs.options import MethodOptions, Resume, UpscaleJob

    work = Path(tempfile.mkdtemp(prefix="stvsr-ray-bench-"))
    clips = work / "in"
    clips.mkdir()
    for i in range(args.copies):
        shutil.copy(ROOT / "samples" / "dog.mp4", clips / f"dog{i}.mp4")
    template = UpscaleJob(input=Path(), output=Path(),
                          method=MethodOptions(scale=args.scale, time_factor=2, method=args.method, device="cpu"),
                          resume=Resume(args.segment_seconds))
    rows = []
    started = time.perf_counter()
    local = run_batch(clips, work / "local", template)
    rows.append(("local (one process)", 1, time.perf_counter() - started, local))
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="warning",
             configure_logging=False)
    for workers in (1, 2):
        started = time.perf_counter()
        result, _ = run_ray_batch(clips, work / f"ray{workers}", template, workers=workers)
        rows.append((f"ray, {workers} worker{'s' if workers > 1 else ''}", workers, time.perf_counter() - started,
                     result))
    ray.shutdown()
    print(f"{args.copies} copies of samples/dog.mp4 (90 frames 320x180 each), --scale {args.scale} --time-factor 2 "
          f"--method {args.method}, {args.segment_seconds:g} s segments; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs\n")
    print("| engine | workers | wall s | output frames/s | files done |")
    print("|---|---:|---:|---:|---:|")
    for name, workers, seconds, result in rows:
        frames = sum(r.frames for r in result.results if r.status == "done")
        done = sum(r.status == "done" for r in result.results)
        print(f"| {name} | {workers} | {seconds:.1f} | {frames / seconds:.1f} | {done} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
