"""Classical dense optical flow with OpenCV (DIS and Farneback), on float RGB tensors.

Flow convention: `flow(a, b)` is (N, 2, H, W) in pixels, x then y, such that a(p) ≈ b(p + flow(p)); this is the
flow that `warp(b, flow)` needs to bring b onto a.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def to_gray_u8(frames: Tensor) -> list[np.ndarray]:
    """(N, 3, H, W) float RGB in [0, 1] -> N gray uint8 arrays (BT.601 luma weights, as cv2.COLOR_RGB2GRAY)."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32, device=frames.device).view(1, 3, 1, 1)
    gray = (frames.float().clamp(0, 1) * weights).sum(1).mul(255).round().to(torch.uint8).cpu().numpy()
    return list(gray)


def _batched(a: Tensor, b: Tensor, one) -> Tensor:
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"expected two (N, 3, H, W) batches of equal shape, got {tuple(a.shape)}, {tuple(b.shape)}")
    flows = [one(x, y) for x, y in zip(to_gray_u8(a), to_gray_u8(b))]
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).to(a.device, torch.float32)


def dis_flow(a: Tensor, b: Tensor, preset: str = "medium") -> Tensor:
    """DIS optical flow (Kroeger et al., ECCV 2016) from frames `a` to `b`, each (N, 3, H, W)."""
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    return _batched(a, b, lambda x, y: dis.calc(x, y, None))


def farneback_flow(a: Tensor, b: Tensor) -> Tensor:
    """Farneback optical flow from `a` to `b` with the parameters of TecoGAN's tOF metric (OpenCV defaults there)."""
    return _batched(a, b, lambda x, y: cv2.calcOpticalFlowFarneback(x, y, None, 0.5, 3, 15, 3, 5, 1.2, 0))


FLOW_BACKENDS = {"dis": dis_flow, "farneback": farneback_flow}
