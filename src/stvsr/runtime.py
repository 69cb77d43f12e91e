"""Where computation runs."""

from __future__ import annotations

import torch

from .errors import UsageError


def pick_device(name: str = "auto") -> torch.device:
    """'auto' is CUDA when a GPU is visible, else CPU; 'cpu', 'cuda' and 'cuda:N' are taken as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but PyTorch sees no CUDA GPU (is a CUDA build installed?)")
    return device
