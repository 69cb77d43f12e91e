"""Backward warping of frames by dense optical flow."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def warp(frames: Tensor, flow: Tensor) -> Tensor:
    """Backward-warp `frames` (N, C, H, W) by `flow` (N, 2, H, W) in pixels (x then y): out(p) = frames(p + flow(p)).

    Bilinear sampling; samples outside the frame take the nearest border pixel.
    """
    n, _, h, w = frames.shape
    if flow.shape != (n, 2, h, w):
        raise ValueError(f"flow {tuple(flow.shape)} does not match frames {tuple(frames.shape)}")
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    # grid_sample wants coordinates in [-1, 1] with align_corners=True mapping -1/1 to the first/last pixel centres.
    gx = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    gy = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    grid = torch.stack((gx, gy), dim=-1)
    return F.grid_sample(frames, grid.to(frames.dtype), mode="bilinear", padding_mode="border", align_corners=True)
