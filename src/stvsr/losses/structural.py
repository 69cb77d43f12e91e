"""SSIM loss = 1 − SSIM, on the metric's own SSIM map (float, unrounded, so it has gradients)."""

from __future__ import annotations

from torch import Tensor

from ..metrics.fidelity import ssim_map
from ..ops.color import rgb_to_y
from .precision import float32_loss


@float32_loss
def ssim_loss(pred: Tensor, target: Tensor, *, channel: str = "rgb") -> Tensor:
    """1 − mean SSIM of images (..., 3, H, W) in [0, 1] (Gaussian 11×11, σ = 1.5, K = (0.01, 0.03))."""
    if channel == "y":
        pred, target = rgb_to_y(pred), rgb_to_y(target)
    p = pred.reshape(-1, *pred.shape[-3:])
    t = target.reshape(-1, *target.shape[-3:])
    return 1 - ssim_map(p, t, data_range=1.0).mean()
