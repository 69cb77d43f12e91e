"""Multi-frame video SR with 2D CNNs per frame feeding a 3D CNN (the 2D+3D report): "5-parallel" and "Delta".

Both take five low-resolution frames and predict the centre one. The report trains them on frames blurred
(Gaussian σ = 3) and bicubic-downscaled ×2 (`degrade.blur3_bicubic_down`).

Training stages (`stages()`): `centre` is the centre frame of a (2r + 1)-frame clip alone (what `forward` computes
for every frame of a longer clip), `frames2d` each frame's own estimate from its 2D layers alone, through a small
head used only by the report's auxiliary 2D loss (`mse@frames2d`): it asks the per-frame layers to carry an image
of their frame, not only whatever helps the 3D part.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..ops.resize import imresize
from .base import CentreFrameVSR
from .layers import conv, modified_sigmoid
from .registry import register_model


class Float32Conv3d(nn.Conv3d):
    """nn.Conv3d that always runs in float32: on the CPU, torch 2.13's bf16 backward of a 3x3x3 convolution
    corrupts the heap ("double free or corruption", the process aborts; measured), so under bf16 autocast these
    layers step out of it. The 2D layers, most of the compute of Delta, still run in bf16."""

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.float())


class Recursive2d(nn.Module):
    """One 3×3 convolution applied `times` times with shared weights, plus the block's input (DRCN-style)."""

    def __init__(self, channels: int, times: int):
        super().__init__()
        self.conv, self.times = conv(channels, channels), times

    def forward(self, x: Tensor) -> Tensor:
        y = x
        for _ in range(self.times):
            y = torch.relu(self.conv(y))
        return x + y


class Recursive3d(nn.Module):
    """A 3×3×3 convolution applied `times` times with shared weights, plus the block's input."""

    def __init__(self, channels: int, times: int):
        super().__init__()
        self.conv, self.times = Float32Conv3d(channels, channels, 3, padding=1), times

    def forward(self, x: Tensor) -> Tensor:
        y = x
        for _ in range(self.times):
            y = torch.relu(self.conv(y))
        return x + y


class TwoDThreeD(CentreFrameVSR):
    """What 5-parallel and Delta share: the training stages of the auxiliary 2D loss."""

    STAGES = ("frames2d", "centre")

    def stages(self, clip: Tensor, *, until: str = "centre") -> dict[str, Tensor]:
        """`clip` (N, 2r + 1, 3, h, w): {"frames2d": (N, 2r + 1, 3, sh, sw), "centre": (N, 1, 3, sh, sw)}."""
        self.check_clip(clip)
        if clip.shape[1] != 2 * self.radius + 1:
            raise ValueError(f"stages() takes clips of {2 * self.radius + 1} frames, got {clip.shape[1]}")
        centre, per_frame = self._predict(clip, with_frames=True)
        return {"frames2d": per_frame, "centre": centre[:, None]}

    def predict_centre(self, frames: Tensor) -> Tensor:
        return self._predict(frames, with_frames=False)[0]

    def _predict(self, frames: Tensor, *, with_frames: bool) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError


class FiveParallel(TwoDThreeD):
    """Five separate 2D stacks (one per frame, each a conv and a recursive block) on bicubic-upscaled frames,
    stacked in time into a 3D stack with a recursive block; a (5, 1, 1) 3D convolution folds time, then a 2D conv
    and the output layer.

    `residual=False` is the report's output layer, the modified sigmoid S(x) = (MAX − MIN)·sigmoid(x/100) + MIN
    (MIN = 0, MAX = 1): measured here it learns too slowly to be usable (dev 29.30 dB PSNR-Y after 500 steps, bicubic
    35.19, while the auxiliary 2D estimates, residuals over bicubic, were at half its training MSE: the x/100 scales
    every gradient through the output by 1/400 at the start). `residual=True` (the default) adds the output layer to
    the bicubic upscale of the centre frame, as Delta does."""

    def __init__(self, *, scale: int = 2, features: int = 32, recursions: int = 3, residual: bool = True):
        super().__init__()
        self.scale, self.residual = scale, residual
        n = 2 * self.radius + 1
        self.frame_stacks = nn.ModuleList(nn.Sequential(conv(3, features), nn.ReLU(inplace=True),
                                                        Recursive2d(features, recursions)) for _ in range(n))
        self.stack3d = nn.Sequential(Float32Conv3d(features, features, 3, padding=1), nn.ReLU(inplace=True),
                                     Recursive3d(features, recursions),
                                     Float32Conv3d(features, features, (n, 1, 1)), nn.ReLU(inplace=True))
        self.out = nn.Sequential(conv(features, features), nn.ReLU(inplace=True), conv(features, 3))
        self.aux = conv(features, 3)  # auxiliary 2D loss only: a frame's residual over its bicubic upscale

    def _predict(self, frames: Tensor, *, with_frames: bool) -> tuple[Tensor, Tensor | None]:
        m, n, _, h, w = frames.shape
        up = imresize(frames.flatten(0, 1), self.scale).view(m, n, 3, h * self.scale, w * self.scale)
        features = torch.stack([stack(up[:, i]) for i, stack in enumerate(self.frame_stacks)], dim=2)
        fused = self.stack3d(features)[:, :, 0]
        per_frame = None
        if with_frames:
            per_frame = torch.stack([up[:, i] + self.aux(features[:, :, i]) for i in range(n)], dim=1)
        centre = up[:, self.radius] + self.out(fused) if self.residual else modified_sigmoid(self.out(fused))
        return centre, per_frame


