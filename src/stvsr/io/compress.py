"""Lossy round trips in memory: a clip through a real video codec (libx264 / libx265 via PyAV) or frames through
JPEG (OpenCV), decoded back. The degradation pipeline (`degrade/`) builds compressed inputs from these, so the
artefacts a model learns to remove are the codecs' own: 4:2:0 chroma, block transforms, inter prediction over a
real GOP, deblocking.

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
from .frames import tensor_to_array

VIDEO_CODECS = {"h264": ("libx264", "h264"), "h265": ("libx265", "hevc")}  # stage name: (encoder, decoder)
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
# x265 aborts the process (a heap error, not an exception) on frames under 64 pixels a side; x264 wants even sizes.
_MIN_SIDE = {"h264": 16, "h265": 64}
_RATE = Fraction(30)  # CRF's rate control barely depends on it; a fixed rate keeps the round trip deterministic


def _pad_to(frames: Tensor, height: int, width: int) -> Tensor:
    """Replicate-pad (T, 3, H, W) on the bottom and right to `height` x `width`."""
    pad_h, pad_w = height - frames.shape[-2], width - frames.shape[-1]
    if not (pad_h or pad_w):
        return frames
    return torch.nn.functional.pad(frames, (0, pad_w, 0, pad_h), mode="replicate")


def video_roundtrip(frames: Tensor, codec: str = "h264", *, crf: int = 23, preset: str = "medium") -> Tensor:
    """`frames` (T, 3, H, W) in [0, 1] encoded as one clip (yuv420p, one GOP from an I frame, the preset's B frames
    and lookahead) at constant rate factor `crf`, then decoded: (T, 3, H, W) on the 8-bit grid.

    One encoder thread and x264's C code (see `_encode`), so the result is a pure function of the input. Frames are
    padded (replicated) to the codec's smallest and even sizes, and the padding is cropped off after decoding.

    >>> video_roundtrip(torch.rand(3, 3, 32, 32), crf=30).shape
    torch.Size([3, 3, 32, 32])
    """
    t, _, h, w = frames.shape
    packets = _encode(frames, codec, crf, preset)
    decoder = av.CodecContext.create(VIDEO_CODECS[codec][1], "r")
    decoded = []
    for packet in [*packets, None]:
        decoded.extend(decoder.decode(packet))
    if len(decoded) != t:  # never seen; a codec that drops frames must not shift the clip against its ground truth
        raise RuntimeError(f"{codec} round trip returned {len(decoded)} frames for {t}")
    array = np.stack([picture.to_ndarray(format="rgb24") for picture in decoded])
    out = torch.from_numpy(array).permute(0, 3, 1, 2).float().div(255)
    return out[..., :h, :w].contiguous()


def write_codec_stream(path, frames: Tensor, codec: str = "h264", *, crf: int = 23, preset: str = "medium") -> None:
    """The stream `video_roundtrip` decodes, written to `path` as a raw elementary stream (Annex B: `.h264`,
    `.hevc`), which OpenCV reads (`io.rgb_clips.read_rgb_clip`, then cropped to the clip's size): the training
    pack's degraded clips, made here and decoded on a machine without PyAV. The same kind of bits, so the same
    artefacts; the YUV-to-RGB conversion is OpenCV's there (the pack checks it against PyAV's, `read_codec_stream`)."""
    with open(path, "wb") as handle:
        for packet in _encode(frames, codec, crf, preset):
            handle.write(bytes(packet))


def read_codec_stream(path) -> Tensor:
    """The frames of a stream `write_codec_stream` wrote, decoded by PyAV as `video_roundtrip` decodes: (T, 3, H, W)
    in [0, 1], the codec's padding included (the reference OpenCV's decode of the same file is checked against)."""
    with av.open(str(path)) as container:
        array = np.stack([picture.to_ndarray(format="rgb24") for picture in container.decode(video=0)])
    return torch.from_numpy(array).permute(0, 3, 1, 2).float().div(255)


def _encode(frames: Tensor, codec: str, crf: int, preset: str) -> list:
    """The packets of `frames` (T, 3, H, W) in [0, 1] through `codec` (see `video_roundtrip`)."""
    if codec not in VIDEO_CODECS:
        raise UsageError(f"unknown video codec {codec!r}; choose from {', '.join(VIDEO_CODECS)}")
    if preset not in PRESETS:
        raise UsageError(f"unknown {codec} preset {preset!r}; choose from {', '.join(PRESETS)}")
    _, _, h, w = frames.shape
    side = _MIN_SIDE[codec]
    padded = _pad_to(frames, max(side, h + h % 2), max(side, w + w % 2))
    encoder = av.CodecContext.create(VIDEO_CODECS[codec][0], "w")
    encoder.width, encoder.height, encoder.pix_fmt = padded.shape[-1], padded.shape[-2], "yuv420p"
    encoder.time_base, encoder.framerate = 1 / _RATE, _RATE
    options = {"crf": str(int(crf)), "preset": preset, "threads": "1"}
    if codec == "h264":
        # x264's SIMD code reads past the rows of the frames it is given, into bytes FFmpeg leaves undefined: the same
        # clip then coded differently from call to call (2 dev clips in 3 within 30 calls; dev bicubic at CRF 26 from
        # 31.869 to 31.876 dB over 4 runs). Its C code does not (30 of 30 alike on each clip): 3x slower at 480x270,
        # no slower at the dev set's 112x64 or the loader's crops, and the protocols give one number.
        options["x264-params"] = "asm=0"
    if codec == "h265":
        options["x265-params"] = "log-level=none:pools=none:frame-threads=1"
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
    flat = frames.reshape(-1, *frames.shape[-3:])
    out = []
    for frame in flat:
        ok, encoded = cv2.imencode(".jpg", tensor_to_array(frame)[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG")
        bgr = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        out.append(torch.from_numpy(np.ascontiguousarray(bgr[:, :, ::-1])).permute(2, 0, 1))
    return torch.stack(out).float().div(255).reshape(frames.shape)
