"""Streaming readers: frames of a video file (PyAV) or a frame folder, as float32 (3, H, W) tensors in [0, 1].

Memory is bounded: frames are decoded in a background thread at most a few frames ahead of the consumer.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from torch import Tensor

from ..errors import InputError
from .frames import array_to_tensor
from .probe import VideoInfo, _reason, list_frame_files, open_container, probe, read_image
from .threads import Prefetcher

# FFmpeg tags → the YUV→RGB matrix to decode with. Untagged streams get what players assume: BT.709 for HD
# (height >= 720), BT.601 otherwise.
_COLORSPACE_BY_TAG = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020"}


def decode_matrix(tag: int, height: int) -> str:
    return _COLORSPACE_BY_TAG.get(int(tag), "ITU709" if height >= 720 else "ITU601")


class VideoReader:
    """Frames of a video file or a folder of images, at a constant frame rate.

    Iterating yields float32 RGB (3, H, W) in [0, 1], rotated as the file asks to be displayed. A variable-rate
    video is converted to the constant rate `info.fps` by repeating or dropping frames, each output slot taking the
    frame nearest in time (as FFmpeg's `fps` filter with `round=near`). 8-bit sources are read at 8 bits, deeper
    ones (10-, 12-bit) at 16. Decoding errors, and a file that ends before its header says, raise `InputError`.

    >>> with VideoReader("clip.mp4") as reader:  # doctest: +SKIP
    ...     for frame in reader: ...
    """

    def __init__(self, path: str | Path, *, folder_fps: Fraction | None = None, prefetch: int = 4,
                 info: VideoInfo | None = None):
        self.path = Path(path)
        # `info`: this file's probe, when the caller already made it (probing demuxes the whole file)
        self.info: VideoInfo = info if info is not None else probe(self.path, folder_fps=folder_fps)
        self._prefetch = prefetch
        self._workers: list[Prefetcher] = []

    @property
    def fps(self) -> Fraction:
        return self.info.fps

    def __len__(self) -> int:
        """Frames this reader yields (after constant-rate conversion)."""
        return self.output_frame_count

    @property
    def output_frame_count(self) -> int:
        if not self.info.vfr:
            return self.info.frame_count
        return int(round(self._span * float(self.info.fps))) + 1

    @property
    def _span(self) -> float:
        return self.info.duration - self.info.frame_interval[1]

    def __iter__(self) -> Iterator[Tensor]:
        source = self._read_folder if self.info.is_folder else self._read_file
        worker = Prefetcher(source, maxsize=self._prefetch, name="stvsr-decode")
        self._workers.append(worker)
        try:
            yield from worker
        finally:
            worker.close()
            self._workers.remove(worker)

    def close(self) -> None:
        for worker in list(self._workers):
            worker.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Frame folders -----------------------------------------------------------------------------------------

    def _read_folder(self) -> Iterator[Tensor]:
        files = list_frame_files(self.path)
        first_shape = None
        for file in files:
            array = read_image(file)
            if first_shape is None:
                first_shape = array.shape
            elif array.shape != first_shape:
                raise InputError(f"frames differ in size: {file.name} is {array.shape[1]}x{array.shape[0]}, "
                                 f"the first frame is {first_shape[1]}x{first_shape[0]}")
            yield array_to_tensor(array)

    # Video files -------------------------------------------------------------------------------------------

    def _read_file(self) -> Iterator[Tensor]:
        info = self.info
        if not info.vfr:
            yield from (array_to_tensor(a) for a, _ in self._decode())
            return
        # Variable rate: slot i (time t0 + i/fps) takes the decoded frame nearest to it.
        step = 1 / float(info.fps)
        slots = self.output_frame_count
        emitted, previous, t0 = 0, None, None
        for array, time in self._decode():
            if t0 is None:
                t0 = time
            if previous is not None:
                boundary = (previous[1] + time) / 2 - t0
                while emitted < slots and emitted * step < boundary:
                    yield array_to_tensor(previous[0])
                    emitted += 1
            previous = (array, time)
        while previous is not None and emitted < slots:
            yield array_to_tensor(previous[0])
            emitted += 1

    def _decode(self) -> Iterator[tuple[np.ndarray, float]]:
        """Decoded frames as (RGB array, presentation time in seconds), checking for corruption and truncation."""
        info = self.info
        deep = info.bit_depth > 8
        fmt = "rgb48le" if deep else "rgb24"
        turns = info.rotation // 90
        decoded = 0
        with open_container(self.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            header_frames = stream.frames
            time_base = stream.time_base or Fraction(1, 1_000_000)
            try:
                for frame in container.decode(stream):
                    if frame.is_corrupt:
                        raise InputError(f"input is corrupt at frame {decoded}: {self.path}")
                    matrix = decode_matrix(frame.colorspace, frame.height)
                    full_range = frame.color_range == 2 or frame.format.name.startswith("yuvj")
                    rgb = frame.reformat(format=fmt, src_colorspace=matrix,
                                         src_color_range="JPEG" if full_range else "MPEG")
                    array = rgb.to_ndarray()
                    if turns:
                        array = np.ascontiguousarray(np.rot90(array, k=turns))
                    time = float(frame.pts * time_base) if frame.pts is not None else decoded / float(info.fps)
                    decoded += 1
                    yield array, time
            except av.error.FFmpegError as error:
                raise InputError(f"input is corrupt at frame {decoded}: {self.path} ({_reason(error)})") from None
        if decoded == 0:
            raise InputError(f"no decodable video frames in {self.path}")
        expected = max(header_frames or 0, info.frame_count)
        # Decoders may drop a frame or two that the index lists (edit lists, a last frame without a reference:
        # seen on a real phone clip, 455 of 456); missing packets were already caught by probe().
        if decoded < expected - max(2, expected // 100):
            raise InputError(f"input is truncated or corrupt: decoded {decoded} of {expected} frames in {self.path}")
