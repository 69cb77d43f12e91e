"""Temporal losses: warping (the trade-off study), the ToSR joint loss, and cycle consistency (TP-net)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..degrade import bicubic_down, keep_even_frames
from ..ops.profiles import to_horizontal_profiles
from ..ops.warp import warp
from .pixel import l1
from .precision import float32_loss
from .structural import ssim_loss


@float32_loss
def occlusion_weight(frame_t: Tensor, frame_next: Tensor, flow: Tensor) -> Tensor:
    """M = exp(−50·‖I_t − W(I_{t+1})‖²) from the ground truth (trade-off study): ~0 where warping fails."""
    warped = warp(frame_next, flow)
    return torch.exp(-50 * (frame_t - warped).square().sum(1, keepdim=True))


@float32_loss
def warping_loss(pred_t: Tensor, pred_next: Tensor, flow: Tensor, weight: Tensor) -> Tensor:
    """Σ M·‖Î_t − W(Î_{t+1})‖² / Σ M with the ground truth's flow t→t+1 and weight M (differentiable in Î)."""
    diff = (pred_t - warp(pred_next, flow)).square().sum(1, keepdim=True)
    return (weight * diff).sum() / weight.sum().clamp_min(1e-6)


@float32_loss
def error_flicker_loss(pred_t: Tensor, pred_next: Tensor, gt_t: Tensor, gt_next: Tensor, flow: Tensor,
                       weight: Tensor) -> Tensor:
    """Σ M·‖E_t − W(E_{t+1})‖² / Σ M of the error E = Î − I: the part of the output's warping error that the
    ground truth does not have. Its minimum is the ground truth itself, where the warping term's is a video frozen
    along the flow; so it removes flicker without damping real change (lighting, motion the flow misses)."""
    return warping_loss(pred_t - gt_t, pred_next - gt_next, flow, weight)


@float32_loss
def tosr_joint_loss(pred_t: Tensor, pred_next: Tensor, gt_t: Tensor, gt_next: Tensor, flow: Tensor, *,
                    alpha: float = 0.5, beta: float = 1.0) -> Tensor:
    """L = α‖Î_t − I_t‖² + α‖Î_{t+1} − I_{t+1}‖² + β·E_warp(Î_t, Î_{t+1}), flow and mask from the ground truth."""
    weight = occlusion_weight(gt_t, gt_next, flow)
    fidelity = alpha * (pred_t - gt_t).square().mean() + alpha * (pred_next - gt_next).square().mean()
    return fidelity + beta * warping_loss(pred_t, pred_next, flow, weight)


@float32_loss
def cycle_loss(pred: Tensor, lr_inputs: Tensor, *, scale: int, kind: str = "l1") -> Tensor:
    """Degrade the output (N, 2T − 1, 3, H, W) back in space (BI ×1/scale) and time (even frames) and compare its
    horizontal temporal profiles with the input's (N, T, 3, h, w), by L1 or by SSIM over the profile images."""
    down = bicubic_down(keep_even_frames(pred), scale, quantize=False)
    a, b = to_horizontal_profiles(down), to_horizontal_profiles(lr_inputs)
    if kind == "l1":
        return l1(a, b)
    if kind == "ssim":
        return ssim_loss(a.flatten(0, 1), b.flatten(0, 1))
    raise ValueError("kind must be 'l1' or 'ssim'")
