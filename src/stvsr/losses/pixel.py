"""Pixel losses on float images in [0, 1]."""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional

from ..metrics.artifacts import fine_detail
from .precision import float32_loss


@float32_loss
def l1(pred: Tensor, target: Tensor) -> Tensor:
    return (pred - target).abs().mean()


@float32_loss
def mse(pred: Tensor, target: Tensor) -> Tensor:
    return (pred - target).square().mean()


@float32_loss
def psnr_loss(pred: Tensor, target: Tensor, eps: float = 1e-8) -> Tensor:
    """−PSNR in dB, averaged over the batch's samples (dim 0): 10·log10 of each sample's MSE, as HINet and NAFNet
    train. A mean MSE lets the hardest samples (the most texture) dominate the gradient; the mean PSNR a benchmark
    reports weighs a dB on an easy clip the same as on a hard one, and so does this. A log of a mean: fp32. Not
    `-metrics.fidelity.psnr`: the metric rounds to 8 bits (no gradient) and scores each frame, not each sample."""
    per_sample = (pred - target).square().flatten(1).mean(dim=1)
    return 10 * (per_sample + eps).log10().mean()


@float32_loss
def charbonnier(pred: Tensor, target: Tensor, eps: float = 1e-3) -> Tensor:
    """sqrt((x − y)² + ε²), a differentiable L1 (Lai et al., LapSRN 2017); ε = 1e-3 as in EDVR and Zooming Slow-Mo."""
    return ((pred - target).square() + eps * eps).sqrt().mean()


@float32_loss
def periodic_loss(pred: Tensor, target: Tensor, period: int, window: int = 2) -> Tensor:
    """The error's local bias by sub-pixel phase: what a sub-pixel upsampler's checkerboard is made of.

    A ×p PixelShuffle draws each of the p² phases of an output pixel with its own kernel; when they disagree the
    error repeats every p pixels, and a critic can learn to want it (runs.md: srgan_x4, 0.7-1.2 levels). Here the
    error's fine detail (`metrics.artifacts.fine_detail`, pred − target minus its 3×3 box blur, as the checkerboard
    measure takes it: a smooth error, even a steep ramp, has none) is split into its p² phases, each phase averaged
    over `window` × `window` low-resolution pixels, and the spread of those local means across the phases is the loss. A pattern that
    repeats every p pixels (its sign may follow the content) costs most of its power; an error the phases share
    costs nothing, so the term adds no pull towards blur. No library has it (torch, kornia and piq have no such
    loss), so it is here. `pred`, `target`: (..., C, H, W), at least 2p + 1 pixels a side."""
    error = (pred - target).flatten(0, -4)
    detail = fine_detail(error)
    detail = detail[..., period:-period, period:-period]  # the blur's border is not the picture's; phases kept
    h, w = detail.shape[-2] // period * period, detail.shape[-1] // period * period
    phases = functional.pixel_unshuffle(detail[..., :h, :w], period)  # (B, C·p², H/p, W/p), phases innermost
    phases = phases.unflatten(1, (error.shape[1], period * period))
    local = functional.avg_pool3d(phases, (1, window, window), stride=1, padding=(0, window // 2, window // 2),
                                  count_include_pad=False)
    return (local - local.mean(dim=2, keepdim=True)).square().mean()
