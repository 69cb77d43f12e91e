"""Dual-stream space-time SR (the dual-stream report): two cascades fused by learned masks.

For a pair of low-resolution frames L0, L1 (any registered spatial model M_S and temporal model M_T):
- stream S→T: Î_st = M_T(M_S(L0), M_S(L1)) at t = ½ (interpolate at high resolution);
- stream T→S: Î_ts = M_S(M_T(L0, L1)) (interpolate at low resolution, then upscale);
- a fusion U-Net (five levels down and up, skips) sees both and predicts one mask M (Î = M·Î_st + (1 − M)·Î_ts)
  or two independent masks (Î = M1·Î_st + M2·Î_ts; Eq. 9, Sec. 3.2);
- a refinement of three residual blocks adds detail to the fused frame.
Two LR frames in, three HR frames out: M_S(L0), the refined middle frame, M_S(L1).
The report's ablation is in the arguments: `streams='st'` or `'ts'` keeps one stream alone (no fusion),
`masks='one'|'two'` fuses both, `refine=False` drops the refinement. M_T may be a classical interpolator (`dis`,
`dis_fast`): it has nothing to train, so it runs without gradients, in fp32.
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
                 features: int = 16, refine_features: int = 32, streams: str = "both", refine: bool = True,
                 fusion_max_features: int = 256, mask_prior: float = 0.0):
        super().__init__()
        if masks not in ("one", "two"):
            raise ValueError("masks must be 'one' or 'two'")
        if streams not in ("both", "st", "ts"):
            raise ValueError("streams must be 'both', 'st' or 'ts'")
        self.scale, self.masks, self.stream_mode = scale, masks, streams
        self.spatial = create_model(spatial, scale=scale, **(spatial_kwargs or {}))
        if temporal in ("dis", "dis_fast"):  # the blend the shipped fusion was trained on (models/classical.py)
            temporal_kwargs = {"blend": "occlusion", **(temporal_kwargs or {})}
        self.temporal = create_model(temporal, time_factor=2, **(temporal_kwargs or {}))
        self.classical_temporal = not any(True for _ in self.temporal.parameters())
        self.min_size = max(self.spatial.min_size, self.temporal.min_size)
        self.fusion = UNet(12, 1 if masks == "one" else 2, features=features, depth=5,
                           max_features=fusion_max_features) if streams == "both" else None
        self.refine = nn.Sequential(conv(3, refine_features), *[ResBlock(refine_features) for _ in range(3)],
                                    conv(refine_features, 3)) if refine else None
        if mask_prior and self.fusion is not None:
            # Start from the S->T stream: constant masks sigmoid(±prior) and a refinement that adds nothing. Masks
            # free from the start learned a near-even blend, as the streams score alike on training crops but not
            # on dev, where the blend lost fidelity (docs/experiments/space-time-seeds.md).
            nn.init.zeros_(self.fusion.tail.weight)
            prior = torch.tensor([mask_prior] if masks == "one" else [mask_prior, -mask_prior])
            self.fusion.tail.bias.data.copy_(prior)
            if self.refine is not None:
                nn.init.zeros_(self.refine[-1].weight)
                nn.init.zeros_(self.refine[-1].bias)

    def _interpolate(self, a: Tensor, b: Tensor) -> Tensor:
        if not self.classical_temporal:
            return self.temporal.interpolate(a, b, [0.5])[0]
        with torch.no_grad():
            return self.temporal.interpolate(a.float(), b.float(), [0.5])[0].to(a.dtype)

    def streams(self, l0: Tensor, l1: Tensor) -> dict[str, Tensor]:
        """Every intermediate for the auxiliary losses: s0, s1 (M_S of the inputs), t_lr (M_T at low resolution),
        st, ts (the two streams' middle frames), masks, fused, and out (refined middle frame)."""
        s0, s1 = self.spatial.upscale_frames(l0), self.spatial.upscale_frames(l1)
        st = self._interpolate(s0, s1)
        t_lr = self._interpolate(l0, l1)
        ts = self.spatial.upscale_frames(t_lr)
        if self.fusion is None:  # one stream alone: the ablation's first two rows
            fused = st if self.stream_mode == "st" else ts
            masks = torch.ones_like(fused[:, :1])
        else:
            fused, masks = self._fuse(st, ts, s0, s1)
        out = fused if self.refine is None else fused + self.refine(fused)
        return {"s0": s0, "s1": s1, "t_lr": t_lr, "st": st, "ts": ts, "masks": masks, "fused": fused, "out": out}

    def _fuse(self, st: Tensor, ts: Tensor, s0: Tensor, s1: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.fusion(torch.cat([st, ts, s0, s1], dim=1))
        if self.masks == "one":
            m = torch.sigmoid(logits)
            fused, masks = m * st + (1 - m) * ts, m
        else:
            masks = torch.sigmoid(logits)
            fused = masks[:, :1] * st + masks[:, 1:] * ts
        return fused, masks

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
                features: int = 16, refine_features: int = 32, streams: str = "both",
                refine: bool = True, fusion_max_features: int = 256, mask_prior: float = 0.0) -> DualStream:
    return DualStream(scale=scale, spatial=spatial, spatial_kwargs=spatial_kwargs, temporal=temporal,
                      temporal_kwargs=temporal_kwargs, masks=masks, features=features,
                      refine_features=refine_features, streams=streams, refine=refine,
                      fusion_max_features=fusion_max_features, mask_prior=mask_prior)


@register_model("dual_stream_tiny", task="stvsr", description="dual-stream STVSR, tiny, for tests")
def dual_stream_tiny(*, scale: int = 4, masks: str = "two", temporal: str = "vfinet_tiny", streams: str = "both",
                     refine: bool = True) -> DualStream:
    return DualStream(scale=scale, spatial="imdn_tiny", temporal=temporal, masks=masks, features=2,
                      refine_features=4, streams=streams, refine=refine)
