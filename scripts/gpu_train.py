"""One-call training on a lent GPU: a bare CUDA machine with torch, OpenCV, numpy, safetensors and PyYAML, but no
PyAV, no package index and no ../shared, reached through a 64 MiB carry for a few minutes.

Two steps. Here, with ../shared and PyAV, build the bundle (the packed training sources, a dev subset for the curve):

    python scripts/gpu_train.py bundle --out .gpu/bundle

It prints the carry's size: the tree with `zoo/` set aside, plus the bundle, must fit 64 MiB. On the GPU, from the
repository root (no install: the script puts `src/` on the path):

    python3 scripts/gpu_train.py run --bundle .gpu/bundle --config configs/gpu/propstvsr_l.yaml --minutes 6.5 \\
        --out $OUT/propstvsr_l [--init WEIGHTS]

`run` measures the step rate for a few seconds, sets the cosine to end when the minutes do (the minutes are also a
hard stop), trains, times the result against the default `propstvsr.x4_l` at 1080p output, and leaves in `--out`:
`last.safetensors` (or `snapshot.safetensors` if stopped early), the best-on-dev weights, `log.csv`, `curve.png`
(dev PSNR-Y against steps and minutes) and `summary.json` (the curve, the step rate, the speed). The next
lent GPU continues from the weights it brought back: `--init OUT/last.safetensors` (a fresh cosine).

`run --dry-run` does the same on the CPU in a minute, with PyAV blocked, so the GPU path keeps working between
GPU sessions (tests/test_gpu_train.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CARRY_LIMIT = 64 * 2 ** 20
INIT = "init.safetensors"  # a bundle's starting weights (bundle --init)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    bundle = sub.add_parser("bundle", help="pack the training sources and a dev subset (here, with PyAV)")
    bundle.add_argument("--out", type=Path, default=ROOT / ".gpu" / "bundle")
    bundle.add_argument("--videos", nargs="+", default=["../shared/data/train"])
    bundle.add_argument("--photos", nargs="*", default=["../shared/data/train/photos"])
    bundle.add_argument("--dev", type=Path, default=Path("../shared/data/dev/vimeo_septuplet"))
    bundle.add_argument("--val-clips", type=int, default=8, help="dev clips carried for the curve (every k-th)")
    bundle.add_argument("--crf", type=int, default=10, help="x264 CRF of the packed clips (RGB; 10: about 45 dB)")
    bundle.add_argument("--budget-mb", type=float, help="size of the packed training data (default: what the carry "
                        "has left after the tree and the dev clips)")
    bundle.add_argument("--aside", nargs="*", default=["zoo"], help="top-level folders set aside for the call")
    bundle.add_argument("--cache", help="folder of decoded sources (a training run's data.cache)")
    bundle.add_argument("--degradation", help="pack each segment's low-resolution inputs degraded by this training "
                        "chain (the config's data.degradation, e.g. configs/propstvsr_real.yaml's): a recipe whose "
                        "chain runs a video codec trains without PyAV that way")
    bundle.add_argument("--init", type=Path, help="weights the GPU run starts from, carried in the bundle as "
                        f"{INIT} (zoo/ stays behind): `run --init BUNDLE/{INIT}`")
    bundle.add_argument("--variants", type=int, default=8, help="with --degradation: inputs a segment, each drawn "
                        "anew (a codec-degraded input of 32 frames at 135x240 is 1-16 KB)")
    bundle.add_argument("--pans", type=int, default=2, help="with --degradation: panned segments of each photo "
                        "(16 frames of up to 256x256, degraded like the video segments; 0: no photos)")
    run = sub.add_parser("run", help="train for a fixed number of minutes from a bundle (on the GPU)")
    run.add_argument("--bundle", type=Path, required=True)
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--minutes", type=float, default=6.5, help="training time (default 6.5: with the rate probe, "
                     "loading and the 1080p timing, the call fits a 10-minute limit)")
    run.add_argument("--init", help="weights to start from (a file the last GPU run brought back)")
    run.add_argument("--batch", type=int, help="samples a step (default: the config's)")
    run.add_argument("--workers", type=int, default=8, help="data-loader processes")
    run.add_argument("--validations", type=int, default=8, help="points on the dev curve")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="more config overrides")
    run.add_argument("--bench-against", default="propstvsr.x4_l", help="model timed beside the trained one")
    run.add_argument("--dry-run", action="store_true", help="on the CPU, PyAV blocked, a tiny schedule")
    args = parser.parse_args(argv)
    from stvsr.errors import StvsrError

    try:
        return make_bundle(args) if args.command == "bundle" else run_training(args)
    except StvsrError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def make_bundle(args: argparse.Namespace) -> int:
    """The bundle is built beside `--out` and moved into place only when whole (a failed pack leaves nothing)."""
    from stvsr.errors import InputError, OutputError

    if args.out.exists():
        raise OutputError(f"{args.out} exists; remove it first")
    listing = args.dev / "sep_testlist.txt"
    if not listing.is_file():
        raise InputError(f"not a Vimeo septuplet folder (no sep_testlist.txt): {args.dev}")
    work = args.out.with_name(f".{args.out.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    try:
        report = _fill_bundle(args, work, listing)
        work.rename(args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    aside, tree, total = report
    print(f"carry: the tree without {', '.join(sorted(aside))} ({tree / 2 ** 20:.1f} MiB) and the bundle: "
          f"{total / 2 ** 20:.1f} MiB of 64 ({'fits' if total < CARRY_LIMIT else 'TOO LARGE'}). For the call, set "
          f"them aside (mv zoo ../zoo.aside) and name the bundle in `carry`.")
    return 0 if total < CARRY_LIMIT else 1


def _fill_bundle(args: argparse.Namespace, work: Path, listing: Path) -> tuple[set, int, int]:
    from stvsr.train.pack import pack_training_data

    from stvsr.models import read_metadata

    clips = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    chosen = clips[::max(1, len(clips) // args.val_clips)][:args.val_clips]
    if args.init:
        read_metadata(args.init)  # stvsr weights, or one line saying what is wrong
        work.mkdir(parents=True)
        shutil.copyfile(args.init, work / INIT)  # before the budget is set: the pack gets what is left
    for clip in chosen:
        shutil.copytree(args.dev / "sequences" / clip, work / "dev" / "sequences" / clip)
    (work / "dev" / "sep_testlist.txt").write_text("\n".join(chosen) + "\n")
    aside = set(args.aside)
    tree = sum(_size(p) for p in ROOT.iterdir() if p.name not in {".git", ".venv", "runs", ".gpu", *aside})
    budget = args.budget_mb or (CARRY_LIMIT - tree - _size(work) - 2 * 2 ** 20) / 2 ** 20
    manifest = pack_training_data(args.videos, args.photos, work / "train", budget_mb=budget, crf=args.crf,
                                  cache=args.cache, degradation=args.degradation, variants=args.variants,
                                  pans=args.pans)
    videos = [c for c in manifest["clips"] if not c.get("pan")]
    pans = len(manifest["clips"]) - len(videos)
    frames = sum(c["frames"] for c in videos)
    worst = min(c["psnr_db"] for c in manifest["clips"])
    print(f"bundle {args.out}: {len(videos)} segments ({frames} frames) from "
          f"{len({c['source'] for c in videos})} sources, {len(manifest['photos'])} photos"
          f"{f', {pans} panned photo segments' if pans else ''}, "
          f"{len(chosen)} dev clips, {_size(work) / 2 ** 20:.1f} MiB; packed frames within {worst:.1f} dB PSNR "
          f"of the cached ones at worst")
    return aside, tree, tree + _size(work)


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_training(args: argparse.Namespace) -> int:
    if args.dry_run:
        sys.modules["av"] = None  # the GPU machine has no PyAV: prove the path does without it
    import torch

    from stvsr.degrade import parse_protocol
    from stvsr.errors import UsageError
    from stvsr.io import pyav_installed
    from stvsr.train.config import check_paths, load_config
    from stvsr.train.loop import train

    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("no CUDA device here; use --dry-run to check the path on a CPU")
    overrides = [f"data.packed={args.bundle / 'train'}", f"data.workers={args.workers}", "data.cache=",
                 f"val.data={args.bundle / 'dev'}", "val.layout=vimeo", "val.clips=0"]
    if args.init:
        overrides.append(f"init={args.init}")
    if args.batch:
        overrides.append(f"batch={args.batch}")
    if args.dry_run:
        overrides += ["batch=2", "data.patch=12", "data.frames=3", "data.workers=0", "precision=fp32"]
    overrides += args.set
    config = load_config(args.config, overrides)
    check_paths(config)  # a missing bundle or init is one line before anything loads
    if parse_protocol(config.val.degradation).video_coded and not pyav_installed():  # dev inputs are made on the fly
        print(f"validation on BI: {config.val.degradation} needs PyAV; evaluate the weights where it is installed",
              flush=True)
        config.val.degradation = "BI"
    seconds = 60 * args.minutes
    rate = _steps_per_second(config, args.out.parent / f".{args.out.name}.rate", steps=3 if args.dry_run else 40)
    steps = max(2, int(rate * seconds * 0.9))  # 10 % for validation, loading and the final export
    config.stages = config.stages[-1:]  # one stage: its cosine spans the time budget
    config.stages[0].steps = steps
    config.val.every = max(1, steps // args.validations)
    config.checkpoint_every = max(1, steps // 4)
    config.log_every = max(1, steps // 200)
    config.out = str(args.out)
    print(f"{rate:.2f} steps/s measured; {steps} steps in {args.minutes:g} minutes on {device}", flush=True)
    started = time.perf_counter()
    run = train(config, command=" ".join(sys.argv), max_minutes=args.minutes)
    summary = _summarise(run, rate, steps, time.perf_counter() - started)
    summary["speed"] = _speed(run / summary["weights"], args.bench_against, device, args.dry_run)
    (run / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


def _speed(weights: Path, baseline: str, device: str, dry_run: bool) -> list[dict]:
    """Output frames a second at 1080p (`stvsr bench`'s measure: the model, frames handed over as 8-bit RGB), of the
    trained weights and of a baseline model in the same call; on the CPU dry run, a 64×64 output."""
    from stvsr.jobs.bench import _measure

    height, width, frames, precision = (64, 64, 2, "fp32") if dry_run else (1080, 1920, 24, "bf16")
    rows = []
    for method in (str(weights), baseline):
        row = _measure(method, 4, 1, height, width, frames, device, precision)
        rows.append({"method": Path(method).name if method == str(weights) else method, "output": f"{width}x{height}",
                     "precision": precision, "fps": round(row["fps"], 2), "peak_mb": round(row["peak_mb"])})
    return rows


def _steps_per_second(config, scratch: Path, steps: int) -> float:
    """Steps a second of this config on this machine, from a short run into a scratch folder (removed after): the
    training loop's own clock (kept in the checkpoint) over `steps` steps after two of warm-up (workers, kernels,
    autotuning), so loading the pack and the model does not count."""
    import copy

    from stvsr.train.checkpoint import CHECKPOINT, load_checkpoint
    from stvsr.train.loop import train

    probe = copy.deepcopy(config)
    probe.out, probe.val.every = str(scratch), 0
    probe.stages = probe.stages[-1:]
    probe.stages[0].steps = 10 ** 6
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        train(probe, max_steps=2)
        warm = load_checkpoint(scratch / CHECKPOINT)["wall_seconds"]
        train(probe, resume=True, max_steps=steps)
        return steps / max(1e-6, load_checkpoint(scratch / CHECKPOINT)["wall_seconds"] - warm)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _summarise(run: Path, rate: float, planned: int, seconds: float) -> dict:
    """The dev curve from log.csv as JSON and as a plot (against steps and minutes)."""
    from stvsr.train.loop import read_dev_curve

    curve = [{"step": step, "minutes": round((wall or 0.0) / 60, 2), "psnr_y": round(psnr, 3)}
             for step, psnr, wall in read_dev_curve(run / "log.csv")]
    weights = "last.safetensors" if (run / "last.safetensors").exists() else "snapshot.safetensors"
    summary = {"run": str(run), "weights": weights, "steps_planned": planned, "steps_per_s": round(rate, 3),
               "seconds": round(seconds, 1), "dev_curve": curve}
    (run / "summary.json").write_text(json.dumps(summary, indent=1))
    if curve:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, (by_steps, by_minutes) = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
        for axis, key in ((by_steps, "step"), (by_minutes, "minutes")):
            axis.plot([c[key] for c in curve], [c["psnr_y"] for c in curve], marker="o")
            axis.set_xlabel(key)
            axis.grid(alpha=0.3)
        by_steps.set_ylabel("dev PSNR-Y (dB)")
        figure.tight_layout()
        figure.savefig(run / "curve.png", dpi=100)
        plt.close(figure)
    return summary


if __name__ == "__main__":
    sys.exit(main())
