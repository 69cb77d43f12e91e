"""Training the detail network behind the `perceptual` loss (`losses.perceptual.DetailFeatures`) on the training
footage: each 96x96 crop is left clean or degraded in one of seven ways, and the network learns which.

The degradations are the ones SR must undo or must not add: bicubic round trips (x2, x4) and Gaussian blur (lost
detail), noise and JPEG (compression-like clutter), a checkerboard whose sign follows the content (the sub-pixel
upsampler's artefact) and over-sharpening (halos). Every crop is a pure function of (seed, index).
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor

from ..atomic import atomic_path
from ..losses.perceptual import DETAIL_BLOCKS, DetailFeatures
from ..ops.filters import gaussian_blur
from ..ops.resize import imresize
from .config import DataConfig
from .data import FrameStore, TrainSamples, find_sources, load_photos

DEGRADATIONS = ("clean", "bicubic_x2", "bicubic_x4", "blur", "noise", "jpeg", "checkerboard", "oversharpen")
# Which classes a detail network learns to tell apart. `general` is the shipped `perceptual` network's. `x2` is for
# x2 SR, where bicubic is already close to the ground truth and the general network's features (noise, JPEG, x4
# blur) raised NIQE (docs/experiments/per-frame-and-multi-frame.md): it separates clean crops from the detail x2 methods actually lose
# (a bicubic round trip, a light blur, and the round trip through the shipped x2 MSE SR-U-Net, `sr_x2`) and from
# the artefacts they must not add.
DEGRADATION_SETS = {
    "general": DEGRADATIONS,
    "x2": ("clean", "bicubic_x2", "sr_x2", "blur_light", "noise", "checkerboard", "oversharpen"),
}
CROP = 96
SR_X2_MODEL = "srunet.x2"  # the x2 MSE model whose missing detail `sr_x2` shows


def degrade_crop(hr: Tensor, kind: str, rng: np.random.Generator) -> Tensor:
    """`hr` (3, H, W) in [0, 1], H and W multiples of 4, degraded by `kind` with strength drawn from `rng`."""
    if kind == "clean":
        return hr
    if kind in ("bicubic_x2", "bicubic_x4"):
        s = 2 if kind == "bicubic_x2" else 4
        return imresize(imresize(hr[None], 1 / s), s)[0].clamp(0, 1)
    if kind == "blur":
        return gaussian_blur(hr, 7, float(rng.uniform(0.7, 2.0)))
    if kind == "blur_light":
        return gaussian_blur(hr, 5, float(rng.uniform(0.4, 0.9)))
    if kind == "sr_x2":
        with torch.no_grad():
            return _sr_model(SR_X2_MODEL).upscale_frames(imresize(hr[None], 1 / 2).clamp(0, 1))[0].clamp(0, 1)
    if kind == "noise":
        g = torch.Generator().manual_seed(int(rng.integers(2 ** 31)))
        return (hr + torch.randn(hr.shape, generator=g) * float(rng.uniform(2, 8)) / 255).clamp(0, 1)
    if kind == "jpeg":
        image = hr.permute(1, 2, 0).mul(255).round().byte().numpy()[..., ::-1]
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 51))])
        back = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].copy()
        return torch.from_numpy(back).permute(2, 0, 1).float().div(255)
    if kind == "checkerboard":
        p = int(rng.choice([2, 4]))
        y, x = torch.arange(hr.shape[-2])[:, None], torch.arange(hr.shape[-1])[None, :]
        pattern = (((y % p) * 2 < p) ^ ((x % p) * 2 < p)).float() * 2 - 1
        sign = torch.sign(hr - gaussian_blur(hr, 7, 2.0)) if rng.random() < 0.5 else 1.0
        return (hr + pattern * sign * float(rng.uniform(1, 5)) / 255).clamp(0, 1)
    if kind == "oversharpen":
        return (hr + float(rng.uniform(1.0, 3.0)) * (hr - gaussian_blur(hr, 7, 1.5))).clamp(0, 1)
    raise ValueError(kind)


@functools.cache
def _sr_model(name: str) -> torch.nn.Module:
    """The shipped SR model `name`, loaded once per process (data-loader workers each load their own)."""
    from ..models.checkpoint import load_model
    from ..models.shipped import SHIPPED

    return load_model(SHIPPED[name].path)[0].eval()


class _Crops(torch.utils.data.Dataset):
    def __init__(self, samples: TrainSamples, seed: int, classes: tuple[str, ...]):
        self.samples, self.seed, self.classes = samples, seed, classes

    def __len__(self) -> int:
        return 10 ** 9

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        rng = np.random.default_rng([self.seed, 7, index])
        label = int(rng.integers(len(self.classes)))
        hr = self.samples[index].hr[0]
        return degrade_crop(hr, self.classes[label], rng), label


def train_detail_features(out: Path, *, videos: list[str], photos: list[str], steps: int = 1500, batch: int = 32,
                          lr: float = 1e-3, seed: int = 0, cache: str | None = None, classes: str = "general",
                          log=print) -> dict:
    """Train DetailFeatures to classify the degradations of DEGRADATION_SETS[classes] on crops of the footage under
    `videos`/`photos`; save the weights with their metadata to `out`; returns the held-out accuracy (crops of another
    seed)."""
    kinds = DEGRADATION_SETS[classes]
    if "sr_x2" in kinds:
        _sr_model(SR_X2_MODEL)  # missing or corrupt weights fail here, as one line, not inside a loader worker
    torch.manual_seed(seed)
    data = DataConfig(videos=videos, photos=photos, photo_share=0.1, patch=CROP // 4, frames=1, workers=0,
                      cache=cache or "")
    store = FrameStore(find_sources(videos, exclude=photos), downscale=0.5, cache=cache or None)
    train_set = _Crops(TrainSamples(store, load_photos(photos, 0.5), data, scale=4, seed=seed), seed, kinds)
    held_out = _Crops(TrainSamples(store, load_photos(photos, 0.5), data, scale=4, seed=seed + 1000), seed + 1000,
                      kinds)
    loader = iter(torch.utils.data.DataLoader(train_set, batch_size=batch, num_workers=1))
    net = DetailFeatures(classes=len(kinds))
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        x, y = next(loader)
        loss = F.cross_entropy(net.classify(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0:
            log(f"step {step:5d} loss {float(loss.detach()):.4f} ({time.perf_counter() - started:.0f} s)")
    net.eval()
    confusion = torch.zeros(len(kinds), len(kinds), dtype=torch.long)
    with torch.no_grad():
        for i in range(0, 1024, 64):
            xs, ys = zip(*(held_out[j] for j in range(i, i + 64)))
            pred = net.classify(torch.stack(xs)).argmax(1)
            for a, b in zip(ys, pred.tolist()):
                confusion[a, b] += 1
    accuracy = int(confusion.diag().sum()) / int(confusion.sum())
    per_class = {k: round(float(confusion[i, i] / confusion[i].sum()), 3) for i, k in enumerate(kinds)}
    meta = {"model": "DetailFeatures", "blocks": list(DETAIL_BLOCKS), "classes": list(kinds), "class_set": classes,
            "crop": CROP, "steps": steps, "batch": batch, "seed": seed, "data": videos + photos,
            "held_out_accuracy": round(accuracy, 4), "per_class": per_class,
            "wall_seconds": round(time.perf_counter() - started), "input": "float32 RGB in [0, 1], (N, 3, H, W)"}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as partial:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(partial),
                  metadata={"stvsr_detail_features": json.dumps(meta)})
    return meta