class Delta(TwoDThreeD):
    """Shared 2D layers that each frame passes through 1 + |offset| times (symmetric about the centre: frames
    further away move more, and get more processing to align), fused by a 1×1 convolution; recursive Block 1 and
    Block 2; Block 3 = convolutions and transposed convolutions (×2 each) to the output size, added to a bicubic
    upscale of the centre frame. Fewer parameters than 5-parallel: the per-frame layers are shared."""

    def __init__(self, *, scale: int = 2, features: int = 32, recursions: int = 3):
        super().__init__()
        if scale not in (2, 4):
            raise ValueError("Delta upscales x2 or x4")
        self.scale = scale
        n = 2 * self.radius + 1
        self.head = nn.Sequential(conv(3, features), nn.ReLU(inplace=True))
        self.shared = nn.Sequential(conv(features, features), nn.ReLU(inplace=True))
        self.fuse = nn.Sequential(nn.Conv2d(features * n, features, 1), nn.ReLU(inplace=True))
        self.block1 = Recursive2d(features, recursions)
        self.block2 = Recursive2d(features, recursions)
        steps = [m for _ in range(scale // 2) for m in (conv(features, features), nn.ReLU(inplace=True),
                                                         nn.ConvTranspose2d(features, features, 4, 2, 1),
                                                         nn.ReLU(inplace=True))]
        self.block3 = nn.Sequential(*steps, conv(features, 3))
        # auxiliary 2D loss only: a frame's residual over its bicubic upscale, from its shared-layer features
        self.aux = nn.Sequential(conv(features, 3 * scale * scale), nn.PixelShuffle(scale))

    def _predict(self, frames: Tensor, *, with_frames: bool) -> tuple[Tensor, Tensor | None]:
        r = self.radius
        per_frame = []
        for i in range(frames.shape[1]):
            y = self.head(frames[:, i])
            for _ in range(1 + abs(i - r)):
                y = self.shared(y)
            per_frame.append(y)
        y = self.block2(self.block1(self.fuse(torch.cat(per_frame, dim=1))))
        centre = imresize(frames[:, r], self.scale) + self.block3(y)
        if not with_frames:
            return centre, None
        own = torch.stack([imresize(frames[:, i], self.scale) + self.aux(f) for i, f in enumerate(per_frame)], 1)
        return centre, own


@register_model("vsr_5parallel", task="vsr", description="2D+3D multi-frame VSR, five parallel 2D stacks -> 3D")
def vsr_5parallel(*, scale: int = 2, features: int = 32, recursions: int = 3, residual: bool = True) -> FiveParallel:
    return FiveParallel(scale=scale, features=features, recursions=recursions, residual=residual)


@register_model("vsr_5parallel_tiny", task="vsr", description="2D+3D 5-parallel, tiny, for tests")
def vsr_5parallel_tiny(*, scale: int = 2) -> FiveParallel:
    return FiveParallel(scale=scale, features=4, recursions=1)


@register_model("vsr_delta", task="vsr", description="2D+3D multi-frame VSR, shared 'Delta' 2D layers")
def vsr_delta(*, scale: int = 2, features: int = 32, recursions: int = 3) -> Delta:
    return Delta(scale=scale, features=features, recursions=recursions)


@register_model("vsr_delta_tiny", task="vsr", description="2D+3D Delta, tiny, for tests")
def vsr_delta_tiny(*, scale: int = 2) -> Delta:
    return Delta(scale=scale, features=4, recursions=1)
