"""The dual-stream report's losses (its Eq. 11–17, equal weights): reconstruction of the output, plus auxiliary
terms that make each part do its own job. The report itself is not at hand here; the terms follow its description
(a reconstruction loss on the final, fused and per-stream frames, on both sub-models, and on the masks), each a
Charbonnier distance."""

from __future__ import annotations

from torch import Tensor

from ..degrade import bicubic_down
from .pixel import charbonnier
from .precision import float32_loss


@float32_loss
def dual_stream_losses(parts: dict[str, Tensor], hr0: Tensor, hr_mid: Tensor, hr1: Tensor, *, scale: int,
                       weights: dict[str, float] | None = None) -> dict[str, Tensor]:
    """Each term and their weighted sum ('total'). `parts` is `DualStream.streams(l0, l1)`; hr* the ground truth.

    - out (Eq. 11): the refined middle frame against the ground truth;
    - fused (12): the fused frame before refinement;
    - st (13) and ts (14): each stream's middle frame on its own;
    - spatial (15): M_S on the two input frames against their HR ground truth;
    - temporal (16): M_T's low-resolution middle frame against the downscaled ground truth;
    - mask (17): the two masks should weigh the streams to a total of one; with one mask M (weights M and 1 − M)
      or one stream alone that holds by construction, and the term is zero, so one recipe serves every variant.
    """
    lr_mid = bicubic_down(hr_mid, scale, quantize=False)
    terms = {"out": charbonnier(parts["out"], hr_mid), "fused": charbonnier(parts["fused"], hr_mid),
             "st": charbonnier(parts["st"], hr_mid), "ts": charbonnier(parts["ts"], hr_mid),
             "spatial": (charbonnier(parts["s0"], hr0) + charbonnier(parts["s1"], hr1)) / 2,
             "temporal": charbonnier(parts["t_lr"], lr_mid)}
    masks = parts["masks"]
    terms["mask"] = (masks.sum(1) - 1).abs().mean() if masks.shape[1] == 2 else masks.new_zeros(())
    weights = weights or {}
    terms["total"] = sum(weights.get(name, 1.0) * value for name, value in terms.items())
    return terms
