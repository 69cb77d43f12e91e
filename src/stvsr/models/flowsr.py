"""Flow-guided models: classical DIS optical flow does the motion, a small network adds what flow cannot.

The learned flow estimators of the literature are the most expensive part of a video model to train and to run;
on a CPU budget, OpenCV's DIS gives good flow at a few milliseconds per low-resolution frame pair, with no
parameters to learn. The networks here only learn the residual on top of a classical result, so they start at
the classical method's quality and training can only add to it.

- `FlowVSR` (task vsr / stvsr): every frame is super-resolved from itself and its two neighbours, each warped onto
  it with DIS flow at input resolution (TOFlow-style alignment, with classical flow). With `time_factor` 2 the
  missing frames are first made by DIS interpolation at input resolution, so the network also learns to repair
  interpolation errors from the real frames beside them.
- `FlowRefineVFI` (task vfi): DIS interpolation, then a U-Net that corrects the interpolated frame from both inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..ops.batching import per_frame
from ..ops.flow import dis_flow
from ..ops.resize import imresize
from ..ops.warp import warp
from .base import PairwiseInterpolator, VideoModel
from .classical import FlowInterpolation
from .imdn import IMDNBackbone
from .layers import UNet
from .registry import register_model


class FlowVSR(VideoModel):
    """(N, T, 3, H, W) -> (N, (T − 1)·k + 1, 3, sH, sW). Output frame i = bicubic(frame i) + IMDN(frame i, its
    neighbours i ± 1 warped onto it); clip ends use the one neighbour they have, mirrored."""

    min_size = 16  # DIS needs room for its 8×8 patches

    def __init__(self, *, scale: int = 4, time_factor: int = 1, features: int = 32, blocks: int = 4,
                 preset: str = "medium", window: int | None = None):
        super().__init__()
        if time_factor not in (1, 2):
            raise ValueError("FlowVSR supports time_factor 1 or 2")
        self.scale, self.time_factor, self.preset = scale, time_factor, preset
        # The blend its weights were trained on (models/classical.py: the registered `dis` now averages).
        self.interpolate = (FlowInterpolation(time_factor=2, preset=preset, blend="occlusion")
                            if time_factor == 2 else None)
        self.net = IMDNBackbone(c_in=9, features=features, blocks=blocks, scale=(scale, scale))
        last = self.net.up[0]  # zero residual: an untrained model is exactly the classical pipeline
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        # Each output frame needs one frame of context each side (one input frame, or one interpolated frame),
        # so streaming windows overlap by 2 input frames; longer windows recompute less, shorter ones hold less.
        self.window = window or (12 if time_factor == 1 else 6)
        if self.window < 3:
            raise ValueError("window must be at least 3 frames")
        self.window_overlap = 2

    def forward(self, clip: Tensor) -> Tensor:
        self.check_clip(clip)
        with torch.no_grad():  # classical stages: nothing to learn, nothing to back-propagate
            seq = self.interpolate(clip) if self.interpolate is not None else clip
            previous, following = self._aligned_neighbours(seq)
        n, t = seq.shape[:2]
        out = per_frame(self._super_resolve, torch.cat([seq.flatten(0, 1), previous, following], dim=1))
        return out.view(n, t, *out.shape[1:])

    def _super_resolve(self, stacks: Tensor) -> Tensor:
        """(M, 9, h, w) frames with their two aligned neighbours -> (M, 3, s·h, s·w) the frames super-resolved."""
        return imresize(stacks[:, :3], self.scale) + self.net(stacks)

    def _aligned_neighbours(self, seq: Tensor) -> tuple[Tensor, Tensor]:
        """For every frame i of seq (N, T, ...): frames i − 1 and i + 1 warped onto it, flattened to (N·T, ...)."""
        n, t = seq.shape[:2]
        if t == 1:
            frames = seq.flatten(0, 1)
            return frames, frames
        a, b = seq[:, :-1].flatten(0, 1), seq[:, 1:].flatten(0, 1)
        # next_onto[i] = frame i + 1 warped onto frame i; prev_onto[i] = frame i warped onto frame i + 1.
        next_onto = warp(b, dis_flow(a, b, self.preset)).view(n, t - 1, *a.shape[1:])
        prev_onto = warp(a, dis_flow(b, a, self.preset)).view(n, t - 1, *a.shape[1:])
        # Mirror at the ends: frame 0's "previous" is frame 1, the last frame's "next" is the one before it.
        previous = torch.cat([next_onto[:, :1], prev_onto], dim=1)
        following = torch.cat([next_onto, prev_onto[:, -1:]], dim=1)
        return previous.flatten(0, 1), following.flatten(0, 1)


class FlowRefineVFI(PairwiseInterpolator):
    """DIS interpolation + a U-Net correction from (a, b, interpolated); the U-Net's last layer starts at zero, so
    an untrained model is exactly the DIS method."""

    min_size = 16

    def __init__(self, *, time_factor: int = 2, features: int = 24, depth: int = 3, preset: str = "medium"):
        super().__init__()
        self.time_factor = time_factor
        self.flow = FlowInterpolation(time_factor=time_factor, preset=preset, blend="occlusion")  # as trained
        self.refine = UNet(9, 3, features=features, depth=depth, blocks=1)
        nn.init.zeros_(self.refine.tail.weight)
        nn.init.zeros_(self.refine.tail.bias)

    def interpolate(self, a: Tensor, b: Tensor, times: list[float]) -> list[Tensor]:
        with torch.no_grad():
            base = self.flow.interpolate(a, b, times)
        return [frame + self.refine(torch.cat([a, b, frame], dim=1)) for frame in base]


@register_model("flowvsr", task="vsr", description="flow-aligned multi-frame SR: DIS-warped neighbours + IMDN")
def flowvsr(*, scale: int = 4, features: int = 32, blocks: int = 4, preset: str = "medium") -> FlowVSR:
    return FlowVSR(scale=scale, features=features, blocks=blocks, preset=preset)


@register_model("flowvsr_tiny", task="vsr", description="flow-aligned multi-frame SR, tiny variant for tests")
def flowvsr_tiny(*, scale: int = 4) -> FlowVSR:
    return FlowVSR(scale=scale, features=8, blocks=1, preset="ultrafast")


@register_model("flowstvsr", task="stvsr",
                description="space-time SR: DIS interpolation at input size, then flow-aligned multi-frame SR")
def flowstvsr(*, scale: int = 4, time_factor: int = 2, features: int = 48, blocks: int = 5,
              preset: str = "medium") -> FlowVSR:
    return FlowVSR(scale=scale, time_factor=time_factor, features=features, blocks=blocks, preset=preset)


@register_model("flowstvsr_fast", task="stvsr", description="flowstvsr sized for 10+ output frames/s on 2 CPU cores")
def flowstvsr_fast(*, scale: int = 4, time_factor: int = 2, features: int = 24, blocks: int = 3,
                   preset: str = "fast", window: int = 12) -> FlowVSR:
    # 12-frame windows: 2 of every 12 input frames are recomputed, not 2 of 6 (1.15x the work instead of 1.4x).
    return FlowVSR(scale=scale, time_factor=time_factor, features=features, blocks=blocks, preset=preset,
                   window=window)


@register_model("flowstvsr_tiny", task="stvsr", description="flowstvsr, tiny variant for tests")
def flowstvsr_tiny(*, scale: int = 4, time_factor: int = 2) -> FlowVSR:
    return FlowVSR(scale=scale, time_factor=time_factor, features=8, blocks=1, preset="ultrafast")


@register_model("flowvfi", task="vfi", description="DIS interpolation refined by a U-Net (starts as exactly DIS)")
def flowvfi(*, time_factor: int = 2, features: int = 24, depth: int = 3, preset: str = "medium") -> FlowRefineVFI:
    return FlowRefineVFI(time_factor=time_factor, features=features, depth=depth, preset=preset)


@register_model("flowvfi_tiny", task="vfi", description="flowvfi, tiny variant for tests")
def flowvfi_tiny(*, time_factor: int = 2) -> FlowRefineVFI:
    return FlowRefineVFI(time_factor=time_factor, features=4, depth=2, preset="ultrafast")
