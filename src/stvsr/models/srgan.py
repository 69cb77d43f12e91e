"""SRGAN (Ledig et al., CVPR 2017): the SRResNet generator and the discriminator it is trained against."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..ops.resize import imresize
from .base import SpatialModel
from .layers import PixelShuffleUpsampler, ResBlock, ResizeConvUpsampler, conv
from .registry import register_model


class SRResNet(SpatialModel):
    """(M, 3, H, W) -> (M, 3, sH, sW): 9×9 head with PReLU, `blocks` residual blocks (conv-BN-PReLU-conv-BN),
    a long skip, ×2 steps with PReLU, a 9×9 tail. `upsampler`: 'pixelshuffle' (sub-pixel convolution, the
    paper's) or 'resize' (nearest ×2 + conv: no pattern at the upsampling period for a critic to amplify).
    `residual=True` adds the output to a bicubic upscale of the input, as VDSR, SR-U-Net and IMDN here do: the paper's
    SRResNet predicts the whole image, and at this CPU budget that is most of what it learns (32 × 8 from scratch:
    35.90 dB on dev after 2000 steps against bicubic's 35.19; with a new upsampler under a trained trunk, 35.25
    after 800)."""

    def __init__(self, *, scale: int = 4, features: int = 64, blocks: int = 16, upsampler: str = "pixelshuffle",
                 residual: bool = False):
        super().__init__()
        if upsampler not in ("pixelshuffle", "resize"):
            raise ValueError(f"upsampler must be 'pixelshuffle' or 'resize', not {upsampler!r}")
        self.scale, self.residual = scale, residual
        self.head = nn.Sequential(conv(3, features, 9), nn.PReLU(features))
        self.body = nn.Sequential(*[ResBlock(features, act="prelu", norm=True) for _ in range(blocks)],
                                  conv(features, features, bias=False), nn.BatchNorm2d(features))
        self.up = (PixelShuffleUpsampler if upsampler == "pixelshuffle" else ResizeConvUpsampler)(features, scale,
                                                                                                 act=True)
        self.tail = conv(features, 3, 9)
        if residual:  # start as bicubic: a zero correction
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def upscale_frames(self, frames: Tensor) -> Tensor:
        head = self.head(frames)
        out = self.tail(self.up(head + self.body(head)))
        return imresize(frames, self.scale) + out if self.residual else out


class Discriminator(nn.Module):
    """(M, 3, H, W) in [0, 1] -> (M,) logits that the frame is real high-resolution (sigmoid for a probability).

    Eight 3×3 conv-BN-LeakyReLU layers (64 → 512 channels, stride 2 every other), then a dense 1024 and 1. An
    adaptive average pool before the dense layers lets it take any crop size (the paper fixes 96×96).
    `antialias=True` blurs before each stride-2 convolution, as StyleGAN2's discriminator does: a bare stride-2
    convolution sends the generator gradients with a period-2 pattern, and the SR-U-Net GAN at ×2 learned one.
    """

    def __init__(self, *, features: int = 64, antialias: bool = False):
        super().__init__()
        layers: list[nn.Module] = [conv(3, features), nn.LeakyReLU(0.2, inplace=True)]
        c = features
        for i, width in enumerate([features, features * 2, features * 2, features * 4, features * 4,
                                   features * 8, features * 8]):
            stride = 1 if i % 2 else 2
            if stride == 2 and antialias:
                layers.append(BinomialBlur(c))
            layers += [conv(c, width, stride=stride, bias=False), nn.BatchNorm2d(width),
                       nn.LeakyReLU(0.2, inplace=True)]
            c = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(6))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * 36, features * 16), nn.LeakyReLU(0.2, inplace=True),
                                  nn.Linear(features * 16, 1))

    def forward(self, frames: Tensor) -> Tensor:
        return self.head(self.features(frames * 2 - 1))[:, 0]

    def activations(self, frames: Tensor) -> list[Tensor]:
        """The output of each conv layer's LeakyReLU, first to last (the `feature_matching` loss's features)."""
        return critic_activations(self.features, frames)


class BinomialBlur(nn.Module):
    """A fixed 3×3 binomial ([1, 2, 1] ⊗ [1, 2, 1] / 16) low-pass per channel, size-preserving: zero response at
    the period-2 frequencies. Written here rather than taken from kornia (BlurPool2D): one fixed filter is not
    worth a dependency."""

    def __init__(self, channels: int):
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = (taps[:, None] * taps[None, :]) / 16
        # a constant: not saved with the weights
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).contiguous(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        return nn.functional.conv2d(x, self.kernel.to(x.dtype), groups=x.shape[1])


def critic_activations(layers: nn.Sequential, frames: Tensor) -> list[Tensor]:
    """Frames (M, 3, H, W) in [0, 1] through a discriminator's `features` (or its first layers), scaled to [-1, 1]
    as the discriminator takes them: the output of each LeakyReLU."""
    x, out = frames * 2 - 1, []
    for module in layers:
        x = module(x)
        if isinstance(module, nn.LeakyReLU):
            out.append(x)
    return out


@register_model("srresnet", task="sr", description="SRResNet: the SRGAN generator (train with MSE, VGG or GAN loss)")
def srresnet(*, scale: int = 4, features: int = 64, blocks: int = 16, upsampler: str = "pixelshuffle",
             residual: bool = False) -> SRResNet:
    return SRResNet(scale=scale, features=features, blocks=blocks, upsampler=upsampler, residual=residual)


@register_model("srresnet_tiny", task="sr", description="SRResNet, tiny variant for tests")
def srresnet_tiny(*, scale: int = 4) -> SRResNet:
    return SRResNet(scale=scale, features=8, blocks=2)


@register_model("srgan_discriminator", task="critic", description="SRGAN discriminator: P(frame is real HR)")
def srgan_discriminator(*, features: int = 64, antialias: bool = False) -> Discriminator:
    return Discriminator(features=features, antialias=antialias)


@register_model("srgan_discriminator_tiny", task="critic", description="SRGAN discriminator, tiny, for tests")
def srgan_discriminator_tiny() -> Discriminator:
    return Discriminator(features=4)
