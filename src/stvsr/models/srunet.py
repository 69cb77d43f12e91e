"""SR-U-Net (the U-Net/GAN report): a U-Net whose contracting path takes the low-resolution frame and whose
expanding path goes one step further than it came down, to the ×2 output; ×4 takes two such extra steps."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..ops.resize import imresize
from .base import SpatialModel
from .layers import conv
from .registry import register_model


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(conv(c_in, c_out), nn.ReLU(inplace=True), conv(c_out, c_out), nn.ReLU(inplace=True))


class SRUNet(SpatialModel):
    """(M, 3, H, W) -> (M, 3, sH, sW). Down: `depth` max-pool levels of double convolutions; up: transposed
    convolutions with skip concatenation back to the input size, then log2(s) more transposed-conv steps without
    skips (there is no encoder level at the output size). The output is added to a bicubic upscale."""

    def __init__(self, *, scale: int = 2, features: int = 32, depth: int = 3):
        super().__init__()
        if scale & (scale - 1):
            raise ValueError("SR-U-Net upscales by powers of two")
        self.scale, self.depth = scale, depth
        widths = [features * 2 ** i for i in range(depth + 1)]
        self.enc = nn.ModuleList([_double_conv(3, widths[0])] +
                                 [_double_conv(widths[i], widths[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth)))
        self.dec = nn.ModuleList(_double_conv(widths[i] * 2, widths[i]) for i in reversed(range(depth)))
        extra = int(math.log2(scale))
        self.beyond = nn.Sequential(*[m for _ in range(extra) for m in
                                      (nn.ConvTranspose2d(widths[0], widths[0], 2, stride=2), nn.ReLU(inplace=True),
                                       conv(widths[0], widths[0]), nn.ReLU(inplace=True))])
        self.out = conv(widths[0], 3)

    def upscale_frames(self, frames: Tensor) -> Tensor:
        h, w = frames.shape[-2:]
        m = 2 ** self.depth
        x = nn.functional.pad(frames, (0, -w % m, 0, -h % m), mode="replicate")
        skips = [self.enc[0](x)]
        for enc in self.enc[1:]:
            skips.append(enc(nn.functional.max_pool2d(skips[-1], 2)))
        y = skips.pop()
        for up, dec in zip(self.up, self.dec):
            y = dec(torch.cat([up(y), skips.pop()], dim=1))
        y = self.out(self.beyond(y))[..., : h * self.scale, : w * self.scale]
        return imresize(frames, self.scale) + y


@register_model("srunet", task="sr", description="SR-U-Net: U-Net whose expanding path goes past the input size")
def srunet(*, scale: int = 2, features: int = 32, depth: int = 3) -> SRUNet:
    return SRUNet(scale=scale, features=features, depth=depth)


@register_model("srunet_tiny", task="sr", description="SR-U-Net, tiny variant for tests")
def srunet_tiny(*, scale: int = 2) -> SRUNet:
    return SRUNet(scale=scale, features=4, depth=2)
