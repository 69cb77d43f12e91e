"""Writers that never leave a partial file: a video file (PyAV) or a folder of numbered PNG frames.

Everything is written to a hidden temporary sibling of the destination and renamed into place only when the
last frame is encoded; any error, Ctrl-C included, removes the temporary. Encoding runs in a background thread
behind a bounded queue so that the caller's compute overlaps with the encoder.
"""

from __future__ import annotations

import errno
import os
import shutil
from fractions import Fraction
from pathlib import Path

import av
import torch.nn.functional as F
from torch import Tensor

from ..errors import OutputError, UsageError
from .audio import StreamCopier
from .ffmpeg_log import use_native_ffmpeg_log
from .frames import encode_png, tensor_to_array
from .outputs import DEFAULT_CRF, check_destination, check_encoder_options, codec_for, is_folder_output
from .outputs import partial_path as _partial_path
from .outputs import remove_stale_partials
from .threads import Consumer

def _raise_output_error(error: OSError, path: Path):
    code = getattr(error, "errno", None)
    if code == errno.ENOSPC:
        raise OutputError(f"disk full while writing {path}") from None
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        raise OutputError(f"cannot write {path}: permission denied") from None
    raise OutputError(f"cannot write {path}: {getattr(error, 'strerror', None) or error}") from None


