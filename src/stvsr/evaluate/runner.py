"""`stvsr evaluate`: run methods on a dataset under a task's protocol and score them, per frame, clip and method.

Aggregation: per frame -> mean per clip -> mean of clips. Per-clip rows are always kept, and the protocol of
every number is written next to it.
"""

from __future__ import annotations

import math
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from ..data.clips import Clip, load_frames, open_clips
from ..degrade import parse_protocol
from ..errors import InputError, UsageError
from ..io.probe import list_frame_files
from ..metrics import DEFAULT_METRICS, METRICS
from ..inference import prepare
from ..models.shipped import SHIPPED
from ..runtime import pick_device
from .tables import write_outputs
from .tasks import Task, TaskRun, frame_parts, run_task, target_of
from .visuals import save_visuals, slug


@dataclass
class EvalConfig:
    data: Path
    layout: str
    task: str = "stvsr"
    methods: list[str] = field(default_factory=list)
    scale: int = 4
    degradation: str = "BI"
    window_mode: str = "window"
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    crop_border: int = 0
    predictions: dict[str, Path] = field(default_factory=dict)  # name -> folder of outputs made elsewhere
    out: Path | None = None
    device: str = "auto"
    max_clips: int | None = None
    list_file: Path | None = None
    lr_dir: str | None = None
    progress: bool = False
    visuals: int = 0  # with `out`: keep crops, error maps and scanlines of this many clips (for `stvsr report`)
    precision: str = "fp32"  # learned models; fp32 is the reference, bf16/auto measure what `upscale` runs


@dataclass
class EvalResult:
    protocol: dict
    rows: list[dict]  # one per (clip, method): metric -> value, plus seconds_per_frame
    means: dict[str, dict]  # method -> metric -> mean over clips
    methods: dict[str, dict]  # method -> {"params": n, ...}
    out: Path | None = None
    visuals: dict = field(default_factory=dict)  # clip -> its pictures (visuals.save_visuals)


def default_methods(task: str, scale: int = 4) -> list[str]:
    """The classical baselines of `task`, then every shipped model made for it (at `scale`, except for VFI)."""
    classical = {"vsr": ["bicubic", "lanczos"], "vfi": ["repeat", "blend", "dis"],
                 "stvsr": ["repeat+bicubic", "blend+bicubic", "dis+bicubic", "bicubic+dis"]}[task]
    tasks = {"vsr": ("sr", "vsr"), "vfi": ("vfi",), "stvsr": ("stvsr",)}[task]
    return classical + [s.name for s in SHIPPED.values()
                        if s.available and s.task in tasks and (task == "vfi" or s.scale == scale)]


# Fidelity metrics also reported per part of an stvsr clip (input-position and interpolated frames).
SPLIT_METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")


def score(run: TaskRun, names: list[str], crop: int, cache: dict) -> tuple[dict[str, float], list[str]]:
    """Clip-level values of the named metrics, and notes on any that could not be computed.

    `cache` is shared by the methods scored on one clip (the ground truth's flows are computed once).
    """
    values, notes = {}, []
    pred, target = run.prediction, run.target
    height, width = (max(0, n - 2 * crop) for n in pred.shape[-2:])
    for name in names:
        metric = METRICS[name]
        problem = metric.size_problem(height, width)
        if problem is not None:
            values[name] = math.nan
            notes.append(f"{name}: {problem}")
            continue
        try:
            if metric.per_frame:
                per_frame = metric.compute(pred[run.scored], target[run.scored], crop, cache)
                values[name] = sum(per_frame) / len(per_frame)
                if name in SPLIT_METRICS:
                    by_index = dict(zip(run.scored, per_frame))
                    for part, indices in run.parts.items():
                        mine = [by_index[i] for i in indices if i in by_index]
                        values[f"{name}@{part}"] = sum(mine) / len(mine) if mine else math.nan
            else:
                values[name] = metric.compute(pred, target, crop, cache)
        except ValueError as error:  # e.g. NIQE on frames smaller than one 96x96 block
            values[name] = math.nan
            notes.append(f"{name}: {error}")
    return values, notes


def _load_prediction(folder: Path, clip: Clip, target_len: int) -> torch.Tensor:
    clip_dir = folder / clip.name
    files = list_frame_files(clip_dir) if clip_dir.is_dir() else []
    if len(files) != target_len:
        raise InputError(f"predictions for {clip.name}: expected {target_len} frames in {clip_dir}, found "
                         f"{len(files)}")
    return load_frames(files, f"predictions for {clip.name}").float().div(255)


