"""Running a per-frame network over many frames: the whole batch at once on a GPU, a few frames at a time on a CPU."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .eager import eager

# Input pixels per call on a CPU: a batch whose activations outgrow the caches runs slower per frame than one frame
# at a time, while small frames still gain from a few per call. Chosen with `python benchmarks/frame_batches.py`
# (docs/experiments/cpu-speed.md). A GPU wants the batch whole.
CPU_PIXELS_PER_CALL = 256 * 256


def frames_per_call(frames: Tensor) -> int:
    """How many of `frames` (M, ..., H, W) one call of a per-frame network should take on their device (an item
    may be a frame, or the stack of neighbours one output frame is made from)."""
    m, (h, w) = frames.shape[0], frames.shape[-2:]
    if frames.device.type != "cpu" or torch.is_grad_enabled() or not eager():
        return m  # training keeps its batch (its crops are small), and a traced graph must keep M dynamic
    return max(1, CPU_PIXELS_PER_CALL // (h * w))


def per_frame(fn: Callable[[Tensor], Tensor], frames: Tensor) -> Tensor:
    """fn(frames) for a per-item `fn` (M, ...) -> (M, ...), computed `frames_per_call` items at a time."""
    step = frames_per_call(frames)
    if step >= frames.shape[0]:
        return fn(frames)
    return torch.cat([fn(chunk) for chunk in frames.split(step)])