class _Writer:
    """Shared life cycle: `write()` frames, then `close()` commits; `abort()` (or an exception in `with`) removes."""

    frames_written = 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class VideoWriter(_Writer):
    """Encode float32 RGB (3, H, W) frames in [0, 1] to a video file at an exact rational frame rate.

    Odd sizes: codecs that subsample chroma (yuv420p, yuv422p) need even dimensions; such frames are padded by
    repeating the last row/column, and `notes` says so. Audio and subtitles are taken from `audio_from`.
    """

    def __init__(self, path: str | Path, *, fps: Fraction, codec: str | None = None, crf: int | None = None,
                 preset: str | None = None, pix_fmt: str | None = None, audio_from: str | Path | None = None,
                 subtitles: bool = True, overwrite: bool = False, inputs: tuple[Path, ...] = (),
                 queue_size: int = 4, check=None):
        self.path = Path(path)
        self._check = check  # check(finished temporary) before it is moved into place; raises to refuse it
        self.check_result = None
        check_destination(self.path, inputs=inputs, overwrite=overwrite)
        check_encoder_options(self.path, codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt)
        self.fps = Fraction(fps)
        self.notes: list[str] = remove_stale_partials(self.path)
        self._partial = _partial_path(self.path, self.path.suffix)
        self._codec = codec_for(self.path, codec)
        self._crf = crf if crf is not None else DEFAULT_CRF.get(self._codec)
        self._preset = preset
        self._pix_fmt = pix_fmt
        self._stream = None
        self._audio_from = Path(audio_from) if audio_from is not None else None
        self._subtitles = subtitles
        self._copier: StreamCopier | None = None
        self._done = False
        use_native_ffmpeg_log()
        try:
            self._container = av.open(str(self._partial), "w")
        except OSError as error:
            _raise_output_error(error, self.path)
        except av.error.FFmpegError as error:
            raise OutputError(f"cannot write {self.path}: {error}") from None
        if self._codec not in self._container.supported_codecs:
            self._discard()
            raise UsageError(f"codec {self._codec} cannot be stored in a {self.path.suffix} file")
        self._index = 0
        self._encoder: Consumer = Consumer(self._encode, self._flush, maxsize=queue_size, name="stvsr-encode")

    # Public API --------------------------------------------------------------------------------------------

    def write(self, frame: Tensor) -> None:
        """Queue one (3, H, W) frame; raises any error the encoder thread met."""
        if frame.dim() != 3 or frame.shape[0] != 3:
            raise ValueError(f"expected a (3, H, W) frame, got {tuple(frame.shape)}")
        if self._stream is None:  # the first frame gives the stream its size
            self._open_stream(frame.shape[-1], frame.shape[-2])
            self._size = tuple(frame.shape[-2:])
        elif tuple(frame.shape[-2:]) != self._size:
            raise ValueError(f"frame size changed from {self._size} to {tuple(frame.shape[-2:])}")
        array = tensor_to_array(self._pad(frame), bits=16 if self._stream_depth > 8 else 8)
        try:
            self._encoder.put(array)
        except (OSError, av.error.FFmpegError) as error:
            self._raise_encoder_error(error)
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder, mux the remaining audio, and move the file into place."""
        if self._done:
            return
        try:
            try:
                self._encoder.close()
            except (OSError, av.error.FFmpegError) as error:
                self._raise_encoder_error(error)
            if self._stream is None:
                raise OutputError(f"no frames to write to {self.path}")
            self._container.close()
            if self._check is not None:
                self.check_result = self._check(self._partial)
            os.replace(self._partial, self.path)
            self._done = True
        except OSError as error:
            self.abort()
            _raise_output_error(error, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Stop encoding and remove the temporary file; the destination is left as it was."""
        if self._done:
            return
        self._done = True
        self._encoder.cancel()
        self._discard()

    # Internals ---------------------------------------------------------------------------------------------

    def _discard(self) -> None:
        if self._copier is not None:
            self._copier.close()
        try:
            self._container.close()
        except Exception:  # a broken container may fail to close; the file is being removed anyway
            pass
        self._partial.unlink(missing_ok=True)

    def _open_stream(self, width: int, height: int) -> None:
        codec = av.codec.Codec(self._codec, "w")
        formats = [f.name for f in codec.video_formats or ()]
        pix_fmt = self._pix_fmt or ("yuv420p" if "yuv420p" in formats else formats[0] if formats else "rgb24")
        if formats and pix_fmt not in formats:
            raise UsageError(f"codec {self._codec} does not take pixel format {pix_fmt}; it takes "
                             f"{', '.join(formats[:8])}{' ...' if len(formats) > 8 else ''}")
        if self._codec == "libx265" and min(width, height) < 64:
            # The x265 bundled with PyAV aborts the whole process (heap corruption) on frames this small.
            raise UsageError(f"libx265 needs frames of at least 64x64, these are {width}x{height}; use libx264")
        sub_w, sub_h = _chroma_subsampling(pix_fmt)
        self._pad_to = (-width % sub_w, -height % sub_h)
        if any(self._pad_to):
            self.notes.append(f"padded {width}x{height} to {width + self._pad_to[0]}x{height + self._pad_to[1]} "
                              f"(repeating the edge): {pix_fmt} needs sizes divisible by {sub_w}x{sub_h}")
        stream = self._container.add_stream(self._codec, rate=self.fps)
        stream.width, stream.height = width + self._pad_to[0], height + self._pad_to[1]
        stream.pix_fmt = pix_fmt
        stream.codec_context.time_base = 1 / self.fps
        self._matrix = "ITU709" if stream.height >= 720 else "ITU601"
        if pix_fmt.startswith(("yuv", "nv")):
            stream.codec_context.colorspace = 1 if self._matrix == "ITU709" else 5
            stream.codec_context.color_range = 1
        options = {}
        if self._crf is not None:
            options["crf"] = str(self._crf)
            if self._codec == "libvpx-vp9":
                options["b"] = "0"
        if self._preset:
            options["preset"] = self._preset
        if self._codec == "libvpx-vp9":
            options["row-mt"] = "1"
        if self._codec == "libx265":
            options["x265-params"] = "log-level=error"  # x265 prints its statistics to stderr otherwise
        stream.options = options
        self._stream_depth = max(c.bits for c in av.video.format.VideoFormat(pix_fmt).components)
        self._stream = stream
        if self._audio_from is not None:  # added after the video so that the video is stream 0
            self._copier = StreamCopier(self._audio_from, self._container, subtitles=self._subtitles)
            self.notes.extend(self._copier.notes)

    def _pad(self, frame: Tensor) -> Tensor:
        if not any(self._pad_to):
            return frame
        return F.pad(frame[None].float(), (0, self._pad_to[0], 0, self._pad_to[1]), mode="replicate")[0]

    def _encode(self, array) -> None:
        """In the encoder thread: one frame converted, encoded and muxed, the audio copied up to it."""
        stream = self._stream
        rgb = av.VideoFrame.from_ndarray(array, format="rgb48le" if array.dtype != "uint8" else "rgb24")
        frame = rgb.reformat(format=stream.pix_fmt, dst_colorspace=self._matrix, dst_color_range="MPEG") \
            if stream.pix_fmt.startswith(("yuv", "nv")) else rgb.reformat(format=stream.pix_fmt)
        frame.pts = self._index
        frame.time_base = stream.codec_context.time_base
        self._container.mux(stream.encode(frame))
        self._index += 1
        if self._copier is not None:
            self._copier.advance(self._index / float(self.fps) + 0.5)

    def _flush(self) -> None:
        """In the encoder thread, after the last frame: the encoder's delayed packets and the rest of the audio."""
        if self._stream is not None:
            self._container.mux(self._stream.encode(None))
            if self._copier is not None:
                self._copier.finish()

    def _raise_encoder_error(self, error: BaseException):
        if isinstance(error, OSError):
            _raise_output_error(error, self.path)
        raise OutputError(f"encoding {self.path} failed: {error}") from None


