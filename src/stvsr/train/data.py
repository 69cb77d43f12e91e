"""Training samples from real footage: sources decoded once, downscaled, then random crops with augmentation.

High-resolution frames are the sources downscaled ×0.5 with MATLAB's antialiased bicubic (the sources are JPEG
and H.264 at 1-3 Mb/s: their artefacts must not be learned as detail); low-resolution inputs are made on the fly
with the evaluation's degradation. Every sample is a pure function of (seed, sample index), so any DataLoader
worker layout, and a resumed run, sees exactly the same stream of samples.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..degrade import degrade
from ..errors import InputError
from ..atomic import atomic_path
from ..io.probe import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, list_frame_files, read_image
from ..ops.resize import imresize
from .config import DataConfig


def find_sources(roots: list[str], exclude: list[str] = ()) -> list[Path]:
    """Video files and frame folders under `roots` (recursively), sorted; folders in `exclude` are skipped."""
    skip = {Path(p).resolve() for p in exclude}
    found: list[Path] = []
    for root in map(Path, roots):
        if not root.exists():
            raise InputError(f"training data not found: {root}")
        if root.is_file():
            found.append(root)
            continue
        for path in sorted(root.rglob("*")):
            resolved = path.resolve()
            if any(parent in skip for parent in (resolved, *resolved.parents)):
                continue
            if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
                found.append(path)
            elif path.is_dir() and list_frame_files(path):
                found.append(path)
    return found


def _to_uint8(frames: Tensor) -> Tensor:
    return frames.clamp(0, 1).mul(255).round().to(torch.uint8)


class FrameStore:
    """Every source clip as uint8 (T, 3, H, W) at training resolution, cached on disk between runs."""

    degraded = None  # low-resolution inputs made ahead of time: a degraded pack's (`train.pack.PackedStore`)
    pans: frozenset[int] = frozenset()  # indices of clips that are panned stills (a degraded pack's)

    def __init__(self, sources: list[Path], *, downscale: float, cache: str | Path | None = None,
                 max_frames: int = 2000):
        self.cache = Path(cache) if cache else Path(tempfile.gettempdir()) / "stvsr-train-cache"
        self.cache.mkdir(parents=True, exist_ok=True)
        self.clips: list[Tensor] = []
        self.names: list[str] = []
        for source in sources:
            clip = self._load(source, downscale, max_frames)
            self.clips.append(clip)
            self.names.append(source.name)

    def _load(self, source: Path, downscale: float, max_frames: int) -> Tensor:
        stamp = f"{source.resolve()}|{source.stat().st_mtime_ns}|{downscale}|{max_frames}"
        cached = self.cache / f"{hashlib.sha1(stamp.encode()).hexdigest()[:16]}.pt"
        if cached.exists():
            return torch.load(cached, weights_only=True)
        from ..io import VideoReader  # PyAV: only for sources not yet cached (a pack is read without it)

        frames = []
        with VideoReader(source) as reader:
            for frame in reader:
                small = imresize(frame, downscale) if downscale != 1 else frame
                frames.append(_to_uint8(small))
                if len(frames) >= max_frames:
                    break
        clip = torch.stack(frames)
        # One temporary per process (atomic_path): DDP ranks fill the same cache at once, and a shared name let one
        # rank rename the file away while another was still writing it (FileNotFoundError on its rename).
        with atomic_path(cached) as partial:
            torch.save(clip, partial)
        return clip


def load_photos(roots: list[str], downscale: float) -> list[Tensor]:
    photos = []
    for root in map(Path, roots):
        if not root.exists():
            raise InputError(f"photo folder not found: {root}")
        for path in sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
            image = torch.from_numpy(read_image(path)).permute(2, 0, 1).float().div(255)
            photos.append(_to_uint8(imresize(image, downscale)))
    return photos


PAN_SPEED = 4  # a still's camera moves up to this many pixels a source frame, each way

# Each applied with probability 1/2, in this order: the flips and the transpose make the 8 rotations and mirrorings,
# the last reverses time. A coin is drawn for each even when the config leaves it out, so switching one off changes
# nothing else in the sample stream.
_AUGMENTATIONS = {"hflip": lambda t: t.flip(-1), "vflip": lambda t: t.flip(-2),
                  "transpose": lambda t: t.transpose(-1, -2), "reverse": lambda t: t.flip(0)}


@dataclass
class Sample:
    hr: Tensor  # (T, 3, P·s, P·s) float in [0, 1]
    lr: Tensor  # (T, 3, P, P), degraded from hr


class TrainSamples(Dataset):
    """Item i: T frames of a random clip, `frame_step` apart or at a spacing drawn from `frame_steps` (or a still
    photo panned by a random camera motion), a random crop, random flips, 90° rotation and time reversal (those of
    `augment`), as HR and degraded LR. Pure in (seed, i).

    From a store with `degraded` inputs (a degraded pack), the LR is the same crop of one of the clip's ready-made
    inputs, drawn at random, and the HR crop sits on the LR pixel grid."""

    def __init__(self, store: FrameStore, photos: list[Tensor], config: DataConfig, *, scale: int, seed: int,
                 length: int = 10 ** 9):
        self.config, self.scale, self.seed, self.length = config, scale, seed, length
        # a degraded pack's inputs were coded whole, ahead of time: there is no region to code around the crop
        self.coded = config.coded_patch if store.degraded is None else 0
        size = config.patch * scale
        self.steps = config.frame_steps or [config.frame_step]
        self.span = (config.frames - 1) * max(self.steps) + 1  # source frames one sample covers, at most
        kept = [i for i, c in enumerate(store.clips) if len(c) >= self.span and min(c.shape[-2:]) >= size]
        # A degraded pack's panned stills (its `pans`) are drawn with probability photo_share, like stills
        pans = [i for i in kept if i in store.pans]
        kept = [i for i in kept if i not in store.pans]
        self.clips = [store.clips[i] for i in kept]
        self.degraded = None if store.degraded is None else [store.degraded[i] for i in kept]
        self.pan_clips = [store.clips[i] for i in pans]
        self.pan_degraded = [store.degraded[i] for i in pans] if pans else []
        # Room for a crop that moves up to PAN_SPEED px per source frame.
        margin = PAN_SPEED * (self.span - 1)
        self.photos = [p for p in photos if min(p.shape[-2:]) >= size + margin]
        if not self.clips:
            raise InputError(f"no training clip has {self.span} frames of at least {size}x{size} pixels")
        self.weights = _start_weights(self.clips, self.span)
        self.pan_weights = _start_weights(self.pan_clips, self.span)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        rng = np.random.default_rng([self.seed, index])
        t, lr, s = self.config.frames, None, self.scale
        size = self.config.patch * s
        # drawn only when a spacing is to be drawn: a fixed-spacing config keeps the stream it always had
        step = int(rng.choice(self.steps)) if len(self.steps) > 1 else self.steps[0]
        span = (t - 1) * step + 1
        if self.photos and rng.random() < self.config.photo_share:
            photo = self.photos[rng.integers(len(self.photos))]
            room = [n - PAN_SPEED * step * (t - 1) for n in photo.shape[-2:]]
            hr = pan(photo, rng, t, self._region(room, size), step)
        else:
            clips, degraded, weights = self.clips, self.degraded, self.weights
            # drawn only from a pack with pans: every other source keeps the stream it always had
            if self.pan_clips and rng.random() < self.config.photo_share:
                clips, degraded, weights = self.pan_clips, self.pan_degraded, self.pan_weights
            index = rng.choice(len(clips), p=weights)
            clip = clips[index]
            start = rng.integers(0, len(clip) - span + 1)
            height, width = self._region(clip.shape[-2:], size)
            if degraded is None:
                y = rng.integers(0, clip.shape[-2] - height + 1)
                x = rng.integers(0, clip.shape[-1] - width + 1)
            else:  # on the LR grid, and one of the ready-made inputs
                patch = self.config.patch
                y, x = (s * rng.integers(0, (n - size) // s + 1) for n in clip.shape[-2:])
                inputs = degraded[index][rng.integers(len(degraded[index]))]
                lr = inputs[start:start + span:step, :, y // s:y // s + patch, x // s:x // s + patch]
            hr = clip[start:start + span:step, :, y:y + height, x:x + width]
        hr, lr = hr.float().div(255), (None if lr is None else lr.float().div(255))
        for name, op in _AUGMENTATIONS.items():
            if rng.random() < 0.5 and name in self.config.augment:
                hr, lr = op(hr), (None if lr is None else op(lr))
        hr = hr.contiguous()
        if lr is None:
            lr = degrade(hr, self.config.degradation, self.scale, rng)
            if self.coded:  # the crop, anywhere in the coded region
                p = self.config.patch
                y, x = (rng.integers(0, n - p + 1) for n in lr.shape[-2:])
                lr, hr = lr[..., y:y + p, x:x + p], hr[..., y * s:(y + p) * s, x * s:(x + p) * s].contiguous()
        return Sample(hr=hr, lr=lr.contiguous())

    def _region(self, room, size: int) -> tuple[int, int]:
        """The ground-truth region a sample's chain degrades: the crop (`size`²), or with `coded_patch` as much of
        coded_patch² low-resolution pixels as the source has `room` for, on the LR grid."""
        if not self.coded:
            return size, size
        return tuple(max(size, min(self.coded * self.scale, int(n) // self.scale * self.scale)) for n in room)


def pan(photo: Tensor, rng: np.random.Generator, frames: int, size: int | tuple[int, int], step: int = 1) -> Tensor:
    """`frames` crops of `size`² (or `size` = (height, width)) from `photo`, moved by one random whole-pixel velocity
    (up to PAN_SPEED · `step` a frame): a still seen by a panning camera. The photo needs `PAN_SPEED · step ·
    (frames − 1)` pixels to spare."""
    height, width = (size, size) if isinstance(size, int) else size
    vy, vx = rng.integers(-PAN_SPEED, PAN_SPEED + 1, size=2) * step
    span_y, span_x = abs(vy) * (frames - 1), abs(vx) * (frames - 1)
    y0 = rng.integers(0, photo.shape[-2] - height - span_y + 1) + (span_y if vy < 0 else 0)
    x0 = rng.integers(0, photo.shape[-1] - width - span_x + 1) + (span_x if vx < 0 else 0)
    return torch.stack([photo[:, y0 + i * vy: y0 + i * vy + height, x0 + i * vx: x0 + i * vx + width]
                        for i in range(frames)])


def _start_weights(clips: list[Tensor], span: int) -> np.ndarray:
    """Each clip drawn in proportion to its sample starts, so every start is equally likely."""
    weights = np.array([len(c) - span + 1 for c in clips], dtype=np.float64)
    return weights / weights.sum() if len(weights) else weights


def collate(samples: list[Sample]) -> Sample:
    return Sample(hr=torch.stack([s.hr for s in samples]), lr=torch.stack([s.lr for s in samples]))
