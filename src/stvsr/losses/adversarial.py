"""SRGAN's adversarial loss: binary cross-entropy on the discriminator's logits, weighted 1e-3 (Ledig et al. 2017);
and pix2pixHD's feature-matching loss on the same discriminator's layers (Wang et al. 2018)."""

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


@float32_loss
def feature_matching_loss(critic, fake: Tensor, real: Tensor) -> Tensor:
    """Mean over the critic's layers of the L1 distance between its activations on the generated frames and on the
    ground truth (M, 3, H, W), the ground truth's taken as fixed: a perceptual loss whose feature network is the
    critic, trained alongside (pix2pixHD's L_FM). The generator gets no "fool the critic" gradient from it. Runs in
    float32: the critic's batch norm divides by a variance."""
    core = getattr(critic, "module", critic)  # unwrapped under DDP
    with torch.no_grad():
        targets = core.activations(real)
    return torch.stack([F.l1_loss(a, t) for a, t in zip(core.activations(fake), targets)]).mean()
