"""Turn a method name from the command line ("bicubic", "dis+bicubic", "weights.safetensors") into a ready model."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import UsageError
from ..runtime import PRECISIONS, resolve_precision
from ..ops.tiling import self_ensemble, tiled
from .base import Cascade, VideoModel
from .checkpoint import load_model
from .shipped import similar_names, weights_file
from .registry import ModelEntry, create_model, find_model, model_entry

SPATIAL_TASKS = ("sr", "vsr")
DTYPES = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


class Prepared(VideoModel):
    """A learned model made ready for long, large videos: spatial tiling and optional reduced precision."""

    def __init__(self, model: VideoModel, *, tile: int = 0, pad: int = 16, overlap: int = 8,
                 precision: str = "fp32"):
        super().__init__()
        self.model = model
        self.scale, self.time_factor = model.scale, model.time_factor
        self.window, self.min_size = model.window, model.min_size
        self.window_overlap, self.device_window = model.window_overlap, model.device_window
        self.tile = auto_tile(self.scale, self.window) if tile == AUTO_TILE else tile
        self.pad, self.overlap = pad, overlap
        if precision not in PRECISIONS:
            raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}")
        self.precision = precision
        self.tta = False  # test-time self-ensemble: the eight flips and transposes averaged (ops.tiling)
        self._layout = None  # the device type the model's memory layout was chosen for

    def forward(self, clip: Tensor) -> Tensor:
        precision = resolve_precision(self.precision, clip.device)
        dtype = DTYPES[precision]
        if (dtype is not None or clip.device.type == "cpu") and self._layout != clip.device.type:
            # Channels-last convolutions: faster than NCHW on CPUs (oneDNN), in bf16 and fp32 alike, with the same
            # output to float rounding, and the layout GPU tensor cores want (docs/experiments/cpu-speed.md). fp32 on
            # a GPU keeps NCHW.
            conv_layout(self.model, torch.channels_last)
            self._layout = clip.device.type
        def run(x: Tensor) -> Tensor:
            return tiled(self.model, x, scale=self.scale, tile=self.tile, pad=self.pad, overlap=self.overlap)

        with torch.autocast(clip.device.type, dtype=dtype, enabled=dtype is not None):
            out = self_ensemble(run, clip) if self.tta else run(clip)
        return out.float().contiguous()


def conv_layout(model: nn.Module, memory_format: torch.memory_format) -> None:
    """Store `model`'s 2-D convolution weights in `memory_format` (torch.channels_last or torch.contiguous_format);
    `Module.to(memory_format=...)` refuses the 5-D weights of 3-D convolutions, which keep theirs."""
    with torch.no_grad(), torch.inference_mode(False):  # weights made in inference mode could never train again
        for param in model.parameters():
            if param.dim() == 4:
                param.data = param.data.contiguous(memory_format=memory_format)


def _part(spec: str, scale: int, time_factor: int, tile: int, precision: str) -> tuple[VideoModel, ModelEntry]:
    """One model of a method spec: a registered classical method, shipped weights, or a weights file."""
    bundled = weights_file(spec, scale)  # shipped weights: installed, or the research zoo's fetched by name
    if bundled is not None:
        spec = str(bundled)
    if spec.endswith(".safetensors"):
        model, metadata = load_model(Path(spec))
        entry = model_entry(metadata["model"])
        if entry.task == "critic":
            raise UsageError(f"{spec} holds a discriminator ({entry.name}), used in training only")
        return Prepared(model, tile=tile, precision=precision), entry
    close = similar_names(spec)
    if close and find_model(spec) is None:
        raise UsageError(f"unknown method {spec!r}; did you mean {', '.join(close)}? (`stvsr models` lists them)")
    entry = model_entry(spec)
    if entry.task == "critic":
        raise UsageError(f"{spec} is a discriminator, used in training only")
    if entry.learned:
        raise UsageError(f"{spec} is a learned model: give its weights (--model {spec} --weights FILE, or the "
                         f".safetensors path as the method); `stvsr models --init {spec}` writes fresh ones")
    kwargs = {"scale": scale} if entry.task in SPATIAL_TASKS else {"time_factor": time_factor}
    return create_model(entry.name, **kwargs), entry


def build_method(spec: str, *, scale: int, time_factor: int, order: str | None = None, tile: int = 0,
                 precision: str = "fp32") -> VideoModel:
    """A model for `spec` that upscales by `scale` in space and `time_factor` in time.

    `spec` is one registered name or weights file, or two joined by '+' (a spatial and a temporal method)
    applied in the order written: "dis+bicubic" interpolates frames first, then resizes ("ts"); `order` ('st' or
    'ts') overrides it. Learned models are tiled over `tile`×`tile` input pixels (0: whole frames) at `precision`.
    """
    parts = [p.strip() for p in spec.split("+")]
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise UsageError(f"method {spec!r}: give one method or two joined by '+', e.g. dis+bicubic")
    if len(parts) == 1:
        model, entry = _part(parts[0], scale, time_factor, tile, precision)
        if order is not None:
            raise UsageError("--order applies to a cascade of two methods, e.g. --method dis+bicubic")
        if entry.task in SPATIAL_TASKS and time_factor != 1 and model.time_factor == 1:
            raise UsageError(f"{entry.name} changes only the size; for --time-factor {time_factor} pair it with a "
                             f"frame interpolator, e.g. --method dis+{parts[0]}")
        if entry.task == "vfi" and scale != 1 and model.scale == 1:
            raise UsageError(f"{entry.name} changes only the frame rate; for --scale {scale} pair it with a "
                             f"spatial method, e.g. --method {parts[0]}+bicubic")
        return _checked(model, spec, scale, time_factor)
    if scale == 1 or time_factor == 1:  # one half would do nothing (and DIS would still compute its flows)
        idle = "--time-factor 2" if time_factor == 1 else "a --scale above 1"
        raise UsageError(f"method {spec!r}: a cascade changes both size and frame rate; give {idle}, or one method")
    built = [_part(p, scale, time_factor, tile, precision) for p in parts]
    roles = [_role(model, entry) for model, entry in built]
    if set(roles) != {"space", "time"}:
        raise UsageError(f"method {spec!r}: a cascade joins one spatial and one temporal method")
    spatial_first = roles[0] == "space"
    if order is not None:
        if order not in ("st", "ts"):
            raise UsageError(f"--order must be 'st' (space then time) or 'ts' (time then space), not {order!r}")
        spatial_first = order == "st"
    spatial = built[0][0] if roles[0] == "space" else built[1][0]
    temporal = built[1][0] if spatial is built[0][0] else built[0][0]
    return _checked(Cascade(spatial, temporal) if spatial_first else Cascade(temporal, spatial), spec, scale,
                    time_factor)


def _role(model: VideoModel, entry: ModelEntry) -> str | None:
    """'space' or 'time': which half of a cascade a part can be. A space-time model built for one frame rate
    (propstvsr.x4: the propagation network at time factor 1) is a multi-frame spatial method."""
    if entry.task in SPATIAL_TASKS or (entry.task == "stvsr" and model.time_factor == 1 and model.scale > 1):
        return "space"
    if entry.task == "vfi":
        return "time"
    return None


def _checked(model: VideoModel, spec: str, scale: int, time_factor: int) -> VideoModel:
    if (model.scale, model.time_factor) != (scale, time_factor):
        raise UsageError(f"{spec} upscales x{model.scale} in space and x{model.time_factor} in time, not "
                         f"x{scale} and x{time_factor}")
    return model


AUTO_TILE = -1


def auto_tile(scale: int, window: int) -> int:
    """Tile size (input pixels) for `--tile auto`: about 2048×2048 output pixels per tile for per-frame models
    (a 720p output frame is one tile: cutting it made the network redo the overlap), 1536×1536 for models that hold a
    window of frames, whose activations grow with the window (one tile for the 720p default too: faster and no
    larger than two; docs/experiments/cpu-speed.md)."""
    return max(64, (2048 if window <= 1 else 1536) // max(scale, 1))


