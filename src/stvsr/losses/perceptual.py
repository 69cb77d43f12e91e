"""Perceptual losses: distances between feature maps of a fixed network (Johnson et al. 2016; SRGAN's "VGG loss").

Three feature networks:
- `perceptual`: stvsr's own detail network (`DetailFeatures`), VGG-shaped and narrow, trained here on the training
  footage to tell clean frames from degraded ones (blur, bicubic round trips, noise, JPEG, checkerboards,
  over-sharpening): its features respond to exactly the detail SR must restore and the artefacts it must not add.
  Its weights ship with stvsr (`weights/detail_features.safetensors`), so the loss works offline. ImageNet VGG-19
  weights are in no installable package and cannot be downloaded here; the 2D+3D/GAN report itself suggests
  training the feature extractor on the data at hand.
- a critic feature network (`CriticFeatures`): the first layers of the discriminator of a GAN run here (SRGAN x2),
  frozen; `scripts/export_critic_features.py` cuts it from the run's checkpoint, and a config uses it as
  `perceptual_weights` (the file's keys tell it from a detail network).
- `vgg`: VGG-19 with torchvision's `vgg19().features` layer indices, so a state dict saved from torchvision
  (`torch.save(torchvision.models.vgg19(weights=...).state_dict(), path)`) loads as is. No weights are
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


# DetailFeatures: channels per block (two 3x3 convolutions + ReLU each, max-pool between blocks).
DETAIL_BLOCKS = (32, 64, 128)
DETAIL_WEIGHTS = "detail_features.safetensors"


class DetailFeatures(nn.Module):
    """A narrow VGG: blocks of two 3x3 convolutions + ReLU (32, 64, 128 channels), max-pooled between; returns the
    last ReLU of each block. `classify` (training only) pools the last block into degradation-class scores."""

    def __init__(self, classes: int = 8):
        super().__init__()
        blocks, c = [], 3
        for width in DETAIL_BLOCKS:
            blocks.append(nn.Sequential(nn.Conv2d(c, width, 3, padding=1), nn.ReLU(inplace=True),
                                        nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)))
            c = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(c, classes)

    def forward(self, x: Tensor) -> list[Tensor]:
        out = []
        for i, block in enumerate(self.blocks):
            x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
            out.append(x)
        return out

    def classify(self, x: Tensor) -> Tensor:
        return self.head(self(x)[-1].mean(dim=(-2, -1)))


def load_detail_features(path: str | Path | None = None) -> DetailFeatures:
    """The shipped detail network (or the weights at `path`), frozen, in eval mode."""
    from ..models.shipped import WEIGHTS_DIR

    path = Path(path) if path else WEIGHTS_DIR / DETAIL_WEIGHTS
    return _detail_network(_read_weights(path, "detail-feature", " (train them with python "
                                         "scripts/train_detail_features.py)"), path)


def _read_weights(path: Path, what: str, hint: str = "") -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise WeightsError(f"{what} weights not found: {path}{hint}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise WeightsError(f"cannot read {what} weights {path}: {error}") from None


def _detail_network(state: dict[str, Tensor], path: Path) -> DetailFeatures:
    model = DetailFeatures(classes=state["head.weight"].shape[0] if "head.weight" in state else 8)
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise WeightsError(f"{path} does not hold DetailFeatures weights") from None
    return model.eval().requires_grad_(False)


# CriticFeatures: how many of the SRGAN discriminator's `features` layers a critic feature network keeps: its first
# five conv-LeakyReLU stages (full resolution to 1/4, 32-128 channels at features=32). The deeper ones see too coarse
# a grid for the x2 detail the loss is for, and would make the exported file ten times larger.
CRITIC_LAYERS = 14


class CriticFeatures(nn.Module):
    """The first CRITIC_LAYERS layers of a trained SRGAN discriminator (`models.srgan.Discriminator`), frozen: the
    output of each LeakyReLU. A critic trained against a generator on the training footage has learnt what tells
    the footage from super-resolved frames, which is what a perceptual loss should measure; frozen, it is a fixed
    feature network (no adversarial game in the model that uses it)."""

    def __init__(self, features: int = 32, layers: int = CRITIC_LAYERS):
        super().__init__()
        from ..models.srgan import Discriminator  # the critic's own definition, not a copy of it

        self.features = nn.Sequential(*list(Discriminator(features=features).features)[:layers])

    def forward(self, x: Tensor) -> list[Tensor]:
        from ..models.srgan import critic_activations

        return critic_activations(self.features, x)


def critic_feature_state(critic_state: dict[str, Tensor], layers: int = CRITIC_LAYERS) -> dict[str, Tensor]:
    """The part of a discriminator's state dict that CriticFeatures keeps."""
    return {k: v for k, v in critic_state.items()
            if k.startswith("features.") and int(k.split(".")[1]) < layers}


