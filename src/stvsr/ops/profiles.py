"""Temporal profiles: a video seen as x–t or y–t slices (the temporal-profile STVSR report), and scanline pictures.

For a video (T, C, H, W) (or a clip batch (N, T, C, H, W)):
- vertical profiles: W slices, each an H×T image (one column over time)  -> (W, C, H, T) / (N, W, C, H, T)
- horizontal profiles: H slices, each a T×W image (one row over time)     -> (H, C, T, W) / (N, H, C, T, W)
Both are pure permutations, so the inverses are exact.
"""

from __future__ import annotations

from torch import Tensor


def _lead(video: Tensor, dims: int) -> int:
    if video.dim() not in (dims, dims + 1):
        raise ValueError(f"expected {dims} or {dims + 1} dims, got {tuple(video.shape)}")
    return video.dim() - dims


def to_vertical_profiles(video: Tensor) -> Tensor:
    """(…, T, C, H, W) -> (…, W, C, H, T)."""
    n = _lead(video, 4)
    return video.permute(*range(n), n + 3, n + 1, n + 2, n)


def from_vertical_profiles(profiles: Tensor) -> Tensor:
    """(…, W, C, H, T) -> (…, T, C, H, W)."""
    n = _lead(profiles, 4)
    return profiles.permute(*range(n), n + 3, n + 1, n + 2, n)


def to_horizontal_profiles(video: Tensor) -> Tensor:
    """(…, T, C, H, W) -> (…, H, C, T, W)."""
    n = _lead(video, 4)
    return video.permute(*range(n), n + 2, n + 1, n, n + 3)


def from_horizontal_profiles(profiles: Tensor) -> Tensor:
    """(…, H, C, T, W) -> (…, T, C, H, W)."""
    n = _lead(profiles, 4)
    return profiles.permute(*range(n), n + 2, n + 1, n, n + 3)


def scanline(video: Tensor, *, row: int | None = None, column: int | None = None) -> Tensor:
    """One row (a T×W picture, time downwards) or one column (an H×T picture, time rightwards) of a video
    (T, C, H, W) over time, returned as (C, T, W) or (C, H, T). Flicker shows as noise across time."""
    if (row is None) == (column is None):
        raise ValueError("give exactly one of row and column")
    if video.dim() != 4:
        raise ValueError(f"expected a video (T, C, H, W), got {tuple(video.shape)}")
    if row is not None:
        return video[:, :, row, :].permute(1, 0, 2)
    return video[:, :, :, column].permute(1, 2, 0)
