"""The evaluation tasks: which frames go in, at what resolution, and which outputs are scored.

- vsr: every frame in at low resolution; every output scored.
- vfi: frames 0, 2, 4, … in at full resolution; the odd (interpolated) outputs scored.
- stvsr: frames 0, 2, 4, … in at low resolution; every output scored (Vimeo-90K septuplet: frames 1, 3, 5, 7 in,
  all 7 scored). Long clips are cut into 7-frame windows with stride 6 plus one last window aligned to the end,
  as Zooming Slow-Mo's test code (`window`), a frame shared by two windows taking the later window's output;
  or the whole clip goes through at once (`whole`).
A clip of even length in vfi/stvsr drops its last frame, which no interpolation reaches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..data.clips import Clip
from ..degrade import degrade, modcrop
from ..errors import InputError, UsageError
from ..models import VideoModel
from ..inference import run_windows

TASKS = {"vsr": "all frames in at low resolution, all scored",
         "vfi": "even frames in, odd (interpolated) frames scored",
         "stvsr": "even frames in at low resolution, all frames scored"}
WINDOW_MODES = ("window", "whole")
STVSR_WINDOW, STVSR_STRIDE = 7, 6


@dataclass(frozen=True)
class Task:
    name: str
    scale: int
    degradation: str = "BI"
    window_mode: str = "window"

    def __post_init__(self):
        if self.name not in TASKS:
            raise UsageError(f"unknown task {self.name!r}; choose from {', '.join(TASKS)}")
        if self.window_mode not in WINDOW_MODES:
            raise UsageError(f"window mode must be one of {', '.join(WINDOW_MODES)}")

    @property
    def model_scale(self) -> int:
        return 1 if self.name == "vfi" else self.scale

    @property
    def time_factor(self) -> int:
        return 1 if self.name == "vsr" else 2

    def describe(self) -> dict:
        return {"task": self.name, "inputs": TASKS[self.name], "scale": self.model_scale,
                "time_factor": self.time_factor,
                "degradation": self.degradation if self.name != "vfi" else "none (full resolution)",
                "lr_rounding": "LR frames rounded to 8 bits", "hr_modcrop": self.model_scale,
                "windows": (f"{STVSR_WINDOW}-frame windows, stride {STVSR_STRIDE}, last aligned to the end"
                            if self.name == "stvsr" and self.window_mode == "window" else "whole clip")}


@dataclass
class TaskRun:
    prediction: Tensor  # (T, 3, H, W) float, aligned with target
    target: Tensor
    scored: list[int]  # indices of frames that frame metrics score
    seconds: float  # time spent in the model
    # stvsr: the scored frames split by kind, {"in": input positions, "new": interpolated}; frame metrics are also
    # reported for each part (`psnr_y@new`), since a model can be good at one half of the task and poor at the other
    parts: dict[str, list[int]] = field(default_factory=dict)


def frame_parts(task: Task, length: int) -> dict[str, list[int]]:
    """The input-position (even) and interpolated (odd) output frames of an stvsr clip of `length` frames."""
    if task.name != "stvsr":
        return {}
    return {"in": list(range(0, length, 2)), "new": list(range(1, length, 2))}


def target_of(clip: Clip, task: Task) -> tuple[Tensor, list[int]]:
    """Ground truth the task compares against, and the indices it scores."""
    gt = modcrop(clip.float_frames(), task.model_scale)
    if task.name == "vsr":
        return gt, list(range(len(gt)))
    length = len(gt) if len(gt) % 2 else len(gt) - 1
    if length < 3:
        raise InputError(f"clip {clip.name} has {len(gt)} frames; {task.name} needs at least 3")
    gt = gt[:length]
    return gt, list(range(1, length, 2)) if task.name == "vfi" else list(range(length))


def _low_res(clip: Clip, gt: Tensor, indices: list[int], task: Task) -> Tensor:
    if task.name == "vfi":
        return gt[indices]
    if clip.lr is not None:
        lr = clip.lr[indices].float().div(255)
        expected = (gt.shape[-2] // task.scale, gt.shape[-1] // task.scale)
        if tuple(lr.shape[-2:]) != expected:
            raise InputError(f"clip {clip.name}: LR frames are {lr.shape[-1]}x{lr.shape[-2]}, expected "
                             f"{expected[1]}x{expected[0]} for x{task.scale}")
        return lr
    return degrade(gt[indices], task.degradation, task.scale)


def windows_of(length: int, task: Task) -> list[tuple[int, int]]:
    """(start, length) of the ground-truth windows a clip is cut into."""
    if task.name != "stvsr" or task.window_mode == "whole" or length <= STVSR_WINDOW:
        return [(0, length)]
    starts = list(range(0, length - STVSR_WINDOW + 1, STVSR_STRIDE))
    if starts[-1] + STVSR_WINDOW < length:
        starts.append(length - STVSR_WINDOW)
    return [(s, STVSR_WINDOW) for s in starts]


def run_task(model: VideoModel, clip: Clip, task: Task, device: torch.device) -> TaskRun:
    """Make the task's inputs from `clip`, run `model` on them, and align its outputs with the ground truth."""
    gt, scored = target_of(clip, task)
    if task.name == "vsr":
        starts = [(0, len(gt))]
    else:
        starts = windows_of(len(gt), task)
    prediction = torch.empty_like(gt)
    seconds = 0.0
    for start, length in starts:
        step = 1 if task.name == "vsr" else 2
        indices = list(range(start, start + length, step))
        inputs = _low_res(clip, gt, indices, task)
        began = time.perf_counter()
        outputs = list(run_windows(model, iter(inputs), device=device))
        seconds += time.perf_counter() - began
        if len(outputs) != length:
            raise RuntimeError(f"model gave {len(outputs)} frames for a window of {length}")
        prediction[start:start + length] = torch.stack(outputs)
    return TaskRun(prediction=prediction, target=gt, scored=scored, seconds=seconds,
                   parts=frame_parts(task, len(gt)))
