"""One-stage space-time SR on temporal profiles (the temporal-profile report): TPSRM, FSM and RM.

T low-resolution frames (N, T, 3, h, w) become 2T − 1 frames (N, 2T − 1, 3, a·h, a·w), a = 2 or 4:
- TPSRM: IMDN on the vertical temporal profiles (one h×T image per column) super-resolves ×2 in height and
  to 2T − 1 samples in time.
- FSM: on the horizontal profiles of that (one (2T−1)×w image per row): a two-conv feature extractor, two
  residual-stacking blocks of three dilated-feature-fusion sub-blocks (residual scaling 0.2), the feature-shuffling
  operator (width ×2, channels ÷2) and a frame reconstructor; then, for a = 4, a cascaded ×2 IMDN per frame.
- RM: a U-Net with 15 ResBlocks (6 down, 3 at the bottom, 6 up) and 5×5 head and tail, refining each frame from
  it and its two neighbours.
Every stage adds its output to a plain interpolation of its input (bicubic in space, linear in time), so an
untrained stage starts as the classical method. `stages()` returns every stage's output for staged training
(TPSRM alone → FSM with TPSRM frozen → all jointly with L1 + SSIM + VGG + cycle losses).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..ops.profiles import from_horizontal_profiles, from_vertical_profiles, to_horizontal_profiles, to_vertical_profiles
from ..ops.resize import imresize
from .base import VideoModel
from .imdn import IMDNBackbone
from .layers import UNet, conv, feature_shuffle
from .registry import register_model


def time_upsample(x: Tensor) -> Tensor:
    """Linear ×2 in time along the last axis with both ends kept: T samples -> 2T − 1 (frames 0, ½, 1, …, T−1)."""
    mid = (x[..., :-1] + x[..., 1:]) / 2
    out = torch.stack([x[..., :-1], mid], dim=-1).flatten(-2)
    return torch.cat([out, x[..., -1:]], dim=-1)


class DilatedFusion(nn.Module):
    """One conv, then four dilated convs (rates 1–4) whose outputs are summed hierarchically (d1, d1+d2, …) and
    concatenated, a 1×1 fuse, LeakyReLU, and the sub-block's input added."""

    def __init__(self, features: int):
        super().__init__()
        quarter = features // 4
        self.entry = nn.Sequential(conv(features, features), nn.LeakyReLU(0.2, inplace=True))
        self.branches = nn.ModuleList(conv(features, quarter, dilation=d) for d in (1, 2, 3, 4))
        self.fuse = nn.Sequential(nn.Conv2d(quarter * 4, features, 1), nn.LeakyReLU(0.2, inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        y = self.entry(x)
        sums, total = [], 0
        for branch in self.branches:
            total = total + branch(y)
            sums.append(total)
        return x + self.fuse(torch.cat(sums, dim=1))


class ResidualStacking(nn.Module):
    """Three dilated-fusion sub-blocks with the block's input added back at 0.2 (residual scaling)."""

    def __init__(self, features: int):
        super().__init__()
        self.body = nn.Sequential(*[DilatedFusion(features) for _ in range(3)])

    def forward(self, x: Tensor) -> Tensor:
        return x + 0.2 * self.body(x)


class TPSRM(nn.Module):
    """Vertical profiles (M, 3, h, T) -> (M, 3, 2h, 2T − 1)."""

    def __init__(self, features: int, blocks: int):
        super().__init__()
        self.net = IMDNBackbone(features=features, blocks=blocks, scale=(2, 2))

    def forward(self, profiles: Tensor) -> Tensor:
        h, t = profiles.shape[-2:]
        base = time_upsample(imresize(profiles, size=(2 * h, t)))
        return base + self.net(profiles)[..., : 2 * t - 1]


class FSM(nn.Module):
    """Horizontal profiles (M, 3, T', w) -> (M, 3, T', 2w): features, two residual-stacking blocks, feature
    shuffling along the width, reconstruction."""

    def __init__(self, features: int):
        super().__init__()
        self.extract = nn.Sequential(conv(3, features), nn.LeakyReLU(0.2, inplace=True), conv(features, features))
        self.blocks = nn.Sequential(ResidualStacking(features), ResidualStacking(features))
        self.widen = conv(features, features * 2)
        self.reconstruct = nn.Sequential(nn.LeakyReLU(0.2, inplace=True), conv(features, 3))

    def forward(self, profiles: Tensor) -> Tensor:
        t, w = profiles.shape[-2:]
        base = imresize(profiles, size=(t, 2 * w))
        features = self.extract(profiles)
        features = self.blocks(features) + features
        return base + self.reconstruct(feature_shuffle(self.widen(features), 2))


class TPNet(VideoModel):
    """(N, T, 3, h, w) in [0, 1] -> (N, 2T − 1, 3, a·h, a·w), T >= 2, a in {2, 4}; see the module doc."""

    window = 4
    time_factor = 2

    def __init__(self, *, scale: int = 4, features: int = 32, tpsrm_blocks: int = 4, fsm_features: int = 32,
                 sr_blocks: int = 3, rm_features: int = 16, refine: bool = True):
        super().__init__()
        if scale not in (2, 4):
            raise ValueError("the temporal-profile network upscales x2 or x4 in space")
        self.scale = scale
        self.tpsrm = TPSRM(features, tpsrm_blocks)
        self.fsm = FSM(fsm_features)
        self.sr = IMDNBackbone(features=features, blocks=sr_blocks, scale=(2, 2)) if scale == 4 else None
        self.rm = UNet(9, 3, features=rm_features, depth=2, blocks=3, bottleneck=3, head=5, tail=5) if refine \
            else None

    STAGES = ("tpsrm", "fsm", "rm")

    def stages(self, clip: Tensor, *, until: str = "rm") -> dict[str, Tensor]:
        """Each stage's output up to `until`: 'tpsrm' (2T−1, ×2 height), 'fsm' (×a, before refinement), 'rm'
        (final). Staged training stops early: the TPSRM stage need not run the later modules."""
        self.check_clip(clip)
        n, t, _, h, w = clip.shape
        vertical = to_vertical_profiles(clip).flatten(0, 1)  # (N·w, 3, h, T)
        v1 = from_vertical_profiles(self.tpsrm(vertical).view(n, w, 3, 2 * h, 2 * t - 1))  # (N, T', 3, 2h, w)
        if until == "tpsrm":
            return {"tpsrm": v1}
        horizontal = to_horizontal_profiles(v1).flatten(0, 1)  # (N·2h, 3, T', w)
        v2 = from_horizontal_profiles(self.fsm(horizontal).view(n, 2 * h, 3, 2 * t - 1, 2 * w))
        if self.sr is not None:
            frames = v2.flatten(0, 1)
            v2 = (imresize(frames, 2) + self.sr(frames)).view(n, 2 * t - 1, 3, 4 * h, 4 * w)
        out = {"tpsrm": v1, "fsm": v2}
        if self.rm is not None and until != "fsm":
            index = torch.arange(2 * t - 1)
            prev, nxt = v2[:, (index - 1).clamp(min=0)], v2[:, (index + 1).clamp(max=2 * t - 2)]
            stacked = torch.cat([prev, v2, nxt], dim=2).flatten(0, 1)
            out["rm"] = v2 + self.rm(stacked).view_as(v2)
        return out

    def forward(self, clip: Tensor) -> Tensor:
        out = self.stages(clip)
        return out["rm"] if "rm" in out else out["fsm"]


@register_model("tpnet", task="stvsr", description="temporal-profile STVSR: TPSRM (y-t) + FSM (x-t) + U-Net RM")
def tpnet(*, scale: int = 4, features: int = 32, tpsrm_blocks: int = 4, fsm_features: int = 32, sr_blocks: int = 3,
          rm_features: int = 16, refine: bool = True) -> TPNet:
    return TPNet(scale=scale, features=features, tpsrm_blocks=tpsrm_blocks, fsm_features=fsm_features,
                 sr_blocks=sr_blocks, rm_features=rm_features, refine=refine)


@register_model("tpnet_tiny", task="stvsr", description="temporal-profile STVSR, tiny, for tests")
def tpnet_tiny(*, scale: int = 4) -> TPNet:
    return TPNet(scale=scale, features=8, tpsrm_blocks=1, fsm_features=8, sr_blocks=1, rm_features=4)
