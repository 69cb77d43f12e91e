"""Synthetic clips as real video files: any codec, an exact frame rate, an optional sine tone. The tests, the
benchmarks and the README's figures make their inputs with it (no dataset needed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from torch import Tensor

from ..io.ffmpeg_log import use_native_ffmpeg_log
from ..io.frames import tensor_to_array


def write_synthetic_video(path: str | Path, frames: Iterable[Tensor], *, fps: Fraction = Fraction(30000, 1001),
                     codec: str = "libx264", pix_fmt: str = "yuv420p", tone_hz: float | None = None,
                     audio_codec: str = "aac", sample_rate: int = 48000, rotation: int = 0,
                     pts: list[int] | None = None, time_base: Fraction | None = None,
                     options: dict | None = None, container_options: dict | None = None) -> int:
    """Encode (3, H, W) frames to `path`; a sine tone of the same duration when `tone_hz` is given.

    `pts` with `time_base` give explicit (e.g. irregular) timestamps for variable-rate files; `rotation` sets the
    display matrix (degrees counter-clockwise). Returns the number of frames written.
    """
    use_native_ffmpeg_log()
    fps = Fraction(fps)
    count = 0
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.pix_fmt = pix_fmt
        stream.codec_context.time_base = time_base or 1 / fps
        if options:
            stream.options = options
        if rotation:
            stream.set_display_rotation(rotation)
        audio = container.add_stream(audio_codec, rate=sample_rate) if tone_hz else None
        if audio is not None:
            audio.layout = "mono"
        for i, frame in enumerate(frames):
            array = tensor_to_array(frame, bits=16 if "10" in pix_fmt or "12" in pix_fmt else 8)
            if count == 0:
                stream.width, stream.height = array.shape[1], array.shape[0]
            video_frame = av.VideoFrame.from_ndarray(array, format="rgb24" if array.dtype == np.uint8 else "rgb48le")
            video_frame.pts = pts[i] if pts is not None else i
            video_frame.time_base = stream.codec_context.time_base
            container.mux(stream.encode(video_frame))
            count += 1
        container.mux(stream.encode(None))
        if audio is not None:
            duration = count / float(fps) if pts is None else float((pts[-1] + (pts[-1] - pts[-2])) * time_base)
            _write_tone(container, audio, tone_hz, duration, sample_rate)
    return count


def _write_tone(container, stream, hz: float, seconds: float, rate: int) -> None:
    total = int(round(seconds * rate))
    chunk = 1024
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        t = (np.arange(start, start + n) / rate).astype(np.float32)
        samples = (0.3 * np.sin(2 * math.pi * hz * t)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
