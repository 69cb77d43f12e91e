"""Inference: choosing the method for a job, preparing it (device, precision, tiling) and streaming frames through
it in overlapping windows, shot by shot. `upscale`, `evaluate` and `bench` run models through here.

Layering: this module sits above `models/` and below the commands (`upscale`, `batch`, `bench`, the CLI), so the
library parts that run models (evaluation, training's validation) never import a command module.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import torch
from torch import Tensor

from .errors import UsageError, WeightsError
from .runtime import DEFAULT_QUALITY, QUALITY_LEVELS
from .models import Cascade, VideoModel, build_method, window_overlap_of
from .models.base import streaming_window
from .models.build import AUTO_TILE, Prepared
from .models.registry import find_model
from .models.shipped import shipped


TTA_SUFFIX = "[tta]"  # `--methods propstvsr.x4_m,propstvsr.x4_m[tta]`: the same model with and without, in one run


def prepare(spec: str, *, scale: int, time_factor: int, device: torch.device, tile: str | int = 0,
            precision: str = "fp32", order: str | None = None, tta: bool = False) -> VideoModel:
    """The method `spec` (a name, a cascade `A+B` or a weights file) built for this job, on `device`, in eval
    mode: `tile` as `--tile` takes it ('auto', 0 or a size in input pixels), `precision` as `--precision`; `tta`
    (or a spec ending in [tta]): every learned part averages its output over the eight flips and transposes."""
    if spec.endswith(TTA_SUFFIX):
        spec, tta = spec.removesuffix(TTA_SUFFIX), True
    model = build_method(spec, scale=scale, time_factor=time_factor, order=order,
                         tile=resolve_tile(tile, scale), precision=precision)
    learned = [m for m in model.modules() if isinstance(m, Prepared)]
    if tta and not learned:
        raise UsageError(f"--tta averages a learned model's outputs; {spec} has none")
    for part in learned:
        part.tta = tta
    return model.to(device).eval()


def resolve_tile(tile: str | int, scale: int) -> int:
    """'auto' (AUTO_TILE: sized by the model, see `auto_tile`); a number is a tile size in input pixels; 0: none."""
    if tile == "auto":
        return AUTO_TILE
    try:
        size = int(tile)
    except ValueError:
        raise UsageError(f"--tile must be auto, 0 or a size in pixels, not {tile!r}") from None
    if size < 0 or 0 < size < 16:
        raise UsageError("--tile must be 0 (no tiling) or at least 16 pixels")
    return size


# Above this many output pixels per frame, flow is estimated before upscaling: at full output size DIS costs many
# times more (hours for a 1080p phone clip on a laptop CPU) for a fraction of a dB (BENCHMARKS.md §1).
HIGH_RES_FLOW_MAX_PIXELS = 1280 * 720


# `--quality`: for each (scale, time factor) with shipped models that beat the classical methods on the dev set
# (BENCHMARKS.md), the method of each level, as (up to 1280x720 output, above it). `best`, the default, is the
# most faithful model that flickers no more than the fast one; `fast` the cheapest that still beats the classical
# methods clearly.
# x4 x2: best is propstvsr.x4_l (bidirectional propagation over the clip, 1.97 M parameters) on the input frames,
#   then DIS (medium preset) at the output size; fast is per-frame imdn.x4, then DIS (fast preset), at about 3x the
#   speed. Above 1280x720 output, flow at full size costs too much: the end-to-end propstvsr.x4x2 (flow at the input
#   size) and, fast, DIS at the input size then imdn.x4. x4: propstvsr.x4_l and flowvsr.x4.
# x2 (x2 x2): propstvsr.x2 (then DIS at the output size) at every size: at x2 the network at the input size costs
#   far more than DIS at the output size (BENCHMARKS.md §6), so there is nothing to gain from moving the flow. No
#   fast level: the per-frame x2 models cost as much and fall below bicubic on compressed input. Scores: README.
QUALITY_MODELS = {(4, 2): {"fast": ("imdn.x4+dis_fast", "dis+imdn.x4"), "best": ("propstvsr.x4_l+dis", "propstvsr.x4x2")},
                  (4, 1): {"fast": ("flowvsr.x4", "flowvsr.x4"), "best": ("propstvsr.x4_l", "propstvsr.x4_l")},
                  (2, 2): {"best": ("propstvsr.x2+dis", "propstvsr.x2+dis")},
                  (2, 1): {"best": ("propstvsr.x2", "propstvsr.x2")}}


# The model trained on codec-degraded input (degrade/protocol.py) for each clean one it replaces on compressed input.
COMPRESSED_VARIANTS = {"propstvsr.x4_l": "propstvsr.x4_real", "propstvsr.x4_m": "propstvsr.x4_real",
                       "propstvsr.x2": "propstvsr.x2_real"}


def for_source(method: str, compressed: bool) -> str:
    """`method` (a name or an `A+B` cascade) with each part that has an installed compressed-input variant swapped
    for it when `compressed`; unchanged otherwise."""
    if not compressed:
        return method
    parts = [COMPRESSED_VARIANTS.get(part, part) for part in method.split("+")]
    return "+".join(new if _installed(new) else old for new, old in zip(parts, method.split("+")))


def default_method(scale: int, time_factor: int, output_pixels: int = 0, quality: str | None = None) -> str:
    """The method `stvsr upscale` uses when none is named (`quality`: a level of QUALITY_LEVELS, None: the
    default): the level's shipped model for this combination (the next level down where its weights are not
    installed), else classical: for both axes, bicubic then DIS at the high resolution (34.81 dB PSNR-Y on the dev
    set) up to 1280×720 output, DIS at the input resolution then bicubic (34.16 dB, 4.5x faster) for larger
    outputs. (`flowvfi` only equals DIS so far, so frame interpolation alone stays with `dis`.)"""
    if quality is not None and quality not in QUALITY_LEVELS:
        raise UsageError(f"--quality must be one of {', '.join(QUALITY_LEVELS)}, not {quality!r}")
    large = output_pixels > HIGH_RES_FLOW_MAX_PIXELS
    levels = QUALITY_MODELS.get((scale, time_factor), {})
    wanted = QUALITY_LEVELS.index(quality or DEFAULT_QUALITY)
    for level in reversed(QUALITY_LEVELS[:wanted + 1]):
        name = levels.get(level, (None, None))[large]
        if _installed(name):
            return name
    if time_factor == 1:
        return "bicubic"
    if scale == 1:
        return "dis"
    return "dis+bicubic" if large else "bicubic+dis"


def _installed(name: str | None) -> bool:
    """Every learned part of the method `name` (a name or an `A+B` cascade) has its shipped weights here."""
    return name is not None and all(shipped(part) is not None for part in name.split("+") if _learned(part))


def run_windows(model: VideoModel, frames: Iterable[Tensor], *, device: torch.device,
                overlap: int | None = None, to_host: bool = True) -> Iterator[Tensor]:
    """Stream (3, H, W) frames through `model` in overlapping windows; yield its output frames, on the CPU
    (`to_host=False`: on `device`).

    Windows of `model.window` frames advance by window - overlap; where two windows produce the same output
    frames, each keeps the half of the overlap nearer its own centre (margins are discarded, so no seams). The
    last window is aligned to the end of the clip. Memory holds one window of input and its output. The model is
    moved to `device` (a no-op when it is there already).

    A cascade streams each half in its own windows, the first half's frames passed on without leaving the device:
    in the cascade's shared windows, frames in the overlap went through both halves twice (per-frame SR on every
    frame twice in pairs for DIS; DIS on 6 of every 20 pairs twice after a 20-frame propagation window).
    """
    if isinstance(model, Cascade) and overlap is None:
        between = run_windows(model.first, frames, device=device, to_host=False)
        yield from run_windows(model.second, between, device=device, to_host=to_host)
        return
    model = model.to(device)
    size = max(1, streaming_window(model, device))
    if overlap is None:
        overlap = window_overlap_of(model)
    if not 0 <= overlap < size:
        raise ValueError(f"overlap {overlap} must be in [0, {size})")
    stride, k = size - overlap, model.time_factor
    buffer: deque[Tensor] = deque(maxlen=size)
    next_out = start = count = 0
    last: tuple[int, list[Tensor]] | None = None

    def run(clip_frames: list[Tensor]) -> list[Tensor]:
        clip = torch.stack(clip_frames)[None].to(device)
        with torch.inference_mode():
            out = model(clip)[0].float()
        return list(out.cpu() if to_host else out)

    for frame in frames:
        buffer.append(frame)
        count += 1
        if count == start + size:
            outs = run(list(buffer))
            cut = ((start + stride) * k + (start + size - 1) * k + 1) // 2
            yield from outs[next_out - start * k: cut - start * k]
            last, next_out, start = (start, outs), cut, start + stride
    if count == 0 or next_out > (count - 1) * k:
        return
    first = max(0, count - size)
    outs = last[1] if last is not None and last[0] == first else run(list(buffer)[first - count:])
    yield from outs[next_out - first * k:]


class Shots:
    """Split a stream of frames into shots lazily: `next_shot()` returns an iterator over the next shot's frames
    (None when the stream is done). Memory holds one frame, whatever the shot's length."""

    def __init__(self, frames: Iterable[Tensor], is_cut):
        self._frames = iter(frames)
        self._is_cut = is_cut
        self._pending: Tensor | None = None
        self._done = False
        self._started = False

    def next_shot(self) -> Iterator[Tensor] | None:
        if self._done:
            return None
        if self._started and self._pending is None:
            return None
        self._started = True
        return self._shot()

    def _shot(self) -> Iterator[Tensor]:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            yield frame
        for frame in self._frames:
            if self._is_cut(frame):
                self._pending = frame
                return
            yield frame
        self._done = True


