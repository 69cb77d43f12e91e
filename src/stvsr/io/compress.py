"""Lossy round trips in memory: a clip through a real video codec (libx264, libx265, libvpx-vp9, SVT-AV1 or FFmpeg's
MPEG-4 Part 2 via PyAV) or frames through JPEG (OpenCV), decoded back. The degradation pipeline (`degrade/`) builds
compressed inputs from these, so the artefacts a model learns to remove are the codecs' own: 4:2:0 chroma, block
transforms, inter prediction over a real GOP, deblocking (or, in MPEG-4 Part 2, none: its 8x8 blocks stay).

Float RGB (T, 3, H, W) in [0, 1] in and out; uint8 and YUV stay in here.
"""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import torch
from torch import Tensor

from ..errors import UsageError
from .ffmpeg_log import use_native_ffmpeg_log
from .frames import tensor_to_array

# stage name: (encoder, decoder). H.264 and HEVC are what phones and cameras record; VP9 and AV1 are what web video
# is served as; MPEG-4 Part 2 (DivX/Xvid, early phones and camcorders) is the old footage, coded without a deblocking
# filter.
VIDEO_CODECS = {"h264": ("libx264", "h264"), "h265": ("libx265", "hevc"), "vp9": ("libvpx-vp9", "vp9"),
                "av1": ("libsvtav1", "libdav1d"), "mpeg4": ("mpeg4", "mpeg4")}
# Each codec's quality settings and their defaults: a constant rate factor where the codec has one, else MPEG-4 Part
# 2's constant quantiser `q` (2 finest .. 31 coarsest, as FFmpeg's -q:v).
CODEC_SETTINGS = {"h264": {"crf": 23, "preset": "medium"}, "h265": {"crf": 28, "preset": "medium"},
                  "vp9": {"crf": 32}, "av1": {"crf": 35}, "mpeg4": {"q": 5}}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
# x265 aborts the process (a heap error, not an exception) on frames under 64 pixels a side; the others want even
# sizes and at least a macroblock.
_MIN_SIDE = {"h264": 16, "h265": 64, "vp9": 16, "av1": 16, "mpeg4": 16}
_RATE = Fraction(30)  # CRF's rate control barely depends on it; a fixed rate keeps the round trip deterministic


def _pad_to(frames: Tensor, height: int, width: int) -> Tensor:
    """Replicate-pad (T, 3, H, W) on the bottom and right to `height` x `width`."""
    pad_h, pad_w = height - frames.shape[-2], width - frames.shape[-1]
    if not (pad_h or pad_w):
        return frames
    return torch.nn.functional.pad(frames, (0, pad_w, 0, pad_h), mode="replicate")


def video_roundtrip(frames: Tensor, codec: str = "h264", **settings) -> Tensor:
    """`frames` (T, 3, H, W) in [0, 1] encoded as one clip (yuv420p, a GOP from an I frame, the codec's own
    prediction: the preset's B frames and lookahead, VP9's alternate reference) at `settings` (CODEC_SETTINGS: a
    constant rate factor `crf` and a `preset`, or MPEG-4 Part 2's quantiser `q`), then decoded: (T, 3, H, W) on the
    8-bit grid.

    One encoder thread and x264's C code (see `_encode`), so the result is a pure function of the input. Frames are
    padded (replicated) to the codec's smallest and even sizes, and the padding is cropped off after decoding.

    >>> video_roundtrip(torch.rand(3, 3, 32, 32), crf=30).shape
    torch.Size([3, 3, 32, 32])
    """
    return coded_roundtrip(frames, codec, **settings)[0]


def coded_roundtrip(frames: Tensor, codec: str = "h264", **settings) -> tuple[Tensor, int]:
    """`video_roundtrip`, with the size of the coded stream in bytes (what bits per pixel is computed from)."""
    t, _, h, w = frames.shape
    packets = _encode(frames, codec, settings)
    decoder = _codec_context(VIDEO_CODECS[codec][1], "r")
    decoded = []
    for packet in [*packets, None]:
        decoded.extend(decoder.decode(packet))
    if len(decoded) != t:  # never seen; a codec that drops frames must not shift the clip against its ground truth
        raise RuntimeError(f"{codec} round trip returned {len(decoded)} frames for {t}")
    array = np.stack([picture.to_ndarray(format="rgb24") for picture in decoded])
    out = torch.from_numpy(array).permute(0, 3, 1, 2).float().div(255)
    return out[..., :h, :w].contiguous(), sum(packet.size for packet in packets)


def write_codec_stream(path, frames: Tensor, codec: str = "h264", **settings) -> None:
    """The stream `video_roundtrip` decodes, written to `path` as a raw elementary stream (Annex B: `.h264`,
    `.hevc`), which OpenCV reads (`io.rgb_clips.read_rgb_clip`, then cropped to the clip's size): the training
    pack's degraded clips, made here and decoded on a machine without PyAV. The same kind of bits, so the same
    artefacts; the YUV-to-RGB conversion is OpenCV's there (the pack checks it against PyAV's, `read_codec_stream`)."""
    with open(path, "wb") as handle:
        for packet in _encode(frames, codec, settings):
            handle.write(bytes(packet))


