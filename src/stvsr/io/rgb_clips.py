"""Clips stored as H.264 in RGB (libx264rgb) and read back with OpenCV: the training pack's segments (`train.pack`).

RGB because OpenCV then decodes exactly what was coded, with no colour matrix between the writer and the reader;
OpenCV because the GPU image has it and not PyAV (writing needs PyAV; reading does not). uint8 (T, 3, H, W) RGB in
and out: the training stores' own convention.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError


def write_rgb_clip(path: Path, frames: Tensor, crf: int) -> None:
    """uint8 (T, 3, H, W) RGB frames as H.264 in RGB (libx264rgb): no colour matrix between us and OpenCV."""
    import av  # PyAV: needed where the pack is made, not where it is read

    from .ffmpeg_log import use_native_ffmpeg_log

    use_native_ffmpeg_log()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264rgb", rate=25)
        stream.width, stream.height, stream.pix_fmt = int(frames.shape[-1]), int(frames.shape[-2]), "bgr24"
        stream.options = {"crf": str(crf), "preset": "slow"}
        for frame in frames:
            bgr = frame.flip(0).permute(1, 2, 0).contiguous().numpy()
            for packet in stream.encode(av.VideoFrame.from_ndarray(bgr, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def read_rgb_clip(path: Path, frames: int) -> Tensor:
    """The first `frames` frames of a clip as uint8 (T, 3, H, W) RGB, decoded with OpenCV; a file that yields fewer
    is truncated or corrupt, and says so."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    decoded = []
    try:
        while len(decoded) < frames:
            ok, bgr = capture.read()
            if not ok:
                break
            decoded.append(torch.from_numpy(np.ascontiguousarray(bgr[..., ::-1])).permute(2, 0, 1))
    finally:
        capture.release()
    if len(decoded) < frames:
        raise InputError(f"packed clip is truncated or unreadable: {path} holds {len(decoded)} of {frames} frames")
    return torch.stack(decoded)
