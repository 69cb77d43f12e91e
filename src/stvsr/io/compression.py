"""How compressed an input is, from what its stream costs: lossless codecs and image formats are clean; a lossy
stream is clean only at a bitrate where its codec is visually transparent. `stvsr upscale --source auto` picks the
model trained on codec-degraded input for the rest (inference.COMPRESSED_VARIANTS).

Bits per pixel (the video stream's coded bytes over frames × width × height) is the measure: it needs no decoding
and is what the encoder spent. Measured here with x264 (preset medium) on the bundled 320x180 sample: CRF 14 is
0.20 bits per pixel, CRF 18 0.15, CRF 26 0.07, CRF 32 0.04; on a 1280x720 clip of the training footage CRF 14 is
0.13 and CRF 18 0.09 (larger frames cost fewer bits a pixel). Consumer video (phones at 0.1-0.3, streaming at
0.03-0.1) is all compressed by this rule; only intermediate and archival encodes count as clean.

Where the models cross, on the dev set's x4 inputs (`stvsr evaluate ... --methods propstvsr.x4_l,propstvsr.x4_real
--degradation BI+CODEC`; bits per pixel from `python benchmarks/codec_transparency.py --dev ...`): the clean model
is ahead at x264 CRF 14 (0.66 bits per pixel, +0.15 dB), AV1 CRF 12 (0.63, +0.36 dB) and MPEG-4 Part 2 q 2 (1.10,
+0.24 dB), the compressed one at x264 CRF 18 (0.47, +0.18 dB), HEVC CRF 22 (0.65, +0.14 dB) and MPEG-4 q 3 (0.69,
+0.19 dB); at AV1 CRF 28 (0.35) they tie (+0.01 dB for the compressed one). JPEG frames: the compressed model
ahead at quality 80 (1.60 bits per pixel less the headers, +0.67 dB), the clean one at 90 (2.36, +0.15 dB) and 95
(+1.05 dB); quality 90 and 95 on the lossless 960x540 aspen clip are 1.64 and 2.44. For the same fidelity HEVC
spends 0.9-1.3x H.264's rate, VP9 0.9-1.4x, AV1 0.8-1.3x (larger frames at the low end), and MPEG-4 Part 2 never
gets there: the thresholds below, not the 60-70 % of H.264's rate the newer codecs reach at web rates on large frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from .probe import VideoInfo

LOSSLESS = {"ffv1", "huffyuv", "ffvhuff", "utvideo", "rawvideo", "png", "apng", "qtrle", "magicyuv", "v210", "v410",
            "r210", "zlib", "tiff", "tif", "bmp", "ppm", "pgm", "exr", "dpx", "targa"}
# Intra-frame production codecs spend 2-10 bits a pixel: their losses are below what SR models see.
INTERMEDIATE = {"prores", "prores_ks", "dnxhd", "cfhd", "jpeg2000"}
# Bits per pixel from which a lossy codec's output is treated as clean: where the clean model overtakes the compressed
# one (above; H.264, HEVC, VP9, AV1 and MPEG-4 Part 2 measured). VP8 and the older MPEG codecs are not: VP8 a little
# above H.264, the others at about MPEG-4 Part 2's (no deblocking filter either).
CLEAN_BITS_PER_PIXEL = {"h264": 0.5, "hevc": 0.6, "vp9": 0.5, "av1": 0.35, "vp8": 0.6, "mpeg4": 0.9,
                        "msmpeg4": 1.0, "msmpeg4v3": 1.0, "msmpeg4v2": 1.0, "h263": 1.0, "mpeg2video": 1.0,
                        "mpeg1video": 1.2,
                        "mjpeg": 2.0, "jpg": 2.0, "jpeg": 2.0, "webp": 2.0}
# A JPEG frame's fixed headers (quantisation and Huffman tables, about 620 bytes from OpenCV and libjpeg): 0.7 bits a
# pixel on 112x64 frames, nothing at 720p. Counted out, so that one threshold serves every frame size.
JPEG_HEADER_BYTES = {"mjpeg": 620, "jpg": 620, "jpeg": 620}
UNKNOWN_CLEAN_BITS_PER_PIXEL = 1.0
# The thresholds above are where the x4 models cross. At x2 the output holds finer detail of the input, and a
# light codec already costs what the clean model cannot recover: on the dev set's x2 inputs (224x128) the compressed
# propstvsr.x2_real stays ahead of propstvsr.x2 up to x264 CRF 6 (1.10 bits per pixel, +0.08 dB; CRF 10, 0.67:
# +0.38 dB) and falls behind at CRF 2 (1.82, -0.11 dB). So x2 counts a stream as clean from 2.8x the x4 rate (H.264
# 1.4, measured; the other codecs scaled alike, not measured at x2).
SCALE_RATE_FACTOR = {2: 2.8}


@dataclass(frozen=True)
class SourceAssessment:
    compressed: bool
    bits_per_pixel: float | None
    reason: str  # one phrase: what was found and the rule it met

    @property
    def kind(self) -> str:
        return "compressed" if self.compressed else "clean"


def assess_source(info: VideoInfo, scale: int = 4) -> SourceAssessment:
    """Clean or compressed, with the reason, from `info` (a probed file or frame folder), for an upscale by `scale`
    (the rate from which a lossy stream is clean depends on it: SCALE_RATE_FACTOR)."""
    codec = info.codec.lower()
    what = f"{codec} frames" if info.is_folder else codec
    if codec in LOSSLESS:
        return SourceAssessment(False, None, f"{what}: lossless")
    if codec in INTERMEDIATE:
        return SourceAssessment(False, None, f"{what}: an intermediate codec, near lossless")
    pixels = info.frame_count * info.width * info.height
    if not info.video_bytes or not pixels:
        return SourceAssessment(True, None, f"{what}: lossy, coded size unknown")
    headers = JPEG_HEADER_BYTES.get(codec, 0) * info.frame_count
    bpp = max(info.video_bytes - headers, 0) * 8 / pixels
    what += " (less their headers)" if headers else ""
    clean_from = CLEAN_BITS_PER_PIXEL.get(codec, UNKNOWN_CLEAN_BITS_PER_PIXEL) * SCALE_RATE_FACTOR.get(scale, 1.0)
    clean_from = round(clean_from, 2)
    if bpp >= clean_from:
        return SourceAssessment(False, bpp, f"{what} at {bpp:.2f} bits per pixel: transparent from {clean_from:g}")
    return SourceAssessment(True, bpp, f"{what} at {bpp:.2f} bits per pixel: compressed below {clean_from:g}")
