"""Long-range space-time SR: features propagated forward and backward over the whole clip (BasicVSR's
bidirectional recurrence, Chan et al. CVPR 2021), aligned with DIS flow at the input size, on top of the
cascade that was the x4 x2 default.

Per-frame SR followed by flow interpolation at the output size (`imdn.x4+dis_fast`) is strong, but each frame
sees only itself. Here a recurrent state runs through the clip in both directions, warped from frame to frame by
OpenCV DIS flow computed once on the low-resolution inputs (no flow network to train, nothing downloaded), so
every frame gathers detail from all the frames before and after it. Each new in-between frame takes both
directions' states, warped to its time with the linear-motion flows of Super SloMo (Eq. 4), and each output
frame is the cascade's frame plus a residual reconstructed from the states. The residual's last layer starts at
zero and the cascade's SR network comes from its shipped weights, so an untrained model is exactly the cascade
and training can only add to it.

For compressed input a model may first clean each low-resolution frame (`clean_blocks` > 0): a small residual
network, as Real-BasicVSR's image pre-cleaning module (Chan et al. CVPR 2022), whose output is scored against the
clean low-resolution frames by a loss `NAME@clean`; the flow, the cascade and the branches then read the cleaned
frames. Its last layer starts at zero too, so it grows from a model without one.

Built at time factor 1 it is a multi-frame VSR model (propstvsr.x4; propstvsr.x4_m and propstvsr.x4_l, grown from it
by `adapt_init`), and as the space half of a cascade with DIS at the output size (`propstvsr.x4_l+dis`) it is the x4 x2
default: DIS between its frames makes better new frames than its own in-between branch (BENCHMARKS.md).
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn

from ..ops.batching import per_frame
from ..ops.flow import dis_flow
from ..ops.resize import imresize
from ..ops.warp import warp
from .base import VideoModel
from .classical import FlowInterpolation
from .imdn import IMDNBackbone
from .layers import ResBlock, conv
from .registry import register_model


# A residual block's last convolution in a trunk: `back_branch.3.body.2.weight` (block `back_branch.3`).
_LAST_CONV = re.compile(r"^(?P<block>\w+\.\d+)\.body\.2\.(weight|bias)$")


def _grown_slots(new: int, old: int, features: int, old_features: int) -> Tensor | None:
    """Where the `old` channels of a tensor dimension sit among its `new` ones when the feature width grows from
    `old_features` to `features`: the same channels where the size is unchanged (RGB in, the sub-pixel output), the
    first `old_features` of each concatenated map otherwise; None where the sizes are not of that form."""
    if new == old:
        return torch.arange(old)
    maps = old // old_features
    if old % old_features or new != maps * features:
        return None
    return torch.cat([torch.arange(old_features) + m * features for m in range(maps)])


def _trunk(c_in: int, features: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(conv(c_in, features), nn.LeakyReLU(0.1, inplace=True),
                         *[ResBlock(features, act="lrelu") for _ in range(blocks)])


class PropagationSTVSR(VideoModel):
    """(N, T, 3, h, w) -> (N, (T − 1)·k + 1, 3, s·h, s·w), k = `time_factor` (1: VSR, 2: space-time).

    `net` is the per-frame SR backbone (IMDN, residual on bicubic: load `imdn.x4` into it and keep it frozen);
    `interpolate` is DIS interpolation at the output size (the cascade's in-between frames). The learned parts:
    `encode` (features of each input frame), `back_branch`/`fore_branch` (the two recurrent branches), `fuse_key` and
    `fuse_mid` (an output frame's features from the states), `up` (sub-pixel reconstruction of the residual).
    Ablation switches: `bidirectional` (False: forward branch only), `align` (False: states are not warped).
    `clean` (with `clean_blocks` > 0): a residual pre-cleaning of every input frame, its output the stage `clean`.
    """

    min_size = 16  # DIS needs room for its 8×8 patches

    def __init__(self, *, scale: int = 4, time_factor: int = 2, features: int = 32, blocks: int = 2,
                 sr_features: int = 32, sr_blocks: int = 4, preset: str = "fast", lr_preset: str = "medium",
                 bidirectional: bool = True, align: bool = True, window: int = 20, overlap: int = 6,
                 fuse_blocks: int = 1, clean_blocks: int = 0, clean_features: int = 32):
        super().__init__()
        if time_factor not in (1, 2):
            raise ValueError("PropagationSTVSR supports time_factor 1 or 2")
        if not 0 < overlap < window:
            raise ValueError("overlap must be in (0, window)")
        self.scale, self.time_factor = scale, time_factor
        self.lr_preset, self.bidirectional, self.align = lr_preset, bidirectional, align
        # Streaming: windows of `window` input frames overlapping by `overlap`; each kept output frame has at least
        # overlap / 2 input frames of context on each side (the recurrence carries little further than that).
        self.window, self.window_overlap = window, overlap
        self.net = IMDNBackbone(features=sr_features, blocks=sr_blocks, scale=(scale, scale))
        # The blend its weights were trained on (models/classical.py: the registered `dis` now averages).
        self.interpolate = (FlowInterpolation(time_factor=2, preset=preset, blend="occlusion")
                            if time_factor == 2 else None)
        c = features
        self.encode = _trunk(3, c, 1)
        self.back_branch = _trunk(2 * c, c, blocks)
        self.fore_branch = _trunk(2 * c, c, blocks)
        self.features = c
        self.fuse_key = _trunk(3 * c, c, fuse_blocks)
        self.fuse_mid = _trunk(4 * c, c, fuse_blocks)
        self.up = nn.Sequential(conv(c, 3 * scale * scale), nn.PixelShuffle(scale))
        nn.init.zeros_(self.up[0].weight)  # zero residual: an untrained model is exactly the cascade
        nn.init.zeros_(self.up[0].bias)
        self.clean = None
        if clean_blocks > 0:
            self.clean = nn.Sequential(*_trunk(3, clean_features, clean_blocks), conv(clean_features, 3))
            nn.init.zeros_(self.clean[-1].weight)  # starts as the identity: grown from a model without it
            nn.init.zeros_(self.clean[-1].bias)
            self.STAGES = ("clean",)

    def adapt_init(self, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        """Starting weights of another propstvsr: one at another scale (`_rescaled`), then one narrower or shallower
        grown to this size (`_grown`)."""
        return self._grown(self._rescaled(tensors))

    def _rescaled(self, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        """A model of a scale that is a multiple of this one's (x4 weights for a x2 model): every layer at the input
        size is kept, and each sub-pixel output layer (the residual's `up`, the backbone's `net.up`) has its
        (s_old / s_new)² output phases that fall in one new output pixel averaged. Each residual is then the old
        one box-filtered to the new size, so training starts from everything the old model learnt about alignment,
        propagation and the input's degradation, and only re-learns the last step."""
        out = dict(tensors)
        for name in ("up.0.weight", "up.0.bias", "net.up.0.weight", "net.up.0.bias"):
            value = tensors.get(name)
            new = self.scale
            if value is None or value.shape[0] == 3 * new * new or value.shape[0] % 3:
                continue
            old = round((value.shape[0] // 3) ** 0.5)
            if 3 * old * old != value.shape[0] or old % new:
                continue  # not a sub-pixel layer of a multiple of this scale: init_from names the misfit
            k = old // new  # (c, i, j) phase order, as PixelShuffle: i = a·k + di, j = b·k + dj
            phases = value.reshape(3, new, k, new, k, *value.shape[1:]).mean(dim=(2, 4))
            out[name] = phases.reshape(3 * new * new, *value.shape[1:]).contiguous()
        return out

    def _grown(self, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        """Starting weights of a narrower or shallower propstvsr grown to this size, computing the same function.

        Grown, not retrained: the smaller model's training is kept and the new capacity starts where it left off
        (Net2Net, Chen et al. 2016). A convolution's old outputs read the old inputs with the old kernel and the new
        inputs with zeros; new outputs keep their random initialisation. Inputs that are concatenations of feature
        maps (a branch reads [frame, state]) are mapped map by map. A residual block the file lacks gets a zero last
        convolution, so it starts as the identity. A file of this model's own size passes unchanged."""
        own = self.state_dict()
        if "encode.0.weight" not in tensors or all(k not in own or own[k].shape == v.shape for k, v in tensors.items()):
            return tensors
        old_c = tensors["encode.0.weight"].shape[0]
        out: dict[str, Tensor] = {}
        for name, value in tensors.items():
            target = own.get(name)
            if target is None or target.shape == value.shape or target.shape[2:] != value.shape[2:]:
                out[name] = value  # not ours, already fitting, or unfixable: init_from names the misfit
                continue
            rows = _grown_slots(target.shape[0], value.shape[0], self.features, old_c)
            if rows is None:
                out[name] = value
                continue
            grown = target.clone()
            if value.dim() == 1:
                grown[rows] = value
            else:
                cols = _grown_slots(target.shape[1], value.shape[1], self.features, old_c)
                if cols is None:
                    out[name] = value
                    continue
                grown[rows] = 0
                grown[rows[:, None], cols[None, :]] = value
            out[name] = grown
        for name, value in own.items():
            block = _LAST_CONV.match(name)
            if name not in out and block and f"{block['block']}.body.0.weight" not in tensors:
                out[name] = torch.zeros_like(value)
        return out

    def stages(self, clip: Tensor, *, until: str | None = None) -> dict[str, Tensor]:
        """The cleaned input frames (stage `clean`), for a loss against the clean low-resolution clip."""
        if self.clean is None:
            return super().stages(clip, until=until)
        self.check_clip(clip)
        return {"clean": self._cleaned(clip)}

    def _cleaned(self, clip: Tensor) -> Tensor:
        return clip + per_frame(self.clean, clip.flatten(0, 1)).view_as(clip)

    def forward(self, clip: Tensor) -> Tensor:
        self.check_clip(clip)
        if self.clean is not None:
            clip = self._cleaned(clip)
        n, t, _, h, w = clip.shape
        frames = clip.flatten(0, 1)
        key = per_frame(self._cascade_frames, frames).view(n, t, 3, h * self.scale, w * self.scale)
        with torch.no_grad():  # classical flow: nothing to learn
            pairs = (clip[:, :-1].flatten(0, 1), clip[:, 1:].flatten(0, 1)) if t > 1 else None
            # to_prev[i] brings frame i + 1 onto frame i; to_next[i] brings frame i onto frame i + 1
            to_prev = dis_flow(*pairs, self.lr_preset).view(n, t - 1, 2, h, w) if pairs else None
            to_next = dis_flow(pairs[1], pairs[0], self.lr_preset).view(n, t - 1, 2, h, w) if pairs else None
        feats = per_frame(self.encode, frames).view(n, t, -1, h, w)
        back, fore = self._propagate(feats, to_prev, to_next)
        outs = []
        for i in range(t):
            state = torch.cat([feats[:, i], fore[i], back[i]], dim=1)
            outs.append(key[:, i] + self.up(self.fuse_key(state)))
            if self.time_factor == 2 and i < t - 1:
                outs.append(self._middle(key, feats, fore, back, to_prev, to_next, i))
        return torch.stack(outs, dim=1)

    def _cascade_frames(self, frames: Tensor) -> Tensor:
        """The cascade's per-frame SR of `frames` (M, 3, h, w): bicubic plus the backbone's residual."""
        return imresize(frames, self.scale) + self.net(frames)

    def _warp(self, x: Tensor, flow: Tensor) -> Tensor:
        return warp(x, flow.to(x.dtype)) if self.align else x

    def _propagate(self, feats: Tensor, to_prev: Tensor | None, to_next: Tensor | None
                   ) -> tuple[list[Tensor], list[Tensor]]:
        """Backward and forward states of every frame (lists of (N, C, h, w))."""
        t = feats.shape[1]
        zero = torch.zeros_like(feats[:, 0])
        back = [zero] * t
        if self.bidirectional:
            state = zero
            for i in reversed(range(t)):
                if i < t - 1:
                    state = self._warp(state, to_prev[:, i])
                state = self.back_branch(torch.cat([feats[:, i], state], dim=1))
                back[i] = state
        fore, state = [], zero
        for i in range(t):
            if i > 0:
                state = self._warp(state, to_next[:, i - 1])
            state = self.fore_branch(torch.cat([feats[:, i], state], dim=1))
            fore.append(state)
        return back, fore

    def _middle(self, key: Tensor, feats: Tensor, fore: list[Tensor], back: list[Tensor], to_prev: Tensor,
                to_next: Tensor, i: int) -> Tensor:
        """The frame halfway between inputs i and i + 1: the cascade's DIS interpolation at the output size, plus a
        residual from the states of both sides warped to time 0.5 (Super SloMo's linear-motion flows, Eq. 4)."""
        with torch.no_grad():
            base = self.interpolate.interpolate(key[:, i].float(), key[:, i + 1].float(), [0.5])[0]
        f01, f10 = to_prev[:, i], to_next[:, i]  # f01: frame i -> i + 1, as `dis_flow(frame i, frame i + 1)`
        to_0 = -0.25 * f01 + 0.25 * f10
        to_1 = 0.25 * f01 - 0.25 * f10
        state = torch.cat([self._warp(feats[:, i], to_0), self._warp(feats[:, i + 1], to_1),
                           self._warp(fore[i], to_0), self._warp(back[i + 1], to_1)], dim=1)
        return base.to(key.dtype) + self.up(self.fuse_mid(state))


@register_model("propstvsr", task="stvsr",
                description="space-time SR by bidirectional propagation over the clip (DIS-aligned), on the cascade")
def propstvsr(*, scale: int = 4, time_factor: int = 2, features: int = 32, blocks: int = 2, sr_features: int = 32,
              sr_blocks: int = 4, preset: str = "fast", lr_preset: str = "medium", bidirectional: bool = True,
              align: bool = True, window: int = 20, overlap: int = 6, fuse_blocks: int = 1, clean_blocks: int = 0,
              clean_features: int = 32) -> PropagationSTVSR:
    return PropagationSTVSR(scale=scale, time_factor=time_factor, features=features, blocks=blocks,
                            sr_features=sr_features, sr_blocks=sr_blocks, preset=preset, lr_preset=lr_preset,
                            bidirectional=bidirectional, align=align, window=window, overlap=overlap,
                            fuse_blocks=fuse_blocks, clean_blocks=clean_blocks, clean_features=clean_features)


@register_model("propstvsr_tiny", task="stvsr", description="propstvsr, tiny variant for tests")
def propstvsr_tiny(*, scale: int = 4, time_factor: int = 2, bidirectional: bool = True,
                   align: bool = True, clean_blocks: int = 0) -> PropagationSTVSR:
    return PropagationSTVSR(scale=scale, time_factor=time_factor, features=8, blocks=1, sr_features=8, sr_blocks=1,
                            preset="ultrafast", lr_preset="ultrafast", bidirectional=bidirectional, align=align,
                            window=8, overlap=4, clean_blocks=clean_blocks, clean_features=8)
