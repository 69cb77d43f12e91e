"""Dual-stream space-time SR (the dual-stream report): two cascades fused by learned masks.

For a pair of low-resolution frames L0, L1 (any registered spatial model M_S and temporal model M_T):
- stream S→T: Î_st = M_T(M_S(L0), M_S(L1)) at t = ½ (interpolate at high resolution);
- stream T→S: Î_ts = M_S(M_T(L0, L1)) (interpolate at low resolution, then upscale);
- a fusion U-Net (five levels down and up, skips) sees both and predicts one mask M (Î = M·Î_st + (1 − M)·Î_ts)
  or two independent masks (Î = M1·Î_st + M2·Î_ts; Eq. 9, Sec. 3.2);
- a refinement of three residual blocks adds detail to the fused frame.
Two LR frames in, three HR frames out: M_S(L0), the refined middle frame, M_S(L1).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import VideoModel
from .layers import ResBlock, UNet, conv
from .registry import create_model, register_model


class DualStream(VideoModel):
    """(N, T, 3, h, w) -> (N, 2T − 1, 3, s·h, s·w), each consecutive pair through both streams."""

    window = 2
    time_factor = 2

    def __init__(self, *, scale: int = 4, spatial: str = "imdn", spatial_kwargs: dict | None = None,
                 temporal: str = "vfinet", temporal_kwargs: dict | None = None, masks: str = "two",
                 features: int = 16, refine_features: int = 32):
        super().__init__()
        if masks not in ("one", "two"):
            raise ValueError("masks must be 'one' or 'two'")
        self.scale, self.masks = scale, masks
        self.spatial = create_model(spatial, scale=scale, **(spatial_kwargs or {}))
        self.temporal = create_model(temporal, time_factor=2, **(temporal_kwargs or {}))
        self.min_size = max(self.spatial.min_size, self.temporal.min_size)
        self.fusion = UNet(12, 1 if masks == "one" else 2, features=features, depth=5)
        self.refine = nn.Sequential(conv(3, refine_features), *[ResBlock(refine_features) for _ in range(3)],
                                    conv(refine_features, 3))

    def streams(self, l0: Tensor, l1: Tensor) -> dict[str, Tensor]:
        """Every intermediate for the auxiliary losses: s0, s1 (M_S of the inputs), t_lr (M_T at low resolution),
        st, ts (the two streams' middle frames), masks, fused, and out (refined middle frame)."""
        s0, s1 = self.spatial.upscale_frames(l0), self.spatial.upscale_frames(l1)
        st = self.temporal.interpolate(s0, s1, [0.5])[0]
        t_lr = self.temporal.interpolate(l0, l1, [0.5])[0]
        ts = self.spatial.upscale_frames(t_lr)
        logits = self.fusion(torch.cat([st, ts, s0, s1], dim=1))
        if self.masks == "one":
            m = torch.sigmoid(logits)
            fused, masks = m * st + (1 - m) * ts, m
        else:
            masks = torch.sigmoid(logits)
            fused = masks[:, :1] * st + masks[:, 1:] * ts
        return {"s0": s0, "s1": s1, "t_lr": t_lr, "st": st, "ts": ts, "masks": masks, "fused": fused,
                "out": fused + self.refine(fused)}

    def forward(self, clip: Tensor) -> Tensor:
        self.check_clip(clip)
        ups = [self.spatial.upscale_frames(clip[:, i]) for i in range(clip.shape[1])]
        out = [ups[0]]
        for i in range(clip.shape[1] - 1):
            out += [self.streams(clip[:, i], clip[:, i + 1])["out"], ups[i + 1]]
        return torch.stack(out, dim=1)


@register_model("dual_stream", task="stvsr", description="dual-stream STVSR: S->T and T->S cascades fused by masks")
def dual_stream(*, scale: int = 4, spatial: str = "imdn", spatial_kwargs: dict | None = None,
                temporal: str = "vfinet", temporal_kwargs: dict | None = None, masks: str = "two",
                features: int = 16, refine_features: int = 32) -> DualStream:
    return DualStream(scale=scale, spatial=spatial, spatial_kwargs=spatial_kwargs, temporal=temporal,
                      temporal_kwargs=temporal_kwargs, masks=masks, features=features,
                      refine_features=refine_features)


@register_model("dual_stream_tiny", task="stvsr", description="dual-stream STVSR, tiny, for tests")
def dual_stream_tiny(*, scale: int = 4, masks: str = "two") -> DualStream:
    return DualStream(scale=scale, spatial="imdn_tiny", temporal="vfinet_tiny", masks=masks, features=2,
                      refine_features=4)
