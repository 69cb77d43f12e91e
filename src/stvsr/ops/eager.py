"""When eager-only shortcuts (OpenCV routines, Python-level splitting of a batch) may stand in for plain torch ops
inside a tensor function."""

from __future__ import annotations

import torch
from torch import Tensor


def eager() -> bool:
    """Outside tracing and compilation: a traced or exported graph (`stvsr export`, torch.compile) would not see an
    OpenCV detour, and would bake a batch split into its graph as constants."""
    return not (torch.jit.is_tracing() or torch.compiler.is_compiling())


def opencv_may_run(*tensors: Tensor) -> bool:
    """Plain float32 CPU tensors that need no gradient, run eagerly: OpenCV computes on their NumPy views. Autograd
    cannot go through it, and the fake tensors of torch.export have no data to view."""
    if not eager():
        return False
    return all(type(t) is Tensor and t.device.type == "cpu" and t.dtype == torch.float32 and not t.requires_grad
               for t in tensors)
