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
untrained stage starts as the classical method. `tpcascade` (TPCascade, below) puts these modules on a
motion-compensated base instead: the imdn.x4 + DIS cascade. `stages()` returns every stage's output for staged training
(TPSRM alone → FSM with TPSRM frozen → all jointly with L1 + SSIM + VGG + cycle losses). `upto` stops the
pipeline after one stage and completes it with bicubic resizing, for the report's stage ablation (+TPSRM → +FSM →
+RM); training writes each stage's weights with it set (`RUN/stage_NAME.safetensors`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..ops.profiles import from_horizontal_profiles, from_vertical_profiles, to_horizontal_profiles, to_vertical_profiles
from ..ops.resize import imresize
from .base import VideoModel
from .classical import FlowInterpolation
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
    STAGES = ("tpsrm", "fsm", "rm")

    def __init__(self, *, scale: int = 4, features: int = 32, tpsrm_blocks: int = 4, fsm_features: int = 32,
                 sr_blocks: int = 3, rm_features: int = 16, refine: bool = True, upto: str = "rm"):
        super().__init__()
        if scale not in (2, 4):
            raise ValueError("the temporal-profile network upscales x2 or x4 in space")
        if upto not in self.STAGES:
            raise ValueError(f"upto must be one of {', '.join(self.STAGES)}, not {upto!r}")
        self.scale, self.upto = scale, upto
        self.tpsrm = TPSRM(features, tpsrm_blocks)
        self.fsm = FSM(fsm_features)
        self.sr = IMDNBackbone(features=features, blocks=sr_blocks, scale=(2, 2)) if scale == 4 else None
        self.rm = UNet(9, 3, features=rm_features, depth=2, blocks=3, bottleneck=3, head=5, tail=5) if refine \
            else None
        if self.rm is not None:  # a zero correction at first, as every other stage starts from its plain base: a
            # randomly initialised U-Net added noise the joint stage did not undo (docs/experiments/space-time-seeds.md)
            nn.init.zeros_(self.rm.tail.weight)
            nn.init.zeros_(self.rm.tail.bias)

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
        out = self.stages(clip, until=self.upto)
        final = out.get("rm", out.get("fsm", out["tpsrm"]))
        size = (clip.shape[-2] * self.scale, clip.shape[-1] * self.scale)
        if final.shape[-2:] != size:  # a partial pipeline (`upto`): bicubic finishes it
            final = imresize(final.flatten(0, 1), size=size).view(*final.shape[:3], *size)
        return final


@register_model("tpnet", task="stvsr", description="temporal-profile STVSR: TPSRM (y-t) + FSM (x-t) + U-Net RM")
def tpnet(*, scale: int = 4, features: int = 32, tpsrm_blocks: int = 4, fsm_features: int = 32, sr_blocks: int = 3,
          rm_features: int = 16, refine: bool = True, upto: str = "rm") -> TPNet:
    return TPNet(scale=scale, features=features, tpsrm_blocks=tpsrm_blocks, fsm_features=fsm_features,
                 sr_blocks=sr_blocks, rm_features=rm_features, refine=refine, upto=upto)


@register_model("tpnet_tiny", task="stvsr", description="temporal-profile STVSR, tiny, for tests")
def tpnet_tiny(*, scale: int = 4, upto: str = "rm") -> TPNet:
    return TPNet(scale=scale, features=8, tpsrm_blocks=1, fsm_features=8, sr_blocks=1, rm_features=4, upto=upto)


