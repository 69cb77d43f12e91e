"""IMDN (Hui et al., ACM MM 2019): information multi-distillation blocks with contrast-aware channel attention.

Also the backbone the temporal-profile network applies to H×T profile images (`IMDNBackbone`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..ops.resize import imresize
from .base import SpatialModel
from .layers import IMDModule, conv
from .registry import register_model


class IMDNBackbone(nn.Module):
    """Feature extraction, `blocks` IMD modules whose outputs are concatenated and fused, a global skip, and a
    sub-pixel upsampler by (sy, sx) in height and width (sx may differ, e.g. for profiles: ×2 in H only)."""

    def __init__(self, *, c_in: int = 3, c_out: int = 3, features: int = 64, blocks: int = 6,
                 scale: tuple[int, int] = (4, 4)):
        super().__init__()
        self.head = conv(c_in, features)
        self.blocks = nn.ModuleList(IMDModule(features) for _ in range(blocks))
        self.fuse = nn.Sequential(nn.Conv2d(features * blocks, features, 1), nn.LeakyReLU(0.05, inplace=True),
                                  conv(features, features))
        sy, sx = scale
        self.scale = scale
        self.up = nn.Sequential(conv(features, c_out * sy * sx), _Shuffle2d(sy, sx))

    def forward(self, x: Tensor) -> Tensor:
        head = self.head(x)
        outs, y = [], head
        for block in self.blocks:
            y = block(y)
            outs.append(y)
        return self.up(self.fuse(torch.cat(outs, dim=1)) + head)


class _Shuffle2d(nn.Module):
    """Pixel shuffle with separate factors for height and width: (N, C·sy·sx, H, W) -> (N, C, sy·H, sx·W)."""

    def __init__(self, sy: int, sx: int):
        super().__init__()
        self.sy, self.sx = sy, sx

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        c_out = c // (self.sy * self.sx)
        x = x.view(n, c_out, self.sy, self.sx, h, w).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(n, c_out, h * self.sy, w * self.sx)


class IMDN(SpatialModel):
    """(M, 3, H, W) -> (M, 3, sH, sW); the network adds detail to a bicubic upscale (residual learning)."""

    def __init__(self, *, scale: int = 4, features: int = 64, blocks: int = 6):
        super().__init__()
        self.scale = scale
        self.net = IMDNBackbone(features=features, blocks=blocks, scale=(scale, scale))

    def upscale_frames(self, frames: Tensor) -> Tensor:
        return imresize(frames, self.scale) + self.net(frames)


@register_model("imdn", task="sr", description="IMDN: information multi-distillation network (Hui et al. 2019)")
def imdn(*, scale: int = 4, features: int = 64, blocks: int = 6) -> IMDN:
    return IMDN(scale=scale, features=features, blocks=blocks)


@register_model("imdn_tiny", task="sr", description="IMDN, tiny variant for tests")
def imdn_tiny(*, scale: int = 4) -> IMDN:
    return IMDN(scale=scale, features=8, blocks=2)

