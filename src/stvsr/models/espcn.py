"""ESPCN (Shi et al., CVPR 2016): features at low resolution, one sub-pixel convolution to the output."""

from __future__ import annotations

from torch import Tensor, nn

from .base import SpatialModel
from .layers import conv
from .registry import register_model


class ESPCN(SpatialModel):
    """(M, 3, H, W) in [0, 1] -> (M, 3, sH, sW). 5×5 and 3×3 convolutions with tanh, then pixel shuffle."""

    def __init__(self, *, scale: int = 4, features: int = 64):
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(conv(3, features, 5), nn.Tanh(), conv(features, features // 2), nn.Tanh(),
                                  conv(features // 2, 3 * scale * scale), nn.PixelShuffle(scale))

    def upscale_frames(self, frames: Tensor) -> Tensor:
        return self.body(frames)


@register_model("espcn", task="sr", description="ESPCN: sub-pixel convolution SR (Shi et al. 2016)")
def espcn(*, scale: int = 4, features: int = 64) -> ESPCN:
    return ESPCN(scale=scale, features=features)


@register_model("espcn_tiny", task="sr", description="ESPCN, tiny variant for tests")
def espcn_tiny(*, scale: int = 4) -> ESPCN:
    return ESPCN(scale=scale, features=8)
