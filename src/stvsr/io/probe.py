"""What a video is: streams, size, exact frame rate, frame count, duration, variable frame rate, rotation, bit depth.

`probe()` demuxes the whole video stream (packets only, no decoding) so the frame count and the frame-rate
regularity are measured, not taken from headers that may lie. PyAV loads only when a container is opened: frame
folders (the dev sets) and the packed training data read with OpenCV alone, on machines without PyAV.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import InputError
from .ffmpeg_log import use_native_ffmpeg_log

if TYPE_CHECKING:
    import av

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".flv",
                    ".wmv", ".ogv", ".gif", ".y4m", ".nut", ".3gp")
# Frame folders carry no rate; FFmpeg's image2 demuxer assumes 25 fps, and so do we unless told otherwise.
DEFAULT_FOLDER_FPS = Fraction(25)
# Rates a variable-rate clip (a phone recording) is snapped to when its mean rate is within 5 % of one.
STANDARD_RATES = tuple(Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "48", "50",
                                             "60000/1001", "60", "120", "240"))


@dataclass(frozen=True)
class StreamInfo:
    index: int
    kind: str  # video | audio | subtitle | data
    codec: str
    details: str


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video file or frame folder. `width`/`height` are as displayed (rotation applied)."""

    path: Path
    container: str
    codec: str
    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration: float
    vfr: bool
    frame_interval: tuple[float, float]  # shortest and longest gap between frames, seconds
    rotation: int = 0  # degrees counter-clockwise applied to decoded frames for display
    pix_fmt: str = "rgb24"
    bit_depth: int = 8
    streams: tuple[StreamInfo, ...] = field(default_factory=tuple)
    video_bytes: int = 0  # the coded size of the video stream (its packets), or of a folder's frame files

    @property
    def is_folder(self) -> bool:
        return self.container == "frames"

    @property
    def audio_streams(self) -> tuple[StreamInfo, ...]:
        return tuple(s for s in self.streams if s.kind == "audio")


def natural_key(name: str) -> list:
    """Sort key so that frame2.png comes before frame10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_frame_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
                  key=lambda p: natural_key(p.name))


def open_container(path: Path) -> av.container.InputContainer:
    """Open a media file for reading, turning FFmpeg's errors into one clear line."""
    import av

    use_native_ffmpeg_log()
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_dir():
        raise InputError(f"input is a folder with no image frames: {path}")
    try:
        try:
            return av.open(str(path), metadata_errors="ignore")  # a tag that is not UTF-8 must not stop a video
        except TypeError:  # PyAV 19 dropped the option (its wheels for Python 3.12+ are what pip installs there)
            return av.open(str(path))
    except PermissionError:
        raise InputError(f"input is not readable (permission denied): {path}") from None
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"not a video FFmpeg can read: {path} ({_reason(error)})") from None


