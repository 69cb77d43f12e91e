"""The standard downscaling kernels and temporal subsampling (pure functions on float tensors).

- BI: MATLAB bicubic downscaling (antialiased), after cropping H and W to multiples of the scale (modcrop).
- BD: Gaussian blur 13×13 with σ = 0.4·scale (1.6 for ×4), then keeping every scale-th pixel from the first.
- blur3_bicubic: Gaussian blur σ = 3 then bicubic ×1/scale (the 2D+3D report's degradation).
- temporal: keep every other frame, 0-based even indices, for ×2 frame-rate tasks.
All return float32 images rounded to the 8-bit grid (`quantize=True`), since datasets store LR frames as 8-bit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..ops.color import quantize as to_8bit
from ..ops.filters import gaussian_blur
from ..ops.resize import imresize


def modcrop(images: Tensor, scale: int) -> Tensor:
    """Crop (..., H, W) to the largest multiple of `scale` in each dimension (top-left kept, as MATLAB modcrop)."""
    h, w = images.shape[-2:]
    return images[..., : h - h % scale, : w - w % scale]


def bicubic_down(images: Tensor, scale: int, *, quantize: bool = True) -> Tensor:
    """BI degradation of float images (..., H, W) in [0, 1]: modcrop then MATLAB imresize by 1/scale."""
    hr = modcrop(images, scale)
    lr = imresize(hr.float(), size=(hr.shape[-2] // scale, hr.shape[-1] // scale))
    return to_8bit(lr) if quantize else lr


def blur_down(images: Tensor, scale: int, *, sigma: float | None = None, quantize: bool = True) -> Tensor:
    """BD degradation: 13×13 Gaussian blur (σ = 0.4·scale unless given), replicate borders, keep every scale-th pixel."""
    hr = modcrop(images, scale).float()
    blurred = gaussian_blur(hr, 13, sigma if sigma is not None else 0.4 * scale)
    lr = blurred[..., ::scale, ::scale]
    return to_8bit(lr) if quantize else lr


def blur3_bicubic_down(images: Tensor, scale: int = 2, *, quantize: bool = True) -> Tensor:
    """Gaussian blur σ = 3 (kernel 2·⌈3σ⌉+1 = 19 taps) then bicubic ×1/scale, as the 2D+3D video SR report."""
    hr = modcrop(images, scale).float()
    blurred = gaussian_blur(hr, 19, 3.0)
    lr = imresize(blurred, size=(hr.shape[-2] // scale, hr.shape[-1] // scale))
    return to_8bit(lr) if quantize else lr


def keep_even_frames(frames: Tensor, *, dim: int = -4) -> Tensor:
    """Temporal ×1/2: frames 0, 2, 4, ... along `dim` (default: T of (…, T, C, H, W))."""
    return frames.index_select(dim, torch.arange(0, frames.shape[dim], 2, device=frames.device))


DOWNSCALERS: dict[str, Callable[..., Tensor]] = {"BI": bicubic_down, "BD": blur_down,
                                                  "blur3_bicubic": blur3_bicubic_down}