def run_shots(model: VideoModel, frames: Iterable[Tensor], *, device: torch.device, is_cut=None
              ) -> Iterator[Tensor]:
    """`run_windows` shot by shot: windows (and a recurrent model's state) restart at each cut, and the k − 1
    frames a time factor k inserts at a cut repeat the earlier shot's last frame instead of blending two shots.
    Frames are yielded on `device`: whoever stores them rounds them to 8 or 16 bits there first, so a quarter or
    half of the bytes cross from a GPU (a 1080p float frame took 2.1 ms to reach the host on an H200, as 8 bits
    0.6 ms).

    `is_cut(frame) -> bool` is called on each frame in order (e.g. a `jobs.scenes.CutDetector`); None: one shot.
    """
    if is_cut is None:
        yield from run_windows(model, frames, device=device, to_host=False)
        return
    shots = Shots(frames, is_cut)
    last = None
    while (shot := shots.next_shot()) is not None:
        if last is not None:
            for _ in range(model.time_factor - 1):
                yield last
        for frame in run_windows(model, shot, device=device, to_host=False):
            last = frame
            yield frame


# An output frame whose values span under one 8-bit level is flat; an input frame spanning over 8 levels has detail.
BLANK_RANGE = 1 / 255
DETAIL_RANGE = 8 / 255


