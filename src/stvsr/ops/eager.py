"""When an OpenCV routine may stand in for torch ops inside a tensor function."""

from __future__ import annotations

import torch
from torch import Tensor


def opencv_may_run(*tensors: Tensor) -> bool:
    """Plain float32 CPU tensors that need no gradient, outside tracing and compilation: OpenCV computes on their
    NumPy views. A traced or exported graph (`stvsr export`, torch.compile) would not see such a detour, autograd
    cannot go through it, and the fake tensors of torch.export have no data to view."""
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return False
    return all(type(t) is Tensor and t.device.type == "cpu" and t.dtype == torch.float32 and not t.requires_grad
               for t in tensors)