def evaluate(config: EvalConfig) -> EvalResult:
    task = Task(config.task, config.scale, config.degradation, config.window_mode)
    if parse_protocol(config.degradation).random:
        raise UsageError(f"degradation {config.degradation!r} draws its values: an evaluation protocol takes fixed "
                         f"ones (crf=26, not crf=18..34)")
    unknown = [m for m in config.metrics if m not in METRICS]
    if unknown:
        raise UsageError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    methods = list(config.methods) if config.methods or config.predictions else default_methods(config.task, config.scale)
    device = pick_device(config.device)
    models = {}
    for spec in methods:
        models[spec] = prepare(spec, scale=task.model_scale, time_factor=task.time_factor, device=device,
                               precision=config.precision)
    clips = open_clips(config.data, config.layout, list_file=config.list_file, lr_dir=config.lr_dir)

    visuals_dir = Path(config.out) / "visuals" if config.out is not None else None
    fresh_visuals = visuals_dir is not None and not visuals_dir.exists()
    try:
        return _evaluate_clips(config, task, methods, models, clips, device)
    except BaseException:  # a failure or Ctrl-C half-way leaves no pictures of a run that has no results
        if fresh_visuals:
            shutil.rmtree(visuals_dir, ignore_errors=True)
        raise


def _evaluate_clips(config: EvalConfig, task: Task, methods: list[str], models: dict, clips, device) -> EvalResult:
    rows, notes, visuals = [], set(), {}
    started = time.perf_counter()
    total = min(len(clips), config.max_clips) if config.max_clips is not None else len(clips)
    bar = tqdm(total=total, unit="clip", disable=not config.progress, leave=False)
    for index, clip in enumerate(clips):
        if index >= total:
            break
        bar.update(1)
        runs: dict[str, TaskRun] = {}
        input_side = min(clip.frames.shape[-2:]) // task.model_scale
        for spec, model in models.items():
            if input_side < model.min_size:  # e.g. DIS flow needs 12 pixels: the method is skipped on this clip
                notes.add(f"{spec}: skipped on clips whose inputs are under {model.min_size} pixels "
                          f"({clip.name}: {input_side})")
                continue
            runs[spec] = run_task(model, clip, task, device)
        for name, folder in config.predictions.items():
            target, scored = target_of(clip, task)
            runs[name] = TaskRun(prediction=_load_prediction(folder, clip, len(target)), target=target,
                                 scored=scored, seconds=math.nan, parts=frame_parts(task, len(target)))
        if config.out is not None and index < config.visuals and runs:
            visuals[clip.name] = save_visuals(Path(config.out) / "visuals" / slug(clip.name), runs, task)
        cache: dict = {}
        for name, run in runs.items():
            values, clip_notes = score(run, config.metrics, config.crop_border, cache)
            notes.update(clip_notes)
            values["seconds_per_frame"] = run.seconds / len(run.prediction)
            rows.append({"clip": clip.name, "method": name, **values})
    bar.close()
    if not rows:
        skipped = sorted(n for n in notes if "skipped" in n)
        raise InputError(f"no clips evaluated in {config.data}" + (f": {skipped[0]}" if skipped else ""))

    names = [n for n in list(models) + list(config.predictions) if any(r["method"] == n for r in rows)]
    means = {}
    for name in names:
        mine = [r for r in rows if r["method"] == name]
        keys = dict.fromkeys(k for r in mine for k in r if k not in ("clip", "method"))
        means[name] = {key: _mean([r.get(key) for r in mine]) for key in keys}
    info = {name: {"params": sum(p.numel() for p in model.parameters())} for name, model in models.items()}
    info.update({name: {"params": None, "predictions": str(folder)} for name, folder in config.predictions.items()})
    protocol = {
        "dataset": {"path": str(config.data), "layout": config.layout, "clips": len({r["clip"] for r in rows})},
        "task": task.describe(),
        "crop_border": config.crop_border,
        "aggregation": "per frame -> mean per clip -> mean of clips",
        "metrics": {name: {"label": METRICS[name].label, "display_scale": METRICS[name].display_scale,
                           **METRICS[name].protocol} for name in config.metrics},
        "device": str(device),
        "precision": config.precision,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "wall_seconds": round(time.perf_counter() - started, 2),
        "notes": sorted(notes),
    }
    result = EvalResult(protocol=protocol, rows=rows, means=means, methods=info, visuals=visuals)
    if config.out is not None:
        result.out = write_outputs(result, config.out, config.metrics)
    return result


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(finite) / len(finite) if finite else math.nan


__all__ = ["EvalConfig", "EvalResult", "evaluate", "default_methods"]
