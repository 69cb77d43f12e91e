"""The trade-off study's siamese two-frame SR ("ToSR"): one per-frame SR network applied to frames t and t+1.

At inference it is a per-frame model; what makes it temporally aware is training on pairs with the joint loss
L = α‖Î_t − I_t‖² + α‖Î_{t+1} − I_{t+1}‖² + β·E_warp(Î_t, Î_{t+1}) (`losses.tosr_joint_loss`), where β trades
per-frame fidelity for consistency.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..ops.resize import imresize
from .base import SpatialModel
from .layers import PixelShuffleUpsampler, ResBlock, conv
from .registry import register_model


class ToSR(SpatialModel):
    """(M, 3, H, W) -> (M, 3, sH, sW): residual blocks at low resolution, sub-pixel upsampling, plus bicubic."""

    def __init__(self, *, scale: int = 4, features: int = 32, blocks: int = 6):
        super().__init__()
        self.scale = scale
        self.head = conv(3, features)
        self.body = nn.Sequential(*[ResBlock(features) for _ in range(blocks)], conv(features, features))
        self.up = PixelShuffleUpsampler(features, scale, 3)

    def upscale_frames(self, frames: Tensor) -> Tensor:
        head = self.head(frames)
        return imresize(frames, self.scale) + self.up(head + self.body(head))

    def pair(self, frame_t: Tensor, frame_next: Tensor) -> tuple[Tensor, Tensor]:
        """The siamese use: the same weights on both frames of a pair."""
        return self.upscale_frames(frame_t), self.upscale_frames(frame_next)


@register_model("tosr", task="sr", description="siamese two-frame SR of the trade-off study (joint loss, beta)")
def tosr(*, scale: int = 4, features: int = 32, blocks: int = 6) -> ToSR:
    return ToSR(scale=scale, features=features, blocks=blocks)


@register_model("tosr_tiny", task="sr", description="ToSR, tiny, for tests")
def tosr_tiny(*, scale: int = 4) -> ToSR:
    return ToSR(scale=scale, features=8, blocks=1)
