"""Size and cost of registered models: parameters, and FLOPs per output frame at a reference input size
(for frame interpolators: per interpolated frame, at that size)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from .registry import ModelEntry, create_model

REFERENCE_SIZE = (144, 180)  # H, W of the input: 180×144 -> 720×576 at ×4, the size the reports quote


def _built(name: str, *, on_meta: bool, **kwargs) -> torch.nn.Module:
    """The model `name`; with `on_meta`, parameters are shapes without storage or initialisation, enough to count
    them (the listing's 23.6M-parameter critic: 82 instead of 107 ms). A constructor that needs real tensors falls
    back to the CPU."""
    if on_meta:
        try:
            with torch.device("meta"):
                return create_model(name, **kwargs)
        except (NotImplementedError, RuntimeError):
            pass
    return create_model(name, **kwargs)


def describe(entry: ModelEntry, *, flops: bool = True, **kwargs) -> dict:
    """Task, scale, time factor, parameters and GFLOPs per output frame at 180×144 input (counted by PyTorch's
    FlopCounterMode: 2 FLOPs per multiply-add of convolutions and matrix products), built with `kwargs`."""
    model = _built(entry.name, on_meta=not flops, **kwargs).eval()
    info = {"name": entry.name, "task": entry.task, "scale": getattr(model, "scale", None),
            "time_factor": getattr(model, "time_factor", None),
            "params": sum(p.numel() for p in model.parameters()), "gflops": None}
    if flops:
        h, w = REFERENCE_SIZE
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            if entry.task == "critic":
                model(torch.rand(1, 3, h * 4, w * 4))
                frames = 1
            else:
                frames_in = max(getattr(model, "window", 1), 1)
                out = model(torch.rand(1, frames_in, 3, h, w))
                # an interpolator's outputs include its inputs; count only the frames it makes
                frames = out.shape[1] - frames_in if entry.task == "vfi" else out.shape[1]
        info["gflops"] = counter.get_total_flops() / frames / 1e9
    return info
