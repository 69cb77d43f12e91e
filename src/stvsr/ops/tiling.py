"""Spatial tiling: run a model on overlapping tiles of a large clip and blend the results with feathered edges.

Each tile is cut with `pad` extra input pixels of context on every side that has a neighbour (discarded after the
model runs), so with `pad` at least the model's receptive-field radius, tiled and untiled outputs agree; tiles
also overlap by `overlap` pixels, blended by linear ramps so that no seam shows even where they do not.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def _ramp(length: int, overlap: int, ramp_start: bool, ramp_end: bool, device) -> Tensor:
    weight = torch.ones(length, device=device)
    if overlap > 0:
        ramp = (torch.arange(overlap, device=device, dtype=torch.float32) + 0.5) / overlap
        if ramp_start:
            weight[:overlap] = ramp
        if ramp_end:
            weight[length - overlap:] = ramp.flip(0)
    return weight


def tiled(fn: Callable[[Tensor], Tensor], clip: Tensor, *, scale: int, tile: int, pad: int = 16,
          overlap: int = 8) -> Tensor:
    """Apply `fn` ((N, T, C, h, w) -> (N, T', C, s·h, s·w)) tile by tile over H and W of `clip` (N, T, C, H, W)."""
    h, w = clip.shape[-2:]
    if tile <= 0 or (h <= tile and w <= tile):
        return fn(clip)
    overlap = min(overlap, tile // 2)
    out = weights = None
    ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
    for y in ys:
        for x in xs:
            th, tw = min(tile, h - y), min(tile, w - x)
            y0, x0 = max(y - pad, 0), max(x - pad, 0)
            y1, x1 = min(y + th + pad, h), min(x + tw + pad, w)
            result = fn(clip[..., y0:y1, x0:x1])
            top, left = (y - y0) * scale, (x - x0) * scale
            result = result[..., top: top + th * scale, left: left + tw * scale]
            if out is None:
                out = clip.new_zeros(*result.shape[:-2], h * scale, w * scale)
                weights = clip.new_zeros(h * scale, w * scale)
            wy = _ramp(th * scale, overlap * scale, y > 0, y + th < h, clip.device)
            wx = _ramp(tw * scale, overlap * scale, x > 0, x + tw < w, clip.device)
            mask = wy[:, None] * wx[None, :]
            out[..., y * scale:(y + th) * scale, x * scale:(x + tw) * scale] += result * mask
            weights[y * scale:(y + th) * scale, x * scale:(x + tw) * scale] += mask
    return out / weights


def self_ensemble(run, clip: Tensor) -> Tensor:
    """`run(clip)` averaged over the eight flips and transposes of the frames (the dihedral group of the square),
    each output turned back first: test-time augmentation as EDSR and BasicVSR report it (`--tta`). Eight times the
    work; `clip` (N, T, C, H, W), the output in float32."""
    total = None
    for transpose in (False, True):
        for flip_h in (False, True):
            for flip_w in (False, True):
                x = clip.transpose(-1, -2) if transpose else clip
                x = x.flip(-2) if flip_h else x
                x = x.flip(-1) if flip_w else x
                y = run(x.contiguous()).float()
                y = y.flip(-1) if flip_w else y
                y = y.flip(-2) if flip_h else y
                y = y.transpose(-1, -2) if transpose else y
                total = y if total is None else total + y
    return total / 8
