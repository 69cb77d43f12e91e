"""Temporal consistency: warping error (Lai et al., ECCV 2018) and tOF (Chu et al., TecoGAN, 2020).

Warping error: E = mean over t of Σ_p M_t(p)·‖V_t(p) − W(V_{t+1})(p)‖² / Σ_p M_t(p), where W warps frame t+1 back
onto frame t with the flow from t to t+1, ‖·‖² sums over the RGB channels on [0, 1], and M_t masks pixels that are
occluded (forward–backward check) or on motion boundaries (Ruder et al., GCPR 2016, Eq. 5 and 6). The flow comes
from the ground truth when there is one (so every method is judged against the same motion), else from the video.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..ops.flow import FLOW_BACKENDS, farneback_flow
from ..ops.warp import warp


def consistency_mask(forward: Tensor, backward: Tensor) -> Tensor:
    """Pixels (N, 1, H, W) where `forward` (t→t+1) is trusted: not occluded and not on a motion boundary.

    Occluded (Ruder Eq. 5): |w + ŵ(p + w)|² > 0.01(|w|² + |ŵ(p + w)|²) + 0.5.
    Motion boundary (Eq. 6): |∇u|² + |∇v|² > 0.01|w|² + 0.002.
    """
    back = warp(backward, forward)
    occluded = (forward + back).square().sum(1, keepdim=True) > \
        0.01 * (forward.square().sum(1, keepdim=True) + back.square().sum(1, keepdim=True)) + 0.5
    gy, gx = torch.gradient(forward, dim=(2, 3))
    boundary = (gx.square() + gy.square()).sum(1, keepdim=True) > 0.01 * forward.square().sum(1, keepdim=True) + 0.002
    return ~(occluded | boundary)


def motion(source: Tensor, backend: str = "dis") -> tuple[Tensor, Tensor]:
    """Flows t→t+1 (T - 1, 2, H, W) of a video (T, 3, H, W) and the mask (T - 1, 1, H, W) where they are trusted.

    Computed once per ground-truth clip and shared by every method scored against it.
    """
    if source.dim() != 4 or source.shape[0] < 2:
        raise ValueError(f"expected a video (T >= 2, 3, H, W), got {tuple(source.shape)}")
    flow = FLOW_BACKENDS[backend]
    a, b = source[:-1], source[1:]
    forward, backward = flow(a, b), flow(b, a)
    return forward, consistency_mask(forward, backward)


def warping_error_per_pair(video: Tensor, *, flow_from: Tensor | None = None, backend: str = "dis",
                           reference: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Masked warping error of each consecutive pair of `video` (T, 3, H, W) in [0, 1] -> (T - 1,).

    `flow_from` (T, 3, H, W), usually the ground truth, supplies the motion (by default the video itself);
    `reference` passes its `motion()` when already computed.
    """
    if video.dim() != 4 or video.shape[0] < 2:
        raise ValueError(f"expected a video (T >= 2, 3, H, W), got {tuple(video.shape)}")
    source = video if flow_from is None else flow_from
    if source.shape != video.shape:
        raise ValueError(f"flow source {tuple(source.shape)} does not match video {tuple(video.shape)}")
    forward, mask = reference if reference is not None else motion(source, backend)
    mask = mask.to(video.dtype)
    warped = warp(video[1:].float(), forward).to(video.dtype)
    error = (video[:-1] - warped).square().sum(1, keepdim=True) * mask
    return error.sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3)).clamp_min(1)


def warping_error(video: Tensor, *, flow_from: Tensor | None = None, backend: str = "dis",
                  reference: tuple[Tensor, Tensor] | None = None) -> float:
    """Mean warping error of a video (see module doc); multiply by 1e3 for the usual tables."""
    return warping_error_per_pair(video, flow_from=flow_from, backend=backend, reference=reference).mean().item()


def tof(pred: Tensor, target: Tensor, *, target_flow: Tensor | None = None) -> float:
    """TecoGAN's tOF: mean over frames and pixels of ‖OF(pred_{t-1}, pred_t) − OF(gt_{t-1}, gt_t)‖₂, Farneback flow
    (pyramid 0.5, 3 levels, window 15, 3 iterations, poly_n 5, σ 1.2) on 8-bit gray, in pixels."""
    if pred.shape != target.shape or pred.shape[0] < 2:
        raise ValueError(f"expected two videos (T >= 2, 3, H, W) of one shape, got {tuple(pred.shape)}, "
                         f"{tuple(target.shape)}")
    of_pred = farneback_flow(pred[:-1], pred[1:])
    of_gt = farneback_flow(target[:-1], target[1:]) if target_flow is None else target_flow
    return (of_pred - of_gt).square().sum(1).sqrt().mean().item()
