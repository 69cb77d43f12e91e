"""Per-frame fidelity: PSNR, SSIM and MSE, with every choice that moves the number named in the arguments.

Protocol (as the MATLAB code behind SR tables, and BasicSR's `calculate_psnr/ssim`): the prediction is clipped
and rounded to 8 bits first; Y is BT.601 studio range on [0, 255] (not rounded); `crop_border` pixels are removed
from each edge; PSNR uses peak 255; SSIM is Wang et al. 2004 with an 11×11 Gaussian window (σ = 1.5),
K = (0.01, 0.03), 'valid' filtering, averaged over the map (and over channels for RGB).
All functions take float (..., 3, H, W) in [0, 1] and return one value per image (...).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..ops.color import quantize
from ..ops.color import rgb_to_y
from ..ops.filters import gaussian_kernel1d


def _prepare(pred: Tensor, target: Tensor, channel: str, crop_border: int, round_pred: bool) -> tuple[Tensor, Tensor]:
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    pred = quantize(pred) if round_pred else pred
    pred, target = pred.double(), target.double()
    if channel == "y":
        pred, target = rgb_to_y(pred), rgb_to_y(target)
    elif channel != "rgb":
        raise ValueError(f"channel must be 'y' or 'rgb', not {channel!r}")
    if crop_border:
        pred = pred[..., crop_border:-crop_border, crop_border:-crop_border]
        target = target[..., crop_border:-crop_border, crop_border:-crop_border]
    return pred * 255, target * 255


def psnr(pred: Tensor, target: Tensor, *, channel: str = "y", crop_border: int = 0,
         round_pred: bool = True) -> Tensor:
    """PSNR in dB per image (peak 255); identical images give +inf."""
    p, t = _prepare(pred, target, channel, crop_border, round_pred)
    mse = (p - t).square().mean(dim=(-3, -2, -1))
    return 10 * torch.log10(255.0 ** 2 / mse)  # mse == 0 -> inf, by IEEE division


def mse(pred: Tensor, target: Tensor, *, channel: str = "rgb", crop_border: int = 0,
        round_pred: bool = True) -> Tensor:
    """Mean squared error per image on the [0, 1] scale (the trade-off study's spatial axis)."""
    p, t = _prepare(pred, target, channel, crop_border, round_pred)
    return (p - t).div(255).square().mean(dim=(-3, -2, -1))


def _valid_blur_matrix(n: int, kernel: Tensor) -> Tensor:
    """(n - k + 1, n) banded matrix applying `kernel` with 'valid' filtering along one axis."""
    taps = len(kernel)
    rows = torch.arange(n - taps + 1, device=kernel.device)
    matrix = torch.zeros(n - taps + 1, n, dtype=kernel.dtype, device=kernel.device)
    for i in range(taps):
        matrix[rows, rows + i] = kernel[i]
    return matrix


def ssim_map(x: Tensor, y: Tensor, *, data_range: float = 255.0) -> Tensor:
    """SSIM map of float images (M, C, H, W) (Gaussian 11×11, σ = 1.5, valid filtering): (M, C, H - 10, W - 10).

    The Gaussian filtering is two products with banded matrices: in float64 (needed: E[x²] − μ² cancels) BLAS
    matrix products are about twice as fast on CPU as convolutions.
    """
    if min(x.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11, got {x.shape[-1]}x{x.shape[-2]}")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    k = gaussian_kernel1d(11, 1.5, dtype=x.dtype, device=x.device)
    rows, cols = _valid_blur_matrix(x.shape[-2], k), _valid_blur_matrix(x.shape[-1], k).T
    stats = rows @ torch.stack([x, y, x * x, y * y, x * y]) @ cols
    mu_x, mu_y = stats[0], stats[1]
    sxx = stats[2] - mu_x * mu_x
    syy = stats[3] - mu_y * mu_y
    sxy = stats[4] - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (sxx + syy + c2))


def ssim(pred: Tensor, target: Tensor, *, channel: str = "y", crop_border: int = 0,
         round_pred: bool = True) -> Tensor:
    """SSIM per image; for RGB the mean of the three channels' SSIM."""
    p, t = _prepare(pred, target, channel, crop_border, round_pred)
    lead = p.shape[:-3]
    m = ssim_map(p.reshape(-1, *p.shape[-3:]), t.reshape(-1, *t.shape[-3:]))
    return m.mean(dim=(-3, -2, -1)).reshape(lead)
