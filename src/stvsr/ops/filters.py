"""Gaussian kernels and separable filtering."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_kernel1d(size: int, sigma: float, *, dtype=torch.float64, device=None) -> Tensor:
    """Normalised 1-D Gaussian of `size` taps (odd), as MATLAB's fspecial('gaussian') along one axis."""
    if size % 2 != 1 or sigma <= 0:
        raise ValueError("size must be odd and sigma positive")
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    k = torch.exp(-(x * x) / (2 * sigma * sigma))
    return k / k.sum()


def gaussian_blur(x: Tensor, size: int, sigma: float, *, padding: str = "replicate") -> Tensor:
    """Blur images (..., H, W) with a separable `size`×`size` Gaussian; `padding` 'replicate', 'reflect' or 'valid'."""
    shape = x.shape
    flat = x.reshape(-1, 1, *shape[-2:])
    k = gaussian_kernel1d(size, sigma, dtype=x.dtype, device=x.device)
    if padding != "valid":
        r = size // 2
        flat = F.pad(flat, (r, r, r, r), mode=padding)
    flat = F.conv2d(flat, k.view(1, 1, -1, 1))
    flat = F.conv2d(flat, k.view(1, 1, 1, -1))
    return flat.reshape(*shape[:-2], *flat.shape[-2:])
