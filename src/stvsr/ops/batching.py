"""Running a per-frame network over many frames: the whole batch at once on a GPU, a few frames at a time on a CPU."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .eager import eager

# Input pixels per call on a CPU. A batch of frames whose activations outgrow the caches runs far slower per frame:
# propstvsr.x4's IMDN backbone over a 20-frame window of 320×180 took 2.89 s as one batch and 1.34 s two frames at
# a time (bf16, 2 cores; fp32 8.65 against 3.54 s), and 1080p input (480×270) was fastest one frame at a time
# (`python benchmarks/frame_batches.py`, BENCHMARKS.md). A GPU wants the batch whole.
CPU_PIXELS_PER_CALL = 480 * 270


def frames_per_call(frames: Tensor) -> int:
    """How many of `frames` (M, C, H, W) one call of a per-frame network should take on their device."""
    m, _, h, w = frames.shape
    if frames.device.type != "cpu" or torch.is_grad_enabled() or not eager():
        return m  # training keeps its batch (its crops are small), and a traced graph must keep M dynamic
    return max(1, CPU_PIXELS_PER_CALL // (h * w))


def per_frame(fn: Callable[[Tensor], Tensor], frames: Tensor) -> Tensor:
    """fn(frames) for a per-frame `fn` (M, ...) -> (M, ...), computed `frames_per_call` frames at a time."""
    step = frames_per_call(frames)
    if step >= frames.shape[0]:
        return fn(frames)
    return torch.cat([fn(chunk) for chunk in frames.split(step)])
