"""SRGAN's adversarial loss: binary cross-entropy on the discriminator's logits, weighted 1e-3 (Ledig et al. 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .precision import float32_loss

ADVERSARIAL_WEIGHT = 1e-3


@float32_loss
def adversarial_loss(fake_logits: Tensor) -> Tensor:
    """The generator's term: −log D(G(x)), i.e. BCE against 'real' (weight it by ADVERSARIAL_WEIGHT)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


@float32_loss
def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """BCE: real frames -> 1, generated frames -> 0."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) +
            F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
