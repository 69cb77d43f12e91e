"""Metrics: pure functions (fidelity, temporal, NIQE) and the named protocols evaluations report.

Every number is reported under a name that carries its protocol (channel, border crop, rounding, flow backend),
and the full protocol is stored next to it (CONTRIBUTING.md §5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


from .artifacts import blockiness, periodic_amplitude
from .fidelity import mse, psnr, ssim
from .niqe import niqe
from ..ops.flow import farneback_flow
from .temporal import motion, tof, warping_error


@dataclass(frozen=True)
class Metric:
    name: str
    label: str  # column header in tables
    per_frame: bool  # True: computed per frame, averaged per clip; False: one value per clip
    needs_target: bool
    higher_is_better: bool
    display_scale: float  # values are multiplied by this in tables (warping error is shown x1e3)
    protocol: dict = field(default_factory=dict)
    compute: Callable | None = None  # (prediction, target or None, crop_border, per-clip cache) -> value(s)
    min_size: int = 1  # smallest frame side (after the border crop) it is defined on

    def size_problem(self, height: int, width: int) -> str | None:
        """Why frames of height x width cannot be scored by this metric, or None when they can."""
        if min(height, width) < self.min_size:
            return f"needs frames of at least {self.min_size}x{self.min_size} pixels, these are {width}x{height}"
        return None


def _fidelity(fn, channel):
    return lambda pred, target, crop, cache: fn(pred, target, channel=channel, crop_border=crop).tolist()


def _niqe(pred, target, crop, cache):
    return [niqe(frame, crop_border=crop) for frame in pred]


def _warp(backend):
    def compute(pred, target, crop, cache):
        source = pred if target is None else target
        if target is not None and ("motion", backend) not in cache:  # the ground truth's motion, once per clip
            cache[("motion", backend)] = motion(target, backend)
        return warping_error(pred, flow_from=source, backend=backend, reference=cache.get(("motion", backend)))
    return compute


def _tof(pred, target, crop, cache):
    if "farneback" not in cache:
        cache["farneback"] = farneback_flow(target[:-1], target[1:])
    return tof(pred, target, target_flow=cache["farneback"])


_ROUND = "prediction clipped and rounded to 8 bits"
METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("psnr_y", "PSNR-Y", True, True, True, 1.0,
           {"channel": "Y BT.601 studio range", "peak": 255, "rounding": _ROUND}, _fidelity(psnr, "y")),
    Metric("ssim_y", "SSIM-Y", True, True, True, 1.0,
           {"channel": "Y BT.601 studio range", "window": "Gaussian 11x11 sigma 1.5", "K": [0.01, 0.03],
            "filtering": "valid", "rounding": _ROUND}, _fidelity(ssim, "y"), min_size=11),
    Metric("psnr_rgb", "PSNR-RGB", True, True, True, 1.0,
           {"channel": "RGB", "peak": 255, "rounding": _ROUND}, _fidelity(psnr, "rgb")),
    Metric("ssim_rgb", "SSIM-RGB", True, True, True, 1.0,
           {"channel": "RGB, mean of channels", "window": "Gaussian 11x11 sigma 1.5", "K": [0.01, 0.03],
            "filtering": "valid", "rounding": _ROUND}, _fidelity(ssim, "rgb"), min_size=11),
    Metric("mse_rgb", "MSE-RGB x1e3", True, True, False, 1e3,
           {"channel": "RGB on [0, 1]", "rounding": _ROUND}, _fidelity(mse, "rgb")),
    Metric("warp_err@dis", "WarpErr@dis x1e3", False, False, False, 1e3,
           {"definition": "Lai et al. ECCV 2018, masked (Ruder et al. 2016 occlusion + motion boundaries)",
            "flow": "OpenCV DIS medium, from the ground truth when present", "scale": "RGB on [0, 1]"},
           _warp("dis"), min_size=12),  # OpenCV's DIS asserts on frames under 12 pixels
    Metric("warp_err@farneback", "WarpErr@fb x1e3", False, False, False, 1e3,
           {"definition": "Lai et al. ECCV 2018, masked (Ruder et al. 2016 occlusion + motion boundaries)",
            "flow": "OpenCV Farneback, from the ground truth when present", "scale": "RGB on [0, 1]"},
           _warp("farneback")),
    Metric("tof", "tOF", False, True, False, 1.0,
           {"definition": "TecoGAN tOF: mean L2 distance of Farneback flows of output and ground truth, pixels"},
           _tof),
    Metric("checker", "Checker (levels)", False, False, False, 1.0,
           {"definition": "periodic artefacts: RMS in 8-bit Y levels of the fine detail's power standing above its "
                          "surroundings at the frequencies (a/p, b/p) of the worst p in 2, 3, 4, beyond the ground "
                          "truth's own (Hann window, 3x3 bins over a 7x7 ring median, frames cropped to a multiple "
                          "of 12)", "detail": "Y(prediction rounded) minus its 3x3 box blur"},
           lambda pred, target, crop, cache: periodic_amplitude(pred, target, crop_border=crop), min_size=48),
    Metric("blockiness", "Blocking (levels)", False, False, False, 1.0,
           {"definition": "mean absolute step of Y (8-bit levels, prediction rounded) across the lines of a grid "
                          "anchored at the top-left corner, minus the mean step elsewhere, horizontal and vertical "
                          "averaged; the worst grid period of 8, 16, 32, beyond the ground truth's own"},
           lambda pred, target, crop, cache: blockiness(pred, target, crop_border=crop), min_size=33),
    Metric("niqe", "NIQE", True, False, False, 1.0,
           {"definition": "Mittal et al. 2013, LIVE pristine model, 96x96 blocks, Y BT.601 rounded"}, _niqe, min_size=96),
)}

DEFAULT_METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "warp_err@dis", "tof", "niqe")

__all__ = ["METRICS", "DEFAULT_METRICS", "Metric", "blockiness", "mse", "niqe", "periodic_amplitude", "psnr", "ssim", "tof",
           "warping_error"]
