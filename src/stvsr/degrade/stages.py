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
    return resize_to(hr, (hr.shape[-2] // scale, hr.shape[-1] // scale), mode)


def resize_to(images: Tensor, size: tuple[int, int], mode: str = "bicubic") -> Tensor:
    """(..., H, W) resized to `size`, down or up, by `resize_down`'s modes ('area' averages the input pixels each
    output pixel covers). Not rounded."""
    if mode == "bicubic":
        return imresize(images.float(), size=size)
    flat = images.float().reshape(-1, 1, *images.shape[-2:])
    if mode == "area":
        flat = F.adaptive_avg_pool2d(flat, size)  # the box average; exact pooling where the sizes divide
    else:
        flat = F.interpolate(flat, size=size, mode="bilinear", antialias=True, align_corners=False)
    return flat.reshape(*images.shape[:-2], *size)


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


# Real-ESRGAN's high-order degradation (Wang et al., ICCVW 2021), its published ranges for the x4 model: two rounds
# of blur, random resize and noise, a JPEG between them, then the resize to the low-resolution size. Kept to the
# chain's Gaussian kernels (its generalised-Gaussian, plateau and sinc kernels are left out), and its Poisson scale
# s mapped to this module's `sigma` at mid grey: 8-bit Poisson noise of scale s has a deviation of 11.3·s levels.
SECOND_ORDER = (
    # (chance of the blur, blur σ range, resize chances up / down / keep, resize factor range, noise σ range,
    #  Poisson scale range)
    (1.0, (0.2, 3.0), (0.2, 0.7, 0.1), (0.15, 1.5), (1.0, 30.0), (0.05, 3.0)),
    (0.8, (0.2, 1.5), (0.3, 0.4, 0.3), (0.3, 1.2), (1.0, 25.0), (0.05, 2.5)),
)
SECOND_ORDER_JPEG = (30, 95)  # the first round's JPEG quality
_POISSON_LEVELS = 11.3  # deviation in levels of 8-bit Poisson noise of scale 1 at mid grey: √(0.5·256)


def second_order(images: Tensor, scale: int, rng) -> Tensor:
    """Real-ESRGAN's two-round degradation of ground truth (..., 3, H, W) to ×1/scale (after modcrop), with every
    draw from `rng` (a numpy Generator) once per call, so all the frames of a clip share a kernel, sizes and noise
    level (the noise itself is drawn per pixel). Not rounded: the chain's later stages (e.g. `jpeg`, a codec) and
    its final rounding follow."""
    from ..io.compress import jpeg_roundtrip  # OpenCV

    x = modcrop(images, scale).float()
    target = (x.shape[-2] // scale, x.shape[-1] // scale)
    for round_, (blur_p, sigmas, resize_p, factors, noise, poisson) in enumerate(SECOND_ORDER):
        if rng.random() < blur_p:
            sigma, sigma2 = rng.uniform(*sigmas), rng.uniform(*sigmas)
            x = blur(x, sigma, sigma2 if rng.random() < 0.5 else sigma, rng.uniform(-180, 180))  # iso or aniso
        way = rng.choice(3, p=resize_p)
        factor = rng.uniform(1.0, factors[1]) if way == 0 else rng.uniform(factors[0], 1.0) if way == 1 else 1.0
        base = x.shape[-2:] if round_ == 0 else target  # the second round resizes around the target size
        size = tuple(max(2, int(n * factor)) for n in base)
        x = resize_to(x, size, str(rng.choice(("area", "bilinear", "bicubic"))))
        generator = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
        grey = rng.random() < 0.4
        if rng.random() < 0.5:
            x = add_noise(x, rng.uniform(*noise), grey=grey, generator=generator)
        else:
            x = add_noise(x, _POISSON_LEVELS * rng.uniform(*poisson), kind="poisson", grey=grey, generator=generator)
        x = x.clamp(0, 1)  # as Real-ESRGAN, after each round's noise
        if round_ == 0:
            x = jpeg_roundtrip(x, quality=int(rng.integers(SECOND_ORDER_JPEG[0], SECOND_ORDER_JPEG[1] + 1)))
    return resize_to(x, target, str(rng.choice(("area", "bilinear", "bicubic"))))