def _chroma_subsampling(pix_fmt: str) -> tuple[int, int]:
    components = av.video.format.VideoFormat(pix_fmt, 4, 4).components
    widths = [c.width for c in components]
    heights = [c.height for c in components]
    return 4 // min(widths), 4 // min(heights)


class FrameFolderWriter(_Writer):
    """Write frames as 000001.png, 000002.png ... into a folder, created atomically (8- or 16-bit PNG)."""

    def __init__(self, path: str | Path, *, bits: int = 8, overwrite: bool = False, inputs: tuple[Path, ...] = (),
                 check=None):
        self.path = Path(path)
        self._check = check
        self.check_result = None
        check_destination(self.path, inputs=inputs, overwrite=overwrite)
        self.bits = bits
        self.notes: list[str] = remove_stale_partials(self.path)
        self._partial = _partial_path(self.path, "")
        self._done = False
        try:
            self._partial.mkdir()
        except OSError as error:
            _raise_output_error(error, self.path)

    def write(self, frame: Tensor) -> None:
        encoded = encode_png(frame, bits=self.bits)
        try:
            (self._partial / f"{self.frames_written + 1:06d}.png").write_bytes(encoded)
        except OSError as error:
            _raise_output_error(error, self.path)
        self.frames_written += 1

    def close(self) -> None:
        if self._done:
            return
        if self.frames_written == 0:
            self.abort()
            raise OutputError(f"no frames to write to {self.path}")
        if self._check is not None:
            try:
                self.check_result = self._check(self._partial)
            except BaseException:
                self.abort()
                raise
        try:
            if self.path.is_dir():
                old = _partial_path(self.path, ".old")
                os.replace(self.path, old)
                os.replace(self._partial, self.path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(self._partial, self.path)
        except OSError as error:
            self.abort()
            _raise_output_error(error, self.path)
        self._done = True

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        shutil.rmtree(self._partial, ignore_errors=True)


def open_writer(path: str | Path, *, fps: Fraction, codec: str | None = None, crf: int | None = None,
                preset: str | None = None, pix_fmt: str | None = None, audio_from: str | Path | None = None,
                overwrite: bool = False, inputs: tuple[Path, ...] = (), check=None) -> VideoWriter | FrameFolderWriter:
    """A `VideoWriter` for a video path, a `FrameFolderWriter` for a folder path (see `is_folder_output`).
    `check(temporary)` runs on the finished output before it is moved into place (see `io.verify`)."""
    path = Path(path)
    if is_folder_output(path):
        bits = 16 if pix_fmt and ("48" in pix_fmt or "16" in pix_fmt) else 8
        return FrameFolderWriter(path, bits=bits, overwrite=overwrite, inputs=inputs, check=check)
    return VideoWriter(path, fps=fps, codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt, audio_from=audio_from,
                       overwrite=overwrite, inputs=inputs, check=check)


