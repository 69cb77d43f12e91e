"""Pixel losses on float images in [0, 1]."""

from __future__ import annotations

from torch import Tensor

from .precision import float32_loss


@float32_loss
def l1(pred: Tensor, target: Tensor) -> Tensor:
    return (pred - target).abs().mean()


@float32_loss
def mse(pred: Tensor, target: Tensor) -> Tensor:
    return (pred - target).square().mean()


@float32_loss
def charbonnier(pred: Tensor, target: Tensor, eps: float = 1e-3) -> Tensor:
    """sqrt((x − y)² + ε²), a differentiable L1 (Lai et al., LapSRN 2017); ε = 1e-3 as in EDVR and Zooming Slow-Mo."""
    return ((pred - target).square() + eps * eps).sqrt().mean()
