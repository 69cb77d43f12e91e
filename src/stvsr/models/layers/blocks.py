"""Convolutional blocks: residual blocks, IMDN's distillation block and contrast-aware attention, pixel-shuffle
upsampling, a configurable U-Net, the feature-shuffling operator and the 2D+3D report's modified sigmoid."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def conv(c_in: int, c_out: int, kernel: int = 3, *, dilation: int = 1, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    """A 'same'-padded 2-D convolution."""
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=dilation * (kernel // 2), dilation=dilation,
                     bias=bias)


class ResBlock(nn.Module):
    """conv-act-conv with an identity skip (EDSR style, no normalisation unless `norm`), scaled by `res_scale`."""

    def __init__(self, channels: int, *, kernel: int = 3, act: str = "relu", norm: bool = False,
                 res_scale: float = 1.0):
        super().__init__()
        layers: list[nn.Module] = [conv(channels, channels, kernel, bias=not norm)]
        if norm:
            layers.append(nn.BatchNorm2d(channels))
        layers.append(nn.PReLU(channels) if act == "prelu" else nn.LeakyReLU(0.2, inplace=True)
                      if act == "lrelu" else nn.ReLU(inplace=True))
        layers.append(conv(channels, channels, kernel, bias=not norm))
        if norm:
            layers.append(nn.BatchNorm2d(channels))
        self.body = nn.Sequential(*layers)
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x) * self.res_scale


class CCALayer(nn.Module):
    """Contrast-aware channel attention (IMDN, Hui et al. ACM MM 2019, Sec. 3.2): weights channels by their
    standard deviation plus mean, through a 1×1 bottleneck and a sigmoid."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, channels, 1), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = (x - mean).square().mean(dim=(2, 3), keepdim=True).sqrt()
        return x * self.mlp(std + mean)


class IMDModule(nn.Module):
    """Information multi-distillation block (IMDN Fig. 2): three steps each keep a quarter of the channels
    ("distilled") and refine the rest; the four distilled parts are concatenated, attended (CCA) and fused by a
    1×1 convolution, plus the block's input."""

    def __init__(self, channels: int, distill: float = 0.25):
        super().__init__()
        self.kept = int(channels * distill)
        self.rest = channels - self.kept
        self.c1 = conv(channels, channels)
        self.c2 = conv(self.rest, channels)
        self.c3 = conv(self.rest, channels)
        self.c4 = conv(self.rest, self.kept)
        self.act = nn.LeakyReLU(0.05, inplace=True)
        self.cca = CCALayer(self.kept * 4)
        self.fuse = nn.Conv2d(self.kept * 4, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        d1, r1 = torch.split(self.act(self.c1(x)), (self.kept, self.rest), dim=1)
        d2, r2 = torch.split(self.act(self.c2(r1)), (self.kept, self.rest), dim=1)
        d3, r3 = torch.split(self.act(self.c3(r2)), (self.kept, self.rest), dim=1)
        d4 = self.c4(r3)
        return self.fuse(self.cca(torch.cat([d1, d2, d3, d4], dim=1))) + x


class PixelShuffleUpsampler(nn.Sequential):
    """Sub-pixel convolution (Shi et al., CVPR 2016): ×2 steps for powers of two, one ×3 step for 3."""

    def __init__(self, channels: int, scale: int, out_channels: int | None = None, *, act: bool = False):
        layers: list[nn.Module] = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [conv(channels, channels * 4), nn.PixelShuffle(2)]
                if act:
                    layers.append(nn.PReLU(channels))
        elif scale == 3:
            layers += [conv(channels, channels * 9), nn.PixelShuffle(3)]
            if act:
                layers.append(nn.PReLU(channels))
        else:
            raise ValueError(f"scale {scale} is not supported (use 1, 2, 3, 4 or 8)")
        if out_channels is not None:
            layers.append(conv(channels, out_channels))
        super().__init__(*layers)


class ResizeConvUpsampler(nn.Sequential):
    """Nearest-neighbour ×2 steps each followed by a 3×3 convolution (Odena et al. 2016, "resize-convolution"):
    every output pixel of a step is made by the same kernel, not by one of p² separate sub-pixel kernels, so the
    per-phase pattern at the upsampling period (the checkerboard an adversarial loss amplifies) is far weaker; only
    the nearest-neighbour blocks remain, which the convolutions learn to smooth."""

    def __init__(self, channels: int, scale: int, *, act: bool = False):
        if scale & (scale - 1):
            raise ValueError(f"resize-convolution upsamples by powers of two, not {scale}")
        layers: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), conv(channels, channels)]
            if act:
                layers.append(nn.PReLU(channels))
        super().__init__(*layers)