def output_frames(model: VideoModel, frames: Iterable[Tensor], *, device: torch.device, is_cut=None
                  ) -> Iterator[Tensor]:
    """Every output frame of `frames`: `run_shots`, then the last frame held k − 1 more times, so that N input
    frames give N·k output frames and the duration (and the audio sync) is the input's."""
    last = None
    detailed: list[bool] = []  # per input frame: does it hold any detail (see BLANK_RANGE)?

    def watched(source: Iterable[Tensor]) -> Iterator[Tensor]:
        for frame in source:
            low, high = torch.aminmax(frame)
            detailed.append(float(high - low) > DETAIL_RANGE)
            yield frame

    k = model.time_factor
    for index, frame in enumerate(run_shots(model, watched(frames), device=device, is_cut=is_cut)):
        # NaN would be written as black and pass every check of the container: a broken model stops the run.
        # Checked on every frame's mean (one reduction; NaN or inf anywhere makes it non-finite).
        if not torch.isfinite(frame.float().mean()):
            raise WeightsError(f"the model produced NaN or infinite values at output frame {index}: its weights "
                               f"or its precision are broken (try --precision fp32)")
        # Finite weights can still be dead (all zero, or a collapsed training run): a flat frame made from a frame
        # with detail is not a video anyone wants, and every container check would pass it.
        low, high = (float(v.clamp(0, 1)) for v in torch.aminmax(frame))  # the span of what will be written
        if high - low < BLANK_RANGE and detailed[index // k]:
            raise WeightsError(f"the model produced a blank frame (one flat colour) at output frame {index} from "
                               f"an input frame with detail: its weights are broken")
        last = frame
        yield frame
    for _ in range(model.time_factor - 1):
        yield last


def _learned(name: str) -> bool:
    entry = find_model(name)
    return entry is None or entry.learned  # not a registered method: shipped weights by name