def read_codec_stream(path) -> Tensor:
    """The frames of a stream `write_codec_stream` wrote, decoded by PyAV as `video_roundtrip` decodes: (T, 3, H, W)
    in [0, 1], the codec's padding included (the reference OpenCV's decode of the same file is checked against)."""
    with av.open(str(path)) as container:
        array = np.stack([picture.to_ndarray(format="rgb24") for picture in container.decode(video=0)])
    return torch.from_numpy(array).permute(0, 3, 1, 2).float().div(255)


def _encode(frames: Tensor, codec: str, settings: dict) -> list:
    """The packets of `frames` (T, 3, H, W) in [0, 1] through `codec` at `settings` (see `video_roundtrip`)."""
    if codec not in VIDEO_CODECS:
        raise UsageError(f"unknown video codec {codec!r}; choose from {', '.join(VIDEO_CODECS)}")
    unknown = set(settings) - set(CODEC_SETTINGS[codec])
    if unknown:
        raise UsageError(f"{codec} has no setting {sorted(unknown)[0]!r}; it takes {', '.join(CODEC_SETTINGS[codec])}")
    settings = {**CODEC_SETTINGS[codec], **settings}
    if settings.get("preset", "medium") not in PRESETS:
        raise UsageError(f"unknown {codec} preset {settings['preset']!r}; choose from {', '.join(PRESETS)}")
    _, _, h, w = frames.shape
    side = _MIN_SIDE[codec]
    padded = _pad_to(frames, max(side, h + h % 2), max(side, w + w % 2))
    encoder = _codec_context(VIDEO_CODECS[codec][0], "w")
    encoder.width, encoder.height, encoder.pix_fmt = padded.shape[-1], padded.shape[-2], "yuv420p"
    encoder.time_base, encoder.framerate = 1 / _RATE, _RATE
    options = {"threads": "1"}
    if codec in ("h264", "h265"):
        options |= {"crf": str(int(settings["crf"])), "preset": settings["preset"]}
    if codec == "h264":
        # x264's SIMD code reads past the rows of the frames it is given, into bytes FFmpeg leaves undefined: the same
        # clip then coded differently from call to call (2 dev clips in 3 within 30 calls; dev bicubic at CRF 26 from
        # 31.869 to 31.876 dB over 4 runs). Its C code does not (30 of 30 alike on each clip): 3x slower at 480x270,
        # no slower at the dev set's 112x64 or the loader's crops, and the protocols give one number.
        options["x264-params"] = "asm=0"
    if codec == "h265":
        options["x265-params"] = "log-level=none:pools=none:frame-threads=1"
    if codec == "vp9":
        # constant quality (b=0 with crf), libvpx's default 'good' deadline at its usual speed, no row threads
        options |= {"crf": str(int(settings["crf"])), "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "0"}
    if codec == "av1":
        # SVT-AV1 at its default speed (preset 8) on one thread (lp=1: then a pure function of the input)
        options |= {"crf": str(int(settings["crf"])), "preset": "8", "svtav1-params": "lp=1"}
    if codec == "mpeg4":
        # a constant quantiser, as `ffmpeg -q:v` sets: PyAV does not reach the QSCALE flag's global quality, so the
        # rate control's quantiser range is pinned to one value instead (the stream's size then falls with q, as
        # tests/test_degrade_protocol.py checks through fidelity). FFmpeg's default GOP of 12, no B frames: the
        # Simple Profile of phones and camcorders.
        encoder.qmin = encoder.qmax = int(settings["q"])
    encoder.options = options
    packets = []
    for index, frame in enumerate(padded):
        picture = av.VideoFrame.from_ndarray(tensor_to_array(frame), format="rgb24").reformat(format="yuv420p")
        picture.pts = index
        packets.extend(encoder.encode(picture))
    packets.extend(encoder.encode(None))
    return packets


def jpeg_roundtrip(frames: Tensor, *, quality: int = 75) -> Tensor:
    """Each frame of (..., 3, H, W) in [0, 1] through baseline JPEG at `quality` (OpenCV, 4:2:0), decoded back."""
    return coded_jpeg_roundtrip(frames, quality=quality)[0]


def coded_jpeg_roundtrip(frames: Tensor, *, quality: int = 75) -> tuple[Tensor, int]:
    """`jpeg_roundtrip`, with the coded bytes of all its frames, headers included."""
    flat = frames.reshape(-1, *frames.shape[-3:])
    out, size = [], 0
    for frame in flat:
        ok, encoded = cv2.imencode(".jpg", tensor_to_array(frame)[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG")
        size += encoded.size
        bgr = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        out.append(torch.from_numpy(np.ascontiguousarray(bgr[:, :, ::-1])).permute(2, 0, 1))
    return torch.stack(out).float().div(255).reshape(frames.shape), size


def _codec_context(name: str, mode: str) -> av.CodecContext:
    """PyAV's codec context for encoder or decoder `name`; a build of FFmpeg without it is one line, not a trace."""
    use_native_ffmpeg_log()
    try:
        return av.CodecContext.create(name, mode)
    except ValueError:  # av.codec.codec.UnknownCodecError
        raise UsageError(f"this PyAV's FFmpeg has no {name} {'encoder' if mode == 'w' else 'decoder'}") from None
