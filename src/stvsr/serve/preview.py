"""The before/after pair the page shows under its slider: the same span (3 s from the middle, as `upscale --preview`
takes it) of the input enlarged by bicubic and of the result, at the same size, each at its own frame rate, so that
two <video> elements playing in step show the same moment."""

from __future__ import annotations

from pathlib import Path

from ..io import VideoReader, open_writer
from ..ops.resize import imresize

SPAN_SECONDS = 3.0


def make_pair(source: Path, result: Path, before: Path, after: Path, *, scale: int, time_factor: int) -> bool:
    """Write `before` and `after` (H.264, no audio); True when both were written."""
    with VideoReader(source) as reader:
        fps, frames = reader.info.fps, len(reader)
        length = max(2, round(SPAN_SECONDS * fps))
        start = max(0, (frames - length) // 2)
        stop = min(frames, start + length)
        with open_writer(before, fps=fps, overwrite=True) as writer:
            for frame in reader.frames(start, stop):
                writer.write(imresize(frame[None], scale)[0].clamp(0, 1) if scale != 1 else frame)
    with VideoReader(result) as reader, open_writer(after, fps=fps * time_factor, overwrite=True) as writer:
        for frame in reader.frames(start * time_factor, stop * time_factor):
            writer.write(frame)
    return before.is_file() and after.is_file()
