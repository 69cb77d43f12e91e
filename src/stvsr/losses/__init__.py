"""Training losses: thin layers over the metrics where one exists (SSIM loss = 1 − SSIM, warping loss = the
warping error's formula), plus perceptual, adversarial, cycle-consistency and the reports' composite losses."""

from .pixel import charbonnier, l1, mse, periodic_loss, psnr_loss
from .structural import ssim_loss
from .perceptual import (CriticFeatures, DetailFeatures, FeatureLoss, VGG19Features, critic_feature_state,
                         load_detail_features, load_feature_network, load_vgg19)
from .temporal import cycle_loss, error_flicker_loss, occlusion_weight, tosr_joint_loss, warping_loss
from .adversarial import ADVERSARIAL_WEIGHT, adversarial_loss, discriminator_loss, feature_matching_loss
from .dual_stream import dual_stream_losses

__all__ = ["ADVERSARIAL_WEIGHT", "CriticFeatures", "DetailFeatures", "FeatureLoss", "VGG19Features", "adversarial_loss", "feature_matching_loss", "charbonnier", "critic_feature_state", "cycle_loss",
           "discriminator_loss", "dual_stream_losses", "error_flicker_loss", "l1", "load_detail_features", "load_feature_network", "load_vgg19", "mse", "occlusion_weight", "periodic_loss", "psnr_loss", "ssim_loss",
           "tosr_joint_loss", "warping_loss"]
