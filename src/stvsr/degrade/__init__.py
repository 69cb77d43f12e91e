"""How low-resolution, low-frame-rate inputs are made from ground truth (pure functions on float tensors).

- `resample`: the standard kernels. BI (MATLAB bicubic, antialiased, after modcrop), BD (Gaussian 13×13,
  σ = 0.4·scale, then every scale-th pixel), blur3_bicubic (the 2D+3D report's), and temporal ×1/2.
- `stages`: anisotropic blur, bilinear/area resizing, Gaussian and Poisson noise.
- `protocol`: chains of them with JPEG and real video codecs, written as one string (`BI+h264:crf=26`), fixed for
  evaluation or drawn per clip for training.
All return float32 images rounded to the 8-bit grid, since datasets and decoders hand LR frames over as 8-bit.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .protocol import Protocol, parse_protocol

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor

# The kernels load on first use (PEP 562): parsing a protocol, which configs do before anything else, needs no torch.
_LAZY = {name: "resample" for name in ("DOWNSCALERS", "bicubic_down", "blur3_bicubic_down", "blur_down",
                                       "keep_even_frames", "modcrop")}


def degrade(images: Tensor, protocol: str, scale: int, rng: np.random.Generator | None = None) -> Tensor:
    """Apply the degradation `protocol` ('BI', 'BD', 'BI+h264:crf=26', ... see `protocol`) to ground truth
    (..., T, 3, H, W) or (3, H, W) in [0, 1]: ×1/scale, on the 8-bit grid."""
    return parse_protocol(protocol).apply(images, scale, rng)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'stvsr.degrade' has no attribute {name!r}")
    return getattr(import_module(f".{_LAZY[name]}", __name__), name)


__all__ = ["DOWNSCALERS", "Protocol", "bicubic_down", "blur3_bicubic_down", "blur_down", "degrade",
           "keep_even_frames", "modcrop", "parse_protocol"]