def _reason(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return text.split(";")[0].strip() or type(error).__name__


def rate_from_intervals(intervals: list[int], time_base: Fraction, declared: Fraction | None) -> tuple[Fraction, bool]:
    """The exact constant rate of a stream from its frame intervals (in time-base ticks), and whether it is variable.

    A stream is constant-rate when all intervals agree within one tick or 2 % (container time bases such as 1/1000
    cannot represent 1001/30000 s exactly, so 29.97 fps is stored as 33 and 34 ms). Its rate is the declared one
    when that agrees with the mean interval, else the mean interval snapped to a standard rate. A variable-rate stream gets its mean rate, snapped to a
    standard rate within 5 %.
    """
    if not intervals:
        return (declared or Fraction(25)), False
    median = statistics.median(intervals)
    spread = max(intervals) - min(intervals)
    vfr = min(intervals) <= 0 or spread > max(1, 0.02 * median)
    mean_rate = 1 / (Fraction(sum(intervals), len(intervals)) * time_base)
    if not vfr:
        measured = mean_rate
        if declared and abs(float(declared) / float(measured) - 1) < 0.01:
            # Matroska stores a frame duration in whole nanoseconds (or milliseconds), so 60000/1001 comes back
            # as 19001/317: a declared rate within 0.01 % of a standard one is that standard rate.
            return snap_rate(declared, tolerance=1e-4), False
        return snap_rate(measured, tolerance=0.01), False
    return snap_rate(mean_rate, tolerance=0.05), True


def snap_rate(rate: Fraction, tolerance: float) -> Fraction:
    best = min(STANDARD_RATES, key=lambda r: abs(float(r) / float(rate) - 1))
    if abs(float(best) / float(rate) - 1) <= tolerance:
        return best
    return rate.limit_denominator(1001)


def bit_depth_of(pix_fmt: str | None) -> int:
    if not pix_fmt:
        return 8
    import av

    try:
        return max(c.bits for c in av.video.format.VideoFormat(pix_fmt).components)
    except (ValueError, av.error.FFmpegError):
        return 8


# The largest input frame stvsr decodes unless told otherwise: DCI 8K (8192x4320, 35.4 MP) fits. A 3 MB MJPEG can
# declare 16000x16000 frames, which decode to gigabytes each: refused up front, not found by the allocator.
DEFAULT_MAX_PIXELS = 40_000_000


def check_pixel_budget(info: VideoInfo, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """`InputError` for frames larger than `max_pixels` (the user's --max-pixels raises the budget)."""
    pixels = info.width * info.height
    if pixels > max_pixels:
        raise InputError(f"frames of {info.width}x{info.height} ({pixels / 1e6:.0f} megapixels) are above the pixel "
                         f"budget of {max_pixels / 1e6:g} megapixels: --max-pixels {pixels} raises it: {info.path}")


def probe(path: str | Path, *, folder_fps: Fraction | None = None) -> VideoInfo:
    """Describe a video file or a folder of frames, raising `InputError` for anything that is not a usable video."""
    path = Path(path)
    if path.is_dir():
        return _probe_folder(path, folder_fps or DEFAULT_FOLDER_FPS)
    if path.exists() and not path.is_file():
        # A FIFO, pipe or device: the probe would consume the stream and the second open block for ever.
        raise InputError(f"stvsr needs a regular file: it reads the input twice (not a pipe or device): {path}")
    with open_container(path) as container:
        return _probe_container(path, container)


def _probe_folder(path: Path, fps: Fraction) -> VideoInfo:
    files = list_frame_files(path)
    if not files:
        raise InputError(f"folder holds no image frames ({', '.join(IMAGE_EXTENSIONS)}): {path}")
    first = read_image(files[0])
    depth = 16 if first.dtype.itemsize == 2 else 8
    return VideoInfo(path=path, container="frames", codec=files[0].suffix.lstrip(".").lower(), width=first.shape[1],
                     height=first.shape[0], fps=fps, frame_count=len(files), duration=len(files) / float(fps),
                     vfr=False, frame_interval=(1 / float(fps),) * 2, pix_fmt="rgb48" if depth == 16 else "rgb24",
                     bit_depth=depth, video_bytes=sum(f.stat().st_size for f in files))


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB (H, W, 3), uint8 or uint16 as stored (OpenCV: PIL cannot read 16-bit RGB PNG)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise InputError(f"not a readable image: {path}")
    if image.dtype not in (np.uint8, np.uint16):
        raise InputError(f"unsupported pixel type {image.dtype} in {path}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1])


def _codec_name(ctx) -> str:
    """The stream's format (`av1`), not the decoder FFmpeg picked for it (`libdav1d`): what the bits are is what
    `io.compression` judges them by."""
    return getattr(ctx.codec, "canonical_name", None) or ctx.name


def _describe(stream) -> StreamInfo:
    ctx = stream.codec_context
    codec = _codec_name(ctx) if ctx is not None else "unknown"
    if stream.type == "audio" and ctx is not None:
        layout = getattr(ctx.layout, "name", "") if getattr(ctx, "layout", None) else ""
        details = f"{ctx.sample_rate} Hz {layout}".strip()
    elif stream.type == "video" and ctx is not None:
        details = f"{ctx.width}x{ctx.height} {ctx.pix_fmt}"
    else:
        details = stream.metadata.get("language", "")
    return StreamInfo(index=stream.index, kind=stream.type, codec=codec, details=details)


def _probe_container(path: Path, container) -> VideoInfo:
    import av

    streams = tuple(_describe(s) for s in container.streams)
    if not container.streams.video:
        held = "; ".join(f"#{i.index} {i.kind} {i.codec} {i.details}".rstrip() for i in streams) or "no streams"
        raise InputError(f"no video stream in {path} (it holds: {held})")
    video = container.streams.video[0]
    ctx = video.codec_context
    if ctx is None or ctx.width <= 0 or ctx.height <= 0:
        raise InputError(f"video stream has no picture size (corrupt header?): {path}")
    time_base = video.time_base or Fraction(1, 1_000_000)
    pts: list[int] = []
    coded = 0
    try:
        for packet in container.demux(video):
            if packet.size and packet.pts is not None:
                pts.append(packet.pts)
                coded += packet.size
    except av.error.FFmpegError as error:
        raise InputError(f"input is corrupt or truncated: {path} ({_reason(error)})") from None
    if not pts:
        raise InputError(f"no video frames in {path}")
    if video.frames and len(pts) < video.frames:
        raise InputError(f"input is truncated: its header lists {video.frames} frames, the file holds {len(pts)}: "
                         f"{path}")
    pts.sort()
    intervals = [b - a for a, b in zip(pts, pts[1:])]
    declared = video.guessed_rate or video.average_rate
    fps, vfr = rate_from_intervals(intervals, time_base, Fraction(declared) if declared else None)
    if intervals:
        gaps = (float(min(intervals) * time_base), float(max(intervals) * time_base))
    else:
        gaps = (1 / float(fps),) * 2
    # The stream's span plus the last frame's own duration.
    duration = float((pts[-1] - pts[0]) * time_base) + (gaps[1] if vfr else 1 / float(fps))
    declared_duration = _declared_duration(video)
    if not video.frames and declared_duration and duration < declared_duration - 1.5 / float(fps):
        raise InputError(f"input is truncated: its header says {declared_duration:.3f} s of video, the file holds "
                         f"{duration:.3f} s: {path}")
    rotation = _first_frame_rotation(path)
    width, height = (ctx.height, ctx.width) if rotation % 180 else (ctx.width, ctx.height)
    return VideoInfo(path=path, container=container.format.name, codec=_codec_name(ctx), width=width, height=height,
                     fps=fps, frame_count=len(pts), duration=duration, vfr=vfr, frame_interval=gaps,
                     rotation=rotation, pix_fmt=ctx.pix_fmt or "unknown", bit_depth=bit_depth_of(ctx.pix_fmt),
                     streams=streams, video_bytes=coded)


def _declared_duration(video) -> float | None:
    """The video stream's duration as its header states it (Matroska keeps it in a DURATION tag), in seconds."""
    if video.duration:
        return float(video.duration * video.time_base)
    tag = video.metadata.get("DURATION") or video.metadata.get("duration")
    match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", tag or "")
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _first_frame_rotation(path: Path) -> int:
    """Display rotation in degrees counter-clockwise (a multiple of 90), read from the first decoded frame."""
    import av

    try:
        with open_container(path) as container:
            for frame in container.decode(video=0):
                return int(round(frame.rotation / 90.0)) * 90 % 360
    except (av.error.FFmpegError, InputError):
        return 0
    return 0
