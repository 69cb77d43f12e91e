"""Conversions between the pixel arrays of files (uint8/uint16, HWC, RGB) and the library's tensors.

This is the edge of the tensor convention (CONTRIBUTING.md §4): everything past it is float32 RGB in [0, 1], (C, H, W).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from ..errors import OutputError


def array_to_tensor(array: np.ndarray) -> Tensor:
    """uint8 or uint16 RGB (H, W, 3) -> float32 (3, H, W) in [0, 1]."""
    if array.dtype == np.uint8:
        scale = 255.0
    elif array.dtype == np.uint16:
        scale = 65535.0
    else:
        raise TypeError(f"expected uint8 or uint16 pixels, got {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float().div_(scale)


def tensor_to_array(frame: Tensor, *, bits: int = 8) -> np.ndarray:
    """float (3, H, W) in [0, 1] -> RGB (H, W, 3), uint8 for `bits=8` or uint16 for `bits=16`; clipped and rounded."""
    if frame.dim() != 3 or frame.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) frame, got {tuple(frame.shape)}")
    peak, dtype = (255.0, torch.uint8) if bits == 8 else (65535.0, torch.int32)
    # Rounded and packed where the frame is: from a GPU, a quarter of the bytes cross to the host.
    out = frame.detach().float().clamp(0, 1).mul(peak).round_().to(dtype)
    array = out.permute(1, 2, 0).contiguous().cpu().numpy()
    return array if bits == 8 else array.astype(np.uint16)


def encode_png(frame: Tensor, *, bits: int = 8) -> bytes:
    """Float RGB (3, H, W) in [0, 1] as PNG bytes, 8 or 16 bits per channel (the one PNG encoder: frame folders,
    previews and reports write what this returns)."""
    ok, encoded = cv2.imencode(".png", tensor_to_array(frame, bits=bits)[:, :, ::-1])  # OpenCV encodes BGR
    if not ok:
        raise OutputError("cannot encode a frame as PNG")
    return encoded.tobytes()


def write_png(path: Path, frame: Tensor) -> None:
    """Write float RGB (3, H, W) in [0, 1] as an 8-bit PNG; `OutputError` if it cannot be written. Encoded in
    memory and written by Python: a failed write (disk full, permissions) is an OSError with its errno, where
    cv2.imwrite only returns False and libpng prints its own line to stderr."""
    try:
        Path(path).write_bytes(encode_png(frame))
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
