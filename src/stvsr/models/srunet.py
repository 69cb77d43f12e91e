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
    skips (there is no encoder level at the output size). The output is added to a bicubic upscale.
    `upsampler`: 'transposed' (the report's 2×2 stride-2 transposed convolutions for the steps past the input size)
    or 'resize' (nearest ×2 + 3×3 conv, Odena et al. 2016): a 2×2 stride-2 transposed convolution has one kernel per
    output phase, free to disagree, and a perceptual loss turned that freedom into a period-2 pattern at ×2
    (docs/experiments/per-frame-and-multi-frame.md); or 'bilinear' (bilinear ×2 + 3×3 conv): nearest-neighbour blocks still carry
    period-2 power for an adversary to amplify, a bilinear step has none. `adapt_init` starts a 'resize' or
    'bilinear' model from 'transposed' weights."""

    def __init__(self, *, scale: int = 2, features: int = 32, depth: int = 3, upsampler: str = "transposed"):
        super().__init__()
        if scale & (scale - 1):
            raise ValueError("SR-U-Net upscales by powers of two")
        if upsampler not in ("transposed", "resize", "bilinear"):
            raise ValueError(f"upsampler must be 'transposed', 'resize' or 'bilinear', not {upsampler!r}")
        self.scale, self.depth, self.upsampler = scale, depth, upsampler
        widths = [features * 2 ** i for i in range(depth + 1)]
        self.enc = nn.ModuleList([_double_conv(3, widths[0])] +
                                 [_double_conv(widths[i], widths[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth)))
        self.dec = nn.ModuleList(_double_conv(widths[i] * 2, widths[i]) for i in reversed(range(depth)))
        extra = int(math.log2(scale))

        def step_up() -> nn.Module:
            if upsampler == "transposed":
                return nn.ConvTranspose2d(widths[0], widths[0], 2, stride=2)
            return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest" if upsampler == "resize" else "bilinear"),
                                 conv(widths[0], widths[0]))

        self.beyond = nn.Sequential(*[m for _ in range(extra) for m in
                                      (step_up(), nn.ReLU(inplace=True), conv(widths[0], widths[0]),
                                       nn.ReLU(inplace=True))])
        self.out = conv(widths[0], 3)

    def adapt_init(self, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        """Starting weights of the other upsampler made to fit: a transposed step's four phase kernels (C_in, C_out,
        2, 2) become the centre tap of the resize (or bilinear) step's 3×3 conv, their mean. That is the transposed step with the
        phases' disagreement, i.e. the period-2 pattern, taken out; training recovers the rest."""
        if self.upsampler == "transposed":
            return tensors
        out = dict(tensors)
        for i in range(0, len(self.beyond), 4):
            weight, bias = out.pop(f"beyond.{i}.weight", None), out.pop(f"beyond.{i}.bias", None)
            if weight is None or weight.dim() != 4 or weight.shape[-2:] != (2, 2):
                continue
            kernel = torch.zeros(weight.shape[1], weight.shape[0], 3, 3, dtype=weight.dtype)
            kernel[:, :, 1, 1] = weight.mean(dim=(-2, -1)).t()
            out[f"beyond.{i}.1.weight"] = kernel
            if bias is not None:
                out[f"beyond.{i}.1.bias"] = bias
        return out

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
def srunet(*, scale: int = 2, features: int = 32, depth: int = 3, upsampler: str = "transposed") -> SRUNet:
    return SRUNet(scale=scale, features=features, depth=depth, upsampler=upsampler)


@register_model("srunet_tiny", task="sr", description="SR-U-Net, tiny variant for tests")
def srunet_tiny(*, scale: int = 2) -> SRUNet:
    return SRUNet(scale=scale, features=4, depth=2)
