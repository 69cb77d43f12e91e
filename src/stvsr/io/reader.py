"""Streaming readers: frames of a video file (PyAV) or a frame folder, as float32 (3, H, W) tensors in [0, 1].

Memory is bounded: frames are decoded in a background thread at most a few frames ahead of the consumer.
"""

from __future__ import annotations

import itertools
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
        return self.frames()

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[Tensor]:
        """The frames with (constant-rate) indices in [start, stop), decoded ahead in a background thread.

        A constant-rate file is sought to the keyframe before `start` (so a preview or a resumed job does not
        decode everything before it); a variable-rate one is decoded from its beginning, as its slots need.
        """
        stop = self.output_frame_count if stop is None else min(stop, self.output_frame_count)
        if not 0 <= start <= stop:
            raise ValueError(f"frame range [{start}, {stop}) is not within the video")

        def source() -> Iterator[Tensor]:
            if self.info.is_folder:
                yield from self._read_folder(start, stop)
            elif start == 0 or self.info.vfr:
                yield from itertools.islice(self._read_file(), start, stop)
            else:
                yield from self._read_span(start, stop)

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

    def _read_folder(self, start: int = 0, stop: int | None = None) -> Iterator[Tensor]:
        files = list_frame_files(self.path)
        first_shape = None
        for file in files[start:stop]:
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

    def _read_span(self, start: int, stop: int) -> Iterator[Tensor]:
        """Frames [start, stop) of a constant-rate file: seek, then keep the frames whose time falls in the span."""
        step = 1 / float(self.info.fps)
        t0 = None
        for array, time, first in self._decode(seek=start * step):
            t0 = first if t0 is None else t0
            index = round((time - t0) / step)
            if index >= stop:
                return
            if index >= start:
                yield array_to_tensor(array)

    def _decode(self, seek: float | None = None):
        """Decoded frames as (RGB array, presentation time in seconds), checking for corruption and truncation.

        With `seek` (seconds after the first frame), decoding starts at the keyframe before that time, the
        truncation check is skipped, and each item also carries the stream's first frame time.
        """
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
            first = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
            if seek is not None:
                # A little before the frame's time: the seek lands on the keyframe at or before it.
                target = int((first + max(seek - 0.5 / float(info.fps), 0)) / time_base)
                container.seek(target, stream=stream, backward=True, any_frame=False)
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
                    yield (array, time) if seek is None else (array, time, first)
            except av.error.FFmpegError as error:
                raise InputError(f"input is corrupt at frame {decoded}: {self.path} ({_reason(error)})") from None
        if seek is not None:
            return
        if decoded == 0:
            raise InputError(f"no decodable video frames in {self.path}")
        expected = max(header_frames or 0, info.frame_count)
        # Decoders may drop a frame or two that the index lists (edit lists, a last frame without a reference:
        # seen on a real phone clip, 455 of 456); missing packets were already caught by probe().
        if decoded < expected - max(2, expected // 100):
            raise InputError(f"input is truncated or corrupt: decoded {decoded} of {expected} frames in {self.path}")
