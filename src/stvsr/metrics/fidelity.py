"""Per-frame fidelity: PSNR, SSIM and MSE, with every choice that moves the number named in the arguments.

Protocol (as the MATLAB code behind SR tables, and BasicSR's `calculate_psnr/ssim`): the prediction is clipped
and rounded to 8 bits first; Y is BT.601 studio range on [0, 255] (not rounded); `crop_border` pixels are removed
from each edge; PSNR uses peak 255; SSIM is Wang et al. 2004 with an 11×11 Gaussian window (σ = 1.5),
K = (0.01, 0.03), 'valid' filtering, averaged over the map (and over channels for RGB).
All functions take float (..., 3, H, W) in [0, 1] and return one value per image (...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..io.frames import quantize
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


def ssim_map(x: Tensor, y: Tensor, *, data_range: float = 255.0) -> Tensor:
    """SSIM map of float images (M, C, H, W) (Gaussian 11×11, σ = 1.5, valid filtering): (M, C, H - 10, W - 10)."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    k = gaussian_kernel1d(11, 1.5, dtype=x.dtype, device=x.device)
    channels = x.shape[1]
    kh = k.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    kw = k.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)

    def blur(z):
        return F.conv2d(F.conv2d(z, kh, groups=channels), kw, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x * mu_x
    syy = blur(y * y) - mu_y * mu_y
    sxy = blur(x * y) - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (sxx + syy + c2))


def ssim(pred: Tensor, target: Tensor, *, channel: str = "y", crop_border: int = 0,
         round_pred: bool = True) -> Tensor:
    """SSIM per image; for RGB the mean of the three channels' SSIM."""
    p, t = _prepare(pred, target, channel, crop_border, round_pred)
    lead = p.shape[:-3]
    m = ssim_map(p.reshape(-1, *p.shape[-3:]), t.reshape(-1, *t.shape[-3:]))
    return m.mean(dim=(-3, -2, -1)).reshape(lead)
