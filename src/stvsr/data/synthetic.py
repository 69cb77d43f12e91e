"""Synthetic clips with known motion, for tests and benchmarks (no dataset needed).

A clip is a window sliding over a large smooth random texture: the true motion is the window's velocity, so
interpolation and flow can be checked against it.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor


def texture(height: int, width: int, *, seed: int = 0, octaves: int = 5) -> Tensor:
    """A smooth, detailed random texture (3, height, width) in [0, 1]: noise summed over octaves, finest last."""
    generator = torch.Generator().manual_seed(seed)
    out = torch.zeros(1, 3, height, width)
    for octave in range(octaves):
        cell = 2 ** (octaves - octave + 1)
        noise = torch.rand(1, 3, height // cell + 2, width // cell + 2, generator=generator)
        out += F.interpolate(noise, size=(height, width), mode="bicubic", align_corners=False) / 2 ** (octave * 0.5)
    out -= out.amin(dim=(2, 3), keepdim=True)
    out /= out.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    return out[0].clamp(0, 1)


def translating_frames(frames: int, height: int, width: int, *, velocity: tuple[int, int] = (2, 1),
                       seed: int = 0) -> Iterator[Tensor]:
    """Frames (3, H, W) of a window moving over a texture by `velocity` (dx, dy) pixels per frame (integers)."""
    dx, dy = velocity
    margin_x, margin_y = abs(dx) * max(frames - 1, 0), abs(dy) * max(frames - 1, 0)
    # Texture memory is bounded: long clips wrap around a texture at most 2x the frame size each way.
    tex_w, tex_h = width + min(margin_x, width), height + min(margin_y, height)
    tex = texture(tex_h, tex_w, seed=seed)
    for t in range(frames):
        x = (t * dx) % (tex_w - width + 1) if dx else 0
        y = (t * dy) % (tex_h - height + 1) if dy else 0
        if dx < 0:
            x = (tex_w - width) - x
        if dy < 0:
            y = (tex_h - height) - y
        yield tex[:, y:y + height, x:x + width].clone()


def translating_clip(frames: int, height: int, width: int, *, velocity: tuple[int, int] = (2, 1),
                     seed: int = 0) -> Tensor:
    """`translating_frames` stacked into (T, 3, H, W); for short clips only (it holds all frames)."""
    return torch.stack(list(translating_frames(frames, height, width, velocity=velocity, seed=seed)))