class TPCascade(VideoModel):
    """TP-net's temporal-profile modules as a residual on the default cascade (issue 11's redesign).

    TP-net alone interpolates time linearly on its profiles: its base for the new frames is a blend of the two
    neighbours (31.8 dB on the dev set; its interpolated frames scored about 29 dB), so it spends its capacity
    undoing motion it could have been given. Here the base is the cascade `imdn.x4` (frozen, from its shipped
    weights: module `net`) then DIS interpolation at the output size (36.59 dB): motion is compensated before the
    temporal profiles are looked at. `tp`, a TP-net without its U-Net (TPSRM on y–t profiles, FSM with feature
    shuffling on x–t profiles, the ×2 IMDN), reads the low-resolution clip; `fuse` turns each cascade frame and
    TP-net's own estimate of it into a correction. `fuse`'s last layer starts at zero: untrained, this is exactly
    the cascade, and training can only add what the profiles know.
    Stages: `tp` (TP-net's own estimate, for an auxiliary loss that keeps it an image), `out`.
    """

    window = 4
    time_factor = 2
    min_size = 16  # DIS needs room for its 8×8 patches
    STAGES = ("tp", "out")

    def __init__(self, *, scale: int = 4, features: int = 32, tpsrm_blocks: int = 4, fsm_features: int = 32,
                 sr_blocks: int = 3, fuse_features: int = 16, sr_features: int = 32, sr_cascade_blocks: int = 4,
                 preset: str = "fast"):
        super().__init__()
        self.scale = scale
        self.net = IMDNBackbone(features=sr_features, blocks=sr_cascade_blocks, scale=(scale, scale))
        self.interpolate = FlowInterpolation(time_factor=2, preset=preset, blend="occlusion")  # as trained
        self.tp = TPNet(scale=scale, features=features, tpsrm_blocks=tpsrm_blocks, fsm_features=fsm_features,
                        sr_blocks=sr_blocks, refine=False)
        c = fuse_features
        self.fuse = nn.Sequential(conv(6, c), nn.LeakyReLU(0.2, inplace=True), conv(c, c),
                                  nn.LeakyReLU(0.2, inplace=True), conv(c, 3))
        nn.init.zeros_(self.fuse[-1].weight)  # zero correction: an untrained model is exactly the cascade
        nn.init.zeros_(self.fuse[-1].bias)

    def cascade(self, clip: Tensor) -> Tensor:
        """The base: per-frame SR of every input frame, DIS interpolation at the output size between them."""
        n, t, _, h, w = clip.shape
        frames = clip.flatten(0, 1)
        key = (imresize(frames, self.scale) + self.net(frames)).view(n, t, 3, h * self.scale, w * self.scale)
        outs = []
        for i in range(t):
            outs.append(key[:, i])
            if i < t - 1:
                with torch.no_grad():  # classical flow interpolation: nothing to learn
                    middle = self.interpolate.interpolate(key[:, i].float(), key[:, i + 1].float(), [0.5])[0]
                outs.append(middle.to(key.dtype))
        return torch.stack(outs, dim=1)

    def stages(self, clip: Tensor, *, until: str | None = None) -> dict[str, Tensor]:
        self.check_clip(clip)
        estimate = self.tp(clip)  # (N, 2T − 1, 3, sH, sW)
        if until == "tp":
            return {"tp": estimate}
        base = self.cascade(clip)
        pair = torch.cat([base, estimate.to(base.dtype) - base], dim=2).flatten(0, 1)
        out = base + self.fuse(pair).view_as(base)
        return {"tp": estimate, "out": out}

    def forward(self, clip: Tensor) -> Tensor:
        return self.stages(clip)["out"]


@register_model("tpcascade", task="stvsr",
                description="TP-net's profile modules as a residual on the imdn.x4 + DIS cascade")
def tpcascade(*, scale: int = 4, features: int = 32, tpsrm_blocks: int = 4, fsm_features: int = 32,
              sr_blocks: int = 3, fuse_features: int = 16, sr_features: int = 32, sr_cascade_blocks: int = 4,
              preset: str = "fast") -> TPCascade:
    return TPCascade(scale=scale, features=features, tpsrm_blocks=tpsrm_blocks, fsm_features=fsm_features,
                     sr_blocks=sr_blocks, fuse_features=fuse_features, sr_features=sr_features,
                     sr_cascade_blocks=sr_cascade_blocks, preset=preset)


@register_model("tpcascade_tiny", task="stvsr", description="tpcascade, tiny, for tests")
def tpcascade_tiny(*, scale: int = 4) -> TPCascade:
    return TPCascade(scale=scale, features=8, tpsrm_blocks=1, fsm_features=8, sr_blocks=1, fuse_features=4,
                     sr_features=8, sr_cascade_blocks=1, preset="ultrafast")
