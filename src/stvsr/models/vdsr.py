"""VDSR (Kim et al., CVPR 2016): a deep plain CNN on the bicubic-upscaled frame, learning the residual."""

from __future__ import annotations

from torch import Tensor, nn

from ..ops.resize import imresize
from .base import SpatialModel
from .layers import conv
from .registry import register_model


class VDSR(SpatialModel):
    """(M, 3, H, W) -> (M, 3, sH, sW): bicubic ×s, then `depth` 3×3 convolutions with ReLU add the residual."""

    def __init__(self, *, scale: int = 4, depth: int = 20, features: int = 64):
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [conv(3, features), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [conv(features, features), nn.ReLU(inplace=True)]
        layers.append(conv(features, 3))
        self.body = nn.Sequential(*layers)

    def upscale_frames(self, frames: Tensor) -> Tensor:
        up = imresize(frames, self.scale)
        return up + self.body(up)


@register_model("vdsr", task="sr", description="VDSR: 20-layer residual CNN over bicubic (Kim et al. 2016)")
def vdsr(*, scale: int = 4, depth: int = 20, features: int = 64) -> VDSR:
    return VDSR(scale=scale, depth=depth, features=features)


@register_model("vdsr_tiny", task="sr", description="VDSR, tiny variant for tests")
def vdsr_tiny(*, scale: int = 4) -> VDSR:
    return VDSR(scale=scale, depth=3, features=8)
