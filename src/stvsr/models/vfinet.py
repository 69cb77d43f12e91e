"""A compact learned frame interpolator: coarse-to-fine bidirectional flow, backward warping of both frames to
time t, a fusion mask and a residual refinement (after the design of RIFE's IFNet, Huang et al. ECCV 2022,
much smaller). Any t in (0, 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.warp import warp
from .base import PairwiseInterpolator
from .layers import conv
from .registry import register_model


class FlowBlock(nn.Module):
    """At one pyramid level: from both frames, their current warps, flows, mask and t, predict updates of the two
    flows (t→0, t→1) and the fusion mask, working at 1/`down` of the level's resolution."""

    def __init__(self, features: int, down: int):
        super().__init__()
        self.down = down
        c_in = 3 * 4 + 4 + 1 + 1
        self.encode = nn.Sequential(conv(c_in, features, stride=2), nn.PReLU(features),
                                    conv(features, features, stride=2), nn.PReLU(features))
        self.body = nn.Sequential(*[m for _ in range(3) for m in (conv(features, features), nn.PReLU(features))])
        self.decode = nn.ConvTranspose2d(features, 5, 4, 2, 1)

    def forward(self, a, b, wa, wb, flow, mask, t):
        x = torch.cat([a, b, wa, wb, flow, mask, t], dim=1)
        h, w = x.shape[-2:]
        if self.down > 1:
            x = F.interpolate(x, scale_factor=1 / self.down, mode="bilinear", align_corners=False)
            x[:, 12:16] /= self.down  # flows are in pixels of the level they are used at
        y = self.decode(self.body(self.encode(x)))
        y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        return y[:, :4] * self.down * 2, y[:, 4:5]


class VFINet(PairwiseInterpolator):
    """(N, 2, 3, H, W) pairs -> frames at times t (t = 0 is the first frame, t = 1 the second): three flow refinement levels (working at 1/4, 1/2, 1/1 of the
    frame, each on 1/4 of that internally), warps, a sigmoid fusion mask, and a small residual refinement."""

    min_size = 16

    def __init__(self, *, time_factor: int = 2, features: int = 32):
        super().__init__()
        self.time_factor = time_factor
        self.levels = nn.ModuleList(FlowBlock(features, down) for down in (4, 2, 1))
        self.refine = nn.Sequential(conv(3 * 5 + 4 + 1, features), nn.PReLU(features),
                                    conv(features, features), nn.PReLU(features), conv(features, 3))

    def interpolate(self, a: Tensor, b: Tensor, times: list[float]) -> list[Tensor]:
        return [self.at(a, b, t) for t in times]

    def at(self, a: Tensor, b: Tensor, t: float | Tensor) -> Tensor:
        """The frame at time t (a float, or a tensor (N,)) between `a` (t = 0) and `b` (t = 1), each (N, 3, H, W)."""
        n, _, h, w = a.shape
        pad = (0, -w % 16, 0, -h % 16)  # the coarsest level works at 1/16
        a_p, b_p = F.pad(a, pad, mode="replicate"), F.pad(b, pad, mode="replicate")
        tt = torch.as_tensor(t, dtype=a.dtype, device=a.device).reshape(-1, 1, 1, 1).expand(n, 1, *a_p.shape[-2:])
        flow = a_p.new_zeros(n, 4, *a_p.shape[-2:])
        mask = a_p.new_zeros(n, 1, *a_p.shape[-2:])
        wa, wb = a_p, b_p
        for level in self.levels:
            d_flow, d_mask = level(a_p, b_p, wa, wb, flow, mask, tt)
            flow, mask = flow + d_flow, mask + d_mask
            wa, wb = warp(a_p, flow[:, :2]), warp(b_p, flow[:, 2:])
        m = torch.sigmoid(mask)
        fused = m * wa + (1 - m) * wb
        residual = self.refine(torch.cat([a_p, b_p, wa, wb, fused, flow, mask], dim=1))
        out = (fused + 0.1 * torch.tanh(residual))[..., :h, :w]
        # The ends of the interval are the inputs themselves, whatever the network would make of them.
        at = tt[:, :, :1, :1]
        return torch.where(at <= 0, a, torch.where(at >= 1, b, out))


@register_model("vfinet", task="vfi", description="compact learned interpolator: coarse-to-fine flow, mask, refine")
def vfinet(*, time_factor: int = 2, features: int = 32) -> VFINet:
    return VFINet(time_factor=time_factor, features=features)


@register_model("vfinet_tiny", task="vfi", description="vfinet, tiny, for tests")
def vfinet_tiny(*, time_factor: int = 2) -> VFINet:
    return VFINet(time_factor=time_factor, features=4)
