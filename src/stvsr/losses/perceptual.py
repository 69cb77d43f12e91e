"""Perceptual loss on VGG-19 features (Johnson et al. 2016; SRGAN's "VGG loss").

The architecture is defined here with torchvision's `vgg19().features` layer indices, so a state dict saved from
torchvision (`torch.save(torchvision.models.vgg19(weights=...).state_dict(), path)`) loads as is. No weights are
downloaded: the path comes from the config or the STVSR_VGG19_WEIGHTS environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import WeightsError

# torchvision's VGG-19 configuration "E": channels, "M" = max-pool.
_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
# "Layers 1, 3, 5": the first ReLU of blocks 1, 3 and 5 (relu1_1, relu3_1, relu5_1), indices in `features`.
DEFAULT_LAYERS = (1, 11, 29)
ENV_VAR = "STVSR_VGG19_WEIGHTS"


class VGG19Features(nn.Module):
    """VGG-19's convolutional part, returning the activations at `layers` (indices of torchvision's `features`)."""

    def __init__(self, layers: tuple[int, ...] = DEFAULT_LAYERS):
        super().__init__()
        modules: list[nn.Module] = []
        c = 3
        for item in _CONFIG:
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(c, item, 3, padding=1), nn.ReLU(inplace=False)]
                c = item
        self.layers = tuple(layers)
        self.features = nn.Sequential(*modules[: max(layers) + 1])
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = (x - self.mean) / self.std  # ImageNet normalisation, as the weights were trained
        out = []
        for i, module in enumerate(self.features):
            x = module(x)
            if i in self.layers:
                out.append(x)
        return out


def load_vgg19(path: str | Path | None = None, layers: tuple[int, ...] = DEFAULT_LAYERS) -> VGG19Features:
    """VGG-19 features with weights from `path`, else $STVSR_VGG19_WEIGHTS; a clear error when neither exists."""
    path = path or os.environ.get(ENV_VAR)
    if not path:
        raise WeightsError(f"the VGG loss needs VGG-19 weights: set {ENV_VAR} or the config's vgg_weights to a "
                           f"torchvision vgg19 state_dict (.pth); none is downloaded")
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"VGG-19 weights not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad pickle/zip
        raise WeightsError(f"cannot read VGG-19 weights {path}: {error}") from None
    model = VGG19Features(layers)
    wanted = {k: v for k, v in state.items() if k.startswith("features.") and
              int(k.split(".")[1]) < len(model.features)}
    missing = set(model.state_dict()) - set(wanted)
    if missing:
        raise WeightsError(f"{path} is not a torchvision VGG-19 state_dict (missing {sorted(missing)[0]})")
    model.load_state_dict(wanted)
    return model.eval()


class VGGLoss(nn.Module):
    """Mean of L1 distances between VGG-19 activations of prediction and target at the chosen layers."""

    def __init__(self, features: VGG19Features):
        super().__init__()
        self.vgg = features

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        pred, target = pred.reshape(-1, *pred.shape[-3:]), target.reshape(-1, *target.shape[-3:])
        # features may come from autocast; their distance is taken in float32
        losses = [(a.float() - b.float()).abs().mean() for a, b in zip(self.vgg(pred), self.vgg(target))]
        return sum(losses) / len(losses)
