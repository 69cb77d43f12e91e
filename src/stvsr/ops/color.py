"""Colour conversions used by the SR protocols."""

from __future__ import annotations

import torch
from torch import Tensor

# ITU-R BT.601 studio range, as MATLAB's rgb2ycbcr (the code behind SR papers' tables):
# Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 with R, G, B in [0, 255], i.e. Y in [16, 235].
# Full-range BT.601 luma weights, as cv2.COLOR_RGB2GRAY: what both DIS backends (ops/flow.py, ops/torch_flow.py)
# turn frames into, so that they see the same gray.
LUMA = (0.299, 0.587, 0.114)
_Y_WEIGHTS = (65.481, 128.553, 24.966)


def rgb_to_y(rgb: Tensor) -> Tensor:
    """BT.601 studio-range luma of float RGB (..., 3, H, W) in [0, 1], returned in [0, 1] units of 255 (..., 1, H, W).

    >>> rgb_to_y(torch.ones(3, 1, 1)).mul(255).item()  # white -> 235
    235.0
    """
    if rgb.shape[-3] != 3:
        raise ValueError(f"expected 3 channels at dim -3, got {tuple(rgb.shape)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    return ((rgb * w).sum(dim=-3, keepdim=True) + 16.0) / 255.0


def quantize(frame: Tensor) -> Tensor:
    """Round float frames to the 8-bit grid they would be stored on, keeping float32 in [0, 1]."""
    return frame.clamp(0, 1).mul(255).round().div(255)