def load_feature_network(path: str | Path | None = None) -> nn.Module:
    """The network behind the `perceptual` and `texture` losses: the shipped detail network, or the weights at
    `path` (a DetailFeatures or a CriticFeatures file, told apart by their keys), frozen, in eval mode."""
    if path is None:
        return load_detail_features()
    path = Path(path)
    state = _read_weights(path, "feature-network")
    if "blocks.0.0.weight" in state:
        return _detail_network(state, path)
    if "features.0.weight" not in state:
        raise WeightsError(f"{path} holds neither DetailFeatures nor CriticFeatures weights")
    try:
        layers = max(int(k.split(".")[1]) for k in state) + 2  # the last kept module, a LeakyReLU, has no weights
        model = CriticFeatures(features=state["features.0.weight"].shape[0], layers=layers)
        model.load_state_dict(state)
    except (ValueError, IndexError, RuntimeError):  # keys or shapes of another network
        raise WeightsError(f"{path} does not hold CriticFeatures weights") from None
    return model.eval().requires_grad_(False)


def patch_gram(x: Tensor, patch: int) -> Tensor:
    """Gram matrices of `x` (N, C, H, W) over non-overlapping patch × patch windows -> (N, windows, C, C), each
    normalised by the window's size (EnhanceNet's texture statistic, Sajjadi et al. 2017); edges that do not fill
    a window are left out."""
    n, c, h, w = x.shape
    rows, cols = h // patch, w // patch
    if rows == 0 or cols == 0:
        raise ValueError(f"feature map {h}x{w} is smaller than the texture patch {patch}")
    x = x[..., :rows * patch, :cols * patch].reshape(n, c, rows, patch, cols, patch)
    x = x.permute(0, 2, 4, 1, 3, 5).reshape(n, rows * cols, c, patch * patch)
    return x @ x.transpose(-1, -2) / (patch * patch)


class FeatureLoss(nn.Module):
    """Mean over a feature network's returned layers (or those at the indices `layers`) of the L1 distance between
    the features of prediction and target (frames or clips; the target's features need no gradient). Distances
    are taken in float32. With `texture_patch`, the distance is between the features' local Gram matrices instead
    (a texture loss: it asks for the target's texture statistics in each window, not its exact features, so detail
    that cannot be predicted is still synthesised rather than averaged away)."""

    def __init__(self, features: nn.Module, layers: list[int] | tuple[int, ...] | None = None,
                 texture_patch: int = 0):
        super().__init__()
        self.net = features
        self.layers = tuple(layers) if layers else None
        self.texture_patch = texture_patch

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        pred, target = pred.reshape(-1, *pred.shape[-3:]), target.reshape(-1, *target.shape[-3:])
        with torch.no_grad():
            wanted = self.net(target)
        pairs = list(zip(self.net(pred), wanted))
        if self.layers is not None:
            pairs = [pairs[k] for k in self.layers]
        if self.texture_patch:
            pairs = [(patch_gram(a.float(), self.texture_patch), patch_gram(b.float(), self.texture_patch))
                     for a, b in pairs]
        losses = [(a.float() - b.float()).abs().mean() for a, b in pairs]
        return sum(losses) / len(losses)

