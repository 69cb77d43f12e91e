"""Turn a method name from the command line ("bicubic", "dis+bicubic", "blend") into a ready model."""

from __future__ import annotations

from ..errors import UsageError
from .base import Cascade, VideoModel
from .registry import create_model, model_entry

SPATIAL_TASKS = ("sr", "vsr")


def build_method(spec: str, *, scale: int, time_factor: int, order: str | None = None) -> VideoModel:
    """A model for `spec` that upscales by `scale` in space and `time_factor` in time.

    `spec` is one registered name, or two joined by '+' (a spatial and a temporal method) applied in the order
    written: "dis+bicubic" interpolates frames first, then resizes ("ts"); `order` ('st' or 'ts') overrides it.
    """
    parts = [p.strip() for p in spec.split("+")]
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise UsageError(f"method {spec!r}: give one method or two joined by '+', e.g. dis+bicubic")
    entries = [model_entry(p) for p in parts]
    if len(entries) == 1:
        entry = entries[0]
        if entry.task in SPATIAL_TASKS and time_factor != 1:
            raise UsageError(f"{entry.name} changes only the size; for --time-factor {time_factor} pair it with a "
                             f"frame interpolator, e.g. --method dis+{entry.name}")
        if entry.task == "vfi" and scale != 1:
            raise UsageError(f"{entry.name} changes only the frame rate; for --scale {scale} pair it with a "
                             f"spatial method, e.g. --method {entry.name}+bicubic")
        if order is not None:
            raise UsageError("--order applies to a cascade of two methods, e.g. --method dis+bicubic")
        kwargs = {"scale": scale} if entry.task in SPATIAL_TASKS else {"time_factor": time_factor}
        return create_model(entry.name, **kwargs)
    tasks = [e.task for e in entries]
    if sorted(t in SPATIAL_TASKS for t in tasks) != [False, True] or "stvsr" in tasks:
        raise UsageError(f"method {spec!r}: a cascade joins one spatial and one temporal method")
    models = [create_model(e.name, scale=scale) if e.task in SPATIAL_TASKS
              else create_model(e.name, time_factor=time_factor) for e in entries]
    spatial_first = tasks[0] in SPATIAL_TASKS
    if order is not None:
        if order not in ("st", "ts"):
            raise UsageError(f"--order must be 'st' (space then time) or 'ts' (time then space), not {order!r}")
        spatial_first = order == "st"
    spatial = models[0] if tasks[0] in SPATIAL_TASKS else models[1]
    temporal = models[1] if spatial is models[0] else models[0]
    return Cascade(spatial, temporal) if spatial_first else Cascade(temporal, spatial)


def default_method(scale: int, time_factor: int) -> str:
    """The method `stvsr upscale` uses when none is named."""
    if time_factor == 1:
        return "bicubic"
    if scale == 1:
        return "dis"
    return "dis+bicubic"
