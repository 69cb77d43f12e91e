"""Pictures an evaluation keeps for its report: per clip, the same crop of one frame from every method with the
ground truth and the low-resolution frame, error maps, and scanlines (one image row over time: flicker shows as
noise across time). PNG files; their index goes into results.json."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import torch
import torch.nn.functional as F
from torch import Tensor

from ..degrade import degrade
from ..io.frames import write_png
from ..metrics.fidelity import psnr
from ..ops.color import rgb_to_y
from ..ops.profiles import scanline
from .tasks import Task, TaskRun

CROP = 128  # side of the crop shown, in high-resolution pixels
SCANLINE_ROW_HEIGHT = 8  # each frame's row is drawn this many pixels tall
ERROR_GAIN = 4.0  # |error| on Y × gain, clipped: small errors stay visible


def slug(name: str) -> str:
    """A file-name-safe version of a method name (methods can be cascades "a+b" or weight paths)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem if name.endswith(".safetensors") else name)


def _write_png(path: Path, image: Tensor) -> str:
    """Write (3, H, W) float RGB in [0, 1]; returns the path's name."""
    write_png(path, image)
    return path.name


def _detail_crop(frame: Tensor, size: int) -> tuple[int, int, int, int]:
    """(y, x, h, w) of the size×size window with the most detail (gradient energy) on a coarse grid."""
    _, height, width = frame.shape
    h, w = min(size, height), min(size, width)
    gray = frame.mean(0)
    energy = (gray[1:, :-1] - gray[:-1, :-1]).abs() + (gray[:-1, 1:] - gray[:-1, :-1]).abs()
    best, where = -1.0, (0, 0)
    for y in range(0, height - h + 1, max(8, h // 4)):
        for x in range(0, width - w + 1, max(8, w // 4)):
            value = float(energy[y:y + h - 1, x:x + w - 1].sum())
            if value > best:
                best, where = value, (y, x)
    return where[0], where[1], h, w


def _error_map(pred: Tensor, target: Tensor) -> Tensor:
    error = (rgb_to_y(pred) - rgb_to_y(target)).abs()[0] * ERROR_GAIN
    colours = matplotlib.colormaps["magma"](error.clamp(0, 1).numpy())[..., :3]
    return torch.from_numpy(colours).permute(2, 0, 1).float()


def save_visuals(folder: Path, runs: dict[str, TaskRun], task: Task) -> dict:
    """Write one clip's pictures into `folder`; returns their index (file names relative to `folder`'s parent's
    parent, i.e. the evaluation's output folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    any_run = next(iter(runs.values()))
    target, scored = any_run.target, any_run.scored
    index = scored[len(scored) // 2]
    y, x, h, w = _detail_crop(target[index], CROP)
    prefix = f"visuals/{folder.name}"
    entry = {"frame": index, "crop": [y, x, h, w], "images": {}, "scanlines": {}}

    gt_crop = target[index, :, y:y + h, x:x + w]
    entry["ground_truth"] = f"{prefix}/{_write_png(folder / 'ground_truth.png', gt_crop)}"
    if task.model_scale > 1:
        # The input clip as the method saw it: a codec protocol degrades the clip as one stream, not frame by frame.
        inputs = list(range(0, len(target), 2)) if task.name == "stvsr" else list(range(len(target)))
        low = degrade(target[inputs], task.degradation, task.scale)[[inputs.index(index)]] if index in inputs \
            else degrade(target[index:index + 1], task.degradation, task.scale)
        shown = F.interpolate(low, scale_factor=task.scale, mode="nearest")[0, :, y:y + h, x:x + w]
        is_input = task.name == "vsr" or index % 2 == 0
        entry["low_res"] = {"file": f"{prefix}/{_write_png(folder / 'low_res.png', shown)}",
                            "note": "input frame, nearest-neighbour enlarged" if is_input else
                            "this frame at low resolution (not an input: the method made it from its neighbours)"}
    row = y + h // 2
    gt_line = scanline(target[:, :, :, x:x + w], row=row)
    entry["scanlines"]["ground truth"] = f"{prefix}/{_write_png(folder / 'scan_ground_truth.png', _tall(gt_line))}"
    for name, run in runs.items():
        pred = run.prediction.clamp(0, 1)
        crop = pred[index, :, y:y + h, x:x + w]
        value = float(psnr(pred[index:index + 1], target[index:index + 1], channel="y")[0])
        entry["images"][name] = {
            "crop": f"{prefix}/{_write_png(folder / f'{slug(name)}.png', crop)}",
            "error": f"{prefix}/{_write_png(folder / f'{slug(name)}_error.png', _error_map(crop, gt_crop))}",
            "psnr_y": value}
        line = scanline(pred[:, :, :, x:x + w], row=row)
        entry["scanlines"][name] = f"{prefix}/{_write_png(folder / f'scan_{slug(name)}.png', _tall(line))}"
    entry["scanline_row"] = row
    return entry


def _tall(line: Tensor) -> Tensor:
    """(C, T, W) scanline -> each frame's row repeated SCANLINE_ROW_HEIGHT times."""
    return line.repeat_interleave(SCANLINE_ROW_HEIGHT, dim=1)

