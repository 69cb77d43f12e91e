"""The stages a degradation protocol chains (pure functions on float tensors (..., 3, H, W) in [0, 1]).

Before the downscale (on ground truth): `blur`, an isotropic or anisotropic Gaussian. The downscale itself:
`resample.DOWNSCALERS` or `resize_down`. After it (on the low-resolution clip): `add_noise`, and the round trips
through JPEG and a video codec in `io.compress`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..ops.resize import imresize
from .resample import modcrop

MAX_BLUR_TAPS = 21  # a kernel bound: σ above 3.3 is cut off at its 3σ tails, as Real-ESRGAN bounds its kernels


def gaussian_kernel2d(sigma_x: float, sigma_y: float | None = None, theta: float = 0.0) -> Tensor:
    """Normalised 2-D Gaussian (K, K), K = 2·⌈3·max σ⌉ + 1 taps bounded by MAX_BLUR_TAPS; `sigma_y` (default
    `sigma_x`) across the axis rotated by `theta` degrees: anisotropic when the two differ."""
    sigma_y = sigma_x if sigma_y is None else sigma_y
    size = min(MAX_BLUR_TAPS, 2 * math.ceil(3 * max(sigma_x, sigma_y)) + 1)
    r = torch.arange(size, dtype=torch.float64) - size // 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    c, s = math.cos(math.radians(theta)), math.sin(math.radians(theta))
    u, v = c * x + s * y, -s * x + c * y
    k = torch.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return k / k.sum()


def blur(images: Tensor, sigma: float, sigma2: float | None = None, theta: float = 0.0) -> Tensor:
    """Gaussian blur of (..., H, W) with replicated borders (`gaussian_kernel2d`); σ = 0 returns the input."""
    if sigma <= 0:
        return images
    k = gaussian_kernel2d(sigma, sigma2, theta).to(images)
    shape = images.shape
    flat = images.reshape(-1, 1, *shape[-2:])
    r = k.shape[-1] // 2
    flat = F.conv2d(F.pad(flat, (r, r, r, r), mode="replicate"), k[None, None])
    return flat.reshape(shape)


def resize_down(images: Tensor, scale: int, mode: str = "bicubic") -> Tensor:
    """×1/scale of (..., H, W) after modcrop: 'bicubic' (MATLAB, antialiased, as BI), 'bilinear' (antialiased
    triangle) or 'area' (box average). Not rounded."""
    hr = modcrop(images, scale).float()
    size = (hr.shape[-2] // scale, hr.shape[-1] // scale)
    if mode == "bicubic":
        return imresize(hr, size=size)
    flat = hr.reshape(-1, 1, *hr.shape[-2:])
    if mode == "area":
        flat = F.avg_pool2d(flat, scale)
    else:
        flat = F.interpolate(flat, size=size, mode="bilinear", antialias=True, align_corners=False)
    return flat.reshape(*hr.shape[:-2], *size)


def add_noise(images: Tensor, sigma: float, *, kind: str = "gauss", grey: bool = False,
              generator: torch.Generator | None = None) -> Tensor:
    """Noise of standard deviation `sigma` in 8-bit levels on (..., 3, H, W): 'gauss' (signal-independent) or
    'poisson' (shot noise whose deviation is `sigma` at mid grey and grows with the square root of the signal).
    `grey`: one noise field for the three channels (luminance noise), else independent per channel. Not clipped."""
    if sigma <= 0:
        return images
    shape = (*images.shape[:-3], 1, *images.shape[-2:]) if grey else images.shape
    normal = torch.randn(shape, generator=generator, dtype=torch.float32).to(images)
    if kind == "gauss":
        return images + normal * (sigma / 255)
    # Poisson through its normal approximation (exact enough above a few photons, and reproducible from one draw):
    # variance x / peak, with peak set so that x = 0.5 has deviation sigma levels.
    peak = 0.5 / (sigma / 255) ** 2
    return images + normal * (images.clamp(min=0) / peak).sqrt()