class UNet(nn.Module):
    """A U-Net: `depth` levels down (stride-2 conv) and up (transposed conv), skip connections by concatenation,
    `blocks` residual blocks per level on both paths and `bottleneck` more at the bottom, `head`/`tail` kernel sizes. Input sizes need not be
    multiples of 2^depth: the input is padded by replication and the output cropped back."""

    def __init__(self, c_in: int, c_out: int, *, features: int = 32, depth: int = 4, blocks: int = 1,
                 bottleneck: int = 0, head: int = 3, tail: int = 3, max_features: int = 256):
        super().__init__()
        widths = [min(features * 2 ** i, max_features) for i in range(depth + 1)]
        self.depth = depth
        self.head = nn.Sequential(conv(c_in, widths[0], head), nn.LeakyReLU(0.2, inplace=True))
        self.down = nn.ModuleList()
        self.enc = nn.ModuleList()
        for i in range(depth):
            self.down.append(nn.Sequential(conv(widths[i], widths[i + 1], 3, stride=2), nn.LeakyReLU(0.2, True)))
            self.enc.append(nn.Sequential(*[ResBlock(widths[i + 1], act="lrelu") for _ in range(blocks)]))
        self.bottleneck = nn.Sequential(*[ResBlock(widths[depth], act="lrelu") for _ in range(bottleneck)])
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(depth)):
            self.up.append(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2))
            self.dec.append(nn.Sequential(conv(widths[i] * 2, widths[i], 1),
                                          *[ResBlock(widths[i], act="lrelu") for _ in range(blocks)]))
        self.tail = conv(widths[0], c_out, tail)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = 2 ** self.depth
        x = nn.functional.pad(x, (0, -w % m, 0, -h % m), mode="replicate")
        skips = [self.head(x)]
        for down, enc in zip(self.down, self.enc):
            skips.append(enc(down(skips[-1])))
        y = self.bottleneck(skips.pop())
        for up, dec in zip(self.up, self.dec):
            y = dec(torch.cat([up(y), skips.pop()], dim=1))
        return self.tail(y)[..., :h, :w]


def feature_shuffle(x: Tensor, factor: int = 2) -> Tensor:
    """(N, C·r, H, W) -> (N, C, H, W·r): pixel shuffle along the width only (the temporal-profile network's
    feature-shuffling operator: doubles width, halves channels)."""
    n, c, h, w = x.shape
    if c % factor:
        raise ValueError(f"channels {c} not divisible by {factor}")
    return x.view(n, c // factor, factor, h, w).permute(0, 1, 3, 4, 2).reshape(n, c // factor, h, w * factor)


def feature_unshuffle(x: Tensor, factor: int = 2) -> Tensor:
    """Exact inverse of `feature_shuffle`: (N, C, H, W·r) -> (N, C·r, H, W)."""
    n, c, h, w = x.shape
    if w % factor:
        raise ValueError(f"width {w} not divisible by {factor}")
    return x.view(n, c, h, w // factor, factor).permute(0, 1, 4, 2, 3).reshape(n, c * factor, h, w // factor)


def modified_sigmoid(x: Tensor, low: float = 0.0, high: float = 1.0) -> Tensor:
    """S(x) = (MAX − MIN)·sigmoid(x / 100) + MIN, the 2D+3D report's output layer."""
    return (high - low) * torch.sigmoid(x / 100) + low
