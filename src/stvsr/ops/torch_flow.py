"""Dense optical flow as torch ops, for the GPU-resident path: coarse-to-fine iterative Lucas–Kanade.

OpenCV's DIS runs on the CPU only (its CUDA optical-flow classes are not in the pip wheels) and, on a GPU machine,
the frames would cross to the host and back for every pair; no installable library computes classical dense flow
in torch (kornia has none, torchvision's RAFT needs downloaded weights). So it is here: a Gaussian pyramid, and at
each level a few Gauss–Newton steps of Lucas–Kanade (Bouguet's pyramidal scheme) with a Gaussian window, every
step a handful of convolutions and one `grid_sample` — the same work on every pixel, which is what a GPU is
for. Flow convention as `ops.flow`: `a(p) ≈ b(p + flow(p))`, (N, 2, H, W) in pixels, x then y. DIS stays the
CPU path (`ops.flow.dis_flows`); `tests/test_torch_flow.py` states how closely the two agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .filters import gaussian_blur
from .warp import warp

_LUMA = (0.299, 0.587, 0.114)


def _luma(frames: Tensor) -> Tensor:
    weights = torch.tensor(_LUMA, dtype=torch.float32, device=frames.device).view(1, 3, 1, 1)
    return (frames.float().clamp(0, 1) * weights).sum(1, keepdim=True)


def _pyramid(gray: Tensor, levels: int) -> list[Tensor]:
    """Finest first: each level the previous one blurred (σ = 1) and halved."""
    out = [gray]
    for _ in range(levels - 1):
        out.append(F.avg_pool2d(gaussian_blur(out[-1], 5, 1.0), 2, ceil_mode=True))
    return out


def _gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Central differences with replicated borders."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    gy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    return gx, gy


def _median3(x: Tensor) -> Tensor:
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    patches = padded.unfold(2, 3, 1).unfold(3, 3, 1)  # (N, C, H, W, 3, 3)
    return patches.flatten(-2).median(dim=-1).values


def lk_flow(a: Tensor, b: Tensor, *, iterations: int = 4, window_sigma: float = 2.0, min_size: int = 16,
            damping: float = 1e-4, smooth: float = 0.0, max_step: float = 0.0, median: bool = False,
            symmetric: bool = True, spread: float = 0.0) -> Tensor:
    """Flow from frames `a` to `b` (each (N, 3, H, W) in [0, 1]) by pyramidal iterative Lucas–Kanade.

    `iterations` Gauss–Newton steps per level; `window_sigma` the Gaussian window of the normal equations (in
    pixels of each level); levels are halved until the coarsest is below `min_size` pixels; `damping` is added to
    the diagonal so that flat regions keep the coarser level's flow instead of dividing by zero.
    """
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"expected two (N, 3, H, W) batches of equal shape, got {tuple(a.shape)}, {tuple(b.shape)}")
    n, _, h, w = a.shape
    levels = 1
    while min(h, w) >> levels >= min_size:
        levels += 1
    pa, pb = _pyramid(_luma(a), levels), _pyramid(_luma(b), levels)
    size = int(4 * window_sigma) | 1  # odd, ±2σ
    flow = torch.zeros(n, 2, *pa[-1].shape[-2:], device=a.device, dtype=torch.float32)
    for level in reversed(range(levels)):
        ga, gb = pa[level], pb[level]
        if flow.shape[-2:] != ga.shape[-2:]:
            scale = torch.tensor([ga.shape[-1] / flow.shape[-1], ga.shape[-2] / flow.shape[-2]],
                                 device=flow.device).view(1, 2, 1, 1)
            flow = F.interpolate(flow, size=ga.shape[-2:], mode="bilinear", align_corners=False) * scale
        ax, ay = _gradients(ga)
        for _ in range(iterations):
            warped = warp(gb, flow)
            bx, by = _gradients(warped)
            ix, iy, it = ((ax + bx) / 2, (ay + by) / 2, warped - ga) if symmetric else (bx, by, warped - ga)
            terms = gaussian_blur(torch.cat([ix * ix, ix * iy, iy * iy, ix * it, iy * it], dim=1), size,
                                  window_sigma)
            j11, j12, j22, e1, e2 = (terms[:, k:k + 1] for k in range(5))
            j11, j22 = j11 + damping, j22 + damping
            det = j11 * j22 - j12 * j12
            du = (j12 * e2 - j22 * e1) / det
            dv = (j12 * e1 - j11 * e2) / det
            step = torch.cat([du, dv], dim=1)
            if max_step:
                step = step.clamp(-max_step, max_step)
            flow = flow + step
            if median:
                flow = _median3(flow)
            if spread:  # normalised convolution: flow from well-textured pixels fills the flat ones
                conf = (j11 + j22 - ((j11 - j22) ** 2 + 4 * j12 * j12).sqrt()) / 2  # smaller eigenvalue
                k = int(4 * spread) | 1
                flow = gaussian_blur(flow * conf, k, spread) / gaussian_blur(conf, k, spread).clamp_min(1e-12)
            if smooth:
                flow = gaussian_blur(flow, int(4 * smooth) | 1, smooth)
    return flow


def lk_flows(a: Tensor, b: Tensor, **options) -> tuple[Tensor, Tensor]:
    """Flow both ways, `lk_flow(a, b)` and `lk_flow(b, a)`, in one batch."""
    both = lk_flow(torch.cat([a, b]), torch.cat([b, a]), **options)
    return both[: len(a)], both[len(a):]
